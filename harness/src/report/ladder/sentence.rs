//! The one sentence under a ladder ([`explain`]): chosen per cause from the events of the attempt the cause is
//! about, never from the cause's name alone; times quoted are measured ones. Pure functions of a [`Timeline`].

use std::fmt::Write as _;

use gateway::Cause;
use timeline::{CloseHow, Direction, EventKind, Segment};

use super::{attempt_of, headline};
use crate::record::CauseKey;
use crate::timelines::{Tier, Timeline, TimelineEvent, View};

/// The one sentence that explains the timeline, chosen from what it shows: a failed connect or name lookup,
/// a response timeout, an invalid response head, an RST the link injected, or the back's close (before the
/// request was written, while it was on the wire, or after it reached the back); never a keep-alive race the
/// timeline does not show. Times quoted are measured ones.
pub fn explain(timeline: &Timeline) -> String {
    if timeline.outcome.truncated {
        return "The upstream connection failed after the response head was sent: too late for a 502, so the \
                gateway aborted the client's connection (the client saw it closed without a complete response)."
            .to_owned();
    }
    if timeline.view == View::LinkOnly {
        return crossing(&timeline.events.iter().collect::<Vec<_>>(), true);
    }
    let cause = match timeline.outcome.cause {
        Some(CauseKey::Gateway(cause)) => Some(cause),
        _ => None,
    };
    let retried = timeline.outcome.retried;
    let status = timeline.outcome.status;
    let answered_by_retry = retried && status.is_some_and(|status| status != 502);
    // The attempt that the cause is about: the first when the retry answered, else the last one tried.
    let attempt = if answered_by_retry {
        1
    } else {
        timeline.gateway_connections().max(1)
    };
    let events: Vec<&TimelineEvent> = timeline
        .events
        .iter()
        .filter(|event| attempt_of(timeline, event).is_none_or(|of| of == attempt))
        .collect();
    let what = match cause {
        Some(Cause::NoBackends) => "No backend is configured: nothing was connected".to_owned(),
        Some(Cause::AllUnhealthy) => {
            "Every member was marked unhealthy: nothing was connected".to_owned()
        }
        Some(Cause::ConnectRefused) => {
            "The gateway's connect to the back was refused (nothing listened on \
            its address, or it was unreachable): no connection existed and no request was written"
                .to_owned()
        }
        Some(Cause::ConnectTimeout) => {
            "The gateway's connect to the back did not complete within its \
            connect timeout: no connection existed and no request was written"
                .to_owned()
        }
        Some(Cause::DnsFailure) => {
            "The back's host name did not resolve: nothing was connected and no \
            request was written"
                .to_owned()
        }
        Some(Cause::ResponseTimeout) => timed_out(&events),
        Some(Cause::InvalidResponse) => invalid(&events),
        _ => closed(&events, reused(&events, cause)),
    };
    match (retried, status) {
        (true, Some(status)) if answered_by_retry => format!(
            "{what}; the gateway retried the request on a fresh connection (#2), which answered {status}: \
             the client never saw the failure."
        ),
        (true, _) => format!(
            "{what}; this was the gateway's retry after a failed first attempt, so the client got {}.",
            headline(timeline)
        ),
        _ => format!("{what}, so the client got {}.", headline(timeline)),
    }
}

fn first<'a>(
    events: &[&'a TimelineEvent],
    tier: Tier,
    pick: impl Fn(&TimelineEvent) -> bool,
) -> Option<&'a TimelineEvent> {
    events
        .iter()
        .copied()
        .find(|event| event.tier == tier && pick(event))
}

/// Whether the failed attempt's connection had served requests before (its checkout says; else the cause).
fn reused(events: &[&TimelineEvent], cause: Option<Cause>) -> bool {
    events
        .iter()
        .rev()
        .find_map(|event| match event.what {
            EventKind::CheckedOut { reuse_count, .. } if event.t_ms <= 0.0 => Some(reuse_count > 0),
            _ => None,
        })
        .unwrap_or_else(|| cause.is_some_and(Cause::is_keepalive_race))
}

