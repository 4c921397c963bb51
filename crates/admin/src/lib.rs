//! The admin listener both proxy tiers share (the gateway's `admin_listen`, the back's `admin_listen`): a small
//! HTTP/1 endpoint of its own, apart from the public listener, that answers `GET`/`HEAD` on the paths a tier's
//! [`Routes`] knows (404 on any other path, 405 on another method), with a JSON or Prometheus text body.
//!
//! - [`start`]: binds and serves until the returned handle is stopped (at most 16 admin clients at once);
//! - [`json`], [`text`]: the two answer shapes;
//! - [`metrics`]: `GET /metrics` in the Prometheus text format (`prometheus-client`): the path, the content
//!   type, the answer, and counters already at a value.
//!
//! Each tier decides what its routes answer (what it counts and how it names it); this crate only serves.

pub mod metrics;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use listener::{BindError, ServerHandle, ShutdownSignal};
use tokio::net::TcpStream;

/// An admin answer.
pub type AdminResponse = Response<Full<Bytes>>;

/// Admin clients are few: a scraper, an operator's curl.
const MAX_ADMIN_CONNECTIONS: usize = 16;

/// What one tier's admin endpoint answers.
pub trait Routes: Clone + Send + Sync + 'static {
    /// Whether `path` is one of the endpoint's paths.
    fn knows(&self, path: &str) -> bool;
    /// The answer to `GET path`, for a path it knows.
    fn answer(&self, path: &str) -> AdminResponse;
}

/// Binds `addr` and serves `routes` until the returned handle is stopped; `tier` names the tier in the log.
pub async fn start<R: Routes>(
    addr: SocketAddr,
    routes: R,
    tier: &'static str,
) -> Result<ServerHandle, BindError> {
    let server = listener::serve(
        addr,
        listener::ConnectionLimit::new(MAX_ADMIN_CONNECTIONS),
        move |stream, peer, shutdown| serve_client(stream, peer, shutdown, routes.clone()),
    )
    .await?;
    tracing::info!(addr = %server.local_addr(), tier, "admin endpoint listening");
    Ok(server)
}

/// Serves one admin connection until the client leaves or shutdown.
async fn serve_client<R: Routes>(
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: ShutdownSignal,
    routes: R,
) {
    let service = service_fn(move |request| {
        let response = route(&request, &routes);
        async move { Ok::<_, Infallible>(response) }
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.triggered() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "admin connection ended with an error");
    }
}

/// The answer to one admin request.
fn route<R: Routes>(request: &Request<Incoming>, routes: &R) -> AdminResponse {
    let path = request.uri().path();
    if !routes.knows(path) {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    routes.answer(path)
}

/// `value` as a JSON answer (500 when it cannot be serialized).
pub fn json<T: serde::Serialize>(value: &T) -> AdminResponse {
    match serde_json::to_vec(value) {
        Ok(mut body) => {
            body.push(b'\n');
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(error) => {
            tracing::warn!(%error, "cannot serialize admin answer");
            text(StatusCode::INTERNAL_SERVER_ERROR, "cannot serialize\n")
        }
    }
}

/// A short plain-text answer.
pub fn text(status: StatusCode, body: &'static str) -> AdminResponse {
    wire::local::LocalResponse::text(status, body).into_response()
}
