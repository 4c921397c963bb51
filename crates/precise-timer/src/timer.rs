//! The timer thread: one thread that sleeps on the earliest registered deadline with the kernel's
//! sub-millisecond precision (`park_timeout`) and wakes every task whose deadline has come.
//!
//! It owns the wake-ups only: when to hand a wait over to it is [`crate::sleep_until`]'s decision (or the
//! caller's, with [`PreciseTimer::sleep_until`]). Entries are meant to be short-lived (a caller hands over at
//! most [`crate::PRECISE_SPAN`] before its deadline), so one whose waiting task is gone simply fires into
//! nothing when its time comes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Instant;

/// One waiting task.
#[derive(Debug, Default)]
struct Slot {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Slot {
    fn fire(&self) {
        self.fired.store(true, Ordering::Release);
        let waker = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A registered deadline; ordered by time, then by registration.
struct Entry {
    at: Instant,
    sequence: u64,
    slot: Arc<Slot>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.sequence) == (other.at, other.sequence)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.sequence).cmp(&(other.at, other.sequence))
    }
}

#[derive(Default)]
struct Queue {
    entries: BinaryHeap<Reverse<Entry>>,
    next_sequence: u64,
    stopped: bool,
}

/// The timer thread and its queue. Dropping it stops the thread.
pub struct PreciseTimer {
    queue: Arc<Mutex<Queue>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PreciseTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreciseTimer").finish_non_exhaustive()
    }
}

impl PreciseTimer {
    /// Starts a timer thread of its own for one owner (a tier, a test); `None` if the system refuses a thread
    /// (the caller then falls back to tokio's timer). Most callers want the process's shared one instead,
    /// through [`crate::sleep_until`].
    pub fn start() -> Option<PreciseTimer> {
        Self::start_named("precise-timer")
    }

    /// [`PreciseTimer::start`] with the thread named `name`.
    pub fn start_named(name: &str) -> Option<PreciseTimer> {
        let queue = Arc::new(Mutex::new(Queue::default()));
        let thread_queue = queue.clone();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                tune_this_thread();
                run(&thread_queue)
            })
            .map_err(|error| tracing::warn!(%error, "no precise timer thread: timed waits may end up to 1 ms late"))
            .ok()?;
        Some(PreciseTimer {
            queue,
            thread: Some(thread),
        })
    }

    /// Resolves at `at` (never before), within the kernel's timer slack after it; at once if `at` has passed.
    /// The whole wait is on the timer thread: hand it only the last stretch of a long wait (as
    /// [`crate::sleep_until`] does), so that the thread's queue holds few entries.
    pub fn sleep_until(&self, at: Instant) -> PreciseSleep<'_> {
        PreciseSleep {
            timer: self,
            at,
            slot: None,
        }
    }

    fn register(&self, at: Instant, slot: Arc<Slot>) {
        let earliest = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let sequence = queue.next_sequence;
            queue.next_sequence += 1;
            queue.entries.push(Reverse(Entry { at, sequence, slot }));
            queue
                .entries
                .peek()
                .is_some_and(|Reverse(first)| first.sequence == sequence)
        };
        // A new earliest deadline: the thread may be parked until a later one.
        if earliest && let Some(thread) = &self.thread {
            thread.thread().unpark();
        }
    }
}

impl Drop for PreciseTimer {
    fn drop(&mut self) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stopped = true;
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// How much earlier than the default (0) the timer thread's scheduling priority is asked to be: it runs for a few
/// microseconds per wake-up, and on a busy machine a thread of the default priority may wait for a core long
/// enough to miss the deadline it exists to keep.
#[cfg(target_os = "linux")]
const NICE: libc::c_int = -10;

/// Best effort: a timer slack of 1 µs instead of the kernel's 50 µs (the slack is how late the kernel may end a
/// `park_timeout` to batch wake-ups), and a higher priority ([`NICE`]; refused without CAP_SYS_NICE, then the
/// default stays). Nothing to do elsewhere.
fn tune_this_thread() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl(PR_SET_TIMERSLACK) and setpriority on the calling thread take plain integers and touch no
        // memory of ours.
        let slack = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
        // SAFETY: as above; gettid has no preconditions.
        let nice =
            unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, NICE) };
        if slack != 0 || nice != 0 {
            tracing::debug!(
                error = %std::io::Error::last_os_error(),
                slack_ok = slack == 0,
                nice_ok = nice == 0,
                "precise timer thread keeps the default timer slack or priority"
            );
        }
    }
}

/// The timer thread: fires what is due, then parks until the earliest deadline left (or a new one).
fn run(queue: &Mutex<Queue>) {
    loop {
        let mut due = Vec::new();
        let next = {
            let mut queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
            if queue.stopped {
                return;
            }
            let now = Instant::now();
            while queue
                .entries
                .peek()
                .is_some_and(|Reverse(first)| first.at <= now)
            {
                if let Some(Reverse(entry)) = queue.entries.pop() {
                    due.push(entry.slot);
                }
            }
            queue.entries.peek().map(|Reverse(first)| first.at)
        };
        for slot in due {
            slot.fire();
        }
        match next {
            Some(at) => std::thread::park_timeout(at.saturating_duration_since(Instant::now())),
            None => std::thread::park(),
        }
    }
}

/// The future of [`PreciseTimer::sleep_until`].
pub struct PreciseSleep<'a> {
    timer: &'a PreciseTimer,
    at: Instant,
    slot: Option<Arc<Slot>>,
}

impl Future for PreciseSleep<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if Instant::now() >= this.at {
            return Poll::Ready(());
        }
        match &this.slot {
            Some(slot) => {
                if slot.fired.load(Ordering::Acquire) {
                    return Poll::Ready(());
                }
                *slot.waker.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(cx.waker().clone());
                // Fired between the check and the store: the thread took no waker, so do not wait for one.
                if slot.fired.load(Ordering::Acquire) {
                    return Poll::Ready(());
                }
            }
            None => {
                let slot = Arc::new(Slot::default());
                *slot.waker.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(cx.waker().clone());
                this.timer.register(this.at, slot.clone());
                this.slot = Some(slot);
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_sleep_ends_and_none_ends_before_its_deadline() {
        let timer = Arc::new(PreciseTimer::start().unwrap());
        let start = Instant::now();
        // Deadlines out of order, some equal, some already past.
        let offsets_us = [3000u64, 500, 1500, 1500, 0, 2500, 100, 4000];
        let mut tasks = tokio::task::JoinSet::new();
        for offset in offsets_us {
            let timer = timer.clone();
            let at = start + Duration::from_micros(offset);
            tasks.spawn(async move {
                timer.sleep_until(at).await;
                Instant::now() >= at
            });
        }
        let mut ended = 0;
        while let Some(joined) = tokio::time::timeout(Duration::from_secs(5), tasks.join_next())
            .await
            .unwrap()
        {
            assert!(joined.unwrap(), "a sleep ended before its deadline");
            ended += 1;
        }
        assert_eq!(ended, offsets_us.len());
    }
}
