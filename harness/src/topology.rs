//! Stands a chain up in-process on 127.0.0.1, port 0 everywhere:
//! gateway → [link front_back] → keep-alive proxy → [link back_origin] → origin.

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
}

/// The running tiers of one scenario.
pub struct Chain {
    /// The front: what clients talk to.
    pub gateway: Gateway,
    /// The back proxy.
    pub back: KeepAliveProxy,
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
    /// The back proxy's.
    pub back: BackStats,
    /// Requests the origin served.
    pub origin_requests: u64,
    /// The front–back link's.
    pub front_back: Option<LinkStats>,
}

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

impl Chain {
    /// Starts the tiers from the origin outwards.
    pub async fn start(scenario: &Scenario) -> Result<Self, ChainError> {
        let origin = Origin::start(loopback(), scenario.origin.clone()).await?;
        let back_origin = match &scenario.link.back_origin {
            Some(config) => Some(
                Link::start(loopback(), origin.local_addr(), config.clone())
                    .await
                    .map_err(|source| ChainError::Link {
                        name: "back_origin",
                        source,
                    })?,
            ),
            None => None,
        };
        let origin_addr = back_origin
            .as_ref()
            .map_or(origin.local_addr(), Link::local_addr);
        let back = KeepAliveProxy::start(loopback(), origin_addr, scenario.back.clone()).await?;
        let front_back = match &scenario.link.front_back {
            Some(config) => Some(
                Link::start(loopback(), back.local_addr(), config.clone())
                    .await
                    .map_err(|source| ChainError::Link {
                        name: "front_back",
                        source,
                    })?,
            ),
            None => None,
        };
        let back_addr = front_back
            .as_ref()
            .map_or(back.local_addr(), Link::local_addr);
        let gateway = Gateway::start(
            loopback(),
            vec![back_addr.to_string()],
            scenario.front.clone(),
        )
        .await?;
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
            back: self.back.stats(),
            origin_requests: self.origin.requests_served(),
            front_back: self.front_back.as_ref().map(Link::stats),
        }
    }

    /// Stops every tier, front first.
    pub async fn stop(self) {
        self.gateway.stop().await;
        if let Some(link) = self.front_back {
            link.stop().await;
        }
        self.back.stop().await;
        if let Some(link) = self.back_origin {
            link.stop().await;
        }
        self.origin.stop().await;
    }
}
