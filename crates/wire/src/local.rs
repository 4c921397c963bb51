//! The answers a tier makes itself instead of forwarding: the gateway's plain-text 400/413/502, the back's
//! Apache-style HTML pages (502, 413) and its 408, written on a raw socket once hyper gave it back.
//!
//! One [`LocalResponse`] describes the answer; [`LocalResponse::into_response`] makes the hyper response (the
//! tier wraps the body in its own body type) and [`LocalResponse::to_bytes`] the HTTP/1.1 bytes. This module
//! decides the shape of these answers, not when a tier sends one.

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::Full;

/// The media type of a local answer's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `text/plain; charset=utf-8`: the gateway's answers, the back's 408.
    Text,
    /// `text/html; charset=iso-8859-1`: Apache's error pages, which the back imitates.
    ApacheHtml,
}

impl Style {
    fn content_type(self) -> &'static str {
        match self {
            Style::Text => "text/plain; charset=utf-8",
            Style::ApacheHtml => "text/html; charset=iso-8859-1",
        }
    }
}

/// An answer a tier makes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    status: StatusCode,
    style: Style,
    body: Bytes,
    close: bool,
    /// Headers besides `Content-Type`, `Content-Length` and `Connection` (a 405's `Allow`).
    extra: HeaderMap,
}

impl LocalResponse {
    /// A plain-text answer with `body`.
    pub fn text(status: StatusCode, body: impl Into<Bytes>) -> LocalResponse {
        LocalResponse {
            status,
            style: Style::Text,
            body: body.into(),
            close: false,
            extra: HeaderMap::new(),
        }
    }

    /// Apache's short error page: `<html><body><h1>{title}</h1></body></html>`.
    pub fn apache(status: StatusCode, title: &str) -> LocalResponse {
        LocalResponse {
            status,
            style: Style::ApacheHtml,
            body: Bytes::from(format!("<html><body><h1>{title}</h1></body></html>\n")),
            close: false,
            extra: HeaderMap::new(),
        }
    }

    /// The same answer with `Connection: close`: the connection ends once it is written.
    pub fn closing(mut self) -> LocalResponse {
        self.close = true;
        self
    }

    /// The same answer with one more header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> LocalResponse {
        self.extra.insert(name, value);
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The hyper response; hyper adds `Content-Length`.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(self.style.content_type()),
        );
        if self.close {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        headers.extend(self.extra);
        response
    }

    /// The whole HTTP/1.1 response as bytes, with `Content-Length`, for a socket no HTTP library owns.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\n",
            self.status.as_str(),
            self.status.canonical_reason().unwrap_or(""),
            self.style.content_type(),
            self.body.len(),
        );
        if self.close {
            head.push_str("connection: close\r\n");
        }
        for (name, value) in &self.extra {
            head.push_str(name.as_str());
            head.push_str(": ");
            head.push_str(&String::from_utf8_lossy(value.as_bytes()));
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closing_text_answer_as_bytes() {
        let answer = LocalResponse::text(
            StatusCode::REQUEST_TIMEOUT,
            "request head not read in time\r\n",
        )
        .closing();
        assert_eq!(
            answer.to_bytes(),
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n\
content-length: 31\r\nconnection: close\r\n\r\nrequest head not read in time\r\n"
        );
    }

    #[test]
    fn an_apache_page_as_a_response() {
        let response =
            LocalResponse::apache(StatusCode::BAD_GATEWAY, "Bad Gateway").into_response();
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/html; charset=iso-8859-1"
        );
        assert!(response.headers().get(CONNECTION).is_none());
    }
}
