//! A chain with real servers in it: origin (ours) → [link back_origin] → back (Apache or ours) →
//! [link front_back] → front (nginx, HAProxy or ours), started from the origin outwards and stopped front
//! first. Stopping returns what each tier counted, including the real front's log read after it exited.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;

use faultlink::{Link, LinkConfig};
use gateway::{Gateway, GatewayStats};
use keepalive_proxy::{BackStats, KeepAliveProxy};
use origin::Origin;

use super::error::RealError;
use super::errorlog::{LogFormat, count_causes};
use super::process::ServerProcess;
use super::{apache, haproxy, nginx};
use crate::scenario::Scenario;
use crate::topology::ChainError;

/// Which software is the front tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FrontKind {
    /// Debian's nginx.
    Nginx,
    /// Debian's HAProxy.
    Haproxy,
    /// Our gateway crate.
    Ours,
}

/// Which software is the back tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BackKind {
    /// Debian's Apache httpd.
    Apache,
    /// Our keepalive-proxy crate.
    Ours,
}

impl FrontKind {
    /// Every front, in table order.
    pub const ALL: [FrontKind; 3] = [FrontKind::Nginx, FrontKind::Haproxy, FrontKind::Ours];

    /// The name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            FrontKind::Nginx => "nginx",
            FrontKind::Haproxy => "haproxy",
            FrontKind::Ours => "ours",
        }
    }
}

impl BackKind {
    /// Every back, in table order.
    pub const ALL: [BackKind; 2] = [BackKind::Apache, BackKind::Ours];

    /// The name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            BackKind::Apache => "apache",
            BackKind::Ours => "ours",
        }
    }
}

impl fmt::Display for FrontKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for BackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A front or back name that is not one of the choices.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown {tier} {value:?}: expected one of {expected}")]
pub struct UnknownKind {
    tier: &'static str,
    value: String,
    expected: &'static str,
}

impl FromStr for FrontKind {
    type Err = UnknownKind;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        FrontKind::ALL
            .into_iter()
            .find(|kind| kind.name() == value)
            .ok_or_else(|| UnknownKind {
                tier: "front",
                value: value.to_owned(),
                expected: "nginx, haproxy, ours",
            })
    }
}

impl FromStr for BackKind {
    type Err = UnknownKind;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        BackKind::ALL
            .into_iter()
            .find(|kind| kind.name() == value)
            .ok_or_else(|| UnknownKind {
                tier: "back",
                value: value.to_owned(),
                expected: "apache, ours",
            })
    }
}

enum Front {
    Real(RealFront),
    Ours(Gateway),
}

/// A real front and where its log is.
struct RealFront {
    process: ServerProcess,
    server: &'static str,
    format: LogFormat,
    log: &'static str,
}

enum Back {
    Real(ServerProcess),
    Ours(KeepAliveProxy),
}

/// The running tiers.
pub struct RealChain {
    front: Front,
    front_back: Option<Link>,
    back: Back,
    back_origin: Option<Link>,
    origin: Origin,
}

/// What the tiers counted, read when the chain stopped.
#[derive(Debug, Clone, Default)]
pub struct ChainAccount {
    /// The front's own account of its upstream failures: the real front's log mapped to cause names
    /// (see `errorlog`), or our gateway's 502 causes.
    pub front_causes: BTreeMap<String, u64>,
    /// Our gateway's counters, when the front is ours.
    pub gateway: Option<GatewayStats>,
    /// Our back's counters, when the back is ours.
    pub back: Option<BackStats>,
    /// Requests the origin served.
    pub origin_requests: u64,
}

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

async fn start_link(
    name: &'static str,
    upstream: SocketAddr,
    config: Option<&LinkConfig>,
) -> Result<Option<Link>, RealError> {
    let Some(config) = config else {
        return Ok(None);
    };
    Link::start(loopback(), upstream, config.clone())
        .await
        .map(Some)
        .map_err(|source| RealError::Tier(ChainError::Link { name, source }))
}

