//! A timeline as a small ladder diagram for the terminal: one row per event, the gateway's column on the left,
//! the back's on the right and the link between, times relative to the failed request's write; then the one
//! sentence that explains it ([`explain`]). Pure functions of a [`Timeline`]; `ladder_svg.rs` draws the same
//! rows for the page.

use std::fmt::Write as _;

use timeline::{CloseHow, Direction, EventKind, Segment};

use crate::timelines::{Tier, Timeline, TimelineEvent, TimelineTotals, View};

/// The most rows the terminal ladder prints; the JSON holds every event.
pub const MAX_ROWS: usize = 28;

const GATEWAY_WIDTH: usize = 30;
const LINK_WIDTH: usize = 36;

/// The first timeline of a run as a ladder, with its heading and its explanation.
pub fn ladder(timeline: &Timeline, totals: Option<&TimelineTotals>) -> String {
    let mut out = String::new();
    let _ = write!(out, "wire story: {}", headline(timeline));
    if let Some(totals) = totals {
        let _ = write!(
            out,
            " (the first of {} kept; {} failures in the run)",
            totals.kept, totals.failures
        );
    }
    out.push('\n');
    let link = format!("link ({:.1} ms each way)", timeline.link_latency_ms);
    let _ = writeln!(
        out,
        "{:>10}  {:<GATEWAY_WIDTH$}{:<LINK_WIDTH$}back",
        "ms",
        front_name(timeline),
        link
    );
    let rows = shown(timeline);
    let hidden_before = rows.first().map_or(0, |first| {
        timeline
            .events
            .iter()
            .position(|event| std::ptr::eq(event, *first))
            .unwrap_or(0)
    });
    if hidden_before > 0 {
        let _ = writeln!(
            out,
            "{:>10}  ({hidden_before} earlier events in the JSON)",
            "…"
        );
    }
    for event in &rows {
        let label = label(event);
        let (gateway, link, back) = match event.tier {
            Tier::Gateway => (label.as_str(), "", ""),
            Tier::Link => ("", label.as_str(), ""),
            Tier::Back => ("", "", label.as_str()),
        };
        let row = format!(
            "{:>+10.3}  {:<GATEWAY_WIDTH$}{:<LINK_WIDTH$}{}",
            event.t_ms, gateway, link, back
        );
        out.push_str(row.trim_end());
        out.push('\n');
    }
    let hidden_after = timeline.events.len() - hidden_before - rows.len();
    if hidden_after > 0 {
        let _ = writeln!(out, "{:>10}  ({hidden_after} more events in the JSON)", "…");
    }
    out.push_str(&explain(timeline));
    out.push('\n');
    out
}

/// The left column's name: our gateway, or a real front seen only by the link.
pub fn front_name(timeline: &Timeline) -> &'static str {
    match timeline.view {
        View::Chain => "gateway",
        View::LinkOnly => "front (link view)",
    }
}

/// `502 reused-closed`, `502 reused-reset, retried → 200`, or the link's view.
pub fn headline(timeline: &Timeline) -> String {
    let outcome = &timeline.outcome;
    let cause = outcome.cause.as_ref().map(|cause| cause.name());
    match (timeline.view, outcome.status, cause) {
        (View::LinkOnly, _, _) => "request crossed the back's close (link view)".to_owned(),
        (_, Some(status), _) if outcome.truncated => {
            format!("{status} cut after its head: closed without a complete response")
        }
        (_, Some(status), Some(cause)) if outcome.retried => {
            format!("{cause} on a reused connection, retried → {status}")
        }
        (_, Some(status), Some(cause)) => format!("{status} {cause}"),
        (_, Some(status), None) => status.to_string(),
        _ => "failed request".to_owned(),
    }
}

/// The events the terminal shows: from the back's last response before the write (the idle clock's start) or
/// the gateway's last response head, at most [`MAX_ROWS`].
fn shown(timeline: &Timeline) -> Vec<&TimelineEvent> {
    let last_before_write = |pick: &dyn Fn(&TimelineEvent) -> bool| {
        timeline
            .events
            .iter()
            .rposition(|event| event.t_ms <= 0.0 && pick(event))
    };
    let idle_start = last_before_write(&|event| {
        event.tier == Tier::Back && event.what == EventKind::ResponseWritten
    })
    .or_else(|| {
        last_before_write(&|event| {
            event.tier == Tier::Link
                && matches!(
                    event.what,
                    EventKind::Received {
                        dir: Direction::ToFront,
                        segment: Segment::Data,
                        ..
                    }
                )
        })
    })
    .or_else(|| last_before_write(&|event| matches!(event.what, EventKind::ResponseHead { .. })))
    .unwrap_or(0);
    timeline.events[idle_start..]
        .iter()
        .take(MAX_ROWS)
        .collect()
}

