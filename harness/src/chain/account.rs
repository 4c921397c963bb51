//! What every tier of a chain counted, read as the chain stops: [`ChainAccount`]. Plain data; the run turns it
//! into the result contract.

use std::collections::BTreeMap;

use faultlink::LinkStats;
use gateway::GatewayStats;
use keepalive_proxy::BackStats;

use super::kind::{BackKind, FrontKind};

/// Counters of every tier after a run, the front's own account included.
#[derive(Debug, Clone)]
pub struct ChainAccount {
    /// The front's software.
    pub front: FrontKind,
    /// The back's software.
    pub back: BackKind,
    /// Our gateway's counters, when the front is ours.
    pub gateway: Option<GatewayStats>,
    /// A real front's account of its upstream failures, read from its log after it exited (see
    /// `crate::real::errorlog`); empty when the front is ours.
    pub front_log: BTreeMap<String, u64>,
    /// Our back's counters summed over its instances (one per `chain.members`), when the back is ours and
    /// stands in the chain.
    pub back_stats: Option<BackStats>,
    /// False when the back is its own origin (an application such as Node or Tomcat): the origin counters
    /// below are then not available, not zero.
    pub origin_counted: bool,
    /// Requests the origin received.
    pub origin_requests: u64,
    /// Of those, our gateway's health probes.
    pub origin_probe_requests: u64,
    /// Requests the origin failed with its `error_status` (`origin.error_probability`).
    pub origin_errors: u64,
    /// The front–back links', summed over the members.
    pub front_back: Option<LinkStats>,
    /// The back–origin links', summed over the members.
    pub back_origin: Option<LinkStats>,
    /// What the tiers' timeline recorders kept, when the run recorded timelines.
    pub timelines: Option<crate::timelines::Harvests>,
}

impl ChainAccount {
    /// An account with nothing counted yet.
    pub fn new(front: FrontKind, back: BackKind) -> Self {
        Self {
            front,
            back,
            gateway: None,
            front_log: BTreeMap::new(),
            back_stats: None,
            origin_counted: true,
            origin_requests: 0,
            origin_probe_requests: 0,
            origin_errors: 0,
            front_back: None,
            back_origin: None,
            timelines: None,
        }
    }

    /// Connections the links reset on purpose, every link together.
    pub fn link_resets(&self) -> u64 {
        [self.front_back, self.back_origin]
            .iter()
            .flatten()
            .map(|link| link.resets_injected)
            .sum()
    }

    /// The front's own account of its upstream failures: a real front's log causes, or our gateway's 502
    /// causes plus its retries (nginx logs every failed attempt, retried or not; our gateway's analogue is its
    /// retries).
    pub fn front_causes(&self) -> BTreeMap<String, u64> {
        let Some(stats) = &self.gateway else {
            return self.front_log.clone();
        };
        let mut causes: BTreeMap<String, u64> = stats
            .causes
            .iter()
            .map(|(cause, n)| (cause.to_string(), *n))
            .collect();
        if stats.retries > 0 {
            causes.insert("retried".to_owned(), stats.retries);
        }
        causes
    }
}

/// `total` with `more` added (the link crate sums its own fields).
pub(super) fn add_link(total: Option<LinkStats>, more: LinkStats) -> Option<LinkStats> {
    Some(total.unwrap_or_default() + more)
}

/// `total` with `more` added (the back crate sums its own fields).
pub(super) fn add_back(total: Option<BackStats>, more: BackStats) -> Option<BackStats> {
    Some(total.unwrap_or_default() + more)
}
