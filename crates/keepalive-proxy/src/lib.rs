//! The back tier: a reverse proxy with Apache httpd's keep-alive semantics (KeepAlive, KeepAliveTimeout,
//! MaxKeepAliveRequests, and how an idle connection is closed), in front of the origin.

mod config;

pub use config::{BackConfig, CloseMode};

use std::net::SocketAddr;

/// The back tier could not start.
#[derive(Debug, thiserror::Error)]
pub enum BackError {
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] listener::BindError),
}

/// Counters of what the back tier did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackStats {
    /// Client (front-tier) connections accepted.
    pub connections: u64,
    /// Requests received.
    pub requests: u64,
    /// Idle connections closed because their keep-alive timeout expired.
    pub keepalive_timeouts: u64,
    /// Connections ended by `max_keepalive_requests` (or KeepAlive Off).
    pub max_requests_closes: u64,
}

/// A running back tier.
pub struct KeepAliveProxy {
    _private: (),
}

impl KeepAliveProxy {
    /// Listens on `listen` and proxies every request to `origin`.
    pub async fn start(listen: SocketAddr, origin: SocketAddr, config: BackConfig) -> Result<KeepAliveProxy, BackError> {
        let _ = (listen, origin, config);
        todo!()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        todo!()
    }

    /// What the back tier did so far.
    pub fn stats(&self) -> BackStats {
        todo!()
    }

    /// Stops accepting and closes connections.
    pub async fn stop(self) {}
}