/// What a row says.
pub fn label(event: &TimelineEvent) -> String {
    match event.what {
        EventKind::ClientRequest => "client request in".to_owned(),
        EventKind::Retried => "retries on a fresh connection".to_owned(),
        EventKind::Answered { status } => format!("answers the client {status}"),
        EventKind::Connected => "connects".to_owned(),
        EventKind::CheckedOut {
            idle_age_us,
            reuse_count,
        } => format!(
            "checkout: idle {:.1} ms, reuse {reuse_count}",
            idle_age_us as f64 / 1e3
        ),
        EventKind::WroteRequest => "writes request ──►".to_owned(),
        EventKind::ResponseHead { status } => format!("response head {status}"),
        EventKind::ReadEof => "reads EOF".to_owned(),
        EventKind::ReadRst => "reads RST".to_owned(),
        EventKind::ResponseTimeout => "no response head in time".to_owned(),
        EventKind::BodyFailed => "body fails: aborts the client".to_owned(),
        EventKind::Received {
            dir,
            segment,
            bytes,
        } => match dir {
            Direction::ToBack => format!("► gets {} from front", what(segment, bytes)),
            Direction::ToFront => format!("◄ gets {} from back", what(segment, bytes)),
        },
        EventKind::Delivered {
            dir,
            segment,
            bytes,
            delay_us,
        } => {
            let delay = delay_us as f64 / 1e3;
            match dir {
                Direction::ToBack => {
                    format!("delivers {} to back ► {delay:.1} ms", what(segment, bytes))
                }
                Direction::ToFront => {
                    format!("◄ delivers {} to front {delay:.1} ms", what(segment, bytes))
                }
            }
        }
        EventKind::Accepted => "accepts".to_owned(),
        EventKind::RequestBytes => "request bytes arrive".to_owned(),
        EventKind::RequestRead => "reads the request".to_owned(),
        EventKind::ResponseWritten => "response written, idle clock starts".to_owned(),
        EventKind::KeepAliveExpired => "keep-alive timer fires".to_owned(),
        EventKind::Closed { how } => match how {
            CloseHow::LingeringFin => "closes: FIN, lingering read",
            CloseHow::Immediate => "closes: close() (RST if bytes unread)",
            CloseHow::Rst => "closes: RST (SO_LINGER 0)",
            CloseHow::Fin => "closes: FIN (HTTP ended)",
        }
        .to_owned(),
        EventKind::Discarded { bytes } => format!("discards {bytes} B unanswered"),
    }
}

fn what(segment: Segment, bytes: u32) -> String {
    match segment {
        Segment::Data => format!("{bytes} B"),
        Segment::Fin => "FIN".to_owned(),
        Segment::Rst => "RST".to_owned(),
    }
}

/// The one sentence that explains the timeline: where the request and the back's close crossed.
pub fn explain(timeline: &Timeline) -> String {
    let back_close = timeline.first(Tier::Back, |kind| matches!(kind, EventKind::Closed { .. }));
    let close_at_link = timeline.first(Tier::Link, |kind| {
        matches!(
            kind,
            EventKind::Received {
                dir: Direction::ToFront,
                segment: Segment::Fin | Segment::Rst,
                ..
            }
        )
    });
    let close_at_front = timeline.first(Tier::Link, |kind| {
        matches!(
            kind,
            EventKind::Delivered {
                dir: Direction::ToFront,
                segment: Segment::Fin | Segment::Rst,
                ..
            }
        )
    });
    let signal = match close_at_link.map(|event| event.what) {
        Some(EventKind::Received {
            segment: Segment::Rst,
            ..
        }) => "RST",
        _ => match back_close.map(|event| event.what) {
            Some(EventKind::Closed {
                how: CloseHow::Rst, ..
            }) => "RST",
            _ => "FIN",
        },
    };
    if timeline.outcome.truncated {
        return "The upstream connection failed after the response head was sent: too late for a 502, so the \
                gateway aborted the client's connection (the client saw it closed without a complete response)."
            .to_owned();
    }
    let Some(closed) = back_close.or(close_at_link) else {
        return format!(
            "The gateway's attempt failed ({}); no close by the back was recorded on this connection.",
            headline(timeline)
        );
    };
    let when = match (timeline.view, closed.t_ms <= 0.0) {
        (View::LinkOnly, true) => format!(
            "The back's {signal} reached the link {:.1} ms before the request did",
            -closed.t_ms
        ),
        (View::LinkOnly, false) => format!(
            "The back's {signal} reached the link {:.1} ms after the request did, while the request was still on its way to the back",
            closed.t_ms
        ),
        (View::Chain, true) => format!(
            "The back closed the idle connection ({signal}) {:.1} ms before the request was written",
            -closed.t_ms
        ),
        (View::Chain, false) => format!(
            "The back closed the idle connection ({signal}) {:.1} ms after the request was written, before it arrived",
            closed.t_ms
        ),
    };
    let seen = match close_at_front {
        Some(event) => format!(
            "; its {signal} reached the front only at {:+.1} ms ({:.1} ms on the link)",
            event.t_ms, timeline.link_latency_ms
        ),
        None => String::new(),
    };
    let ending = match (
        timeline.view,
        timeline.outcome.retried,
        timeline.outcome.status,
    ) {
        (View::LinkOnly, _, _) => {
            ": the request crossed it on the wire (what the front answered is in its own log)."
                .to_owned()
        }
        (_, true, Some(status)) => format!(
            ": the request crossed it on the wire, and the gateway retried on a fresh connection ({status})."
        ),
        _ => format!(
            ": the request crossed it on the wire, so the gateway answered {}.",
            headline(timeline)
        ),
    };
    format!("{when}{seen}{ending}")
}

