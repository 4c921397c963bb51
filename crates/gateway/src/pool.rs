//! THE upstream connection pool: per backend member, a LIFO stack of idle HTTP/1 connections, with checkout,
//! checkin, and a reaper that closes connections once they sat idle for `idle_timeout`.
//!
//! It is ours, not hyper-util's `client::legacy::Client` pool, on purpose: the gateway must know, per request,
//! whether the connection was reused, how many requests it had served and how long it sat idle, because
//! attributing a 502 to the keep-alive reuse race *is* the product. hyper-util's pool hides all three.
//!
//! Every [`PooledConn`] carries its id and creation time (in [`UpstreamConn`]), its count of requests served
//! and the instant it became idle. The most recently returned connection is handed out first (LIFO, as nginx
//! does with its upstream keepalive cache): it is the least likely to have been closed by the backend's
//! keep-alive timeout.
//!
//! The reaper also parks a connection idle for `park_after` (250 ms by default): hyper's buffers and request
//! channel, about 24 KiB, are freed and the driver watches the bare socket (`UpstreamConn::park`); a parked
//! connection is handed out like any other and wakes on its first use. A backend's close of a parked
//! connection is seen as soon as it arrives, as hyper would see it, so checkout skips it the same way.
//!
//! The reaper makes the "front idle timeout below the back's" mitigation real: with it, the *front* closes an
//! idle connection before the back's `KeepAliveTimeout` can, so no request can meet the back's close. It is one
//! task per pool that sleeps until the earliest expiry and is woken by a [`Notify`] on checkin; it holds only a
//! weak reference, so dropping the pool ends it.
//!
//! With worker threads (`FrontConfig::worker_threads`), each thread keeps its own stacks, as each nginx worker
//! process keeps its own keepalive cache: a connection's driver task runs on the thread that opened it, and a
//! request from another thread would hand every exchange across threads. `max_idle_per_backend` applies per
//! thread then. [`listener::shard_index`] names the thread; without worker threads there is one set of stacks.
//!
//! This module does not open connections (`upstream_conn`) nor decide what a failure means (`classify`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::upstream_conn::UpstreamConn;

/// An upstream connection with its reuse history.
#[derive(Debug)]
pub(crate) struct PooledConn {
    /// The connection itself.
    pub(crate) conn: UpstreamConn,
    /// The backend member it belongs to.
    member: usize,
    /// Requests started on it so far (its reuse count before the current request).
    served: u64,
    /// When it last became idle (its creation, for a fresh connection).
    idle_since: Instant,
    /// The `Keep-Alive: timeout=N` its last response announced, if any.
    hinted_timeout: Option<Duration>,
    /// With `honor_keep_alive_hint`: the instant it must no longer be handed out (idle_since + N − margin).
    hint_deadline: Option<Instant>,
}

/// What a request needs to know about the connection it was sent on, taken when it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    /// The connection's id.
    pub(crate) connection: u64,
    /// Requests the connection served before this one; > 0 means reused.
    pub(crate) reuse_count: u64,
    /// How long the connection sat idle before this request.
    pub(crate) idle_age: Duration,
}

impl Usage {
    /// True when the connection had served a request before this one.
    pub(crate) fn reused(&self) -> bool {
        self.reuse_count > 0
    }
}

impl PooledConn {
    /// A connection that has served nothing yet.
    pub(crate) fn fresh(conn: UpstreamConn, member: usize) -> PooledConn {
        let idle_since = conn.created_at;
        PooledConn {
            conn,
            member,
            served: 0,
            idle_since,
            hinted_timeout: None,
            hint_deadline: None,
        }
    }

    /// Records the `Keep-Alive: timeout=N` of the response being read on this connection (`None`: no hint).
    pub(crate) fn set_hinted_timeout(&mut self, timeout: Option<Duration>) {
        self.hinted_timeout = timeout;
    }

    /// Records that a request starts on this connection and describes the connection as that request sees it.
    pub(crate) fn start_request(&mut self) -> Usage {
        let usage = Usage {
            connection: self.conn.id,
            reuse_count: self.served,
            idle_age: Instant::now().saturating_duration_since(self.idle_since),
        };
        self.served += 1;
        usage
    }

    fn idle_age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.idle_since)
    }
}

