//! The one chain model: origin (ours) → per member [link back_origin] → back → [link front_back] → front,
//! where the front is nginx, HAProxy or our gateway ([`FrontKind`]) and the back a real server, our keep-alive
//! proxy ([`BackKind`]) or none (`chain.back = false`). A back that is an application (Node, gunicorn,
//! uvicorn, Tomcat) is its own origin: nothing stands behind it (no back–origin link), our origin still runs
//! but serves nothing, and the account says its counters are not available (`origin_counted = false`). [`Chain::start`] stands it up on 127.0.0.1 from the origin
//! outwards, port 0 (or a free port) everywhere; [`Chain::stop`] takes it down front first and returns one
//! [`ChainAccount`] of every tier's counters, the real front's log account included.
//!
//! `[chain]` applies to every mix the servers allow: `members = N` stands N back instances (each behind its own
//! links) and gives the front N pool entries; `member_host`, `closed_port` and `back = false` shape the pool;
//! a key a real server cannot honour is refused before anything starts, naming the key and the server
//! (`pool::check_mix`). A tier started before a later one failed is stopped by drop.
//!
//! It owns standing tiers up and down, not the load, the collector or the result (`crate::run` drives a
//! chain and builds the result), nor the real servers' configs and processes (`crate::real`).

mod account;
mod back;
mod error;
mod front;
mod kind;
mod links;
mod pool;
mod recorders;

use std::net::SocketAddr;

use origin::Origin;

use crate::scenario::Scenario;

pub use account::ChainAccount;
pub use error::ChainError;
pub use kind::{BackKind, FrontKind, UnknownKind};

use back::Member;
use front::Front;
use links::loopback;
use recorders::ChainRecorders;

/// The running tiers of one scenario.
pub struct Chain {
    front: Front,
    /// More fronts of the same kind in front of the same members, each with its own upstream pool
    /// ([`Chain::add_fronts`]).
    extra_fronts: Vec<Front>,
    members: Vec<Member>,
    origin: Origin,
    front_kind: FrontKind,
    back_kind: BackKind,
    /// The tiers' timeline recorders, once [`Chain::record_timelines`] enabled them.
    recorders: Option<ChainRecorders>,
}

impl Chain {
    /// Starts the chain `scenario` describes with `front` and `back`, from the origin outwards.
    pub async fn start(
        scenario: &Scenario,
        front: FrontKind,
        back: BackKind,
    ) -> Result<Self, ChainError> {
        pool::check_mix(scenario, front, back)?;
        if let Some(spec) = back.real() {
            crate::real::back::check_no_admin(spec.server, &scenario.back)?;
            (spec.check)(&scenario.back)?;
        }
        let origin = Origin::start(loopback(), scenario.origin.clone()).await?;
        let mut members = Vec::with_capacity(scenario.chain.members);
        for _ in 0..scenario.chain.members {
            members.push(Member::start(back, scenario, origin.local_addr()).await?);
        }
        let hops: Vec<SocketAddr> = members.iter().map(Member::addr).collect();
        let front_tier = Front::start(front, scenario, &hops).await?;
        Ok(Self {
            front: front_tier,
            extra_fronts: Vec::new(),
            members,
            origin,
            front_kind: front,
            back_kind: back,
            recorders: None,
        })
    }

    /// Turns on the tiers' timeline recorders (our gateway's, our backs', the front–back links'), keeping up to
    /// `cap` failed requests; [`Chain::stop`] puts what they kept in the account. Connections opened before
    /// are not recorded, so call it before the load starts.
    pub fn record_timelines(&mut self, cap: usize, scenario: &Scenario) {
        if cap == 0 {
            return;
        }
        self.recorders = Some(ChainRecorders::enable(
            cap,
            scenario.front_back_latency(),
            self.front.timeline(),
            self.members
                .iter()
                .filter_map(Member::link_timeline)
                .collect(),
            self.members
                .iter()
                .filter_map(Member::back_timeline)
                .collect(),
        ));
    }

    /// Our own tiers only: the chain `badgateway run` stands up.
    pub async fn ours(scenario: &Scenario) -> Result<Self, ChainError> {
        Self::start(scenario, FrontKind::Ours, BackKind::Ours).await
    }

    /// Where clients connect.
    pub fn front_addr(&self) -> SocketAddr {
        self.front.addr()
    }

    /// Starts `count` more fronts of the chain's kind in front of the same members, with the scenario's
    /// `[front]`: each keeps an upstream pool of its own, which is what the probe's streams need. Their counters
    /// are not added to the account.
    pub async fn add_fronts(
        &mut self,
        scenario: &Scenario,
        count: usize,
    ) -> Result<(), ChainError> {
        let hops: Vec<SocketAddr> = self.members.iter().map(Member::addr).collect();
        for _ in 0..count {
            self.extra_fronts
                .push(Front::start(self.front_kind, scenario, &hops).await?);
        }
        Ok(())
    }

    /// Every front's address: the chain's own first, then those of [`Chain::add_fronts`].
    pub fn front_addrs(&self) -> Vec<SocketAddr> {
        std::iter::once(&self.front)
            .chain(&self.extra_fronts)
            .map(Front::addr)
            .collect()
    }

    /// Per member: the back's own address and the address the front reaches it by (through the front_back link
    /// when there is one); `None` for a member without a back tier.
    pub fn back_paths(&self) -> Vec<Option<(SocketAddr, SocketAddr)>> {
        self.members
            .iter()
            .map(|member| member.back_addr().map(|back| (back, member.addr())))
            .collect()
    }

    /// The front's kind.
    pub fn front_kind(&self) -> FrontKind {
        self.front_kind
    }

    /// The back's kind.
    pub fn back_kind(&self) -> BackKind {
        self.back_kind
    }

    /// The process ids of the real servers in the chain (front first), for checks that they are gone.
    pub fn server_pids(&self) -> Vec<u32> {
        self.front
            .pid()
            .into_iter()
            .chain(self.extra_fronts.iter().filter_map(Front::pid))
            .chain(self.members.iter().filter_map(Member::pid))
            .collect()
    }

    /// Stops every tier, front first, and returns what they counted. Every tier is stopped even when the
    /// real front's log cannot be read; that error is returned after.
    pub async fn stop(self) -> Result<ChainAccount, ChainError> {
        let mut account = ChainAccount::new(self.front_kind, self.back_kind);
        let front = self.front.stop(&mut account).await;
        for extra in self.extra_fronts {
            // Their counters are the probe's business, not the run's account.
            let mut discarded = ChainAccount::new(self.front_kind, self.back_kind);
            let _ = extra.stop(&mut discarded).await;
        }
        for member in self.members {
            member.stop(&mut account).await;
        }
        account.origin_counted = !self.back_kind.is_own_origin();
        account.origin_requests = self.origin.requests_served();
        account.origin_probe_requests = self.origin.probe_requests();
        account.origin_errors = self.origin.errors_injected();
        self.origin.stop().await;
        account.timelines = self.recorders.as_ref().map(ChainRecorders::harvest);
        front.map(|()| account)
    }
}
