//! The fault link: a TCP relay between two tiers that applies latency to data *and* to FIN/RST, and injects the
//! network faults behind a proxy's 502s:
//!
//! - `reset_probability`: reset both sides at the client's first data (the backend "answering" with a reset);
//! - `blackhole`: accept and swallow, nothing comes back (a response timeout);
//! - `drop_syn`: never accept and keep the accept queue full, so the kernel drops new SYNs and a connect to the
//!   link times out (a network rule that drops packets: a connect timeout).
//!
//! This module owns the link's life cycle (start, address, stats, stop). Each accepted connection is handled by
//! `connection`, which runs one `relay` pump per direction and asks `fault` what to break; `syn_drop` holds the
//! listener that never accepts; `stats` holds the counters and `config` the knobs; `recording` records, when
//! the harness turns recording on ([`Link::timeline`]), each segment's reception and delivery per connection.

mod config;
mod connection;
mod fault;
mod recording;
mod relay;
mod stats;
mod syn_drop;

pub use config::LinkConfig;
pub use stats::LinkStats;

use std::net::SocketAddr;
use std::sync::Arc;

use listener::ServerHandle;

use connection::LinkShared;
use fault::FaultPlan;
use stats::Counters;
use syn_drop::SynDropper;

/// The longest [`Link::stop`] waits for relay tasks to end after the shutdown fires.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

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
    front: Front,
    shared: Arc<LinkShared>,
}

/// The link's listening side.
enum Front {
    /// Accepts and relays (with the configured faults).
    Relay(ServerHandle),
    /// `drop_syn`: never accepts; the kernel drops new SYNs.
    DropSyn(SynDropper),
}

impl Link {
    /// Listens on `listen` and relays every connection to `upstream`; with `drop_syn`, listens without ever
    /// accepting, so connects to `listen` time out and nothing reaches `upstream`.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        config: LinkConfig,
    ) -> Result<Link, LinkError> {
        let shared = Arc::new(LinkShared {
            upstream,
            latency: config.latency,
            model_handshake: config.model_handshake,
            faults: FaultPlan::new(&config)?,
            counters: Counters::default(),
            recorder: Arc::new(timeline::Recorder::new()),
        });
        let front = if config.drop_syn {
            let dropper =
                SynDropper::start(listen)
                    .await
                    .map_err(|source| listener::BindError {
                        addr: listen,
                        source,
                    })?;
            tracing::info!(
                addr = %dropper.local_addr(),
                %upstream,
                fillers = dropper.fillers(),
                ?config,
                "link listening without accepting: SYNs are dropped"
            );
            Front::DropSyn(dropper)
        } else {
            let per_connection = Arc::clone(&shared);
            let server = listener::serve(
                listen,
                listener::ConnectionLimit::UNLIMITED,
                move |stream, peer, shutdown| {
                    connection::run(stream, peer, shutdown, Arc::clone(&per_connection))
                },
            )
            .await?;
            tracing::info!(addr = %server.local_addr(), %upstream, ?config, "link listening");
            Front::Relay(server)
        };
        Ok(Link { front, shared })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        match &self.front {
            Front::Relay(server) => server.local_addr(),
            Front::DropSyn(dropper) => dropper.local_addr(),
        }
    }

    /// The link's timeline recorder: off until [`timeline::Recorder::enable`]d; it keeps the rings of the last
    /// closed connections (front-side peer, back-side local address, each segment's reception and delivery).
    pub fn timeline(&self) -> Arc<timeline::Recorder> {
        Arc::clone(&self.shared.recorder)
    }

    /// What the link did so far.
    pub fn stats(&self) -> LinkStats {
        self.shared.counters.snapshot()
    }

    /// Stops accepting and tears down relayed connections; with `drop_syn`, closes the filler connections and
    /// the listening socket. Either way the port is free afterwards. Returns once every relay task has ended
    /// (both its sockets closed), or after [`STOP_GRACE`]; relays end as soon as they see the shutdown.
    pub async fn stop(self) {
        match self.front {
            Front::Relay(server) => {
                let live = server.drain(STOP_GRACE).await;
                if live > 0 {
                    tracing::debug!(live, "link stopped with relays still closing");
                }
            }
            Front::DropSyn(dropper) => dropper.stop(),
        }
        tracing::info!(stats = ?self.shared.counters.snapshot(), "link stopped");
    }
}
