//! Giving memory back to the system once client connections have parked.
//!
//! A parked connection frees its HTTP buffers (`server.rs`), but an allocator keeps freed pages for a while
//! to reuse them, and gives them back only when the thread that owns them allocates or frees again. A worker
//! thread whose connections have all parked does neither: the freed pages stay resident for as long as the
//! connections stay idle, which is the whole point of parking them. So the binary, which knows its allocator,
//! may install a trim function ([`set_memory_trim`]: mimalloc's `mi_collect`); after a connection parks,
//! the worker thread it parked on runs that function once, [`TRIM_DELAY`] later, whatever number of
//! connections park in between. A thread busy with requests parks no connection and never trims.
//!
//! This module owns when the trim runs, not what it does: the allocator is the binary's choice.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::config::MAX_WORKER_THREADS;

/// How long after a connection parks its worker thread trims: connections that go idle together (after a
/// burst) park within a few milliseconds of each other, and one trim serves them all.
pub const TRIM_DELAY: Duration = Duration::from_millis(200);

static TRIM: OnceLock<fn()> = OnceLock::new();

/// Per worker thread (shard index): a trim is scheduled and has not run yet.
static SCHEDULED: [AtomicBool; MAX_WORKER_THREADS] =
    [const { AtomicBool::new(false) }; MAX_WORKER_THREADS];

/// Installs the function a worker thread runs to give freed memory back, once per process; false when one was
/// installed already (the first stays).
pub fn set_memory_trim(trim: fn()) -> bool {
    TRIM.set(trim).is_ok()
}

/// A client connection parked on this thread: schedule this thread's trim unless one is pending. Must run
/// on a tokio runtime (it spawns the delayed trim there: on a shard, that is this thread).
pub(crate) fn connection_parked() {
    let Some(&trim) = TRIM.get() else {
        return;
    };
    let shard = listener::shard_index().min(MAX_WORKER_THREADS - 1);
    if SCHEDULED[shard].swap(true, Ordering::AcqRel) {
        return;
    }
    tokio::spawn(async move {
        tokio::time::sleep(TRIM_DELAY).await;
        SCHEDULED[shard].store(false, Ordering::Release);
        let started = std::time::Instant::now();
        trim();
        tracing::debug!(shard, took = ?started.elapsed(), "gave freed memory back after connections parked");
    });
}
