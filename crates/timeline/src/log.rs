//! One connection's bounded ring of events ([`ConnLog`]) and what is kept of it once it is over
//! ([`ConnRecord`]).
//!
//! The ring is created only when recording is on; off, a `ConnLog` is `None` and [`ConnLog::record`] costs one
//! branch (measured: `benches/timeline_recording.rs`). On, it holds the last [`EVENTS_PER_CONNECTION`] events
//! (older ones are dropped and counted), so a long-lived connection's memory stays bounded.

use std::collections::VecDeque;
use std::time::Instant;

use crate::event::{Conn, Event, EventKind};

/// Events a connection keeps: its last request or two, with room for a retry's events.
pub const EVENTS_PER_CONNECTION: usize = 48;

/// What is kept of a connection's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnRecord {
    /// The connection, as the recording tier sees it.
    pub conn: Conn,
    /// For the link: the connection it relays to (the back side); `None` elsewhere.
    pub relayed: Option<Conn>,
    /// Its events, oldest first (the link's two directions each in their own order).
    pub events: VecDeque<Event>,
    /// Events dropped because the ring was full.
    pub dropped: u64,
}

/// The event ring of one live connection; `None` when recording is off.
#[derive(Debug, Default)]
pub struct ConnLog(Option<Box<ConnRecord>>);

impl ConnLog {
    /// A log that records nothing.
    pub const OFF: ConnLog = ConnLog(None);

    /// A log recording `conn`'s events.
    pub fn on(conn: Conn) -> ConnLog {
        ConnLog(Some(Box::new(ConnRecord {
            conn,
            relayed: None,
            events: VecDeque::with_capacity(8),
            dropped: 0,
        })))
    }

    /// True when it records.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Records `kind` now; nothing (one branch) when off.
    #[inline]
    pub fn record(&mut self, kind: EventKind) {
        if let Some(record) = &mut self.0 {
            push(record, Instant::now(), kind);
        }
    }

    /// Records `kind` at `at` (a moment another part of the tier noted); nothing when off.
    #[inline]
    pub fn record_at(&mut self, at: Instant, kind: EventKind) {
        if let Some(record) = &mut self.0 {
            push(record, at, kind);
        }
    }

    /// Names the connection a link relays this one to.
    pub fn set_relayed(&mut self, relayed: Conn) {
        if let Some(record) = &mut self.0 {
            record.relayed = Some(relayed);
        }
    }

    /// Adds `other`'s events (the link's other direction) to this log, still bounded.
    pub fn absorb(&mut self, other: ConnLog) {
        if let (Some(record), Some(other)) = (&mut self.0, other.0) {
            record.dropped += other.dropped;
            for event in other.events {
                push(record, event.at, event.kind);
            }
        }
    }

    /// A copy of what it holds (a retry's answered connection goes on serving; its story is copied).
    pub fn snapshot(&self) -> Option<ConnRecord> {
        self.0.as_deref().cloned()
    }

    /// What it holds, leaving it off.
    pub fn take(&mut self) -> Option<ConnRecord> {
        self.0.take().map(|record| *record)
    }
}

fn push(record: &mut ConnRecord, at: Instant, kind: EventKind) {
    if record.events.len() == EVENTS_PER_CONNECTION {
        record.events.pop_front();
        record.dropped += 1;
    }
    record.events.push_back(crate::event::Event { at, kind });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Conn {
        Conn {
            local: "127.0.0.1:1".parse().unwrap(),
            peer: "127.0.0.1:2".parse().unwrap(),
        }
    }

    #[test]
    fn an_off_log_keeps_nothing() {
        let mut log = ConnLog::OFF;
        log.record(EventKind::WroteRequest);
        assert!(!log.is_on());
        assert_eq!(log.take(), None);
    }

    #[test]
    fn the_ring_keeps_the_last_events_and_counts_the_dropped() {
        let mut log = ConnLog::on(conn());
        for status in 0..(EVENTS_PER_CONNECTION as u16 + 5) {
            log.record(EventKind::ResponseHead { status });
        }
        let record = log.take().unwrap();
        assert_eq!(record.events.len(), EVENTS_PER_CONNECTION);
        assert_eq!(record.dropped, 5);
        assert_eq!(
            record.events.front().unwrap().kind,
            EventKind::ResponseHead { status: 5 }
        );
    }

    #[test]
    fn absorbing_the_other_direction_stays_bounded() {
        let mut up = ConnLog::on(conn());
        let mut down = ConnLog::on(conn());
        for _ in 0..EVENTS_PER_CONNECTION {
            up.record(EventKind::WroteRequest);
            down.record(EventKind::ReadEof);
        }
        up.absorb(down);
        let record = up.take().unwrap();
        assert_eq!(record.events.len(), EVENTS_PER_CONNECTION);
        assert_eq!(record.dropped, EVENTS_PER_CONNECTION as u64);
    }
}
