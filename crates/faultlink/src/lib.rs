//! The fault link: a TCP relay between two tiers that applies latency to data *and* to FIN/RST, and injects
//! resets and blackholes.

mod config;

pub use config::LinkConfig;

use std::net::SocketAddr;

/// The link could not start.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The listen address could not be bound.
    #[error(transparent)]
    Bind(#[from] listener::BindError),
    /// A knob is out of range.
    #[error("link reset_probability {0} is outside 0..=1")]
    ResetProbability(f64),
}

/// Counters of what the link did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Client connections accepted.
    pub connections: u64,
    /// Connections the link reset on purpose.
    pub resets_injected: u64,
    /// Connections swallowed by the blackhole.
    pub blackholed: u64,
}

/// A running link.
pub struct Link {
    _private: (),
}

impl Link {
    /// Listens on `listen` and relays every connection to `upstream`.
    pub async fn start(listen: SocketAddr, upstream: SocketAddr, config: LinkConfig) -> Result<Link, LinkError> {
        let _ = (listen, upstream, config);
        todo!()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        todo!()
    }

    /// What the link did so far.
    pub fn stats(&self) -> LinkStats {
        todo!()
    }

    /// Stops accepting and tears down relayed connections.
    pub async fn stop(self) {}
}
