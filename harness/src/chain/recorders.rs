//! The chain's timeline recorders (issue 16): enabling every tier's when the run asks for timelines, and
//! harvesting them once every tier has stopped (the recorders outlive their tiers, so the connections closed
//! by the stop are in). Our gateway, our backs and the front–back links record; a real server does not, but
//! the link in front of it still sees both directions.

use std::sync::Arc;

use timeline::Recorder;

use crate::timelines::Harvests;

/// Every recorder of one chain, enabled.
pub struct ChainRecorders {
    cap: usize,
    link_latency: std::time::Duration,
    gateway: Option<Arc<Recorder>>,
    links: Vec<Arc<Recorder>>,
    backs: Vec<Arc<Recorder>>,
}

impl ChainRecorders {
    /// Enables `gateway`, `links` and `backs`, keeping up to `cap` failed requests.
    pub fn enable(
        cap: usize,
        link_latency: std::time::Duration,
        gateway: Option<Arc<Recorder>>,
        links: Vec<Arc<Recorder>>,
        backs: Vec<Arc<Recorder>>,
    ) -> ChainRecorders {
        for recorder in gateway.iter().chain(&links).chain(&backs) {
            recorder.enable(cap);
        }
        ChainRecorders {
            cap,
            link_latency,
            gateway,
            links,
            backs,
        }
    }

    /// What they kept.
    pub fn harvest(&self) -> Harvests {
        Harvests {
            cap: self.cap,
            gateway: self.gateway.as_deref().map(Recorder::harvest),
            links: self.links.iter().map(|link| link.harvest()).collect(),
            backs: self.backs.iter().map(|back| back.harvest()).collect(),
            link_latency: self.link_latency,
        }
    }
}
