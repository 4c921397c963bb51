//! What every connection of one origin shares: the validated knobs, the counters, the header that carries a
//! request's number, and the latency wait. The connections themselves are `service`'s (normal answers) and
//! `fault`'s (broken ones); both use this module and neither uses the other's internals.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, StatusCode};

use crate::OriginFault;
use crate::error_draw::ErrorDraw;

/// The response header carrying the origin's 1-based request number.
pub const REQUEST_NUMBER_HEADER: HeaderName = HeaderName::from_static("x-origin-request");

/// What every connection of one origin shares: the validated knobs and the counters.
#[derive(Debug)]
pub(crate) struct OriginState {
    pub(crate) latency: Duration,
    pub(crate) status: StatusCode,
    /// Built once; every response clones the handle, not the bytes.
    pub(crate) body: Bytes,
    pub(crate) fault: OriginFault,
    /// The application-error draw (`error_probability`).
    pub(crate) errors: ErrorDraw,
    pub(crate) served: AtomicU64,
    /// The part of `served` sent by the gateway's health probe.
    pub(crate) probes: AtomicU64,
}

impl OriginState {
    /// Counts one request (and, if it comes from the health probe, one probe); returns its 1-based number.
    pub(crate) fn count_request(&self, probe: bool) -> u64 {
        if probe {
            self.probes.fetch_add(1, Ordering::Relaxed);
        }
        self.served.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Waits the configured latency before an answer, to a fraction of a millisecond (tokio's timer would round
    /// it up to its next millisecond tick: 5 ms took 5.3 to 6.4 ms). No wait, not even a tick, for zero.
    pub(crate) async fn wait_latency(&self) {
        if !self.latency.is_zero() {
            precise_timer::sleep(self.latency).await;
        }
    }
}