fn timed_out(events: &[&TimelineEvent]) -> String {
    let gave_up = first(events, Tier::Gateway, |event| {
        event.what == EventKind::ResponseTimeout
    });
    let read = first(events, Tier::Back, |event| {
        event.what == EventKind::RequestRead && event.t_ms >= 0.0
    });
    let mut out = "No response head came for the request".to_owned();
    if let Some(read) = read {
        let _ = write!(
            out,
            " (the back read it at {:+.1} ms and did not answer in time)",
            read.t_ms
        );
    }
    if let Some(gave_up) = gave_up {
        let _ = write!(
            out,
            ": the gateway gave up at {:+.1} ms, its request timeout",
            gave_up.t_ms
        );
    }
    out
}

fn invalid(events: &[&TimelineEvent]) -> String {
    match first(events, Tier::Gateway, |event| {
        event.what == EventKind::ReadInvalid
    }) {
        Some(read) => format!(
            "The back answered bytes that are not an HTTP response head (the gateway read them at {:+.1} ms)",
            read.t_ms
        ),
        None => "The back answered bytes that are not an HTTP response head".to_owned(),
    }
}

/// The sentence of a connection that closed or reset before any response byte.
fn closed(events: &[&TimelineEvent], reused: bool) -> String {
    let read_end = first(events, Tier::Gateway, |event| {
        matches!(event.what, EventKind::ReadEof | EventKind::ReadRst)
    });
    let read = match read_end {
        Some(event) => format!(
            "{} reached the gateway at {:+.1} ms",
            if event.what == EventKind::ReadRst {
                "RST"
            } else {
                "EOF"
            },
            event.t_ms
        ),
        None => "no response reached the gateway".to_owned(),
    };
    let kind = if reused { "reused" } else { "fresh" };
    let injected = first(events, Tier::Link, |event| {
        matches!(
            event.what,
            EventKind::Delivered {
                segment: Segment::Rst,
                dir,
                ..
            } if !events.iter().any(|other| other.tier == Tier::Link && other.what
                == EventKind::Received { dir, segment: Segment::Rst, bytes: 0 })
        )
    });
    if let Some(injected) = injected {
        return format!(
            "The link injected an RST into this {kind} connection at {:+.1} ms (a fault of the link, not the \
             back's doing); {read}",
            injected.t_ms
        );
    }
    if first(events, Tier::Back, |event| {
        matches!(event.what, EventKind::Closed { .. })
    })
    .is_none()
        && first(events, Tier::Link, is_close_from_back).is_none()
    {
        return format!(
            "The {kind} connection ended before any response byte ({read}); no close by the back was recorded \
             on this connection"
        );
    }
    crossing(events, reused)
}

fn is_close_from_back(event: &TimelineEvent) -> bool {
    matches!(
        event.what,
        EventKind::Received {
            dir: Direction::ToFront,
            segment: Segment::Fin | Segment::Rst,
            ..
        }
    )
}

