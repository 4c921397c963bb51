//! Proxying one request to the origin and its response back, as Apache's `mod_proxy_http` with `ProxyPass`:
//! a hyper-util legacy `Client` keeps its own pool of origin connections; hop-by-hop headers are stripped both
//! ways (RFC 9110 §7.6.1, `wire::hop_by_hop`); `Host` becomes the origin's (`ProxyPreserveHost Off`, Apache's
//! default), the client's moves to `X-Forwarded-Host`, and the front's address is appended to
//! `X-Forwarded-For` (`wire::forwarded`); bodies are streamed, not buffered. When the origin
//! cannot be reached or fails before its response head, the answer is the back tier's own 502 (or 413 when the
//! request body broke `LimitRequestBody`, see `body_limit.rs`).
//! This module knows nothing of the front connection's keep-alive: see `service.rs`.

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderName};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use wire::hop_by_hop;
use wire::local::LocalResponse;

use crate::body::{self, BoxError, ProxyBody};
use crate::body_limit;
use crate::origin_connector::OriginConnector;
use crate::request_body::{BodyWatch, RequestBody};

/// What became of a request, for the back's counters.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The origin answered (whatever its status).
    Proxied,
    /// The origin answered `101`: its side of the tunnel, to open once the `101` is written.
    Switched(OnUpgrade),
    /// The client's mistake, answered here: a body over the limit (413), or broken by the client (400).
    ClientError,
    /// The back's own 502: the origin could not be reached or failed before its response head.
    BadGateway,
}

/// The origin and the pool of connections to it.
#[derive(Debug, Clone)]
pub(crate) struct Forwarder {
    client: Client<OriginConnector, RequestBody>,
    origin: SocketAddr,
    /// `LimitRequestBody`, in bytes; `None` = unlimited.
    body_limit: Option<u64>,
}

impl Forwarder {
    /// A forwarder to `origin` with an empty pool, refusing request bodies over `body_limit`; each origin
    /// connection it opens adds one to `opened`.
    pub(crate) fn new(
        origin: SocketAddr,
        body_limit: Option<u64>,
        opened: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> Self {
        let client = Client::builder(TokioExecutor::new()).build(OriginConnector::new(opened));
        Self {
            client,
            origin,
            body_limit,
        }
    }

    /// Sends `request` (received from `peer`) to the origin; the origin's response, or the back's own answer.
    pub(crate) async fn forward(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> (Response<ProxyBody>, Outcome) {
        let (mut parts, body) = request.into_parts();
        let body = match body_limit::limit(body, self.body_limit) {
            Ok(body) => body,
            Err(too_large) => {
                tracing::debug!(%too_large, "request body announced over the limit: 413");
                return (body_limit::payload_too_large(), Outcome::ClientError);
            }
        };
        let watch = BodyWatch::default();
        let body = RequestBody::new(body, watch.clone());
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
                return (bad_gateway(), Outcome::BadGateway);
            }
        };
        let upgrade = hop_by_hop::upgrade_protocol(&parts.headers);
        hop_by_hop::strip(&mut parts.headers);
        if let Some(protocol) = upgrade {
            hop_by_hop::restore_upgrade(&mut parts.headers, protocol);
        }
        add_forwarded(&mut parts.headers, peer);
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        let method = parts.method.clone();
        match self.client.request(Request::from_parts(parts, body)).await {
            Ok(mut response) => {
                let switched = (response.status() == StatusCode::SWITCHING_PROTOCOLS)
                    .then(|| hyper::upgrade::on(&mut response));
                let (mut parts, body) = response.into_parts();
                let protocol = parts.headers.get(header::UPGRADE).cloned();
                hop_by_hop::strip(&mut parts.headers);
                parts.version = Version::HTTP_11;
                let outcome = match (switched, protocol) {
                    (Some(upgrade), Some(protocol)) => {
                        hop_by_hop::restore_upgrade(&mut parts.headers, protocol);
                        Outcome::Switched(upgrade)
                    }
                    _ => Outcome::Proxied,
                };
                let response = Response::from_parts(parts, body.map_err(BoxError::from).boxed());
                (response, outcome)
            }
            Err(error) if body_limit::is_exceeded(&error) => {
                tracing::debug!(limit = ?self.body_limit, %method, "request body grew over the limit: origin request aborted, 413");
                (body_limit::payload_too_large(), Outcome::ClientError)
            }
            Err(error) if watch.client_failed() => {
                tracing::debug!(%error, %method, "the client's request body broke: origin request aborted, 400");
                (bad_request_body(), Outcome::ClientError)
            }
            Err(error) => {
                tracing::debug!(%error, %method, origin = %self.origin, "origin failed; answering 502");
                (bad_gateway(), Outcome::BadGateway)
            }
        }
    }
}

/// Apache's 400 for a request body whose framing broke, closing the connection: what follows cannot be read
/// as a next request.
fn bad_request_body() -> Response<ProxyBody> {
    body::local(LocalResponse::apache(StatusCode::BAD_REQUEST, "Bad Request").closing())
}

/// `Host` moves to `X-Forwarded-Host` (the origin's authority is in the URI), and `peer` is appended to
/// `X-Forwarded-For`.
fn add_forwarded(headers: &mut HeaderMap, peer: SocketAddr) {
    if let Some(host) = headers.remove(header::HOST) {
        headers.insert(HeaderName::from_static("x-forwarded-host"), host);
    }
    wire::forwarded::append_forwarded_for(headers, peer.ip());
}

/// The back tier's own 502, as Apache's "Proxy Error" page (shortened).
pub(crate) fn bad_gateway() -> Response<ProxyBody> {
    body::local(LocalResponse::apache(
        StatusCode::BAD_GATEWAY,
        "Bad Gateway",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn forwarded_headers_are_added_and_host_moves_aside() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("front.example"));
        headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.9"));
        add_forwarded(&mut headers, "127.0.0.2:4000".parse().expect("addr"));
        assert_eq!(headers.get(header::HOST), None);
        assert_eq!(headers["x-forwarded-host"], "front.example");
        // Every earlier value is kept, as nginx's `$proxy_add_x_forwarded_for` (and the gateway) do.
        assert_eq!(headers["x-forwarded-for"], "10.0.0.1, 10.0.0.9, 127.0.0.2");
    }
}
