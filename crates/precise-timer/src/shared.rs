//! The process's shared timer thread, started on first use, and the two-step wait built on it: tokio's timer
//! for all but the last [`PRECISE_SPAN`], the timer thread for the rest.
//!
//! One thread for the whole process rather than one per owner: the link's relays, the origin and the load's
//! clients then share its wake-ups (one wake fires every entry that is due, whoever registered it), and a
//! process with many owners does not keep a parked thread for each. The thread itself is `timer`'s.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::PRECISE_SPAN;
use crate::timer::PreciseTimer;

/// The shared timer thread; `None` if the system refused a thread (waits then use tokio's timer alone).
fn shared() -> Option<&'static PreciseTimer> {
    static SHARED: OnceLock<Option<PreciseTimer>> = OnceLock::new();
    SHARED.get_or_init(PreciseTimer::start).as_ref()
}

/// Resolves at `at` (never before) and within the kernel's timer slack after it (tens of microseconds on an
/// idle machine), rather than at tokio's next millisecond tick. A deadline already past resolves at once; one
/// more than [`PRECISE_SPAN`] away waits on tokio's timer first, so the timer thread only ever holds the last
/// stretch of a wait. Works inside any tokio runtime; outside one, the whole wait is on the timer thread.
pub async fn sleep_until(at: Instant) {
    let Some(remaining) = at.checked_duration_since(Instant::now()) else {
        return;
    };
    if remaining.is_zero() {
        return;
    }
    let in_tokio = tokio::runtime::Handle::try_current().is_ok();
    let Some(timer) = shared() else {
        if in_tokio {
            tokio::time::sleep_until(at.into()).await;
        } else {
            std::thread::sleep(remaining);
        }
        return;
    };
    if in_tokio && remaining > PRECISE_SPAN {
        tokio::time::sleep_until((at - PRECISE_SPAN).into()).await;
    }
    // At once (no registration, no thread) when tokio's timer woke us past the deadline already.
    timer.sleep_until(at).await;
}

/// [`sleep_until`] `duration` from now.
pub async fn sleep(duration: Duration) {
    sleep_until(Instant::now() + duration).await;
}
