//! The origin: the application behind the chain. Answers every request with a configured status, body size and
//! latency, and counts what it served so tests can prove what reached it.
//!
//! This module owns the origin's life cycle (start, address, counter, stop). The per-connection HTTP work is in
//! `service`; the knobs are in `config`.

mod config;
mod service;

pub use config::OriginConfig;
pub use service::REQUEST_NUMBER_HEADER;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::StatusCode;
use listener::ServerHandle;

use service::OriginState;

/// The origin could not start.
#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] listener::BindError),
    /// The configured status is not an HTTP status code (100..=999).
    #[error("origin status {0} is not a valid HTTP status code (100..=999)")]
    Status(u16),
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
        let state = Arc::new(OriginState {
            latency: config.latency,
            status,
            body: Bytes::from(vec![b'x'; config.body_bytes]),
            served: AtomicU64::new(0),
        });
        let shared = Arc::clone(&state);
        let server = listener::serve(listen, None, move |stream, peer, shutdown| {
            service::serve_connection(stream, peer, shutdown, Arc::clone(&shared))
        })
        .await?;
        tracing::info!(addr = %server.local_addr(), ?config, "origin listening");
        Ok(Origin { server, state })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Requests whose response head the origin has started to send.
    pub fn requests_served(&self) -> u64 {
        self.state.served.load(Ordering::Relaxed)
    }

    /// Stops accepting and closes connections: idle ones at once, busy ones once their response is sent.
    pub async fn stop(self) {
        self.server.stop().await;
        tracing::info!(
            served = self.state.served.load(Ordering::Relaxed),
            "origin stopped"
        );
    }
}
