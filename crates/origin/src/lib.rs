//! The origin: the application behind the chain. Answers every request with a configured status, body size and
//! latency, and counts what it served so tests can prove what reached it. It can also be broken on purpose
//! ([`OriginFault`]): close or reset without answering, answer with bytes that are not HTTP, or die in the middle
//! of a response body.
//!
//! This module owns the origin's life cycle (start, address, counters, stop). The per-connection HTTP work is in
//! `service`, the faults' raw socket work in `fault`, what their connections share (counters, the latency wait on
//! `precise_timer`) in `state`, the application-error draw in `error_draw`, the WebSocket echo endpoint (any
//! request with `Upgrade: websocket`) in `websocket`; the knobs are in `config`.

mod config;
mod error_draw;
mod fault;
mod service;
mod state;
mod websocket;

pub use config::{OriginConfig, OriginFault};
pub use state::REQUEST_NUMBER_HEADER;

/// The `user-agent` prefix of the gateway's health probe; requests carrying it are counted by
/// [`Origin::probe_requests`].
pub const PROBE_USER_AGENT: &str = "badgateway-probe";

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::StatusCode;
use listener::ServerHandle;

use error_draw::ErrorDraw;
use state::OriginState;

/// How long [`Origin::stop`] waits, on top of the latency, for connection tasks to end: longer than a normal
/// connection's shutdown grace and a faulty one's linger, each 1 s.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The origin could not start.
#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] listener::BindError),
    /// The configured status is not an HTTP status code (100..=999).
    #[error("origin status {0} is not a valid HTTP status code (100..=999)")]
    Status(u16),
    /// `error_probability` is not within 0..=1.
    #[error("origin error_probability {0} is outside 0..=1")]
    ErrorProbability(f64),
    /// `error_status` is not an HTTP status code.
    #[error("origin error_status {0} is not a valid HTTP status code (100..=999)")]
    ErrorStatus(u16),
}

/// A running origin.
pub struct Origin {
    server: ServerHandle,
    state: Arc<OriginState>,
}

impl Origin {
    /// Starts an origin listening on `listen` (port 0 allowed).
    pub async fn start(listen: SocketAddr, config: OriginConfig) -> Result<Origin, OriginError> {
        let status =
            StatusCode::from_u16(config.status).map_err(|_| OriginError::Status(config.status))?;
        // A truncated body needs at least one byte sent and one missing.
        let body_len = match config.fault {
            OriginFault::CloseMidBody => config.body_bytes.max(2),
            _ => config.body_bytes,
        };
        let errors = ErrorDraw::new(&config)?;
        let state = Arc::new(OriginState {
            latency: config.latency,
            status,
            body: Bytes::from(vec![b'x'; body_len]),
            fault: config.fault,
            errors,
            served: AtomicU64::new(0),
            probes: AtomicU64::new(0),
        });
        let shared = Arc::clone(&state);
        let server = listener::serve(
            listen,
            listener::ConnectionLimit::UNLIMITED,
            move |stream, peer, shutdown| {
                service::serve_connection(stream, peer, shutdown, Arc::clone(&shared))
            },
        )
        .await?;
        tracing::info!(addr = %server.local_addr(), ?config, "origin listening");
        Ok(Origin { server, state })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Requests whose response head the origin has started to send; under a fault ([`OriginFault`] other than
    /// `none`), requests whose head the origin has read, whatever it then does to them.
    pub fn requests_served(&self) -> u64 {
        self.state.served.load(Ordering::Relaxed)
    }

    /// The part of [`Origin::requests_served`] whose `user-agent` starts with [`PROBE_USER_AGENT`] (the gateway's
    /// health probe), in any fault mode. `requests_served() - probe_requests()` is what the origin got from
    /// anything else, e.g. proxied client requests. The two counters are separate atomics: read them while no
    /// request is arriving (or subtract with `saturating_sub`).
    pub fn probe_requests(&self) -> u64 {
        self.state.probes.load(Ordering::Relaxed)
    }

    /// Requests answered with `error_status` because the `error_probability` draw failed them.
    pub fn errors_injected(&self) -> u64 {
        self.state.errors.injected()
    }

    /// Stops accepting and closes connections: idle ones at once, busy ones once their response is sent. Returns
    /// once every connection task has ended (its socket closed), or after a bounded grace: the latency plus the
    /// longest a connection may linger after shutdown.
    pub async fn stop(self) {
        let grace = self.state.latency + STOP_GRACE;
        let live = self.server.drain(grace).await;
        if live > 0 {
            tracing::debug!(
                live,
                ?grace,
                "origin stopped with connections still closing"
            );
        }
        tracing::info!(
            served = self.state.served.load(Ordering::Relaxed),
            "origin stopped"
        );
    }
}
