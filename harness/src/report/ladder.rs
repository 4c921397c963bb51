//! A timeline as a small ladder diagram for the terminal: one row per event, the gateway's column on the left,
//! the back's on the right and the link between, times relative to the failed request's write; then the one
//! sentence that explains it ([`explain`]). Pure functions of a [`Timeline`]; `ladder_svg.rs` draws the same
//! rows for the page.

use std::fmt::Write as _;

use timeline::{CloseHow, Direction, EventKind, Segment};

use gateway::Cause;

use crate::record::CauseKey;
use crate::timelines::{Tier, Timeline, TimelineEvent, TimelineTotals, View};

/// The most rows the terminal ladder prints; the JSON holds every event.
pub const MAX_ROWS: usize = 28;

const GATEWAY_WIDTH: usize = 30;
const LINK_WIDTH: usize = 36;

/// The first timeline of a run as a ladder, with its heading and its explanation.
pub fn ladder(timeline: &Timeline, totals: Option<&TimelineTotals>) -> String {
    let mut out = String::new();
    let _ = write!(out, "wire story: {}", summary(timeline));
    if let Some(totals) = totals {
        let retried = timeline.outcome.retried && timeline.outcome.status != Some(502);
        let _ = write!(
            out,
            " (the first of {} kept; {} failed requests in the run{})",
            totals.kept,
            totals.failures,
            if retried {
                ", retried ones included"
            } else {
                ""
            }
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
        let label = row_label(timeline, event);
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

/// What `run` prints after each run's table: its first kept timeline as a ladder; with `--timelines 0`, once
/// per invocation (after the first table with failures), one line saying the wire stories were off.
#[derive(Debug, Clone, Copy)]
pub struct AfterTable {
    off: bool,
    told: bool,
}

impl AfterTable {
    /// For a `run` with `--timelines cap`.
    pub fn new(cap: usize) -> AfterTable {
        AfterTable {
            off: cap == 0,
            told: false,
        }
    }

    /// The text after `result`'s table, if any.
    pub fn text(&mut self, result: &crate::result::RunResult) -> Option<String> {
        if let Some(timeline) = result.timelines.first() {
            return Some(ladder(timeline, result.timeline_totals.as_ref()));
        }
        let failed =
            result.bad_gateways() > 0 || result.truncated_responses > 0 || result.retries > 0;
        if !self.off || self.told || !failed {
            return None;
        }
        self.told = true;
        Some(
            "wire stories were off (--timelines 0): no timeline of the failed requests was kept"
                .to_owned(),
        )
    }
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
        EventKind::ConnectFailed { timed_out: false } => {
            "connect refused: no connection".to_owned()
        }
        EventKind::ConnectFailed { timed_out: true } => {
            "connect timed out: no connection".to_owned()
        }
        EventKind::NotResolved => "back's name not resolved".to_owned(),
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
        EventKind::ReadInvalid => "reads an invalid response head".to_owned(),
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

/// The attempt (1, 2, …) an event's connection belongs to: the gateway's connections in the order tried, each
/// followed by its link and back partners. None for the client-side events and in a link-only view.
pub fn attempt_of(timeline: &Timeline, event: &TimelineEvent) -> Option<usize> {
    let index = event.conn?;
    let attempt = timeline
        .connections
        .get(..=index)?
        .iter()
        .filter(|conn| conn.tier == Tier::Gateway)
        .count();
    (attempt > 0).then_some(attempt)
}

/// A row's label with its attempt (`#1 `, `#2 `) when the timeline has more than one upstream connection.
pub fn row_label(timeline: &Timeline, event: &TimelineEvent) -> String {
    let text = label(event);
    match attempt_of(timeline, event) {
        Some(attempt) if timeline.gateway_connections() > 1 => format!("#{attempt} {text}"),
        _ => text,
    }
}

/// A one-line summary that tells one timeline from another: its headline, when in the run the request was
/// written, and the connection's idle age and reuse count at its checkout.
pub fn summary(timeline: &Timeline) -> String {
    let mut out = headline(timeline);
    if let Some(at_s) = timeline.at_s {
        let _ = write!(out, ", at {at_s:.3} s into the run");
    }
    let checkout = timeline
        .events
        .iter()
        .rev()
        .find_map(|event| match event.what {
            EventKind::CheckedOut {
                idle_age_us,
                reuse_count,
            } if event.t_ms <= 0.0 => Some((idle_age_us, reuse_count)),
            _ => None,
        });
    match checkout {
        Some((_, 0)) => out.push_str(", fresh connection"),
        Some((idle_age_us, reuse_count)) => {
            let _ = write!(
                out,
                ", connection idle {:.1} ms, reuse {reuse_count}",
                idle_age_us as f64 / 1e3
            );
        }
        None => {}
    }
    out
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
            "; its {signal} reached the front {only}at {t_ms:+.1} ms ({:.1} ms on the link)",
            delay_us as f64 / 1e3
        ),
        _ => String::new(),
    };
    let Some(closed) = back_close.or(close_at_link) else {
        return "No close by the back was recorded on this connection".to_owned();
    };
    if link_only {
        return if closed.t_ms <= 0.0 {
            format!(
                "The back's {signal} reached the link {:.1} ms before the request did{}: the request crossed \
                 it on the wire (what the front answered is in its own log).",
                -closed.t_ms,
                seen("only ")
            )
        } else {
            format!(
                "The back's {signal} reached the link {:.1} ms after the request did, while the request was \
                 still on its way to the back{}: the request crossed it on the wire (what the front answered \
                 is in its own log).",
                closed.t_ms,
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
                    "The back read the request at {:+.1} ms and closed the connection ({signal}) {:.1} ms later \
                     without answering it",
                    read.t_ms,
                    closed.t_ms - read.t_ms
                ),
                (None, Some(timer)) if timer.t_ms >= arrived.t_ms => format!(
                    "The request reached the back at {:+.1} ms, but the back's keep-alive timer fired {:.1} ms \
                     later and it closed ({signal}) without reading it{discarded}",
                    arrived.t_ms,
                    timer.t_ms - arrived.t_ms
                ),
                (None, Some(timer)) => format!(
                    "The back's keep-alive timer fired at {:+.1} ms, {:.1} ms before the request reached it at \
                     {:+.1} ms, and it closed ({signal}) at {:+.1} ms without reading it{discarded}",
                    timer.t_ms,
                    arrived.t_ms - timer.t_ms,
                    arrived.t_ms,
                    closed.t_ms
                ),
                (None, None) => format!(
                    "The request reached the back at {:+.1} ms; the back closed ({signal}) {:.1} ms later \
                     without reading it{discarded}",
                    arrived.t_ms,
                    closed.t_ms - arrived.t_ms
                ),
            };
            format!("{at_back}{}", seen(""))
        }
        _ if closed.t_ms <= 0.0 => format!(
            "The back closed the idle connection ({signal}) {:.1} ms before the request was written{}: the \
             request crossed it on the wire",
            -closed.t_ms,
            seen("only ")
        ),
        _ => format!(
            "The back closed the {which} connection ({signal}) {:.1} ms after the request was written, \
             before it arrived{}: the request crossed it on the wire",
            closed.t_ms,
            seen("only ")
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use gateway::Cause;

    use super::*;
    use crate::record::CauseKey;
    use crate::timelines::{TimelineConn, TimelineOutcome};

    fn on(conn: usize, mut event: TimelineEvent) -> TimelineEvent {
        event.conn = Some(conn);
        event
    }

    fn client(t_ms: f64, what: EventKind) -> TimelineEvent {
        TimelineEvent {
            t_ms,
            tier: Tier::Gateway,
            conn: None,
            what,
        }
    }

    fn connection(tier: Tier, port: u16) -> TimelineConn {
        TimelineConn {
            tier,
            conn: timeline::Conn {
                local: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
                peer: std::net::SocketAddr::from(([127, 0, 0, 1], port + 1)),
            },
            relayed: None,
        }
    }

    fn link(
        t_ms: f64,
        dir: Direction,
        segment: Segment,
        bytes: u32,
        delay_us: Option<u64>,
    ) -> TimelineEvent {
        event(
            t_ms,
            Tier::Link,
            match delay_us {
                None => EventKind::Received {
                    dir,
                    segment,
                    bytes,
                },
                Some(delay_us) => EventKind::Delivered {
                    dir,
                    segment,
                    bytes,
                    delay_us,
                },
            },
        )
    }

    fn outcome(cause: Cause, status: u16, retried: bool) -> TimelineOutcome {
        TimelineOutcome {
            status: Some(status),
            cause: Some(CauseKey::from(cause)),
            retried,
            truncated: false,
        }
    }

    /// The trial's story 2: the request reached the back at +4.239, then its keep-alive timer fired.
    fn timer_after_arrival() -> Timeline {
        let mut timeline = race();
        timeline.events = vec![
            event(-50.0, Tier::Back, EventKind::ResponseWritten),
            event(
                -0.1,
                Tier::Gateway,
                EventKind::CheckedOut {
                    idle_age_us: 49_900,
                    reuse_count: 3,
                },
            ),
            event(0.0, Tier::Gateway, EventKind::WroteRequest),
            link(0.05, Direction::ToBack, Segment::Data, 69, None),
            link(4.239, Direction::ToBack, Segment::Data, 69, Some(4_189)),
            event(4.414, Tier::Back, EventKind::KeepAliveExpired),
            event(
                4.415,
                Tier::Back,
                EventKind::Closed {
                    how: CloseHow::LingeringFin,
                },
            ),
            event(4.416, Tier::Back, EventKind::Discarded { bytes: 69 }),
            link(4.42, Direction::ToFront, Segment::Fin, 0, None),
            link(8.6, Direction::ToFront, Segment::Fin, 0, Some(4_180)),
            event(8.7, Tier::Gateway, EventKind::ReadEof),
            client(8.8, EventKind::Answered { status: 502 }),
        ];
        timeline
    }

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
            at_s: None,
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
            sentence.contains("client got 502 reused-closed"),
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

    /// A reused connection's FIN (attempt #1), then the retry on a fresh one (#2) that answered 200.
    fn retried() -> Timeline {
        let mut timeline = race();
        timeline.outcome = outcome(Cause::ReusedClosed, 200, true);
        timeline.connections = vec![
            connection(Tier::Gateway, 40001),
            connection(Tier::Back, 20001),
            connection(Tier::Gateway, 40003),
            connection(Tier::Back, 20003),
        ];
        timeline.events = vec![
            on(
                1,
                event(-1.0, Tier::Back, EventKind::Closed { how: CloseHow::Fin }),
            ),
            on(0, event(0.0, Tier::Gateway, EventKind::WroteRequest)),
            on(0, event(0.2, Tier::Gateway, EventKind::ReadEof)),
            client(0.3, EventKind::Retried),
            on(2, event(0.4, Tier::Gateway, EventKind::Connected)),
            on(3, event(0.5, Tier::Back, EventKind::Accepted)),
            on(
                3,
                event(0.6, Tier::Back, EventKind::Closed { how: CloseHow::Fin }),
            ),
            on(
                2,
                event(0.7, Tier::Gateway, EventKind::ResponseHead { status: 200 }),
            ),
            client(0.8, EventKind::Answered { status: 200 }),
        ];
        timeline
    }

    #[test]
    fn a_retry_labels_each_connection_with_its_attempt() {
        let timeline = retried();
        let text = ladder(&timeline, None);
        assert!(text.contains("#1 reads EOF"), "{text}");
        assert!(text.contains("#2 connects"), "{text}");
        assert!(text.contains("#2 closes: FIN"), "{text}");
        assert!(text.contains("retries on a fresh connection"), "{text}");
        assert!(
            !text.contains("#1 retries"),
            "client-side rows have no attempt: {text}"
        );
        assert!(
            !ladder(&race(), None).contains("#1"),
            "one attempt, no tags"
        );
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
    fn the_summary_tells_stories_apart() {
        let mut timeline = timer_after_arrival();
        timeline.at_s = Some(12.3456);
        let summary = summary(&timeline);
        assert_eq!(
            summary,
            "502 reused-closed, at 12.346 s into the run, connection idle 49.9 ms, reuse 3"
        );
    }

    #[test]
    fn with_timelines_off_the_run_says_so_once_and_only_after_failures() {
        let mut result: crate::result::RunResult = serde_json::from_value(serde_json::json!({
            "scenario": "race", "settings": null, "requests": 10, "responses": {"502": 2, "200": 8},
            "client_errors": {}, "causes": {"reused-closed": 2},
            "latency_ms": {"p50": 1.0, "p90": 1.0, "p99": 1.0, "max": 1.0},
            "throughput_rps": 1.0, "upstream_connections": 1, "retries": 0, "unaccounted": 0,
            "duration_s": 1.0, "seed": 1
        }))
        .expect("the contract parses");
        let mut off = AfterTable::new(0);
        let said = off.text(&result).expect("said once");
        assert!(said.contains("wire stories were off"), "{said}");
        assert_eq!(off.text(&result), None, "only once");
        assert_eq!(AfterTable::new(20).text(&result), None, "on, but none kept");
        result.causes.clear();
        result.responses.clear();
        assert_eq!(AfterTable::new(0).text(&result), None, "no failure");
        result.timelines = vec![race()];
        assert!(
            AfterTable::new(20)
                .text(&result)
                .is_some_and(|text| text.contains("wire story"))
        );
    }
}
