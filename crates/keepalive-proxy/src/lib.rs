//! The back tier: a reverse proxy with Apache httpd's keep-alive semantics (KeepAlive, KeepAliveTimeout,
//! MaxKeepAliveRequests, and how an idle connection is closed), in front of the origin.
//!
//! Modules, in the order a connection meets them: `connection` (one front connection's life cycle and its
//! idle deadline), `observed_stream` and `tracked_body` (what tells the connection it is busy or idle,
//! recorded in `activity`), `service` (one request: count, forward, `Connection: close` when it is the last),
//! `forward` (the origin client pool, `Host` and `X-Forwarded-*`, what a failure is), `request_body` (the
//! front's body on its way up, watched for the client's framing errors), `body_limit` (`LimitRequestBody`, 413),
//! `body` (the body types and the answers made here), `tunnel` (`Upgrade` pass-through after a `101`), `deadline` (request and keep-alive timeouts, sweep
//! ticks), `close` (the three close modes on the raw socket), `stats`, `admin` (`admin_listen`: `GET /metrics`),
//! `origin_connector` (the origin pool's connector, counting the connections it opens), `recording` (the
//! connection's events for the harness's timelines, off unless [`KeepAliveProxy::timeline`] is enabled). The wire rules the front tier shares
//! (hop-by-hop headers, `X-Forwarded-For`, the body-size check, the shape of local answers) are the `wire`
//! crate's.

mod activity;
mod admin;
mod body;
mod body_limit;
mod close;
mod config;
mod connection;
mod deadline;
mod forward;
mod observed_stream;
mod origin_connector;
mod recording;
mod request_body;
mod service;
mod stats;
mod tracked_body;
mod tunnel;

pub use config::{BackConfig, CloseMode};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::deadline::IdlePolicy;
use crate::forward::Forwarder;
use crate::stats::Counters;

/// How long [`KeepAliveProxy::stop`] waits for in-flight exchanges to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The back tier could not start.
#[derive(Debug, thiserror::Error)]
pub enum BackError {
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] listener::BindError),
    /// The admin address (`admin_listen`) could not be bound.
    #[error("admin_listen: {0}")]
    Admin(listener::BindError),
    /// `admin_listen` is the listen address itself.
    #[error(
        "admin_listen {0} is the listen address too: give the admin endpoint a port of its own"
    )]
    AdminOnListen(SocketAddr),
}

/// Counters of what the back tier did. Serialized by field name: the harness writes them as the result's
/// `back` section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct BackStats {
    /// Client (front-tier) connections accepted.
    pub connections: u64,
    /// Requests received.
    pub requests: u64,
    /// Idle connections closed because their keep-alive timeout expired.
    pub keepalive_timeouts: u64,
    /// Connections ended by `max_keepalive_requests` (or KeepAlive Off).
    pub max_requests_closes: u64,
    /// Connections answered `408` and closed because a request head was not complete within
    /// `header_read_timeout`.
    pub header_read_timeouts: u64,
    /// Requests answered as the client's mistake, never as a 502: refused by the request rules (Host,
    /// Transfer-Encoding, CONNECT, TRACE: 400, 405; Apache's limits: 414, 400), a body over
    /// `LimitRequestBody` (413), a body whose framing broke or that was cut short (400, or a close when the
    /// client is gone).
    pub client_errors: u64,
    /// 502s the back made itself: the origin could not be reached or failed before its response head.
    pub bad_gateways: u64,
    /// Upgrades passed through (the origin's `101`, then a byte tunnel): tunnels opened.
    pub tunnels: u64,
    /// Tunnels ended because nothing moved either way for `request_timeout` (Apache's `Timeout`).
    pub tunnel_idle_timeouts: u64,
    /// Tunnels ended by both sides closing, or by a failure.
    pub tunnels_closed: u64,
    /// Connections the front ended (its close or reset), not the back's timeout or request limit.
    pub client_closes: u64,
    /// Requests on a connection that had carried one before.
    pub reused_requests: u64,
    /// Connections opened to the origin.
    pub origin_connections: u64,
}

impl std::ops::Add for BackStats {
    type Output = BackStats;

    /// Field by field: the counters of several back instances (a pool's members) as one.
    fn add(self, more: BackStats) -> BackStats {
        BackStats {
            connections: self.connections + more.connections,
            requests: self.requests + more.requests,
            keepalive_timeouts: self.keepalive_timeouts + more.keepalive_timeouts,
            max_requests_closes: self.max_requests_closes + more.max_requests_closes,
            header_read_timeouts: self.header_read_timeouts + more.header_read_timeouts,
            client_errors: self.client_errors + more.client_errors,
            bad_gateways: self.bad_gateways + more.bad_gateways,
            tunnels: self.tunnels + more.tunnels,
            tunnel_idle_timeouts: self.tunnel_idle_timeouts + more.tunnel_idle_timeouts,
            tunnels_closed: self.tunnels_closed + more.tunnels_closed,
            client_closes: self.client_closes + more.client_closes,
            reused_requests: self.reused_requests + more.reused_requests,
            origin_connections: self.origin_connections + more.origin_connections,
        }
    }
}

