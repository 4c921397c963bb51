//! The origin: the application behind the chain. Answers every request with a configured status, body size and
//! latency, and counts what it served so tests can prove what reached it.

mod config;

pub use config::OriginConfig;

use std::net::SocketAddr;

/// The origin could not start.
#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] listener::BindError),
}

/// A running origin.
pub struct Origin {
    _private: (),
}

impl Origin {
    /// Starts an origin listening on `listen` (port 0 allowed).
    pub async fn start(listen: SocketAddr, config: OriginConfig) -> Result<Origin, OriginError> {
        let _ = (listen, config);
        todo!()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        todo!()
    }

    /// Requests whose response head the origin has started to send.
    pub fn requests_served(&self) -> u64 {
        todo!()
    }

    /// Stops accepting and closes connections.
    pub async fn stop(self) {}
}
