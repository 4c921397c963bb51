//! Sleeps that end within a fraction of a millisecond of their deadline, on any tokio runtime (multi-thread,
//! current-thread) and without one.
//!
//! tokio's timer works in whole milliseconds and rounds a deadline up to its next tick, so a 4 ms sleep ends
//! 4.3 to 5.4 ms later. Where a duration *is* the experiment (the link's latency, the back's KeepAliveTimeout,
//! the origin's latency, the load's idle gaps and send times) that millisecond moves the measured race window.
//! So a deadline is waited for in two steps: tokio's timer until [`PRECISE_SPAN`] before it (cheap, no thread
//! involved, dropped at no cost), then a timer thread that sleeps with the kernel's sub-millisecond precision
//! for the rest. A deadline already past resolves at once, without a system call.
//!
//! Modules: `timer` (the timer thread, its queue and the waiting future), `shared` (the one timer thread of the
//! process and the two-step [`sleep_until`]), `errors` (the summary the tiers' precision tests assert on). This
//! crate owns the wake-ups only; what a deadline means is its callers'.

mod errors;
mod shared;
mod timer;

pub use errors::TimingErrors;
pub use shared::{sleep, sleep_until};
pub use timer::{PreciseSleep, PreciseTimer};

use std::time::Duration;

/// How long before a deadline the wait moves from tokio's timer to the timer thread: two of tokio's ticks, so
/// that the hand-over always happens before the deadline.
pub const PRECISE_SPAN: Duration = Duration::from_millis(2);
