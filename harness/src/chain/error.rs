//! The one error of standing a chain up or taking it down: which tier failed and why, or which `[chain]` key
//! the chosen servers cannot honour.

use crate::real::error::RealError;

/// A tier failed to start or stop, or the scenario asks for a chain the chosen servers cannot form; the
/// message names the tier, or the key and the server.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The origin.
    #[error("origin: {0}")]
    Origin(#[from] origin::OriginError),
    /// A fault link.
    #[error("link {name}: {source}")]
    Link {
        /// Which link.
        name: &'static str,
        /// Why.
        #[source]
        source: faultlink::LinkError,
    },
    /// The back proxy.
    #[error("back proxy: {0}")]
    Back(#[from] keepalive_proxy::BackError),
    /// The gateway.
    #[error("gateway: {0}")]
    Gateway(#[from] gateway::GatewayError),
    /// A loopback port for `chain.closed_port` could not be reserved.
    #[error("cannot reserve a closed port: {0}")]
    ClosedPort(std::io::Error),
    /// A real server could not be configured, started, read or stopped.
    #[error(transparent)]
    Real(#[from] RealError),
    /// A `[chain]` key that cannot apply to the server chosen for a tier.
    #[error("{key} = {value} cannot apply to {server}: {why}")]
    Unsupported {
        /// The scenario key (`chain.member_host`).
        key: &'static str,
        /// Its value.
        value: String,
        /// The server that cannot honour it.
        server: &'static str,
        /// Why not.
        why: &'static str,
    },
}