/// The pool's limits, from [`crate::FrontConfig`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolLimits {
    /// An idle connection this old is closed, never reused.
    pub(crate) idle_timeout: Duration,
    /// Idle connections kept per member; 0 = never pool.
    pub(crate) max_idle_per_backend: usize,
    /// A connection that served this many requests is closed; 0 = unlimited.
    pub(crate) max_requests_per_conn: u64,
    /// `Some(margin)` with `honor_keep_alive_hint`: a hinted connection is not handed out past its hinted
    /// timeout minus `margin`, and not taken back at all when the hint is not above the margin.
    pub(crate) keep_alive_hint_margin: Option<Duration>,
    /// An idle connection this old is parked (see [`UpstreamConn::park`]); zero = never.
    pub(crate) park_after: Duration,
}

/// The pool's own counters, for tuning and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Idle connections in the pool now.
    pub idle: usize,
    /// Connections found too old at checkout and closed (their idle timeout, or the backend's hint).
    pub discarded_expired: u64,
    /// Connections not taken back because the backend's `Keep-Alive` hint left no time to reuse them
    /// (`timeout=N` with N not above `keep_alive_hint_margin`, e.g. Apache's `timeout=0`).
    pub refused_by_hint: u64,
    /// Connections hyper already knew were closed (the backend's FIN or RST arrived first), discarded at checkout
    /// or when a send found them closed before writing the request.
    pub discarded_closed: u64,
    /// Connections closed by the reaper after `idle_timeout`.
    pub reaped: u64,
    /// Idle connections parked after `upstream_park_after` (their hyper buffers freed; each wakes when it is
    /// next handed out).
    pub parked: u64,
    /// Connections not taken back at checkin (`Connection: close`, request limit, pool full, closed).
    pub refused_checkins: u64,
}

/// The pool handle; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct UpstreamPool {
    shared: Arc<PoolShared>,
}

/// One LIFO stack per backend member, indexed by member.
type Stacks = Vec<Vec<PooledConn>>;

#[derive(Debug)]
struct PoolShared {
    /// The stacks of each worker thread (one set without worker threads), each behind its own lock.
    shards: Box<[Mutex<Stacks>]>,
    limits: PoolLimits,
    /// Wakes the reaper: a checkin into a pool it saw empty, or closing or dropping the pool.
    wake: Arc<Notify>,
    closed: AtomicBool,
    /// The reaper may be waiting without a deadline: set before it looks at the stacks, cleared when it finds
    /// an idle connection or when a checkin wakes it.
    reaper_idle: AtomicBool,
    /// The same for parking: the reaper may be waiting with no park due; a checkin then wakes it, since the
    /// connection it brings must park long before the earliest expiry the reaper waits for.
    reaper_parks_nothing: AtomicBool,
    discarded_expired: AtomicU64,
    discarded_closed: AtomicU64,
    reaped: AtomicU64,
    parked: AtomicU64,
    refused_checkins: AtomicU64,
    refused_by_hint: AtomicU64,
}

impl Drop for PoolShared {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

impl UpstreamPool {
    /// An empty pool for `members` backend members and `shards` worker threads (at least one set of stacks),
    /// with its reaper task spawned.
    pub(crate) fn new(members: usize, shards: usize, limits: PoolLimits) -> UpstreamPool {
        let wake = Arc::new(Notify::new());
        let shared = Arc::new(PoolShared {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new((0..members).map(|_| Vec::new()).collect()))
                .collect(),
            limits,
            wake: wake.clone(),
            closed: AtomicBool::new(false),
            reaper_idle: AtomicBool::new(false),
            reaper_parks_nothing: AtomicBool::new(false),
            discarded_expired: AtomicU64::new(0),
            discarded_closed: AtomicU64::new(0),
            reaped: AtomicU64::new(0),
            parked: AtomicU64::new(0),
            refused_checkins: AtomicU64::new(0),
            refused_by_hint: AtomicU64::new(0),
        });
        tokio::spawn(reap(Arc::downgrade(&shared), wake));
        UpstreamPool { shared }
    }

    /// The most recently returned idle connection to `member`, skipping (and closing) the ones that are too old
    /// or that hyper already saw closed.
    pub(crate) fn checkout(&self, member: usize) -> Option<PooledConn> {
        let now = Instant::now();
        let mut discarded = Vec::new();
        let found = {
            let mut stacks = self.shared.lock_mine();
            let stack = stacks.get_mut(member)?;
            loop {
                let Some(conn) = stack.pop() else { break None };
                let hint_expired = conn.hint_deadline.is_some_and(|deadline| now >= deadline);
                if hint_expired || conn.idle_age(now) >= self.shared.limits.idle_timeout {
                    self.shared
                        .discarded_expired
                        .fetch_add(1, Ordering::Relaxed);
                    discarded.push(conn);
                } else if conn.conn.is_closed() {
                    self.shared.discarded_closed.fetch_add(1, Ordering::Relaxed);
                    discarded.push(conn);
                } else {
                    break Some(conn);
                }
            }
        };
        // Closing happens outside the lock.
        drop(discarded);
        found
    }

