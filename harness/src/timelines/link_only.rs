//! With a real front there is no gateway recorder, but the link still sees both directions: a connection on
//! which request bytes crossed the back's FIN or RST is a race the front lost, whatever it answered. This
//! module finds those crossings and tells them from the link's view (plus our back's, when the back is ours).
//!
//! A crossing: the link received the back's FIN (or RST) at `close`; request bytes from the front reached the
//! link no later than that FIN was delivered to the front (the front wrote before it could know), and were
//! delivered to the back after `close` (the back had given the connection up). The request's arrival at the
//! link is the timeline's origin.

use std::time::Instant;

use timeline::{ConnRecord, Direction, EventKind, Segment};

use super::story::{Story, last_before, partner};
use super::{Tier, Timeline, TimelineOutcome, View};

/// Link-only timelines: the first `cap` crossings, and how many there were.
pub(super) fn build(
    links: &[&ConnRecord],
    backs: &[&ConnRecord],
    cap: usize,
    link_latency_ms: f64,
    run_start: Option<std::time::Instant>,
) -> (Vec<Timeline>, u64) {
    let mut timelines = Vec::new();
    let mut failures = 0;
    for link in links {
        let Some(t0) = crossing(link) else {
            continue;
        };
        failures += 1;
        if timelines.len() >= cap {
            continue;
        }
        let start = last_before(link, Some(t0), is_received_request)
            .or_else(|| link.events.iter().map(|event| event.at).min())
            .unwrap_or(t0);
        let mut story = Story::new(t0, start);
        story.add(Tier::Link, link);
        if let Some(relayed) = link.relayed
            && let Some(back) = partner(backs, |back| back.conn.peer == relayed.local, t0)
        {
            story.add(Tier::Back, back);
        }
        let outcome = TimelineOutcome {
            status: None,
            cause: None,
            retried: false,
            truncated: false,
        };
        timelines.push(story.finish(View::LinkOnly, outcome, None, link_latency_ms, run_start));
    }
    (timelines, failures)
}

fn is_received_request(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Received {
            dir: Direction::ToBack,
            segment: Segment::Data,
            ..
        }
    )
}

/// When the request that crossed the back's close reached the link, if one did.
fn crossing(link: &ConnRecord) -> Option<Instant> {
    let close = link.events.iter().find(|event| {
        matches!(
            event.kind,
            EventKind::Received {
                dir: Direction::ToFront,
                segment: Segment::Fin | Segment::Rst,
                ..
            }
        )
    })?;
    let close_delivered = link
        .events
        .iter()
        .find(|event| {
            matches!(
                event.kind,
                EventKind::Delivered {
                    dir: Direction::ToFront,
                    segment: Segment::Fin | Segment::Rst,
                    ..
                }
            )
        })
        .map_or(close.at, |event| event.at);
    // The request's reception and its delivery are recorded in pairs by the same pump, in order.
    let received: Vec<Instant> = link
        .events
        .iter()
        .filter(|event| is_received_request(&event.kind))
        .map(|event| event.at)
        .collect();
    let delivered: Vec<Instant> = link
        .events
        .iter()
        .filter(|event| {
            matches!(
                event.kind,
                EventKind::Delivered {
                    dir: Direction::ToBack,
                    segment: Segment::Data,
                    ..
                }
            )
        })
        .map(|event| event.at)
        .collect();
    received
        .iter()
        .zip(&delivered)
        .find(|&(&arrived, &handed)| arrived <= close_delivered && handed > close.at)
        .map(|(&arrived, _)| arrived)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::Duration;

    use timeline::Event;

    use super::super::story::conn;
    use super::*;

    fn link(request_at: u64) -> ConnRecord {
        let base = Instant::now();
        let ms = |n: u64| base + Duration::from_millis(n);
        let data = |dir, delivered: Option<u64>| match delivered {
            None => EventKind::Received {
                dir,
                segment: Segment::Data,
                bytes: 78,
            },
            Some(delay_us) => EventKind::Delivered {
                dir,
                segment: Segment::Data,
                bytes: 78,
                delay_us,
            },
        };
        let events = [
            (
                ms(10),
                EventKind::Received {
                    dir: Direction::ToFront,
                    segment: Segment::Fin,
                    bytes: 0,
                },
            ),
            (
                ms(14),
                EventKind::Delivered {
                    dir: Direction::ToFront,
                    segment: Segment::Fin,
                    bytes: 0,
                    delay_us: 4000,
                },
            ),
            (ms(request_at), data(Direction::ToBack, None)),
            (ms(request_at + 4), data(Direction::ToBack, Some(4000))),
        ];
        ConnRecord {
            conn: conn(30000, 40001),
            relayed: Some(conn(40002, 20000)),
            events: events
                .into_iter()
                .map(|(at, kind)| Event { at, kind })
                .collect::<VecDeque<_>>(),
            dropped: 0,
        }
    }

    #[test]
    fn a_request_inside_the_close_window_is_a_crossing() {
        let crossed = link(8);
        let (timelines, failures) = build(&[&crossed], &[], 20, 4.0, None);
        assert_eq!(failures, 1);
        assert_eq!(timelines[0].view, View::LinkOnly);
        assert_eq!(timelines[0].outcome.status, None);
    }

    #[test]
    fn a_request_after_the_front_saw_the_fin_or_long_before_the_close_is_not() {
        let late = link(15);
        let early = link(2);
        let (timelines, failures) = build(&[&late, &early], &[], 20, 4.0, None);
        assert_eq!((timelines.len(), failures), (0, 0));
    }

    #[test]
    fn the_cap_bounds_what_is_kept_not_what_is_counted() {
        let crossed = link(8);
        let (timelines, failures) = build(&[&crossed, &crossed, &crossed], &[], 2, 4.0, None);
        assert_eq!((timelines.len(), failures), (2, 3));
    }
}
