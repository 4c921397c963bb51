//! One tier instance's recorder: off by default; once [`Recorder::enable`]d it hands out connection logs and
//! keeps, bounded, what the harness needs to tell the story of a failure:
//!
//! - the rings of the last [`KEPT_CONNECTIONS`] closed connections (the back and the link: the harness looks up
//!   the partner of a failed gateway connection among them; an older one is evicted and counted);
//! - the first `cap` failed requests of the gateway ([`RequestRecord`]: a 502, a retry or a response cut after
//!   its head, with every connection it was tried on), and the count of all of them.
//!
//! At most `KEPT_CONNECTIONS × EVENTS_PER_CONNECTION` events per tier instance, plus `cap` requests with a few
//! connections each: about 2 MiB per tier at the defaults, whatever the run's length.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::event::{Conn, Event};
use crate::log::{ConnLog, ConnRecord};

/// Closed connections a tier keeps the rings of.
pub const KEPT_CONNECTIONS: usize = 1024;

/// How a failed request ended, as the gateway answered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The status the client got (502, or the retried request's, or the head of a response cut short).
    pub status: u16,
    /// The cause of the 502, or of the failed attempt that was retried (`gateway::Cause::name`); none for a
    /// response cut short after its head.
    pub cause: Option<&'static str>,
    /// True when the request was retried on a fresh connection.
    pub retried: bool,
    /// True when the response's body failed after its head: the client connection was closed without a
    /// complete response.
    pub truncated: bool,
}

/// One failed request as the gateway saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The client's address, when the gateway knew it where the failure was seen.
    pub client: Option<SocketAddr>,
    /// The request's own events (received, retried, answered), oldest first.
    pub events: Vec<Event>,
    /// Every upstream connection it was sent on, in order: a retry is the second.
    pub attempts: Vec<ConnRecord>,
    /// How it ended.
    pub outcome: Outcome,
}

/// Everything a recorder kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Harvest {
    /// Closed connections' rings, oldest first.
    pub connections: Vec<ConnRecord>,
    /// Closed connections whose rings were evicted to keep the bound.
    pub evicted: u64,
    /// The first `cap` failed requests.
    pub requests: Vec<RequestRecord>,
    /// Every failed request, kept or not.
    pub failures: u64,
    /// When the recorder was last enabled (the run's start, as near as the recorder knows it); none if never.
    pub enabled_at: Option<Instant>,
}

/// A tier instance's recorder.
#[derive(Debug)]
pub struct Recorder {
    on: AtomicBool,
    store: Mutex<Store>,
}

#[derive(Debug)]
struct Store {
    cap: usize,
    connections: VecDeque<ConnRecord>,
    evicted: u64,
    requests: Vec<RequestRecord>,
    failures: u64,
    enabled_at: Option<Instant>,
}

impl Default for Recorder {
    fn default() -> Recorder {
        Recorder::new()
    }
}

impl Recorder {
    /// A recorder that records nothing until enabled.
    pub const fn new() -> Recorder {
        Recorder {
            on: AtomicBool::new(false),
            store: Mutex::new(Store {
                cap: 0,
                connections: VecDeque::new(),
                evicted: 0,
                requests: Vec::new(),
                failures: 0,
                enabled_at: None,
            }),
        }
    }

    /// Starts recording connections opened from now on, keeping up to `cap` failed requests; 0 stops it.
    pub fn enable(&self, cap: usize) {
        let mut store = self.lock();
        store.cap = cap;
        store.enabled_at = Some(Instant::now());
        drop(store);
        self.on.store(cap > 0, Ordering::Release);
    }

    /// True while recording.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// A log for a new connection: recording when the recorder is on, [`ConnLog::OFF`] otherwise.
    #[inline]
    pub fn open(&self, conn: impl FnOnce() -> Option<Conn>) -> ConnLog {
        if !self.is_on() {
            return ConnLog::OFF;
        }
        conn().map_or(ConnLog::OFF, ConnLog::on)
    }

    /// Keeps a closed connection's ring (the last [`KEPT_CONNECTIONS`]); nothing for an off log.
    pub fn closed(&self, mut log: ConnLog) {
        let Some(record) = log.take() else {
            return;
        };
        let mut store = self.lock();
        if store.connections.len() == KEPT_CONNECTIONS {
            store.connections.pop_front();
            store.evicted += 1;
        }
        store.connections.push_back(record);
    }

    /// Counts a failed request and keeps it while fewer than `cap` are kept.
    pub fn failed(&self, request: impl FnOnce() -> RequestRecord) {
        let mut store = self.lock();
        store.failures += 1;
        if store.requests.len() < store.cap {
            let request = request();
            store.requests.push(request);
        }
    }

    /// A copy of what it kept so far.
    pub fn harvest(&self) -> Harvest {
        let store = self.lock();
        Harvest {
            connections: store.connections.iter().cloned().collect(),
            evicted: store.evicted,
            requests: store.requests.clone(),
            failures: store.failures,
            enabled_at: store.enabled_at,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic while holding the lock leaves plain data behind: still readable.
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;

    fn conn(port: u16) -> Conn {
        Conn {
            local: format!("127.0.0.1:{port}").parse().unwrap(),
            peer: "127.0.0.1:1".parse().unwrap(),
        }
    }

    fn request(port: u16) -> RequestRecord {
        RequestRecord {
            client: Some(conn(port).local),
            events: Vec::new(),
            attempts: Vec::new(),
            outcome: Outcome {
                status: 502,
                cause: Some("reused-closed"),
                retried: false,
                truncated: false,
            },
        }
    }

    #[test]
    fn off_by_default_hands_out_off_logs() {
        let recorder = Recorder::new();
        let mut asked = false;
        let log = recorder.open(|| {
            asked = true;
            Some(conn(2))
        });
        assert!(!log.is_on());
        assert!(
            !asked,
            "off, the connection's addresses are not even looked up"
        );
        recorder.closed(log);
        assert_eq!(recorder.harvest(), Harvest::default());
    }

    #[test]
    fn keeps_the_last_connections_and_counts_the_evicted() {
        let recorder = Recorder::new();
        recorder.enable(1);
        for port in 0..(KEPT_CONNECTIONS as u16 + 3) {
            let mut log = recorder.open(|| Some(conn(port + 10)));
            log.record(EventKind::Accepted);
            recorder.closed(log);
        }
        let harvest = recorder.harvest();
        assert_eq!(harvest.connections.len(), KEPT_CONNECTIONS);
        assert_eq!(harvest.evicted, 3);
        assert_eq!(harvest.connections[0].conn, conn(13));
    }

    #[test]
    fn keeps_the_first_cap_failures_and_counts_all() {
        let recorder = Recorder::new();
        recorder.enable(2);
        for port in 0..5 {
            recorder.failed(|| request(port + 10));
        }
        let harvest = recorder.harvest();
        assert_eq!(harvest.failures, 5);
        assert_eq!(
            harvest
                .requests
                .iter()
                .map(|r| r.client.map_or(0, |client| client.port()))
                .collect::<Vec<_>>(),
            [10, 11]
        );
    }
}
