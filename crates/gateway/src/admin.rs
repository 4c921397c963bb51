//! The admin endpoint: a small HTTP/1 listener of its own (`admin_listen`), apart from the public one, that
//! serves the gateway's state as JSON.
//!
//! - `GET /_badgateway/health` → a [`crate::HealthReport`]:
//!   ```json
//!   {"members": [{"member": "10.0.0.4:8080", "state": "unhealthy",
//!                 "last_probe": {"ok": false, "status": 500, "error": "status 500 is not in 200-399",
//!                                "at_ms_ago": 812},
//!                 "consecutive_failures": 3}],
//!    "healthy": 0, "total": 1}
//!   ```
//!   `last_probe` is `null` before the first probe (always, with probes disabled); `status` is `null` when the
//!   member did not answer, `error` is `null` when the probe passed.
//! - `GET /_badgateway/stats` → the [`crate::GatewayStats`], causes keyed by their kebab-case name and
//!   responses by status code: `{"requests": 10, "responses": {"200": 8, "502": 2}, "causes":
//!   {"all-unhealthy": 2}, "upstream_connections": 1, ...}`.
//! - `GET /metrics` → the same counters and each member's probe state in the Prometheus text format
//!   (see [`crate::metrics`] for the metric names).
//! - any other path → 404; another method on those paths → 405.
//!
//! The public listener gives `/_badgateway/*` no special meaning: it proxies it like any other path, so the
//! admin endpoint is reachable only where `admin_listen` is (keep it on loopback or a management network).
//! This module only reads the health table and the counters; it changes nothing.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

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

use crate::health::Health;
use crate::metrics::{METRICS_CONTENT_TYPE, METRICS_PATH, Scrape};
use crate::pool::UpstreamPool;
use crate::stats::Stats;

/// The health report's path.
pub const ADMIN_HEALTH_PATH: &str = "/_badgateway/health";
/// The counters' path.
pub const ADMIN_STATS_PATH: &str = "/_badgateway/stats";

/// Admin clients are few: a scraper, an operator's curl.
const MAX_ADMIN_CONNECTIONS: usize = 16;

/// What the admin endpoint reads.
#[derive(Debug, Clone)]
struct AdminState {
    health: Arc<Health>,
    stats: Arc<Stats>,
    pool: UpstreamPool,
}

/// Binds `addr` and serves the admin endpoint until the returned handle is stopped.
pub(crate) async fn start(
    addr: SocketAddr,
    health: Arc<Health>,
    stats: Arc<Stats>,
    pool: UpstreamPool,
) -> Result<ServerHandle, BindError> {
    let state = AdminState {
        health,
        stats,
        pool,
    };
    let server = listener::serve(
        addr,
        listener::ConnectionLimit::new(MAX_ADMIN_CONNECTIONS),
        move |stream, peer, shutdown| serve_admin_client(stream, peer, shutdown, state.clone()),
    )
    .await?;
    tracing::info!(addr = %server.local_addr(), "admin endpoint listening");
    Ok(server)
}

/// Serves one admin connection until the client leaves or shutdown.
async fn serve_admin_client(
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: ShutdownSignal,
    state: AdminState,
) {
    let service = service_fn(move |request| {
        let response = route(&request, &state);
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
fn route(request: &Request<Incoming>, state: &AdminState) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if path != ADMIN_HEALTH_PATH && path != ADMIN_STATS_PATH && path != METRICS_PATH {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if path == METRICS_PATH {
        return metrics(state);
    }
    let body = if path == ADMIN_HEALTH_PATH {
        serde_json::to_vec(&state.health.report())
    } else {
        serde_json::to_vec(&state.stats.snapshot())
    };
    match body {
        Ok(mut body) => {
            body.push(b'\n');
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(error) => {
            tracing::warn!(%error, path, "cannot serialize admin answer");
            text(StatusCode::INTERNAL_SERVER_ERROR, "cannot serialize\n")
        }
    }
}

/// The Prometheus scrape.
fn metrics(state: &AdminState) -> Response<Full<Bytes>> {
    let scrape = Scrape {
        stats: state.stats.snapshot(),
        idle_ages: state.stats.idle_ages(),
        pool: state.pool.stats(),
        health: state.health.report(),
    };
    match crate::metrics::render(scrape) {
        Ok(text) => {
            let mut response = Response::new(Full::new(Bytes::from(text)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
            response
        }
        Err(error) => {
            tracing::warn!(%error, "cannot encode the metrics");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot encode the metrics\n",
            )
        }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    wire::local::LocalResponse::text(status, body).into_response()
}
