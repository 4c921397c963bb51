//! One member of the front's pool: [link front_back] → back (our keep-alive proxy, a real server, or none with
//! `chain.back = false`) → [link back_origin] → origin. A real back that is an application (its
//! `RealBackSpec` says so) is its own origin: no back–origin link is started and the origin is not given to it.
//! It owns starting a member from the origin outwards and stopping it front first, adding its counters to the
//! account.

use std::net::SocketAddr;

use faultlink::Link;
use keepalive_proxy::KeepAliveProxy;

use crate::real::back::BackRole;
use crate::real::process::ServerProcess;
use crate::scenario::Scenario;

use super::account::{ChainAccount, add_back, add_link};
use super::error::ChainError;
use super::kind::BackKind;
use super::links::{loopback, start_link, through};

/// A running back tier.
enum Back {
    Ours(KeepAliveProxy),
    Real(ServerProcess),
}

/// One path from the front's pool to the origin.
pub struct Member {
    addr: SocketAddr,
    /// The back itself, past the front_back link (None without a back tier).
    back_addr: Option<SocketAddr>,
    front_back: Option<Link>,
    back: Option<Back>,
    back_origin: Option<Link>,
}

impl Member {
    /// Starts the member's tiers in front of `origin`, from the origin outwards.
    pub async fn start(
        kind: BackKind,
        scenario: &Scenario,
        origin: SocketAddr,
    ) -> Result<Self, ChainError> {
        let (back, back_origin, hop) = if scenario.chain.back {
            let own_origin = kind.is_own_origin();
            let back_origin = if own_origin {
                None
            } else {
                start_link("back_origin", scenario.link.back_origin.as_ref(), origin).await?
            };
            let upstream = through(back_origin.as_ref(), origin);
            let back = match kind.real() {
                None => Back::Ours(
                    KeepAliveProxy::start(loopback(), upstream, scenario.back.clone()).await?,
                ),
                Some(spec) => {
                    let origin = (spec.role == BackRole::Proxy).then_some(upstream);
                    Back::Real((spec.start)(&scenario.back, origin).await?)
                }
            };
            let addr = match &back {
                Back::Ours(proxy) => proxy.local_addr(),
                Back::Real(process) => process.addr(),
            };
            (Some(back), back_origin, addr)
        } else {
            (None, None, origin)
        };
        let front_back = start_link("front_back", scenario.link.front_back.as_ref(), hop).await?;
        Ok(Self {
            back_addr: back.is_some().then_some(hop),
            addr: through(front_back.as_ref(), hop),
            front_back,
            back,
            back_origin,
        })
    }

    /// Where the front reaches this member.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The back tier's own address, for direct connections that bypass the link (the probe's).
    pub fn back_addr(&self) -> Option<SocketAddr> {
        self.back_addr
    }

    /// The front–back link's timeline recorder, when there is a link.
    pub fn link_timeline(&self) -> Option<std::sync::Arc<timeline::Recorder>> {
        self.front_back.as_ref().map(Link::timeline)
    }

    /// Our back's timeline recorder; a real back has none.
    pub fn back_timeline(&self) -> Option<std::sync::Arc<timeline::Recorder>> {
        match &self.back {
            Some(Back::Ours(proxy)) => Some(proxy.timeline()),
            _ => None,
        }
    }

    /// The real back's process id.
    pub fn pid(&self) -> Option<u32> {
        match &self.back {
            Some(Back::Real(process)) => Some(process.pid()),
            _ => None,
        }
    }

    /// Stops the member front first and adds its counters to `account`.
    pub async fn stop(self, account: &mut ChainAccount) {
        if let Some(link) = self.front_back {
            account.front_back = add_link(account.front_back, link.stats());
            link.stop().await;
        }
        match self.back {
            Some(Back::Ours(proxy)) => {
                account.back_stats = add_back(account.back_stats, proxy.stats());
                proxy.stop().await;
            }
            Some(Back::Real(process)) => {
                process.stop().await;
            }
            None => {}
        }
        if let Some(link) = self.back_origin {
            account.back_origin = add_link(account.back_origin, link.stats());
            link.stop().await;
        }
    }
}