impl RealChain {
    /// Starts the chain `scenario` describes with `front` and `back`. A server started before a later one
    /// failed is stopped when this returns the error (by drop).
    pub async fn start(
        scenario: &Scenario,
        front: FrontKind,
        back: BackKind,
    ) -> Result<Self, RealError> {
        if back == BackKind::Apache {
            apache::check(&scenario.back)?;
        }
        let origin = Origin::start(loopback(), scenario.origin.clone())
            .await
            .map_err(|e| RealError::Tier(e.into()))?;
        let back_origin = start_link(
            "back_origin",
            origin.local_addr(),
            scenario.link.back_origin.as_ref(),
        )
        .await?;
        let origin_addr = back_origin
            .as_ref()
            .map_or(origin.local_addr(), Link::local_addr);
        let back = match back {
            BackKind::Apache => Back::Real(apache::start(&scenario.back, origin_addr).await?),
            BackKind::Ours => Back::Ours(
                KeepAliveProxy::start(loopback(), origin_addr, scenario.back.clone())
                    .await
                    .map_err(|e| RealError::Tier(e.into()))?,
            ),
        };
        let back_addr = match &back {
            Back::Real(process) => process.addr(),
            Back::Ours(proxy) => proxy.local_addr(),
        };
        let front_back =
            start_link("front_back", back_addr, scenario.link.front_back.as_ref()).await?;
        let back_addr = front_back.as_ref().map_or(back_addr, Link::local_addr);
        let front = match front {
            FrontKind::Nginx => Front::Real(RealFront {
                process: nginx::start(&scenario.front, back_addr).await?,
                server: "nginx",
                format: LogFormat::NginxError,
                log: nginx::ERROR_LOG,
            }),
            FrontKind::Haproxy => Front::Real(RealFront {
                process: haproxy::start(&scenario.front, back_addr).await?,
                server: "haproxy",
                format: LogFormat::HaproxyHttp,
                log: haproxy::TRAFFIC_LOG,
            }),
            FrontKind::Ours => Front::Ours(
                Gateway::start(
                    loopback(),
                    vec![back_addr.to_string()],
                    scenario.front.clone(),
                )
                .await
                .map_err(|e| RealError::Tier(e.into()))?,
            ),
        };
        Ok(Self {
            front,
            front_back,
            back,
            back_origin,
            origin,
        })
    }

    /// Where clients connect.
    pub fn front_addr(&self) -> SocketAddr {
        match &self.front {
            Front::Real(real) => real.process.addr(),
            Front::Ours(gateway) => gateway.local_addr(),
        }
    }

    /// The process ids of the real servers in the chain (front first), for checks that they are gone.
    pub fn server_pids(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        if let Front::Real(real) = &self.front {
            pids.push(real.process.pid());
        }
        if let Back::Real(process) = &self.back {
            pids.push(process.pid());
        }
        pids
    }

    /// Stops every tier, front first, and returns what they counted. The real front's log is read after it
    /// exited, so every line it wrote is in.
    pub async fn stop(self) -> Result<ChainAccount, RealError> {
        let mut account = ChainAccount::default();
        let mut log = Ok(());
        match self.front {
            Front::Real(real) => {
                let (_, dir) = real.process.stop().await;
                if let Some(dir) = dir {
                    log = dir.read(real.server, real.log).map(|text| {
                        account.front_causes = count_causes(real.format, &text);
                    });
                }
            }
            Front::Ours(gateway) => {
                let stats = gateway.stats();
                account.front_causes = stats
                    .causes
                    .iter()
                    .map(|(cause, n)| (cause.to_string(), *n))
                    .collect();
                // nginx logs every failed attempt, retried or not; our gateway's analogue is its retries.
                if stats.retries > 0 {
                    account
                        .front_causes
                        .insert("retried".to_owned(), stats.retries);
                }
                account.gateway = Some(stats);
                gateway.stop().await;
            }
        }
        if let Some(link) = self.front_back {
            link.stop().await;
        }
        match self.back {
            Back::Real(process) => {
                process.stop().await;
            }
            Back::Ours(proxy) => {
                account.back = Some(proxy.stats());
                proxy.stop().await;
            }
        }
        if let Some(link) = self.back_origin {
            link.stop().await;
        }
        account.origin_requests = self.origin.requests_served();
        self.origin.stop().await;
        log.map(|()| account)
    }
}
