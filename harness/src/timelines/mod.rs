//! The wire story of each failed request (issue 16): [`Timeline`], the result contract's `timelines`, built
//! from what the tiers' recorders kept ([`Harvests`]).
//!
//! Every tier of our chain runs in this process, so their events share one monotonic clock; a timeline puts
//! them in order with times relative to the failed request's write (the gateway's, or, with a real front, the
//! moment the request's bytes reached the link). `join.rs` finds, for each failed gateway connection, the
//! link's relay of it (its front-side peer is the gateway's local address) and the back's connection (its peer
//! is the link's back-side local address); `link_only.rs` finds, with a real front, the link's connections on
//! which request bytes crossed the back's FIN or RST.
//!
//! `story.rs` assembles one timeline for both.
//!
//! Plain data and pure functions over it: it knows the `timeline` crate's records, not the chain (which hands
//! it the harvests) nor the reports (which draw it).

mod join;
mod link_only;
mod story;

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use timeline::{Conn, EventKind, Harvest};

use crate::record::CauseKey;

pub use join::build;

/// The default of `--timelines`: failed requests kept per run.
pub const DEFAULT_CAP: u16 = 20;

/// The largest `--timelines`: each kept request holds a few rings of at most
/// [`timeline::EVENTS_PER_CONNECTION`] events.
pub const MAX_CAP: u16 = 1000;

/// What every recorder of a chain kept, as the chain stopped.
#[derive(Debug, Clone, Default)]
pub struct Harvests {
    /// The `--timelines` cap the recorders were enabled with.
    pub cap: usize,
    /// Our gateway's, when the front is ours.
    pub gateway: Option<Harvest>,
    /// Every front–back link's (one per member).
    pub links: Vec<Harvest>,
    /// Every back's, when the back is ours (one per member).
    pub backs: Vec<Harvest>,
    /// The front–back link's one-way latency.
    pub link_latency: Duration,
}

/// Which tier saw an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// The gateway (the front), on its client side or its upstream side.
    Gateway,
    /// The front–back fault link.
    Link,
    /// The back.
    Back,
}

/// Whose view a timeline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum View {
    /// Our gateway's failed request, joined with the link's and the back's views of its connections.
    Chain,
    /// A real front: the link's view only (it cannot know what the front answered).
    LinkOnly,
}

/// How the failed request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineOutcome {
    /// The status the client got; none in a link-only view.
    pub status: Option<u16>,
    /// The 502's cause, or the retried attempt's; none in a link-only view.
    pub cause: Option<CauseKey>,
    /// The gateway retried the request on a fresh connection (a second gateway connection in the timeline).
    pub retried: bool,
    /// The response's body failed after its head: the client's connection was closed without a complete
    /// response (`status` is the head's).
    #[serde(default)]
    pub truncated: bool,
}

/// A connection of the timeline, as the tier that recorded it sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineConn {
    /// The tier.
    pub tier: Tier,
    /// Its local and peer addresses.
    pub conn: Conn,
    /// For the link: the back-side connection it relays to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayed: Option<Conn>,
}

/// One event: when (ms from the failed request's write), which tier, which connection, what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// Milliseconds after the failed request's write (negative before it).
    pub t_ms: f64,
    /// The tier that saw it.
    pub tier: Tier,
    /// Index into the timeline's `connections`; none for the gateway's client-side events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn: Option<usize>,
    /// What happened, with its fields (`kind` names it).
    #[serde(flatten)]
    pub what: EventKind,
}

/// One failed request's story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Whose view.
    pub view: View,
    /// How it ended.
    pub outcome: TimelineOutcome,
    /// The client's address (the gateway's view); none in a link-only view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<SocketAddr>,
    /// The front–back link's one-way latency, in milliseconds.
    pub link_latency_ms: f64,
    /// When in the run the failed request was written: seconds from the moment the recorders were enabled
    /// (the run's start, warm-up included); none when unknown (older results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_s: Option<f64>,
    /// The connections its events refer to.
    pub connections: Vec<TimelineConn>,
    /// Its events, in time order.
    pub events: Vec<TimelineEvent>,
}

/// How many failures a run had and how many timelines it kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineTotals {
    /// Failed requests seen: 502s, retried requests and responses cut after their head (our gateway), or
    /// request bytes that crossed the back's close on the link (a real front).
    pub failures: u64,
    /// Timelines kept: `min(cap, failures)`.
    pub kept: u64,
    /// The `--timelines` cap.
    pub cap: u64,
    /// Closed connections whose rings a tier evicted to stay bounded (a partner may be missing then).
    pub evicted_connections: u64,
}

/// Two runs' totals together (`badgateway merge`): counts add, the cap is each agent's, so the larger.
impl std::ops::Add for TimelineTotals {
    type Output = TimelineTotals;

    fn add(self, other: TimelineTotals) -> TimelineTotals {
        TimelineTotals {
            failures: self.failures + other.failures,
            kept: self.kept + other.kept,
            cap: self.cap.max(other.cap),
            evicted_connections: self.evicted_connections + other.evicted_connections,
        }
    }
}

impl Timeline {
    /// The first event of `tier` matching `pick`, with its time.
    pub fn first(&self, tier: Tier, pick: impl Fn(&EventKind) -> bool) -> Option<&TimelineEvent> {
        self.events
            .iter()
            .find(|event| event.tier == tier && pick(&event.what))
    }

    /// The gateway connections (more than one: a retry).
    pub fn gateway_connections(&self) -> usize {
        self.connections
            .iter()
            .filter(|conn| conn.tier == Tier::Gateway)
            .count()
    }
}

pub(crate) fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
