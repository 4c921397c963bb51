//! What the gateway records for the harness's timelines (the `timeline` crate): per upstream connection its
//! opening, each checkout (idle age, reuse count), each request written and what came back first (the
//! response head, EOF, RST, nothing in time, a body cut short); per failed request (a 502, a retry, or a
//! response cut after its head: closed without a complete response for the client) the client's request,
//! the retry and the answer, with every connection it was tried on. Off (the default), nothing is recorded and
//! each call costs one branch. A connect that failed (refused, timed out, name not resolved) has no ring: the
//! failed request records it as its own event.
//!
//! The connection's ring lives in its [`crate::upstream_conn::UpstreamConn`], so it goes in and out of the pool
//! with it and tells the story of the requests before the failure too (the last response, the idle age). A
//! failed attempt's ring is taken into the failure; a failed request is handed to the [`Recorder`], which keeps
//! the first `cap`. This module owns that bookkeeping; `proxy.rs` calls it at each step.

use std::net::SocketAddr;
use std::time::Instant;

use timeline::{ConnLog, ConnRecord, Event, EventKind, Outcome, Recorder, RequestRecord};

use crate::Cause;
use crate::classify::AttemptFacts;
use crate::pool::Usage;

/// The moment a client's request arrived, when recording.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received(Option<Instant>);

impl Received {
    /// Now, when `recorder` is on.
    #[inline]
    pub(crate) fn now(recorder: &Recorder) -> Received {
        Received(recorder.is_on().then(Instant::now))
    }
}

/// A request starts on a connection: its checkout and its write.
#[inline]
pub(crate) fn sending(log: &mut ConnLog, usage: &Usage) {
    if !log.is_on() {
        return;
    }
    log.record(EventKind::CheckedOut {
        idle_age_us: u64::try_from(usage.idle_age.as_micros()).unwrap_or(u64::MAX),
        reuse_count: usage.reuse_count,
    });
    log.record(EventKind::WroteRequest);
}

/// What came back first: a response head with `status`.
#[inline]
pub(crate) fn answered(log: &mut ConnLog, status: u16) {
    log.record(EventKind::ResponseHead { status });
}

/// What came back first: nothing, as `facts` and the timeout say; the connection's ring, for the failure.
pub(crate) fn failed(
    log: &mut ConnLog,
    facts: AttemptFacts,
    timed_out: bool,
) -> Option<ConnRecord> {
    if !log.is_on() {
        return None;
    }
    log.record(if timed_out {
        EventKind::ResponseTimeout
    } else if facts.response_bytes {
        // What `classify` names `invalid-response`: bytes came, but no usable response head.
        EventKind::ReadInvalid
    } else if facts.socket_reset {
        EventKind::ReadRst
    } else {
        EventKind::ReadEof
    });
    log.take()
}

/// The response read on `log`'s connection, `status`, failed after its head: kept by `recorder` as a request
/// closed without a complete response (its client-side events are not known here).
pub(crate) fn truncated(recorder: &Recorder, log: &mut ConnLog, status: u16) {
    if !log.is_on() {
        return;
    }
    log.record(EventKind::BodyFailed);
    let Some(attempt) = log.take() else {
        return;
    };
    recorder.failed(|| RequestRecord {
        client: None,
        events: Vec::new(),
        attempts: vec![attempt],
        outcome: Outcome {
            status,
            cause: None,
            retried: false,
            truncated: true,
        },
    });
}

/// The event of a cause that is a failed connect (no connection was ever opened, so no ring tells it).
fn connect_failure(cause: Cause) -> Option<EventKind> {
    match cause {
        Cause::ConnectRefused => Some(EventKind::ConnectFailed { timed_out: false }),
        Cause::ConnectTimeout => Some(EventKind::ConnectFailed { timed_out: true }),
        Cause::DnsFailure => Some(EventKind::NotResolved),
        _ => None,
    }
}

/// A failed request: kept by `recorder` (its first `cap`), with its own events and every attempt's ring.
/// `retried_at` is when the retry started (none without a retry, or when not recording); `answered` the
/// retried attempt's connection when the retry got a response head.
pub(crate) struct FailedRequest<'a> {
    pub(crate) received: Received,
    pub(crate) client: SocketAddr,
    pub(crate) attempts: Vec<ConnRecord>,
    pub(crate) retried_at: Option<Instant>,
    pub(crate) answered: Option<&'a ConnLog>,
    pub(crate) status: u16,
    pub(crate) cause: Cause,
}

impl FailedRequest<'_> {
    /// Hands the request to `recorder`; nothing when recording was off as it arrived.
    pub(crate) fn keep(self, recorder: &Recorder) {
        let Received(Some(received)) = self.received else {
            return;
        };
        recorder.failed(|| {
            let mut events = vec![Event {
                at: received,
                kind: EventKind::ClientRequest,
            }];
            if let Some(at) = self.retried_at {
                events.push(Event {
                    at,
                    kind: EventKind::Retried,
                });
            }
            let now = Instant::now();
            if let Some(kind) = connect_failure(self.cause) {
                events.push(Event { at: now, kind });
            }
            events.push(Event {
                at: now,
                kind: EventKind::Answered {
                    status: self.status,
                },
            });
            let mut attempts = self.attempts;
            attempts.extend(self.answered.and_then(ConnLog::snapshot));
            RequestRecord {
                client: Some(self.client),
                events,
                attempts,
                outcome: Outcome {
                    status: self.status,
                    cause: Some(self.cause.name()),
                    retried: self.retried_at.is_some(),
                    truncated: false,
                },
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_connect_is_an_event_of_the_request_and_nothing_else_is() {
        assert_eq!(
            connect_failure(Cause::ConnectRefused),
            Some(EventKind::ConnectFailed { timed_out: false })
        );
        assert_eq!(
            connect_failure(Cause::ConnectTimeout),
            Some(EventKind::ConnectFailed { timed_out: true })
        );
        assert_eq!(
            connect_failure(Cause::DnsFailure),
            Some(EventKind::NotResolved)
        );
        assert_eq!(connect_failure(Cause::ReusedClosed), None);
    }

    #[test]
    fn bytes_that_came_are_an_invalid_head_not_an_eof() {
        let recorder = Recorder::new();
        recorder.enable(1);
        let conn = timeline::Conn {
            local: SocketAddr::from(([127, 0, 0, 1], 1)),
            peer: SocketAddr::from(([127, 0, 0, 1], 2)),
        };
        let mut log = recorder.open(|| Some(conn));
        let facts = AttemptFacts {
            reused: false,
            response_bytes: true,
            socket_reset: false,
        };
        let record = failed(&mut log, facts, false).expect("recording");
        assert_eq!(
            record.events.back().map(|event| event.kind),
            Some(EventKind::ReadInvalid)
        );
    }
}
