//! A timeline as a small ladder diagram for the terminal: one row per event, the gateway's column on the left,
//! the back's on the right and the link between, times relative to the failed request's write; then the one
//! sentence that explains it ([`explain`], `ladder/sentence.rs`); the rows' labels, with the attempt of a retried
//! request (`#1`, `#2`), and a summary line per timeline. Pure functions of a [`Timeline`]; `ladder_svg.rs` draws
//! the same rows for the page.

use std::fmt::Write as _;

use timeline::{CloseHow, Direction, EventKind, Segment};

mod sentence;

pub use sentence::explain;

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
            " (the first of {} kept; {} failed {} in the run{})",
            totals.kept,
            totals.failures,
            if totals.failures == 1 {
                "request"
            } else {
                "requests"
            },
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

#[cfg(test)]
pub(crate) mod tests {
    use gateway::Cause;

    use super::*;
    use crate::record::CauseKey;
    use crate::timelines::{TimelineConn, TimelineOutcome};

    pub(crate) fn on(conn: usize, mut event: TimelineEvent) -> TimelineEvent {
        event.conn = Some(conn);
        event
    }

    pub(crate) fn client(t_ms: f64, what: EventKind) -> TimelineEvent {
        TimelineEvent {
            t_ms,
            tier: Tier::Gateway,
            conn: None,
            what,
        }
    }

    pub(crate) fn connection(tier: Tier, port: u16) -> TimelineConn {
        TimelineConn {
            tier,
            conn: timeline::Conn {
                local: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
                peer: std::net::SocketAddr::from(([127, 0, 0, 1], port + 1)),
            },
            relayed: None,
        }
    }

    pub(crate) fn link(
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

    pub(crate) fn outcome(cause: Cause, status: u16, retried: bool) -> TimelineOutcome {
        TimelineOutcome {
            status: Some(status),
            cause: Some(CauseKey::from(cause)),
            retried,
            truncated: false,
        }
    }

    /// The trial's story 2: the request reached the back at +4.239, then its keep-alive timer fired.
    pub(crate) fn timer_after_arrival() -> Timeline {
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

    pub(crate) fn event(t_ms: f64, tier: Tier, what: EventKind) -> TimelineEvent {
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

    /// A reused connection's FIN (attempt #1), then the retry on a fresh one (#2) that answered 200.
    pub(crate) fn retried() -> Timeline {
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
