//! What a front-tier connection is doing right now, as the keep-alive timer needs to know it.
//!
//! A connection is [`ActivityState::Fresh`] (accepted, no request byte yet), [`ActivityState::ReadingHead`]
//! (bytes of a request head read, the head not complete yet), [`ActivityState::Busy`] (a request is being
//! served, its body read or its response written) or [`ActivityState::Idle`] (its last response was fully
//! handed to hyper and no request byte was read since). Three observers feed the state, all polled from the connection's
//! own task: [`crate::observed_stream::ObservedStream`] reports every read that returned bytes, the request
//! service reports each request it starts, and [`crate::tracked_body::TrackedBody`] reports the end of each
//! response. This module owns the observation only; `deadline.rs` turns a state into a closing time and
//! `connection.rs` acts on it.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;
use tokio::time::Instant;

/// The connection's activity, as far as the keep-alive timer is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActivityState {
    /// Accepted at `since`; no request byte read yet (Apache's `Timeout` applies).
    Fresh { since: Instant },
    /// The first bytes of a request head arrived at `since`; hyper has not parsed the whole head yet
    /// (`RequestReadTimeout header=` applies: this is where a slowloris client sits).
    ReadingHead { since: Instant },
    /// Serving a request: reading its body or writing its response. No timer runs.
    Busy,
    /// The last response ended at `since` and nothing was read since (`KeepAliveTimeout` applies).
    Idle { since: Instant },
}

/// The shared, observed activity of one connection.
#[derive(Debug)]
pub(crate) struct Activity {
    state: watch::Sender<ActivityState>,
    in_flight: AtomicU64,
    requests: AtomicU64,
}

impl Activity {
    /// A connection accepted at `accepted`.
    pub(crate) fn new(accepted: Instant) -> Self {
        Self {
            state: watch::Sender::new(ActivityState::Fresh { since: accepted }),
            in_flight: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }

    /// A receiver that is notified whenever the state changes.
    pub(crate) fn subscribe(&self) -> watch::Receiver<ActivityState> {
        self.state.subscribe()
    }

    /// A read returned request bytes: a request is being served (busy), or the next head has begun.
    pub(crate) fn bytes_read(&self) {
        let serving = self.in_flight.load(Ordering::Acquire) > 0;
        self.state.send_if_modified(|state| {
            let next = match *state {
                _ if serving => ActivityState::Busy,
                ActivityState::Fresh { .. } | ActivityState::Idle { .. } => {
                    ActivityState::ReadingHead {
                        since: Instant::now(),
                    }
                }
                unchanged @ (ActivityState::ReadingHead { .. } | ActivityState::Busy) => unchanged,
            };
            let changed = *state != next;
            *state = next;
            changed
        });
    }

    /// hyper parsed a request head and called the service; returns the request's number on this connection
    /// (1 for the first).
    pub(crate) fn request_started(&self) -> u64 {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.bytes_read();
        self.requests.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// hyper has taken the last frame of a response body (or dropped it). When no other response is in flight
    /// (pipelining), the connection becomes idle now.
    pub(crate) fn response_ended(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.state.send_replace(ActivityState::Idle {
                since: Instant::now(),
            });
        }
    }

    /// Requests started on this connection so far.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_is_idle_only_when_every_response_ended() {
        let accepted = Instant::now();
        let activity = Activity::new(accepted);
        let state = activity.subscribe();
        assert_eq!(*state.borrow(), ActivityState::Fresh { since: accepted });

        assert_eq!(activity.request_started(), 1);
        assert_eq!(activity.request_started(), 2, "a pipelined request");
        activity.response_ended();
        assert_eq!(
            *state.borrow(),
            ActivityState::Busy,
            "the second response is still in flight"
        );
        activity.response_ended();
        assert!(matches!(*state.borrow(), ActivityState::Idle { .. }));

        activity.bytes_read();
        assert!(matches!(*state.borrow(), ActivityState::ReadingHead { .. }));
        assert_eq!(activity.request_started(), 3);
        assert_eq!(*state.borrow(), ActivityState::Busy);
        activity.bytes_read();
        assert_eq!(*state.borrow(), ActivityState::Busy, "body bytes");
        assert_eq!(activity.requests(), 3);
    }
}