/// What every connection task of one back tier shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: BackConfig,
    pub(crate) policy: IdlePolicy,
    pub(crate) forwarder: Forwarder,
    pub(crate) stats: Counters,
    /// What is refused before anything goes to the origin.
    pub(crate) rules: wire::refusal::RequestRules,
    /// Closes land on their deadline to well under a millisecond, as Apache's do (see `precise_timer`).
    pub(crate) timer: Option<precise_timer::PreciseTimer>,
    /// The timelines' recorder (off unless the harness enables it).
    pub(crate) recorder: Arc<timeline::Recorder>,
}

/// A running back tier.
#[derive(Debug)]
pub struct KeepAliveProxy {
    server: listener::ServerHandle,
    shared: Arc<Shared>,
    started_at: tokio::time::Instant,
    /// Closes when every connection task has ended (each holds a sender).
    drained: mpsc::Receiver<()>,
    /// The admin endpoint, when `admin_listen` is set.
    admin: Option<listener::ServerHandle>,
}

impl KeepAliveProxy {
    /// Listens on `listen` and proxies every request to `origin`.
    pub async fn start(
        listen: SocketAddr,
        origin: SocketAddr,
        config: BackConfig,
    ) -> Result<KeepAliveProxy, BackError> {
        if config.admin_listen == Some(listen) && listen.port() != 0 {
            return Err(BackError::AdminOnListen(listen));
        }
        let started_at = tokio::time::Instant::now();
        let stats = Counters::default();
        let shared = Arc::new(Shared {
            policy: IdlePolicy::new(&config, started_at),
            forwarder: Forwarder::new(origin, config.body_limit(), stats.origin_connections()),
            rules: config.request_rules(),
            config,
            stats,
            timer: precise_timer::PreciseTimer::start(),
            recorder: Arc::new(timeline::Recorder::new()),
        });
        let (live, drained) = mpsc::channel(1);
        let for_connections = shared.clone();
        let limit = listener::ConnectionLimit::new(shared.config.max_connections)
            .with_refusal(listener::HTTP_503_REFUSAL);
        let server = listener::serve(listen, limit, move |stream, peer, shutdown| {
            let shared = for_connections.clone();
            let live = live.clone();
            async move {
                connection::serve(stream, peer, shutdown, shared).await;
                drop(live);
            }
        })
        .await?;
        let admin = match shared.config.admin_listen {
            Some(addr) => match admin::start(addr, shared.clone()).await {
                Ok(admin) => Some(admin),
                Err(error) => {
                    server.stop().await;
                    return Err(BackError::Admin(error));
                }
            },
            None => None,
        };
        tracing::debug!(addr = %server.local_addr(), %origin, config = ?shared.config, "back tier listening");
        Ok(KeepAliveProxy {
            server,
            shared,
            started_at,
            drained,
            admin,
        })
    }

    /// Where the admin endpoint listens, when `admin_listen` is set.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(listener::ServerHandle::local_addr)
    }

    /// Responses sent so far, by status.
    pub fn responses(&self) -> std::collections::BTreeMap<u16, u64> {
        self.shared.stats.responses()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Front connections being served now (refused ones not included).
    pub fn live_connections(&self) -> usize {
        self.server.live_connections()
    }

    /// The back's timeline recorder: off until [`timeline::Recorder::enable`]d; it keeps the rings of the last
    /// closed front connections (response written, keep-alive timer, how it closed, what lingering discarded).
    pub fn timeline(&self) -> Arc<timeline::Recorder> {
        Arc::clone(&self.shared.recorder)
    }

    /// What the back tier did so far.
    pub fn stats(&self) -> BackStats {
        self.shared.stats.snapshot()
    }

    /// When the back tier started: the idle sweep's ticks fall at `started_at() + k × timer_granularity`.
    pub fn started_at(&self) -> std::time::Instant {
        self.started_at.into_std()
    }

    /// Stops accepting and closes connections: idle ones at once, busy ones after their current response
    /// (up to a few seconds).
    pub async fn stop(self) {
        let Self {
            server,
            mut drained,
            admin,
            ..
        } = self;
        if let Some(admin) = admin {
            admin.stop().await;
        }
        server.stop().await;
        if tokio::time::timeout(DRAIN_TIMEOUT, drained.recv())
            .await
            .is_err()
        {
            tracing::debug!("back tier stopped with exchanges still in flight");
        }
    }
}
