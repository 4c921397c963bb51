//! The front tier: an Application-Gateway-like reverse proxy over a backend pool, with its own upstream
//! connection pool, retries, and a classified [`Cause`] on every 502 it makes.
//!
//! A request's path is in `proxy.rs`, top to bottom; each step lives in its own module:
//! `server` (client connections; `framing_guard` finds requests with both Content-Length and
//! Transfer-Encoding, which `proxy` refuses), `balancer` (members, round robin over the healthy ones, resolving
//! names), `pool` (the upstream pool and its reaper), `upstream_conn` (connect, handshake, byte counting),
//! `classify` (error → [`Cause`]), `retry` (the policy decision), `request_body` (buffering under the body
//! limit, `413`), `response_body` (streaming, checkin, truncation, the gateway's own answers), `tunnel`
//! (`Upgrade` pass-through after a `101`), `stats` (counters) and `recording` (each connection's and each
//! failed request's events for the harness's timelines, off unless [`Gateway::timeline`] is enabled). The wire rules the back tier shares (hop-by-hop headers, `X-Forwarded-For`, the body-size
//! check, the shape of local answers) are the `wire` crate's.
//!
//! Beside the request path: `probe` (one health-probe task per member), `health` (per-member probe state and
//! its transitions, read by the balancer), `resolve` (the [`Resolve`] trait, system and table resolvers) and
//! `admin` (the `/_badgateway/health` and `/_badgateway/stats` JSON on a listener of its own). This file owns
//! the public API and the gateway's life cycle. The knobs are documented in [`FrontConfig`], [`ProbeConfig`]
//! and [`DnsConfig`].

mod admin;
mod balancer;
#[doc(hidden)]
pub mod bench_api;
mod cause;
mod classify;
mod config;
mod framing_guard;
mod health;
mod memory_trim;
mod metrics;
mod pool;
mod probe;
mod proxy;
mod recording;
mod request_body;
mod resolve;
mod response_body;
mod retry;
mod server;
mod stats;
mod tunnel;
mod upstream_conn;

pub use ::admin::metrics::METRICS_PATH;
pub use admin::{ADMIN_HEALTH_PATH, ADMIN_STATS_PATH};
pub use cause::{Cause, UnknownCause};
pub use config::{
    DnsConfig, DnsMode, FrontConfig, MAX_WORKER_THREADS, ProbeConfig, RetryPolicy, StatusRange,
};
pub use health::{HealthReport, HealthState, LastProbe, MemberHealth};
pub use memory_trim::{TRIM_DELAY, set_memory_trim};
pub use pool::PoolStats;
pub use resolve::{Resolve, ResolveError, ResolveFuture, SystemResolver, TableResolver};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use listener::ServerHandle;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::balancer::Balancer;
use crate::health::Health;
use crate::pool::{PoolLimits, UpstreamPool};
use crate::probe::HttpProbe;
use crate::proxy::Proxy;
use crate::stats::Stats;

/// The response header that names the cause of a 502 made by the gateway.
pub const CAUSE_HEADER: &str = "x-badgateway-cause";

