//! Stands a chain up in-process on 127.0.0.1, port 0 everywhere:
//! gateway → [link front_back] → keep-alive proxy → [link back_origin] → origin,
//! or, with `chain.back = false`, gateway → [link front_back] → origin.

use std::net::{Ipv4Addr, SocketAddr};

use faultlink::{Link, LinkStats};
use gateway::{Gateway, GatewayStats};
use keepalive_proxy::{BackStats, KeepAliveProxy};
use origin::Origin;

use crate::scenario::Scenario;

/// A tier failed to start; the message names the tier.
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
}

/// The running tiers of one scenario.
pub struct Chain {
    /// The front: what clients talk to.
    pub gateway: Gateway,
    /// The back proxy, unless `chain.back = false`.
    pub back: Option<KeepAliveProxy>,
    /// The origin.
    pub origin: Origin,
    /// The link between front and back, when the scenario has one.
    pub front_back: Option<Link>,
    /// The link between back and origin, when the scenario has one.
    pub back_origin: Option<Link>,
}

/// Counters of every tier after a run.
#[derive(Debug, Clone, Default)]
pub struct ChainStats {
    /// The gateway's.
    pub gateway: GatewayStats,
    /// The back proxy's (zero without a back tier).
    pub back: BackStats,
    /// Requests the origin received.
    pub origin_requests: u64,
    /// Of those, the gateway's health probes.
    pub origin_probe_requests: u64,
    /// Requests the origin failed with its `error_status` (`origin.error_probability`).
    pub origin_errors: u64,
    /// The front–back link's.
    pub front_back: Option<LinkStats>,
    /// The back–origin link's.
    pub back_origin: Option<LinkStats>,
}

impl ChainStats {
    /// Connections the links reset on purpose, both links together.
    pub fn link_resets(&self) -> u64 {
        [self.front_back, self.back_origin]
            .iter()
            .flatten()
            .map(|link| link.resets_injected)
            .sum()
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

async fn start_link(
    name: &'static str,
    config: Option<&faultlink::LinkConfig>,
    upstream: SocketAddr,
) -> Result<Option<Link>, ChainError> {
    match config {
        Some(config) => Link::start(loopback(), upstream, config.clone())
            .await
            .map(Some)
            .map_err(|source| ChainError::Link { name, source }),
        None => Ok(None),
    }
}

impl Chain {
    /// Starts the tiers from the origin outwards.
    pub async fn start(scenario: &Scenario) -> Result<Self, ChainError> {
        let origin = Origin::start(loopback(), scenario.origin.clone()).await?;
        let (back, back_origin, next_hop) = if scenario.chain.back {
            let back_origin = start_link(
                "back_origin",
                scenario.link.back_origin.as_ref(),
                origin.local_addr(),
            )
            .await?;
            let origin_addr = back_origin
                .as_ref()
                .map_or(origin.local_addr(), Link::local_addr);
            let back =
                KeepAliveProxy::start(loopback(), origin_addr, scenario.back.clone()).await?;
            let addr = back.local_addr();
            (Some(back), back_origin, addr)
        } else {
            (None, None, origin.local_addr())
        };
        let front_back =
            start_link("front_back", scenario.link.front_back.as_ref(), next_hop).await?;
        let next_hop = front_back.as_ref().map_or(next_hop, Link::local_addr);
        let members = pool_members(scenario, next_hop)?;
        let gateway = Gateway::start(loopback(), members, scenario.front.clone()).await?;
        Ok(Self {
            gateway,
            back,
            origin,
            front_back,
            back_origin,
        })
    }

    /// Where clients connect.
    pub fn front_addr(&self) -> SocketAddr {
        self.gateway.local_addr()
    }

    /// Every tier's counters now.
    pub fn stats(&self) -> ChainStats {
        ChainStats {
            gateway: self.gateway.stats(),
            back: self
                .back
                .as_ref()
                .map(KeepAliveProxy::stats)
                .unwrap_or_default(),
            origin_requests: self.origin.requests_served(),
            origin_probe_requests: self.origin.probe_requests(),
            origin_errors: self.origin.errors_injected(),
            front_back: self.front_back.as_ref().map(Link::stats),
            back_origin: self.back_origin.as_ref().map(Link::stats),
        }
    }

    /// Stops every tier, front first.
    pub async fn stop(self) {
        self.gateway.stop().await;
        if let Some(link) = self.front_back {
            link.stop().await;
        }
        if let Some(back) = self.back {
            back.stop().await;
        }
        if let Some(link) = self.back_origin {
            link.stop().await;
        }
        self.origin.stop().await;
    }
}

/// The front's backend pool: `chain.members` entries reaching `next_hop`, by host name when asked, or a
/// closed port.
fn pool_members(scenario: &Scenario, next_hop: SocketAddr) -> Result<Vec<String>, ChainError> {
    let port = if scenario.chain.closed_port {
        closed_port()?
    } else {
        next_hop.port()
    };
    let host = match &scenario.chain.member_host {
        Some(host) => host.clone(),
        None => next_hop.ip().to_string(),
    };
    Ok((0..scenario.chain.members)
        .map(|_| format!("{host}:{port}"))
        .collect())
}

/// A loopback port nothing listens on: bound, read, released.
fn closed_port() -> Result<u16, ChainError> {
    let listener = std::net::TcpListener::bind(loopback()).map_err(ChainError::ClosedPort)?;
    let port = listener
        .local_addr()
        .map_err(ChainError::ClosedPort)?
        .port();
    drop(listener);
    Ok(port)
}
