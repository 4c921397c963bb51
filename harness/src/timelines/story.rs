//! Assembling one timeline: its origin (the failed request's write), the earliest moment it shows, its
//! connections and their events as milliseconds from the origin; and finding a connection's partner record
//! among a tier's kept connections. Shared by `join.rs` (our gateway) and `link_only.rs` (a real front).

use std::time::Instant;

use timeline::{ConnRecord, Event, EventKind};

use super::{Tier, Timeline, TimelineConn, TimelineEvent, TimelineOutcome, View, millis};

/// The timeline being assembled: its origin (`t0`), the earliest moment it shows, its connections and events.
pub(super) struct Story {
    t0: Instant,
    start: Instant,
    connections: Vec<TimelineConn>,
    events: Vec<TimelineEvent>,
}

impl Story {
    pub(super) fn new(t0: Instant, start: Instant) -> Story {
        Story {
            t0,
            start,
            connections: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Adds a connection of `tier` and its events from the story's start on.
    pub(super) fn add(&mut self, tier: Tier, record: &ConnRecord) {
        let index = self.connections.len();
        self.connections.push(TimelineConn {
            tier,
            conn: record.conn,
            relayed: record.relayed,
        });
        for event in &record.events {
            self.push(tier, Some(index), event);
        }
    }

    pub(super) fn push(&mut self, tier: Tier, conn: Option<usize>, event: &Event) {
        if event.at < self.start {
            return;
        }
        self.events.push(TimelineEvent {
            t_ms: signed_ms(event.at, self.t0),
            tier,
            conn,
            what: event.kind,
        });
    }

    pub(super) fn finish(
        mut self,
        view: View,
        outcome: TimelineOutcome,
        client: Option<std::net::SocketAddr>,
        link_latency_ms: f64,
        run_start: Option<Instant>,
    ) -> Timeline {
        let at_s = run_start.map(|run_start| signed_ms(self.t0, run_start) / 1e3);
        self.events.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
        Timeline {
            view,
            outcome,
            client,
            link_latency_ms,
            at_s,
            connections: self.connections,
            events: self.events,
        }
    }
}

/// Milliseconds from `t0` to `at`, negative before it.
pub(super) fn signed_ms(at: Instant, t0: Instant) -> f64 {
    if at >= t0 {
        millis(at - t0)
    } else {
        -millis(t0 - at)
    }
}

/// The time of the last event of `record` that `pick` takes, strictly before `before` when given.
pub(super) fn last_before(
    record: &ConnRecord,
    before: Option<Instant>,
    pick: impl Fn(&EventKind) -> bool,
) -> Option<Instant> {
    record
        .events
        .iter()
        .filter(|event| before.is_none_or(|before| event.at < before) && pick(&event.kind))
        .map(|event| event.at)
        .max()
}

/// The record `matches` takes that was alive at `t0`: of those that began by then the latest to begin (a port
/// the kernel reused later is another connection), else the earliest.
pub(super) fn partner<'a>(
    records: &[&'a ConnRecord],
    matches: impl Fn(&ConnRecord) -> bool,
    t0: Instant,
) -> Option<&'a ConnRecord> {
    let began = |record: &ConnRecord| record.events.front().map(|event| event.at);
    let candidates = records.iter().copied().filter(|record| matches(record));
    let (before, after): (Vec<&ConnRecord>, Vec<&ConnRecord>) =
        candidates.partition(|record| began(record).is_some_and(|at| at <= t0));
    before
        .into_iter()
        .max_by_key(|record| began(record))
        .or_else(|| after.into_iter().min_by_key(|record| began(record)))
}

/// A connection's identity, for tests.
#[cfg(test)]
pub(super) fn conn(local: u16, peer: u16) -> timeline::Conn {
    timeline::Conn {
        local: std::net::SocketAddr::from(([127, 0, 0, 1], local)),
        peer: std::net::SocketAddr::from(([127, 0, 0, 1], peer)),
    }
}