/// The gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] listener::BindError),
    /// The admin endpoint's address (`admin_listen`) could not be bound.
    #[error("admin_listen: {0}")]
    Admin(listener::BindError),
    /// `admin_listen` is the listen address itself.
    #[error(
        "admin_listen {0} is the listen address too: give the admin endpoint a port of its own"
    )]
    AdminOnListen(SocketAddr),
    /// A backend member is not `host:port`.
    #[error("backend {0:?} is not host:port")]
    BadBackend(String),
    /// `worker_threads` is over [`MAX_WORKER_THREADS`].
    #[error("worker_threads = {0} is over the limit of {MAX_WORKER_THREADS}")]
    TooManyWorkerThreads(usize),
    /// The worker threads could not be started.
    #[error("cannot start {count} worker threads: {source}")]
    WorkerThreads {
        /// How many were asked for.
        count: usize,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

/// A snapshot of the gateway's counters; as JSON (`/_badgateway/stats`) the causes are keyed by their
/// kebab-case name and the responses by status code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayStats {
    /// Client requests received.
    pub requests: u64,
    /// Responses sent to clients, by status code.
    pub responses: BTreeMap<u16, u64>,
    /// 502s made by the gateway, by cause.
    pub causes: BTreeMap<Cause, u64>,
    /// Upstream TCP connections opened.
    pub upstream_connections: u64,
    /// Requests sent on a reused upstream connection.
    pub reused_requests: u64,
    /// Retries made on a fresh connection.
    pub retries: u64,
    /// Responses whose body failed after the head was sent (client connection aborted, not a 502).
    pub truncated_responses: u64,
    /// Times an idle client connection gave its HTTP buffers back (see `FrontConfig::client_park_after`).
    #[serde(default)]
    pub parked_connections: u64,
    /// Times an idle pooled upstream connection gave its HTTP buffers back (see
    /// `FrontConfig::upstream_park_after`).
    #[serde(default)]
    pub parked_upstream_connections: u64,
    /// Requests refused as the client's mistake, never as a 502: a broken or over-long body (400, 413), both
    /// Content-Length and Transfer-Encoding, no or several `Host`, a `Transfer-Encoding` other than one
    /// `chunked` (400), `CONNECT` or a refused `TRACE` (405).
    #[serde(default)]
    pub client_errors: u64,
    /// Upgrades passed through (a `101` from the backend, then a byte tunnel): tunnels opened.
    #[serde(default)]
    pub tunnels: u64,
    /// Tunnels ended because nothing moved either way for `client_idle_timeout`.
    #[serde(default)]
    pub tunnel_idle_timeouts: u64,
    /// Tunnels ended by both sides closing, or by a failure.
    #[serde(default)]
    pub tunnels_closed: u64,
}

/// A running gateway.
pub struct Gateway {
    server: ServerHandle,
    admin: Option<ServerHandle>,
    probes: Vec<JoinHandle<()>>,
    pool: UpstreamPool,
    stats: Arc<Stats>,
    health: Arc<Health>,
    recorder: Arc<timeline::Recorder>,
}

impl Gateway {
    /// Listens on `listen` and proxies to the members of `backends` (each `host:port`), resolving their names
    /// as `config.dns` says. With `config.admin_listen`, also serves the admin endpoint; with
    /// `config.probe.enabled`, probes every member.
    pub async fn start(
        listen: SocketAddr,
        backends: Vec<String>,
        config: FrontConfig,
    ) -> Result<Gateway, GatewayError> {
        let resolver = resolve::from_config(&config.dns);
        Gateway::start_with_resolver(listen, backends, config, resolver).await
    }

