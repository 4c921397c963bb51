//! Our gateway's failed requests joined with the link's and the back's views of their connections, on the one
//! clock: the gateway's upstream local address is the link's front-side peer, and the link's back-side local
//! address is the back's peer (without a link, the gateway's local address is the back's peer directly).
//!
//! Each timeline starts at the request before the failed one on the same connection (its write), or at the
//! connection's opening when it was fresh, so the last response, the idle age and the back's close are in it.

use std::time::Instant;

use timeline::{ConnRecord, EventKind, RequestRecord};

use super::story::{Story, last_before, partner};
use super::{Harvests, Tier, Timeline, TimelineOutcome, TimelineTotals, View, link_only, millis};
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
    let run_start = harvests
        .gateway
        .iter()
        .chain(&harvests.links)
        .find_map(|harvest| harvest.enabled_at);
    let (timelines, failures) = match &harvests.gateway {
        Some(gateway) => (
            gateway
                .requests
                .iter()
                .map(|request| chain_timeline(request, &links, &backs, latency_ms, run_start))
                .collect::<Vec<_>>(),
            gateway.failures,
        ),
        None => link_only::build(&links, &backs, harvests.cap, latency_ms, run_start),
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
    run_start: Option<Instant>,
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
        cause: request
            .outcome
            .cause
            .map(|cause| CauseKey::from_header(Some(cause))),
        retried: request.outcome.retried,
        truncated: request.outcome.truncated,
    };
    story.finish(
        View::Chain,
        outcome,
        request.client,
        link_latency_ms,
        run_start,
    )
}

fn is_write(kind: &EventKind) -> bool {
    matches!(kind, EventKind::WroteRequest)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::Duration;

    use timeline::{CloseHow, Direction, Harvest, Outcome, Segment};

    use super::super::story::conn;
    use super::*;
    use timeline::Event;

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
            client: Some(conn(50000, 8080).local),
            events: vec![Event {
                at: ms(10),
                kind: EventKind::ClientRequest,
            }],
            attempts: vec![gateway],
            outcome: Outcome {
                status: 502,
                cause: Some("reused-closed"),
                retried: false,
                truncated: false,
            },
        };
        Harvests {
            cap: 20,
            gateway: Some(Harvest {
                requests: vec![request],
                failures: 3,
                enabled_at: Some(base),
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
    fn a_timeline_says_when_in_the_run_its_request_was_written() {
        let (timelines, _) = build(&race());
        let at_s = timelines[0]
            .at_s
            .expect("the gateway's recorder was enabled");
        assert!((at_s - 0.010).abs() < 1e-9, "{at_s}");
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
