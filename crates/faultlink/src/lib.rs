//! The fault link: a TCP relay between two tiers that applies latency to data *and* to FIN/RST, and injects
//! resets and blackholes.
//!
//! This module owns the link's life cycle (start, address, stats, stop). Each accepted connection is handled by
//! `connection`, which runs one `relay` pump per direction and asks `fault` what to break; `stats` holds the
//! counters and `config` the knobs.

mod config;
mod connection;
mod fault;
mod relay;
mod stats;

pub use config::LinkConfig;
pub use stats::LinkStats;

use std::net::SocketAddr;
use std::sync::Arc;

use listener::ServerHandle;

use connection::LinkShared;
use fault::FaultPlan;
use stats::Counters;

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

/// A running link.
pub struct Link {
    server: ServerHandle,
    shared: Arc<LinkShared>,
}

impl Link {
    /// Listens on `listen` and relays every connection to `upstream`.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        config: LinkConfig,
    ) -> Result<Link, LinkError> {
        let shared = Arc::new(LinkShared {
            upstream,
            latency: config.latency,
            faults: FaultPlan::new(&config)?,
            counters: Counters::default(),
        });
        let per_connection = Arc::clone(&shared);
        let server = listener::serve(listen, None, move |stream, peer, shutdown| {
            connection::run(stream, peer, shutdown, Arc::clone(&per_connection))
        })
        .await?;
        tracing::info!(addr = %server.local_addr(), %upstream, ?config, "link listening");
        Ok(Link { server, shared })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// What the link did so far.
    pub fn stats(&self) -> LinkStats {
        self.shared.counters.snapshot()
    }

    /// Stops accepting and tears down relayed connections.
    pub async fn stop(self) {
        self.server.stop().await;
        tracing::info!(stats = ?self.shared.counters.snapshot(), "link stopped");
    }
}