/// Where the request and the back's close met: before the write, on the wire, or at the back (its
/// keep-alive timer fired, or it closed, after the request reached it, without reading it).
fn crossing(events: &[&TimelineEvent], reused: bool) -> String {
    let which = if reused { "idle" } else { "fresh" };
    let link_only = events.iter().all(|event| event.tier != Tier::Gateway);
    let back_close = first(events, Tier::Back, |event| {
        matches!(event.what, EventKind::Closed { .. })
    });
    let close_at_link = first(events, Tier::Link, is_close_from_back);
    let close_at_front = first(events, Tier::Link, |event| {
        matches!(
            event.what,
            EventKind::Delivered {
                dir: Direction::ToFront,
                segment: Segment::Fin | Segment::Rst,
                ..
            }
        )
    });
    let signal = match (
        close_at_link.map(|event| event.what),
        back_close.map(|event| event.what),
    ) {
        (
            Some(EventKind::Received {
                segment: Segment::Rst,
                ..
            }),
            _,
        )
        | (
            _,
            Some(EventKind::Closed {
                how: CloseHow::Rst, ..
            }),
        ) => "RST",
        _ => "FIN",
    };
    let seen = |only: &str| match close_at_front.map(|event| (event.t_ms, event.what)) {
        Some((t_ms, EventKind::Delivered { delay_us, .. })) => format!(
            "; its {signal} reached the front {only}at {t_ms:+.1} ms ({} on the link)",
            gap(delay_us as f64 / 1e3)
        ),
        _ => String::new(),
    };
    let Some(closed) = back_close.or(close_at_link) else {
        return "No close by the back was recorded on this connection".to_owned();
    };
    if link_only {
        return if closed.t_ms <= 0.0 {
            format!(
                "The back's {signal} reached the link {} before the request did{}: the request crossed \
                 it on the wire (what the front answered is in its own log).",
                gap(-closed.t_ms),
                seen("only ")
            )
        } else {
            format!(
                "The back's {signal} reached the link {} after the request did, while the request was \
                 still on its way to the back{}: the request crossed it on the wire (what the front answered \
                 is in its own log).",
                gap(closed.t_ms),
                seen("only ")
            )
        };
    }
    // When the request reached the back: the link's delivery of its bytes, or the back's first byte.
    let arrived = first(events, Tier::Link, |event| {
        event.t_ms >= 0.0
            && matches!(
                event.what,
                EventKind::Delivered {
                    dir: Direction::ToBack,
                    segment: Segment::Data,
                    ..
                }
            )
    })
    .or_else(|| {
        first(events, Tier::Back, |event| {
            event.t_ms >= 0.0 && event.what == EventKind::RequestBytes
        })
    });
    let discarded = first(events, Tier::Back, |event| {
        matches!(event.what, EventKind::Discarded { .. })
    })
    .map_or(String::new(), |event| match event.what {
        EventKind::Discarded { bytes } => format!(", discarding its {bytes} B"),
        _ => String::new(),
    });
    match arrived {
        Some(arrived) if arrived.t_ms <= closed.t_ms => {
            let read = events.iter().find(|event| {
                event.tier == Tier::Back
                    && event.what == EventKind::RequestRead
                    && event.t_ms >= arrived.t_ms
                    && event.t_ms <= closed.t_ms
            });
            let timer = events.iter().rev().find(|event| {
                event.tier == Tier::Back
                    && event.what == EventKind::KeepAliveExpired
                    && event.t_ms <= closed.t_ms
            });
            let at_back = match (read, timer) {
                (Some(read), _) => format!(
                    "The back read the request at {:+.1} ms and closed the connection ({signal}) {} later \
                     without answering it",
                    read.t_ms,
                    gap(closed.t_ms - read.t_ms)
                ),
                (None, Some(timer)) if timer.t_ms >= arrived.t_ms => format!(
                    "The request reached the back at {:+.1} ms, but the back's keep-alive timer fired {} \
                     later and it closed ({signal}) without reading it{discarded}",
                    arrived.t_ms,
                    gap(timer.t_ms - arrived.t_ms)
                ),
                (None, Some(timer)) => format!(
                    "The back's keep-alive timer fired at {:+.1} ms, {} before the request reached it at \
                     {:+.1} ms, and it closed ({signal}) at {:+.1} ms without reading it{discarded}",
                    timer.t_ms,
                    gap(arrived.t_ms - timer.t_ms),
                    arrived.t_ms,
                    closed.t_ms
                ),
                (None, None) => format!(
                    "The request reached the back at {:+.1} ms; the back closed ({signal}) {} later \
                     without reading it{discarded}",
                    arrived.t_ms,
                    gap(closed.t_ms - arrived.t_ms)
                ),
            };
            format!("{at_back}{}", seen(""))
        }
        _ if closed.t_ms <= 0.0 => format!(
            "The back closed the idle connection ({signal}) {} before the request was written{}: the \
             request crossed it on the wire",
            gap(-closed.t_ms),
            seen("only ")
        ),
        _ => format!(
            "The back closed the {which} connection ({signal}) {} after the request was written, \
             before it arrived{}: the request crossed it on the wire",
            gap(closed.t_ms),
            seen("only ")
        ),
    }
}

