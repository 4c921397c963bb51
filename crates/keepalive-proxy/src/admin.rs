//! The back's admin endpoint (`admin_listen`): `GET /metrics`, the back's counters in the Prometheus text
//! format, read from the same snapshot as [`crate::KeepAliveProxy::stats`] so the two always agree. Serving
//! (listener, 404, 405) is the `admin` crate's, shared with the gateway; this module names the metrics.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `badgateway_back_requests_total` | counter | |
//! | `badgateway_back_responses_total` | counter | `status` |
//! | `badgateway_back_keepalive_closes_total` | counter | `kind`: `timeout` (KeepAliveTimeout), `max-requests` (MaxKeepAliveRequests or KeepAlive Off), `client-close` (the front ended it) |
//! | `badgateway_back_connections_accepted_total` | counter | |
//! | `badgateway_back_requests_reused_total` | counter | (requests on a connection that had carried one) |
//! | `badgateway_back_client_errors_total` | counter | (requests answered as the client's mistake, never 502) |
//! | `badgateway_back_bad_gateway_total` | counter | (the back's own 502s: the origin failed) |
//! | `badgateway_back_header_read_timeouts_total` | counter | (408: a request head not read in time) |
//! | `badgateway_back_origin_connections_opened_total` | counter | |

use std::net::SocketAddr;
use std::sync::Arc;

use ::admin::AdminResponse;
use ::admin::metrics::{METRICS_PATH, counter, counters};
use listener::{BindError, ServerHandle};
use prometheus_client::registry::Registry;

use crate::Shared;

/// What the endpoint reads.
#[derive(Debug, Clone)]
struct BackAdmin(Arc<Shared>);

/// Binds `addr` and serves the endpoint until the returned handle is stopped.
pub(crate) async fn start(
    addr: SocketAddr,
    shared: Arc<Shared>,
) -> Result<ServerHandle, BindError> {
    ::admin::start(addr, BackAdmin(shared), "back").await
}

impl ::admin::Routes for BackAdmin {
    fn knows(&self, path: &str) -> bool {
        path == METRICS_PATH
    }

    fn answer(&self, _path: &str) -> AdminResponse {
        ::admin::metrics::answer(&registry(&self.0))
    }
}

/// One scrape's registry, built from a snapshot of the counters.
fn registry(shared: &Shared) -> Registry {
    let stats = shared.stats.snapshot();
    let responses = shared.stats.responses();
    let mut registry = Registry::with_prefix("badgateway_back");
    registry.register(
        "requests",
        "Requests received from the front",
        counter(stats.requests),
    );
    registry.register(
        "responses",
        "Responses sent to the front, by status",
        counters("status", responses.iter().map(|(s, n)| (s.to_string(), *n))),
    );
    registry.register(
        "keepalive_closes",
        "Front connections ended, by who ended them",
        counters(
            "kind",
            [
                ("timeout", stats.keepalive_timeouts),
                ("max-requests", stats.max_requests_closes),
                ("client-close", stats.client_closes),
            ]
            .map(|(kind, n)| (kind.to_owned(), n)),
        ),
    );
    registry.register(
        "connections_accepted",
        "Front connections accepted",
        counter(stats.connections),
    );
    registry.register(
        "requests_reused",
        "Requests on a connection that had carried one before",
        counter(stats.reused_requests),
    );
    registry.register(
        "client_errors",
        "Requests answered as the client's mistake (4xx, never 502)",
        counter(stats.client_errors),
    );
    registry.register(
        "bad_gateway",
        "The back's own 502s: the origin could not be reached or failed before its head",
        counter(stats.bad_gateways),
    );
    registry.register(
        "header_read_timeouts",
        "Connections answered 408: a request head not read in time",
        counter(stats.header_read_timeouts),
    );
    registry.register(
        "origin_connections_opened",
        "Connections opened to the origin",
        counter(stats.origin_connections),
    );
    registry
}
