//! One probe stream: a client keep-alive connection to a front that no other stream uses, so the front's pool
//! for it holds exactly the upstream connection this stream last used. Before each probe the stream exchanges
//! a warm-up request when it has no fresh one (first request, after any failure), then waits the probe's idle
//! age measured from the end of the previous response, then sends.
//!
//! Owns the pacing and the per-probe record; not the bins, nor what a failure means.

use std::time::{Duration, Instant};

use listener::ShutdownSignal;

use super::verdict::ProbeRecord;
use crate::load::{ClientConnection, Target};
use crate::record::Outcome;

/// Warm-ups tried in a row before the stream gives up on its front.
const WARM_UP_TRIES: usize = 3;

/// Sends one probe per entry of `ages`, in order, through `target` (its own front). Stops early on `stop`.
pub async fn drive_stream(
    target: Target,
    ages: Vec<Duration>,
    stop: ShutdownSignal,
) -> Vec<ProbeRecord> {
    let mut connection = ClientConnection::new(target);
    let mut records = Vec::with_capacity(ages.len());
    // The end of the last response that left a healthy pooled connection behind.
    let mut last_end: Option<Instant> = None;
    for age in ages {
        if stop.is_triggered() {
            break;
        }
        let end = match last_end {
            Some(end) => end,
            None => match warm_up(&mut connection).await {
                Some(end) => end,
                None => break,
            },
        };
        let mut stopped = stop.clone();
        tokio::select! {
            () = wait_until(end + age) => {}
            () = stopped.triggered() => break,
        }
        let sent = Instant::now();
        let record = connection.send(sent).await;
        let healthy = matches!(record.outcome, Outcome::Response { status, .. } if status < 500);
        records.push(ProbeRecord {
            age: sent.duration_since(end),
            outcome: record.outcome,
        });
        last_end = healthy.then(Instant::now);
    }
    connection.close().await;
    records
}

/// One request with nothing measured: it leaves the stream's front holding a fresh upstream connection.
async fn warm_up(connection: &mut ClientConnection) -> Option<Instant> {
    for _ in 0..WARM_UP_TRIES {
        let record = connection.send(Instant::now()).await;
        if matches!(record.outcome, Outcome::Response { status, .. } if status < 500) {
            return Some(Instant::now());
        }
    }
    None
}

/// Sleeps until `deadline` within tens of microseconds: tokio's timer (millisecond ticks, rounded up) for all
/// but the last two milliseconds, then yields until the deadline.
async fn wait_until(deadline: Instant) {
    const SPIN: Duration = Duration::from_millis(2);
    if let Some(coarse) = deadline.checked_sub(SPIN)
        && coarse > Instant::now()
    {
        tokio::time::sleep_until(coarse.into()).await;
    }
    while Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}
