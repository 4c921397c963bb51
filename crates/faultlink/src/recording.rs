//! What the link records of a relayed connection for the harness's timelines (the `timeline` crate): each
//! segment (a byte run, a FIN, an RST) in each direction, when it was received and when it was delivered, with
//! the delay applied. Off (the default), nothing is recorded and each delivery costs one branch.
//!
//! The writer half of a pump records both moments: it knows when the segment is due (`deliver_at`, which is
//! its reception plus the link's latency) and when it delivered it. A segment received but never delivered
//! (the link stopped first) is not recorded. This module owns only that bookkeeping; `relay` and `connection`
//! call it.

use std::time::{Duration, Instant};

use timeline::{ConnLog, Direction, EventKind, Segment};

/// One direction's view of the connection's log.
pub(crate) struct PumpLog<'a> {
    log: &'a mut ConnLog,
    dir: Direction,
    latency: Duration,
}

impl<'a> PumpLog<'a> {
    /// Records into `log` the segments travelling `dir` with `latency`.
    pub(crate) fn new(log: &'a mut ConnLog, dir: Direction, latency: Duration) -> PumpLog<'a> {
        PumpLog { log, dir, latency }
    }

    /// A segment due at `deliver_at` was delivered at `now` (taken before the write or the shutdown that
    /// delivered it: a write that wakes the peer's thread may be preempted before it returns, and the peer may
    /// have acted on it by then).
    #[inline]
    pub(crate) fn delivered(
        &mut self,
        deliver_at: Instant,
        now: Instant,
        segment: Segment,
        bytes: usize,
    ) {
        if !self.log.is_on() {
            return;
        }
        let received = deliver_at.checked_sub(self.latency).unwrap_or(deliver_at);
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        self.log.record_at(
            received,
            EventKind::Received {
                dir: self.dir,
                segment,
                bytes,
            },
        );
        self.log.record_at(
            now,
            EventKind::Delivered {
                dir: self.dir,
                segment,
                bytes,
                delay_us: micros(now.saturating_duration_since(received)),
            },
        );
    }
}

/// An injected reset: the link resets both sides at once, no delay.
pub(crate) fn injected_reset(log: &mut ConnLog) {
    for dir in [Direction::ToBack, Direction::ToFront] {
        log.record(EventKind::Delivered {
            dir,
            segment: Segment::Rst,
            bytes: 0,
            delay_us: 0,
        });
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
