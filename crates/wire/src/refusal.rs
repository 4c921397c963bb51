//! The request rules both tiers apply to a parsed head before anything goes upstream, in one place and one
//! order: the method policy ([`crate::method`]: CONNECT, TRACE), Apache's head limits when the tier has them
//! ([`crate::limits`]), the host ([`crate::host`], which also rewrites `Host`), then `Transfer-Encoding`
//! ([`crate::transfer_encoding`]). A [`Refusal`] is the client's mistake: the tier answers it (status from
//! [`Refusal::status`], connection closed, since the rest of the request was not read) and counts a client
//! error, never a 502.

use http::header::{ALLOW, HeaderValue};
use http::{Request, StatusCode};

use crate::host::{self, HostError};
use crate::limits::{HeadLimits, LimitExceeded};
use crate::local::{LocalResponse, Style};
use crate::method::{ALLOWED, MethodPolicy, MethodRefused};
use crate::transfer_encoding::{self, UnsupportedCoding};

/// The rules of one tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestRules {
    /// CONNECT and TRACE.
    pub methods: MethodPolicy,
    /// Apache's per-line and per-field limits; `None` where the tier limits the whole head instead.
    pub head_limits: Option<HeadLimits>,
}

/// Why a request is refused before it is forwarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// CONNECT, or TRACE when not allowed: 405.
    #[error(transparent)]
    Method(#[from] MethodRefused),
    /// Over `LimitRequestLine` (414), `LimitRequestFieldSize` or `LimitRequestFields` (400).
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
    /// No, several or a malformed `Host`: 400.
    #[error(transparent)]
    Host(#[from] HostError),
    /// A `Transfer-Encoding` other than one `chunked`: 400.
    #[error(transparent)]
    TransferEncoding(#[from] UnsupportedCoding),
}

impl Refusal {
    /// The status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::Method(_) => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::Limit(LimitExceeded::RequestLine { .. }) => StatusCode::URI_TOO_LONG,
            Refusal::Limit(_) | Refusal::Host(_) | Refusal::TransferEncoding(_) => {
                StatusCode::BAD_REQUEST
            }
        }
    }

    /// The answer, closing the connection: plain text naming the reason, or Apache's page.
    pub fn answer(&self, style: Style) -> LocalResponse {
        let status = self.status();
        let answer = match style {
            Style::Text => LocalResponse::text(
                status,
                format!(
                    "{} {}: {self}\n",
                    status.as_str(),
                    status.canonical_reason().unwrap_or("")
                ),
            ),
            Style::ApacheHtml => {
                LocalResponse::apache(status, status.canonical_reason().unwrap_or(""))
            }
        };
        let answer = answer.closing();
        match self {
            Refusal::Method(_) => answer.with_header(ALLOW, HeaderValue::from_static(ALLOWED)),
            _ => answer,
        }
    }
}

impl RequestRules {
    /// Applies the rules to `request`, rewriting its `Host` to the host it is for (see [`host::normalise`]).
    pub fn apply<B>(&self, request: &mut Request<B>) -> Result<(), Refusal> {
        self.methods.check(request.method())?;
        if let Some(limits) = &self.head_limits {
            limits.check(request.method(), request.uri(), request.headers())?;
        }
        let version = request.version();
        // Moved out and back (the default is "/", no allocation) to read it while rewriting the headers.
        let uri = std::mem::take(request.uri_mut());
        let host = host::normalise(version, &uri, request.headers_mut());
        *request.uri_mut() = uri;
        host?;
        transfer_encoding::check(request.headers())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text_method: &str, target: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().method(text_method).uri(target);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn each_rule_gives_its_status_in_order() {
        let rules = RequestRules {
            head_limits: Some(HeadLimits::APACHE),
            ..RequestRules::default()
        };
        let cases = [
            (
                request("CONNECT", "a.example:443", &[("host", "a.example:443")]),
                405,
            ),
            (request("TRACE", "/", &[("host", "a")]), 405),
            (request("GET", &format!("/{}", "a".repeat(9000)), &[]), 414),
            (request("GET", "/", &[]), 400),
            (request("GET", "/", &[("host", "a"), ("host", "b")]), 400),
            (
                request(
                    "POST",
                    "/",
                    &[("host", "a"), ("transfer-encoding", "chunked, chunked")],
                ),
                400,
            ),
        ];
        for (mut request, status) in cases {
            let refusal = rules.apply(&mut request).unwrap_err();
            assert_eq!(refusal.status().as_u16(), status, "{refusal}");
            let answer = refusal.answer(Style::Text).into_response();
            assert_eq!(answer.headers()["connection"], "close");
            assert_eq!(answer.headers().contains_key(ALLOW), status == 405);
        }
        let mut fine = request("GET", "http://b.example/x", &[("host", "a")]);
        assert_eq!(rules.apply(&mut fine), Ok(()));
        assert_eq!(fine.headers()["host"], "b.example");
    }
}