    /// Takes `conn` back after its response was read to the end, unless it must not carry another request:
    /// the response did not keep the connection alive, it reached `max_requests_per_conn`, the member's stack
    /// is full, hyper saw it closed, or the pool is closed. A connection not taken back is closed.
    pub(crate) fn checkin(&self, mut conn: PooledConn, keeps_alive: bool) {
        let limits = self.shared.limits;
        let spent = limits.max_requests_per_conn > 0 && conn.served >= limits.max_requests_per_conn;
        // The hinted reuse window: N − margin; none left (`timeout=0`, or N not above the margin) = never reuse.
        let hint_window =
            limits
                .keep_alive_hint_margin
                .zip(conn.hinted_timeout)
                .map(|(margin, timeout)| {
                    timeout
                        .checked_sub(margin)
                        .filter(|window| !window.is_zero())
                });
        if keeps_alive && hint_window == Some(None) {
            tracing::debug!(connection = conn.conn.id, hinted = ?conn.hinted_timeout, "the backend's Keep-Alive hint leaves no reuse window");
            self.shared.refused_by_hint.fetch_add(1, Ordering::Relaxed);
            self.shared.refused_checkins.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if !keeps_alive
            || spent
            || conn.conn.is_closed()
            || self.shared.closed.load(Ordering::Acquire)
        {
            tracing::debug!(
                connection = conn.conn.id,
                keeps_alive,
                served = conn.served,
                "upstream connection not reused"
            );
            self.shared.refused_checkins.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let refused = {
            let mut stacks = self.shared.lock_mine();
            match stacks.get_mut(conn.member) {
                Some(stack) if stack.len() < limits.max_idle_per_backend => {
                    // The idle clock starts when the response's last byte arrived, not now: the client side
                    // may have taken the body's end later than the upstream socket delivered it, and the
                    // backend's clock started even earlier. Inserted in order, so every stack stays ordered
                    // oldest first (two connections can arrive here out of order of their last bytes).
                    conn.idle_since = conn.conn.last_read_at().min(Instant::now());
                    conn.hint_deadline =
                        hint_window.flatten().map(|window| conn.idle_since + window);
                    let at = stack.partition_point(|other| other.idle_since <= conn.idle_since);
                    stack.insert(at, conn);
                    None
                }
                _ => Some(conn),
            }
        };
        match refused {
            Some(conn) => {
                self.shared.refused_checkins.fetch_add(1, Ordering::Relaxed);
                drop(conn);
            }
            // Only a reaper waiting with no deadline (or, with parking, no park due) needs a wake-up: one with a
            // deadline already wakes before this connection (whose expiry and park are the latest of all) is
            // due. Waking it on every checkin would cost a task switch and a pass over the pool per request.
            None => {
                let idle = take_flag(&self.shared.reaper_idle);
                let parks_nothing = take_flag(&self.shared.reaper_parks_nothing);
                if idle || parks_nothing {
                    self.shared.wake.notify_one();
                }
            }
        }
    }

    /// Records a checked-out connection that turned out closed before the request was written.
    pub(crate) fn record_closed_discard(&self) {
        self.shared.discarded_closed.fetch_add(1, Ordering::Relaxed);
    }

    /// Closes every idle connection, refuses future checkins and ends the reaper.
    pub(crate) fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        for shard in 0..self.shared.shards.len() {
            let idle: Stacks = std::mem::take(&mut *self.shared.lock(shard));
            drop(idle);
        }
        self.shared.wake.notify_one();
    }

    /// The pool's counters now.
    pub(crate) fn stats(&self) -> PoolStats {
        PoolStats {
            idle: (0..self.shared.shards.len())
                .map(|shard| self.shared.lock(shard).iter().map(Vec::len).sum::<usize>())
                .sum(),
            discarded_expired: self.shared.discarded_expired.load(Ordering::Relaxed),
            discarded_closed: self.shared.discarded_closed.load(Ordering::Relaxed),
            reaped: self.shared.reaped.load(Ordering::Relaxed),
            parked: self.shared.parked.load(Ordering::Relaxed),
            refused_checkins: self.shared.refused_checkins.load(Ordering::Relaxed),
            refused_by_hint: self.shared.refused_by_hint.load(Ordering::Relaxed),
        }
    }
}

impl PoolShared {
    fn lock(&self, shard: usize) -> MutexGuard<'_, Stacks> {
        // A panic while holding the lock leaves the stacks consistent (push/pop/retain), so keep going.
        self.shards[shard % self.shards.len()]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The stacks of the worker thread this runs on.
    fn lock_mine(&self) -> MutexGuard<'_, Stacks> {
        self.lock(listener::shard_index())
    }