    /// [`Gateway::start`] with names resolved by `resolver`; `config.dns` is ignored.
    pub async fn start_with_resolver(
        listen: SocketAddr,
        backends: Vec<String>,
        config: FrontConfig,
        resolver: Arc<dyn Resolve>,
    ) -> Result<Gateway, GatewayError> {
        if config.admin_listen == Some(listen) && listen.port() != 0 {
            return Err(GatewayError::AdminOnListen(listen));
        }
        let balancer = Arc::new(Balancer::parse(&backends, resolver)?);
        let shards = match config.worker_threads {
            0 => None,
            count if count > MAX_WORKER_THREADS => {
                return Err(GatewayError::TooManyWorkerThreads(count));
            }
            count => Some(
                listener::Shards::start(count, "gateway-worker")
                    .map_err(|source| GatewayError::WorkerThreads { count, source })?,
            ),
        };
        let health = Arc::new(Health::new(
            balancer.members().iter().map(|member| member.label.clone()),
            config.probe.unhealthy_threshold,
        ));
        let pool = UpstreamPool::new(
            balancer.len(),
            config.worker_threads,
            PoolLimits {
                idle_timeout: config.idle_timeout,
                max_idle_per_backend: config.max_idle_per_backend,
                max_requests_per_conn: config.max_requests_per_conn,
                keep_alive_hint_margin: config
                    .honor_keep_alive_hint
                    .then_some(config.keep_alive_hint_margin),
                park_after: config.upstream_park_after,
            },
        );
        let stats = Arc::new(Stats::default());
        let admin = match config.admin_listen {
            Some(addr) => Some(
                admin::start(addr, health.clone(), stats.clone(), pool.clone())
                    .await
                    .map_err(GatewayError::Admin)?,
            ),
            None => None,
        };
        let client_limits = server::ClientLimits {
            idle_timeout: config.client_idle_timeout,
            max_header_bytes: config.max_header_bytes,
            park_after: config.client_park_after,
        };
        let client_limit = listener::ConnectionLimit::new(config.max_client_connections)
            .with_refusal(listener::HTTP_503_REFUSAL);
        let probe_config = config.probe.clone();
        let recorder = Arc::new(timeline::Recorder::new());
        let proxy = Arc::new(Proxy::new(
            balancer.clone(),
            health.clone(),
            pool.clone(),
            stats.clone(),
            config,
            recorder.clone(),
        ));
        let served = listener::serve_on(
            listen,
            client_limit,
            shards,
            move |stream, peer, shutdown| {
                server::serve_client(stream, peer, shutdown, proxy.clone(), client_limits)
            },
        )
        .await;
        let server = match served {
            Ok(server) => server,
            Err(error) => {
                if let Some(admin) = admin {
                    admin.stop().await;
                }
                pool.close();
                return Err(error.into());
            }
        };
        tracing::info!(addr = %server.local_addr(), backends = backends.len(), "gateway listening");
        let probes = spawn_probes(&balancer, &health, probe_config, &server);
        Ok(Gateway {
            server,
            admin,
            probes,
            pool,
            stats,
            health,
            recorder,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Client connections being served now (refused ones not included).
    pub fn live_connections(&self) -> usize {
        self.server.live_connections()
    }

    /// Client connections refused so far because `max_client_connections` was reached.
    pub fn refused_connections(&self) -> u64 {
        self.server.refused_connections()
    }

    /// The counters so far.
    pub fn stats(&self) -> GatewayStats {
        self.stats.snapshot(self.pool.stats().parked)
    }

    /// The gateway's timeline recorder: off until [`timeline::Recorder::enable`]d; it keeps the first `cap`
    /// failed requests (502s and retries) with the story of every upstream connection they were tried on.
    pub fn timeline(&self) -> Arc<timeline::Recorder> {
        self.recorder.clone()
    }

    /// The upstream pool's own counters (idle connections, discards, reaps).
    pub fn pool_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// Every member's health now (what `/_badgateway/health` serves).
    pub fn health(&self) -> HealthReport {
        self.health.report()
    }

    /// The admin endpoint's bound address; none without `admin_listen`.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(ServerHandle::local_addr)
    }

    /// Stops accepting, stops the probes and the admin endpoint, and closes connections (idle ones at once,
    /// busy ones after their current exchange, without waiting for them: see [`Gateway::drain`]).
    pub async fn stop(self) {
        self.drain(std::time::Duration::ZERO).await;
    }

    /// Stops accepting and tells every client connection to finish: an idle one closes at once, one with a
    /// request in flight after its response. Waits up to `grace` for them, then stops the probes and the admin
    /// endpoint and closes the upstream pool. Returns the client connections still open when the grace ran out
    /// (0 = drained); they end when the runtime does.
    pub async fn drain(self, grace: std::time::Duration) -> usize {
        // The probe tasks listen to the server's shutdown signal: they end once it fires.
        let left = self.server.drain(grace).await;
        for probe in self.probes {
            let _ = probe.await;
        }
        if let Some(admin) = self.admin {
            admin.stop().await;
        }
        self.pool.close();
        left
    }
}

/// One probe task per member when probes are enabled; they end with `server`'s shutdown.
fn spawn_probes(
    balancer: &Balancer,
    health: &Arc<Health>,
    config: ProbeConfig,
    server: &ServerHandle,
) -> Vec<JoinHandle<()>> {
    if !config.enabled {
        if config != ProbeConfig::default() {
            tracing::warn!(
                "probe settings are given but probe.enabled is false: members are not probed"
            );
        }
        return Vec::new();
    }
    tracing::info!(
        members = balancer.len(),
        path = %config.path,
        interval = ?config.interval,
        timeout = ?config.timeout,
        unhealthy_threshold = config.unhealthy_threshold,
        "health probes enabled"
    );
    // A zero interval would probe in a busy loop.
    let interval = config.interval.max(std::time::Duration::from_millis(1));
    let probe: Arc<dyn probe::Probe> =
        Arc::new(HttpProbe::new(config, balancer.resolver().clone()));
    balancer
        .members()
        .iter()
        .map(|member| {
            tokio::spawn(probe::run(
                member.clone(),
                probe.clone(),
                health.clone(),
                interval,
                server.shutdown_signal(),
            ))
        })
        .collect()
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("local_addr", &self.local_addr())
            .finish_non_exhaustive()
    }
}