/// A span between two events for a sentence: tenths of a millisecond, or microseconds below 0.1 ms (where
/// tenths would say 0.0).
fn gap(ms: f64) -> String {
    if ms.abs() < 0.1 {
        format!("{:.0} µs", ms * 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

#[cfg(test)]
mod tests {
    use gateway::Cause;
    use timeline::{CloseHow, Direction, EventKind, Segment};

    use super::{explain, gap};
    use crate::report::ladder::ladder;
    use crate::report::ladder::tests::{
        client, event, link, outcome, race, retried, timer_after_arrival,
    };
    use crate::timelines::{Tier, TimelineTotals};

    #[test]
    fn a_span_under_a_tenth_of_a_millisecond_is_said_in_microseconds() {
        assert_eq!(gap(0.041), "41 µs");
        assert_eq!(gap(3.84), "3.8 ms");
        assert_eq!(gap(0.1), "0.1 ms");
    }

    #[test]
    fn the_sentence_says_the_request_crossed_the_fin() {
        let sentence = explain(&race());
        assert!(
            sentence.starts_with("The back closed the idle connection (FIN) 1.0 ms before"),
            "{sentence}"
        );
        assert!(sentence.contains("+3.1 ms"), "{sentence}");
        assert!(
            sentence.contains("client got 502 reused-closed"),
            "{sentence}"
        );
    }

    #[test]
    fn a_timer_that_fires_after_the_request_arrived_is_told_as_such() {
        let sentence = explain(&timer_after_arrival());
        assert!(
            sentence.contains("reached the back at +4.2 ms")
                && sentence.contains("keep-alive timer fired 0.2 ms later")
                && sentence.contains("without reading it, discarding its 69 B"),
            "{sentence}"
        );
        assert!(!sentence.contains("before it arrived"), "{sentence}");
        assert!(!sentence.contains("crossed it on the wire"), "{sentence}");
        assert!(
            sentence.contains("(4.2 ms on the link)"),
            "the measured delay: {sentence}"
        );
    }

    #[test]
    fn the_sentence_quotes_the_measured_link_delay_not_the_configured_one() {
        let mut timeline = race();
        for event in &mut timeline.events {
            if let EventKind::Delivered { delay_us, .. } = &mut event.what {
                *delay_us = 4_700;
            }
        }
        let sentence = explain(&timeline);
        assert!(sentence.contains("(4.7 ms on the link)"), "{sentence}");
        assert!(!sentence.contains("4.0 ms on the link"), "{sentence}");
    }

    #[test]
    fn an_rst_the_link_injected_is_not_told_as_a_keepalive_race() {
        let mut timeline = race();
        timeline.outcome = outcome(Cause::FreshReset, 502, false);
        timeline.events = vec![
            event(-0.2, Tier::Gateway, EventKind::Connected),
            event(
                -0.1,
                Tier::Gateway,
                EventKind::CheckedOut {
                    idle_age_us: 0,
                    reuse_count: 0,
                },
            ),
            event(0.0, Tier::Gateway, EventKind::WroteRequest),
            event(0.2, Tier::Back, EventKind::Accepted),
            link(0.3, Direction::ToBack, Segment::Rst, 0, Some(0)),
            link(0.3, Direction::ToFront, Segment::Rst, 0, Some(0)),
            event(0.4, Tier::Back, EventKind::Closed { how: CloseHow::Fin }),
            event(0.5, Tier::Gateway, EventKind::ReadRst),
            client(0.6, EventKind::Answered { status: 502 }),
        ];
        let sentence = explain(&timeline);
        assert!(
            sentence.starts_with("The link injected an RST into this fresh connection at +0.3 ms"),
            "{sentence}"
        );
        assert!(
            sentence.contains("RST reached the gateway at +0.5 ms"),
            "{sentence}"
        );
        for race_word in ["idle", "keep-alive", "crossed", "FIN"] {
            assert!(!sentence.contains(race_word), "{race_word}: {sentence}");
        }
    }

    #[test]
    fn a_refused_connect_says_so_and_never_talks_of_a_close() {
        let mut timeline = race();
        timeline.outcome = outcome(Cause::ConnectRefused, 502, false);
        timeline.events = vec![
            client(0.0, EventKind::ClientRequest),
            client(0.3, EventKind::ConnectFailed { timed_out: false }),
            client(0.3, EventKind::Answered { status: 502 }),
        ];
        let sentence = explain(&timeline);
        assert!(
            sentence.contains("connect to the back was refused"),
            "{sentence}"
        );
        assert!(!sentence.contains("close"), "{sentence}");
        let text = ladder(&timeline, None);
        assert!(text.contains("connect refused: no connection"), "{text}");
        timeline.outcome = outcome(Cause::DnsFailure, 502, false);
        timeline.events[1].what = EventKind::NotResolved;
        let sentence = explain(&timeline);
        assert!(sentence.contains("did not resolve"), "{sentence}");
        assert!(ladder(&timeline, None).contains("not resolved"));
    }

    #[test]
    fn an_invalid_head_is_what_the_gateway_read() {
        let mut timeline = race();
        timeline.outcome = outcome(Cause::InvalidResponse, 502, false);
        timeline.events = vec![
            event(0.0, Tier::Gateway, EventKind::WroteRequest),
            event(0.4, Tier::Gateway, EventKind::ReadInvalid),
            client(0.5, EventKind::Answered { status: 502 }),
        ];
        let sentence = explain(&timeline);
        assert!(sentence.contains("not an HTTP response head"), "{sentence}");
        assert!(ladder(&timeline, None).contains("reads an invalid response head"));
    }

    #[test]
    fn a_retried_request_is_told_as_retried_from_its_first_attempt() {
        let sentence = explain(&retried());
        assert!(
            sentence.starts_with("The back closed the idle connection (FIN) 1.0 ms before"),
            "the first attempt's close, not the retry's: {sentence}"
        );
        assert!(
            sentence.contains("retried the request on a fresh connection (#2), which answered 200"),
            "{sentence}"
        );
        let totals = TimelineTotals {
            failures: 86,
            kept: 20,
            cap: 20,
            evicted_connections: 0,
        };
        let text = ladder(&retried(), Some(&totals));
        assert!(
            text.contains("86 failed requests in the run, retried ones included"),
            "{text}"
        );
    }

    #[test]
    fn a_link_only_view_says_where_the_link_saw_them_cross() {
        let mut timeline = race();
        timeline.view = crate::timelines::View::LinkOnly;
        timeline.outcome.status = None;
        timeline.outcome.cause = None;
        timeline.events = vec![
            link(-1.0, Direction::ToFront, Segment::Fin, 0, None),
            link(0.0, Direction::ToBack, Segment::Data, 69, None),
            link(3.2, Direction::ToFront, Segment::Fin, 0, Some(4_200)),
        ];
        let sentence = explain(&timeline);
        assert!(
            sentence.starts_with("The back's FIN reached the link 1.0 ms before the request did"),
            "{sentence}"
        );
        assert!(sentence.contains("(4.2 ms on the link)"), "{sentence}");
        assert!(sentence.contains("in its own log"), "{sentence}");
    }
}