    /// Closes the idle connections whose age reached `idle_timeout` and parks those idle for `park_after`;
    /// returns the earliest expiry left and the earliest park due.
    ///
    /// Marks the reaper idle *before* looking and clears the mark when it finds a connection: a checkin into
    /// stacks already looked at then sees the mark and wakes the reaper, so no connection can sit unreaped.
    fn reap_expired(&self, now: Instant) -> (Option<Instant>, Option<Instant>) {
        let idle_timeout = self.limits.idle_timeout;
        let park_after = self.limits.park_after;
        self.reaper_idle.store(true, Ordering::Release);
        self.reaper_parks_nothing
            .store(!park_after.is_zero(), Ordering::Release);
        let mut expired = Vec::new();
        let mut next_expiry: Option<Instant> = None;
        let mut next_park: Option<Instant> = None;
        let mut parked = 0u64;
        for shard in 0..self.shards.len() {
            let mut stacks = self.lock(shard);
            for stack in stacks.iter_mut() {
                // Each stack is ordered oldest first (see `checkin`): the expired ones are a prefix.
                let old = stack.partition_point(|conn| conn.idle_age(now) >= idle_timeout);
                expired.extend(stack.drain(..old));
                if let Some(oldest) = stack.first() {
                    let expiry = oldest.idle_since + idle_timeout;
                    next_expiry = Some(next_expiry.map_or(expiry, |next| next.min(expiry)));
                }
                if park_after.is_zero() {
                    continue;
                }
                for conn in stack.iter_mut().filter(|conn| !conn.conn.is_parked()) {
                    let due = conn.idle_since + park_after;
                    if due <= now {
                        conn.conn.park();
                        parked += 1;
                    } else {
                        next_park = Some(next_park.map_or(due, |next| next.min(due)));
                    }
                }
            }
        }
        if next_expiry.is_some() {
            self.reaper_idle.store(false, Ordering::Release);
        }
        if next_park.is_some() {
            self.reaper_parks_nothing.store(false, Ordering::Release);
        }
        if !expired.is_empty() {
            tracing::debug!(count = expired.len(), "closing idle upstream connections");
            self.reaped
                .fetch_add(expired.len() as u64, Ordering::Relaxed);
        }
        if parked > 0 {
            tracing::debug!(count = parked, "parking idle upstream connections");
            self.parked.fetch_add(parked, Ordering::Relaxed);
        }
        drop(expired);
        (next_expiry, next_park)
    }
}

/// Clears `flag`, true if it was set; a plain load first, so the common case (not set) writes nothing.
fn take_flag(flag: &AtomicBool) -> bool {
    flag.load(Ordering::Acquire) && flag.swap(false, Ordering::AcqRel)
}

/// The reaper: sleeps until the earliest expiry (or a checkin), closes what expired, ends with the pool.
async fn reap(shared: Weak<PoolShared>, wake: Arc<Notify>) {
    loop {
        let next_expiry = {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            if shared.closed.load(Ordering::Acquire) {
                return;
            }
            shared.reap_expired(Instant::now())
        };
        let (next_expiry, next_park) = next_expiry;
        // Parking needs no precision: tokio's millisecond timer is enough for it.
        tokio::select! {
            () = sleep_precisely_until(next_expiry.unwrap_or_else(Instant::now)), if next_expiry.is_some() => {}
            () = tokio::time::sleep_until(next_park.unwrap_or_else(Instant::now)), if next_park.is_some() => {}
            () = wake.notified() => {}
        }
    }
}

/// Sleeps until `deadline` within a fraction of a millisecond: tokio's timer (which rounds up to its next
/// millisecond tick, keeping an expired connection open up to ~1 ms past `idle_timeout`) until
/// [`precise_timer::PRECISE_SPAN`] before it, then the precise timer for the rest. The rest is measured on
/// tokio's clock, so a test that pauses tokio's time still drives the reaper.
async fn sleep_precisely_until(deadline: Instant) {
    if let Some(early) = deadline.checked_sub(precise_timer::PRECISE_SPAN) {
        tokio::time::sleep_until(early).await;
    }
    precise_timer::sleep(deadline.saturating_duration_since(Instant::now())).await;
}
