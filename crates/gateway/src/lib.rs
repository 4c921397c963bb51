//! The front tier: an Application-Gateway-like reverse proxy over a backend pool, with its own upstream
//! connection pool, retries, and a classified [`Cause`] on every 502 it makes.

mod cause;
mod config;

pub use cause::{Cause, UnknownCause};
pub use config::{FrontConfig, RetryPolicy};

use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The response header that names the cause of a 502 made by the gateway.
pub const CAUSE_HEADER: &str = "x-badgateway-cause";

/// The gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] listener::BindError),
    /// A backend member is not `host:port`.
    #[error("backend {0:?} is not host:port")]
    BadBackend(String),
}

/// A snapshot of the gateway's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
}

/// A running gateway.
pub struct Gateway {
    _private: (),
}

impl Gateway {
    /// Listens on `listen` and proxies to the members of `backends` (each `host:port`).
    pub async fn start(listen: SocketAddr, backends: Vec<String>, config: FrontConfig) -> Result<Gateway, GatewayError> {
        let _ = (listen, backends, config);
        todo!()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        todo!()
    }

    /// The counters so far.
    pub fn stats(&self) -> GatewayStats {
        todo!()
    }

    /// Stops accepting and closes connections.
    pub async fn stop(self) {}
}
