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
//! This module only reads the health table and the counters; it changes nothing. Serving (the listener, 404,
//! 405, the answer shapes) is the `admin` crate's, shared with the back tier.

use std::net::SocketAddr;
use std::sync::Arc;

use ::admin::AdminResponse;
use ::admin::metrics::METRICS_PATH;
use listener::{BindError, ServerHandle};

use crate::health::Health;
use crate::metrics::Scrape;
use crate::pool::UpstreamPool;
use crate::stats::Stats;

/// The health report's path.
pub const ADMIN_HEALTH_PATH: &str = "/_badgateway/health";
/// The counters' path.
pub const ADMIN_STATS_PATH: &str = "/_badgateway/stats";

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
    ::admin::start(addr, state, "gateway").await
}

impl ::admin::Routes for AdminState {
    fn knows(&self, path: &str) -> bool {
        [ADMIN_HEALTH_PATH, ADMIN_STATS_PATH, METRICS_PATH].contains(&path)
    }

    fn answer(&self, path: &str) -> AdminResponse {
        match path {
            ADMIN_HEALTH_PATH => ::admin::json(&self.health.report()),
            ADMIN_STATS_PATH => ::admin::json(&self.stats.snapshot(self.pool.stats().parked)),
            _ => crate::metrics::render(Scrape {
                stats: self.stats.snapshot(self.pool.stats().parked),
                idle_ages: self.stats.idle_ages(),
                pool: self.pool.stats(),
                health: self.health.report(),
            }),
        }
    }
}
