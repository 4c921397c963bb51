//! Our gateway's failed requests joined with the link's and the back's views of their connections, on the one
//! clock: the gateway's upstream local address is the link's front-side peer, and the link's back-side local
//! address is the back's peer (without a link, the gateway's local address is the back's peer directly).
//!
//! Each timeline starts at the request before the failed one on the same connection (its write), or at the
//! connection's opening when it was fresh, so the last response, the idle age and the back's close are in it.

use std::time::Instant;

use timeline::{ConnRecord, Event, EventKind, RequestRecord};

use super::{
    Harvests, Tier, Timeline, TimelineConn, TimelineEvent, TimelineOutcome, TimelineTotals, View,
    link_only, millis,
};
use crate::record::CauseKey;

/// Every kept timeline of a run, and the totals.
pub fn build(harvests: &Harvests) -> (Vec<Timeline>, TimelineTotals) {
    let links: Vec<&ConnRecord> = harvests
        .links
        .iter()
        .flat_map(|harvest| &harvest.connections)
        .collect();
    let backs: Vec<&ConnRecord> = harvests
        .backs
        .iter()
        .flat_map(|harvest| &harvest.connections)
        .collect();
    let evicted_connections = harvests
        .links
        .iter()
        .chain(&harvests.backs)
        .map(|harvest| harvest.evicted)
        .sum();
    let latency_ms = millis(harvests.link_latency);
    let (timelines, failures) = match &harvests.gateway {
        Some(gateway) => (
            gateway
                .requests
                .iter()
                .map(|request| chain_timeline(request, &links, &backs, latency_ms))
                .collect::<Vec<_>>(),
            gateway.failures,
        ),
        None => link_only::build(&links, &backs, harvests.cap, latency_ms),
    };
    let totals = TimelineTotals {
        failures,
        kept: timelines.len() as u64,
        cap: harvests.cap as u64,
        evicted_connections,
    };
    (timelines, totals)
}