#[cfg(test)]
pub(crate) mod tests {
    use gateway::Cause;

    use super::*;
    use crate::record::CauseKey;
    use crate::timelines::TimelineOutcome;

    fn event(t_ms: f64, tier: Tier, what: EventKind) -> TimelineEvent {
        TimelineEvent {
            t_ms,
            tier,
            conn: Some(0),
            what,
        }
    }

    pub(crate) fn race() -> Timeline {
        Timeline {
            view: View::Chain,
            outcome: TimelineOutcome {
                status: Some(502),
                cause: Some(CauseKey::from(Cause::ReusedClosed)),
                retried: false,
                truncated: false,
            },
            client: None,
            link_latency_ms: 4.0,
            connections: Vec::new(),
            events: vec![
                event(-60.0, Tier::Gateway, EventKind::WroteRequest),
                event(-50.0, Tier::Back, EventKind::ResponseWritten),
                event(-1.0, Tier::Back, EventKind::KeepAliveExpired),
                event(
                    -1.0,
                    Tier::Back,
                    EventKind::Closed {
                        how: CloseHow::LingeringFin,
                    },
                ),
                event(
                    -0.9,
                    Tier::Link,
                    EventKind::Received {
                        dir: Direction::ToFront,
                        segment: Segment::Fin,
                        bytes: 0,
                    },
                ),
                event(0.0, Tier::Gateway, EventKind::WroteRequest),
                event(
                    3.1,
                    Tier::Link,
                    EventKind::Delivered {
                        dir: Direction::ToFront,
                        segment: Segment::Fin,
                        bytes: 0,
                        delay_us: 4000,
                    },
                ),
                event(3.3, Tier::Gateway, EventKind::ReadEof),
                event(3.4, Tier::Gateway, EventKind::Answered { status: 502 }),
            ],
        }
    }

    #[test]
    fn the_ladder_puts_each_tier_in_its_column_from_the_idle_clock_on() {
        let text = ladder(&race(), None);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("502 reused-closed"), "{text}");
        assert!(lines[2].contains("1 earlier events"), "{text}");
        let fin = lines
            .iter()
            .find(|line| line.contains("delivers FIN to front"))
            .unwrap();
        let eof = lines
            .iter()
            .find(|line| line.contains("reads EOF"))
            .unwrap();
        let close = lines
            .iter()
            .find(|line| line.contains("closes: FIN"))
            .unwrap();
        let column = |line: &str, text: &str| line.find(text).unwrap();
        assert!(column(eof, "reads EOF") < column(fin, "◄ delivers"));
        assert!(
            close.chars().count() > 10 + 2 + GATEWAY_WIDTH + LINK_WIDTH,
            "the back's column is the rightmost: {close}"
        );
        assert!(fin.trim_start().starts_with("+3.100"), "{fin}");
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
            sentence.contains("answered 502 reused-closed"),
            "{sentence}"
        );
    }

    #[test]
    fn a_long_story_is_cut_and_says_so() {
        let mut timeline = race();
        let last = timeline.events.pop().unwrap();
        for i in 0..(MAX_ROWS + 5) {
            timeline
                .events
                .push(event(4.0 + i as f64, Tier::Gateway, EventKind::ReadEof));
        }
        timeline.events.push(last);
        let text = ladder(&timeline, None);
        assert!(text.contains("more events in the JSON"), "{text}");
    }
}
