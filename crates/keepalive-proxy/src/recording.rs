//! What the back records of a front connection for the harness's timelines (the `timeline` crate): accepted,
//! each request's first bytes and its parsed head, the response written (the keep-alive clock starts), the
//! keep-alive timer firing, how the socket was closed and what a lingering close discarded. Off (the default),
//! nothing is recorded and each observation costs one branch.
//!
//! [`BackLog`] turns the connection's [`ActivityState`] changes, which `connection.rs` already watches, into
//! events, and hands the ring to the recorder when the connection is over (on drop, so every way out of the
//! connection task is covered). It owns that bookkeeping only.

use std::net::SocketAddr;
use std::sync::Arc;

use timeline::{CloseHow, Conn, ConnLog, EventKind, Recorder};
use tokio::net::TcpStream;

use crate::CloseMode;
use crate::activity::ActivityState;

/// One front connection's log, given to the recorder on drop.
pub(crate) struct BackLog {
    log: ConnLog,
    recorder: Arc<Recorder>,
    last: Option<ActivityState>,
}

impl BackLog {
    /// The log of `stream`, accepted from `peer`: recording when `recorder` is on.
    pub(crate) fn accepted(recorder: &Arc<Recorder>, stream: &TcpStream, peer: SocketAddr) -> Self {
        let mut log = recorder.open(|| {
            Some(Conn {
                local: stream.local_addr().ok()?,
                peer,
            })
        });
        log.record(EventKind::Accepted);
        BackLog {
            log,
            recorder: Arc::clone(recorder),
            last: None,
        }
    }

    /// The connection's activity is `state` now: a request began or was read, or its response was written.
    #[inline]
    pub(crate) fn observe(&mut self, state: ActivityState) {
        if !self.log.is_on() || self.last == Some(state) {
            return;
        }
        self.last = Some(state);
        match state {
            ActivityState::Fresh { .. } => {}
            ActivityState::ReadingHead { since } => self
                .log
                .record_at(since.into_std(), EventKind::RequestBytes),
            ActivityState::Busy => self.log.record(EventKind::RequestRead),
            ActivityState::Idle { since } => self
                .log
                .record_at(since.into_std(), EventKind::ResponseWritten),
        }
    }

    /// Records `kind` now.
    #[inline]
    pub(crate) fn record(&mut self, kind: EventKind) {
        self.log.record(kind);
    }

    /// Records the close `mode` is about to make.
    pub(crate) fn closing(&mut self, mode: CloseMode) {
        let how = match mode {
            CloseMode::Lingering => CloseHow::LingeringFin,
            CloseMode::Immediate => CloseHow::Immediate,
            CloseMode::Reset => CloseHow::Rst,
        };
        self.log.record(EventKind::Closed { how });
    }

    /// The raw log, for the lingering close's discards.
    pub(crate) fn log(&mut self) -> &mut ConnLog {
        &mut self.log
    }
}

impl Drop for BackLog {
    fn drop(&mut self) {
        if self.log.is_on() {
            self.recorder.closed(std::mem::take(&mut self.log));
        }
    }
}