fn chain_timeline(
    request: &RequestRecord,
    links: &[&ConnRecord],
    backs: &[&ConnRecord],
    link_latency_ms: f64,
) -> Timeline {
    let received = request.events.first().map(|event| event.at);
    let first_attempt = request.attempts.first();
    let t0 = first_attempt
        .and_then(|attempt| last_before(attempt, None, is_write))
        .or(received)
        .unwrap_or_else(Instant::now);
    let start = first_attempt
        .and_then(|attempt| {
            last_before(attempt, Some(t0), is_write)
                .or_else(|| attempt.events.front().map(|event| event.at))
        })
        .unwrap_or(t0);
    let mut story = Story::new(t0, start);
    for event in &request.events {
        story.push(Tier::Gateway, None, event);
    }
    for attempt in &request.attempts {
        story.add(Tier::Gateway, attempt);
        let link = partner(links, |link| link.conn.peer == attempt.conn.local, t0);
        if let Some(link) = link {
            story.add(Tier::Link, link);
        }
        let back_peer = match link {
            Some(link) => link.relayed.map(|relayed| relayed.local),
            None if links.is_empty() => Some(attempt.conn.local),
            None => None,
        };
        if let Some(peer) = back_peer
            && let Some(back) = partner(backs, |back| back.conn.peer == peer, t0)
        {
            story.add(Tier::Back, back);
        }
    }
    let outcome = TimelineOutcome {
        status: Some(request.outcome.status),
        cause: Some(CauseKey::from_header(Some(request.outcome.cause))),
        retried: request.outcome.retried,
    };
    story.finish(View::Chain, outcome, Some(request.client), link_latency_ms)
}

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

    fn push(&mut self, tier: Tier, conn: Option<usize>, event: &Event) {
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
    ) -> Timeline {
        self.events.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
        Timeline {
            view,
            outcome,
            client,
            link_latency_ms,
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

fn is_write(kind: &EventKind) -> bool {
    matches!(kind, EventKind::WroteRequest)
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::Duration;

    use timeline::{CloseHow, Direction, Harvest, Outcome, Segment};

    use super::*;

    fn record(
        conn: timeline::Conn,
        relayed: Option<timeline::Conn>,
        events: &[(Instant, EventKind)],
    ) -> ConnRecord {
        ConnRecord {
            conn,
            relayed,
            events: events
                .iter()
                .map(|&(at, kind)| Event { at, kind })
                .collect::<VecDeque<_>>(),
            dropped: 0,
        }
    }

    /// A gateway conn 40001 → link 30000, link relays via 40002 → back 20000; the back's FIN crosses the
    /// request, which the gateway wrote at `base + 10 ms`.
    fn race() -> Harvests {
        let base = Instant::now();
        let ms = |n: u64| base + Duration::from_millis(n);
        let gateway_conn = conn(40001, 30000);
        let link_front = conn(30000, 40001);
        let link_back = conn(40002, 20000);
        let back_conn = conn(20000, 40002);
        let gateway = record(
            gateway_conn,
            None,
            &[
                (ms(0), EventKind::Connected),
                (ms(0), EventKind::WroteRequest),
                (ms(8), EventKind::ResponseHead { status: 200 }),
                (
                    ms(10),
                    EventKind::CheckedOut {
                        idle_age_us: 2000,
                        reuse_count: 1,
                    },
                ),
                (ms(10), EventKind::WroteRequest),
                (ms(14), EventKind::ReadEof),
            ],
        );
        let to_front_fin = |delivered| EventKind::Delivered {
            dir: Direction::ToFront,
            segment: Segment::Fin,
            bytes: 0,
            delay_us: delivered,
        };
        let link = record(
            link_front,
            Some(link_back),
            &[
                (
                    ms(9),
                    EventKind::Received {
                        dir: Direction::ToFront,
                        segment: Segment::Fin,
                        bytes: 0,
                    },
                ),
                (ms(13), to_front_fin(4000)),
            ],
        );
        let back = record(
            back_conn,
            None,
            &[
                (ms(4), EventKind::ResponseWritten),
                (ms(9), EventKind::KeepAliveExpired),
                (
                    ms(9),
                    EventKind::Closed {
                        how: CloseHow::LingeringFin,
                    },
                ),
            ],
        );
        let request = RequestRecord {
            client: conn(50000, 8080).local,
            events: vec![Event {
                at: ms(10),
                kind: EventKind::ClientRequest,
            }],
            attempts: vec![gateway],
            outcome: Outcome {
                status: 502,
                cause: "reused-closed",
                retried: false,
            },
        };
        Harvests {
            cap: 20,
            gateway: Some(Harvest {
                requests: vec![request],
                failures: 3,
                ..Harvest::default()
            }),
            links: vec![Harvest {
                connections: vec![link],
                ..Harvest::default()
            }],
            backs: vec![Harvest {
                connections: vec![back],
                ..Harvest::default()
            }],
            link_latency: Duration::from_millis(4),
        }
    }

    #[test]
    fn joins_the_three_tiers_on_their_addresses_relative_to_the_write() {
        let (timelines, totals) = build(&race());
        assert_eq!(
            totals,
            TimelineTotals {
                failures: 3,
                kept: 1,
                cap: 20,
                evicted_connections: 0
            }
        );
        let timeline = &timelines[0];
        let tiers: Vec<Tier> = timeline.connections.iter().map(|c| c.tier).collect();
        assert_eq!(tiers, [Tier::Gateway, Tier::Link, Tier::Back]);
        let close = timeline
            .first(Tier::Back, |kind| matches!(kind, EventKind::Closed { .. }))
            .unwrap();
        assert!(
            (close.t_ms + 1.0).abs() < 1e-6,
            "closed 1 ms before the write"
        );
        let eof = timeline
            .first(Tier::Gateway, |kind| *kind == EventKind::ReadEof)
            .unwrap();
        assert!((eof.t_ms - 4.0).abs() < 1e-6);
        assert!(
            timeline.events.windows(2).all(|w| w[0].t_ms <= w[1].t_ms),
            "in time order"
        );
        assert_eq!(
            timeline.events.first().map(|e| e.t_ms),
            Some(-10.0),
            "starts at the previous request's write"
        );
    }

    #[test]
    fn without_a_partner_the_gateway_view_stands_alone() {
        let mut harvests = race();
        harvests.links.clear();
        harvests.backs.clear();
        let (timelines, _) = build(&harvests);
        assert_eq!(timelines[0].connections.len(), 1);
    }
}
