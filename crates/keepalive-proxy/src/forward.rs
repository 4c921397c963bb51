//! Proxying one request to the origin and its response back, as Apache's `mod_proxy_http` with `ProxyPass`:
//! a hyper-util legacy `Client` keeps its own pool of origin connections; hop-by-hop headers are stripped both
//! ways (RFC 9110 §7.6.1); `Host` becomes the origin's (`ProxyPreserveHost Off`, Apache's default) and
//! `X-Forwarded-For` / `X-Forwarded-Host` are added; bodies are streamed, not buffered. When the origin
//! cannot be reached or fails before its response head, the answer is the back tier's own 502 (or 413 when the
//! request body broke `LimitRequestBody`, see `body_limit.rs`).
//! This module knows nothing of the front connection's keep-alive: see `service.rs`.

use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::body_limit::{self, LimitedBody};
use crate::tracked_body::BoxError;

/// A response body from the origin, or made here.
pub(crate) type ProxyBody = BoxBody<Bytes, BoxError>;

/// Headers that describe one hop, never forwarded (plus any named in `Connection`).
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The origin and the pool of connections to it.
#[derive(Debug, Clone)]
pub(crate) struct Forwarder {
    client: Client<HttpConnector, LimitedBody>,
    origin: SocketAddr,
    /// `LimitRequestBody`, in bytes.
    max_body_bytes: u64,
}

impl Forwarder {
    /// A forwarder to `origin` with an empty pool, refusing request bodies over `max_body_bytes`.
    pub(crate) fn new(origin: SocketAddr, max_body_bytes: u64) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Self {
            client,
            origin,
            max_body_bytes,
        }
    }

    /// Sends `request` (received from `peer`) to the origin; the origin's response, or a 502.
    pub(crate) async fn forward(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<ProxyBody> {
        let (mut parts, body) = request.into_parts();
        let Ok(body) = body_limit::limit(body, self.max_body_bytes) else {
            tracing::debug!(
                limit = self.max_body_bytes,
                "request body announced over the limit: 413"
            );
            return body_limit::payload_too_large();
        };
        let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let uri = match Uri::builder()
            .scheme("http")
            .authority(self.origin.to_string())
            .path_and_query(path)
            .build()
        {
            Ok(uri) => uri,
            Err(error) => {
                tracing::debug!(%error, "cannot build the origin URI");
                return bad_gateway();
            }
        };
        strip_hop_by_hop(&mut parts.headers);
        add_forwarded(&mut parts.headers, peer);
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        let method = parts.method.clone();
        match self.client.request(Request::from_parts(parts, body)).await {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                parts.version = Version::HTTP_11;
                Response::from_parts(parts, body.map_err(BoxError::from).boxed())
            }
            Err(error) if body_limit::is_exceeded(&error) => {
                tracing::debug!(limit = self.max_body_bytes, %method, "request body grew over the limit: origin request aborted, 413");
                body_limit::payload_too_large()
            }
            Err(error) => {
                tracing::debug!(%error, %method, origin = %self.origin, "origin failed; answering 502");
                bad_gateway()
            }
        }
    }
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|token| {
            HeaderName::from_bytes(token.trim().to_ascii_lowercase().as_bytes()).ok()
        })
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
}

fn add_forwarded(headers: &mut HeaderMap, peer: SocketAddr) {
    if let Some(host) = headers.remove(header::HOST) {
        headers.insert(HeaderName::from_static("x-forwarded-host"), host);
    }
    let forwarded_for = HeaderName::from_static("x-forwarded-for");
    let chain = match headers.get(&forwarded_for).and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&chain) {
        headers.insert(forwarded_for, value);
    }
}

/// The back tier's own 502, as Apache's "Proxy Error" page (shortened).
pub(crate) fn bad_gateway() -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(
            b"<html><body><h1>Bad Gateway</h1></body></html>\n",
        ))
        .map_err(BoxError::from)
        .boxed(),
    );
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=iso-8859-1"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_are_stripped() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, X-Foo"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-foo", "1"),
            ("x-kept", "2"),
            ("content-length", "3"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        strip_hop_by_hop(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-length", "x-kept"]);
    }

    #[test]
    fn forwarded_headers_are_added_and_host_moves_aside() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("front.example"));
        headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        add_forwarded(&mut headers, "127.0.0.2:4000".parse().expect("addr"));
        assert_eq!(headers.get(header::HOST), None);
        assert_eq!(headers["x-forwarded-host"], "front.example");
        assert_eq!(headers["x-forwarded-for"], "10.0.0.1, 127.0.0.2");
    }
}
