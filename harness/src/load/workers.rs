//! The load workers: one task per client, a shared request budget, an optional deadline, and a stop signal.
//! Each finished request is sent to the collector as one record; workers hold no shared statistics.
//!
//! Where the clients run: by default on the runtime that drives the load (tokio's multi-thread runtime in the
//! CLI). There a client's task and its hyper connection's driver task may run on different threads, and each
//! hand-over between them can wake a thread on another core. With `threads` set, the clients are dealt round
//! robin to [`Shards`], threads with a single-threaded runtime each (wrk's `-t`): a client, its connection
//! and the connection's driver then stay on one thread. Only the batched records cross to the collector.
//!
//! Which client: the closed and rate patterns use [`RawConnection`] (request bytes built once, heads parsed
//! with httparse, as wrk); the idle-gap pattern keeps the hyper client, whose send times it was tuned with.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use listener::{Shards, ShutdownSignal};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;

use super::client::{ClientConnection, Target};
use super::config::{LoadConfig, Pattern};
use super::raw_client::RawConnection;
use crate::record::Record;

/// A load, resolved against its chain: the pattern, its bounds and the centre of the idle gap.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Pacing.
    pub pattern: Pattern,
    /// Concurrent clients.
    pub clients: usize,
    /// Request budget over all clients.
    pub requests: Option<u64>,
    /// Wall-clock bound.
    pub duration: Option<Duration>,
    /// Centre of the idle gap.
    pub gap: Duration,
    /// Half-width of the idle gap draw.
    pub gap_spread: Duration,
    /// Requests per second over all clients (`rate` pattern).
    pub rate: Option<f64>,
    /// Seed of the gap draws.
    pub seed: u64,
    /// Client threads, each with a single-threaded runtime; 0 = the clients run on the caller's runtime.
    pub threads: usize,
}

impl LoadPlan {
    /// Resolves `[load]`; `default_gap` (the back's keep-alive timeout) is the gap's centre when not given.
    pub fn new(load: &LoadConfig, default_gap: Duration) -> Self {
        Self {
            pattern: load.pattern,
            clients: load.clients,
            requests: load.request_budget(),
            duration: load.duration,
            gap: load.gap.unwrap_or(default_gap),
            gap_spread: load.gap_spread,
            rate: load.rate,
            seed: load.seed,
            threads: load.threads,
        }
    }
}

/// Records a client gathers before it sends them to the collector in one message: one channel operation and
/// one collector wake-up per batch instead of per request. A client that is about to wait sends what it has.
pub const RECORD_BATCH: usize = 64;

/// Drives the load to completion (budget spent, deadline passed, or `stop` fired). Returns how many requests
/// were started; every started request produces exactly one record on `records`.
///
/// With `plan.threads` > 0 the clients run on that many client threads, which stop once every client has
/// ended. Should the threads fail to start, the clients run on the caller's runtime and the failure is logged.
pub async fn drive(
    plan: &LoadPlan,
    target: &Target,
    records: mpsc::Sender<Vec<Record>>,
    stop: ShutdownSignal,
) -> u64 {
    let budget = plan.requests.map(AtomicU64::new).map(Arc::new);
    let started = Arc::new(AtomicU64::new(0));
    let deadline = plan.duration.map(|d| tokio::time::Instant::now() + d);
    let client_threads = start_client_threads(plan.threads);
    // Clients on this runtime are aborted if `drive` is dropped; those on client threads are dropped with
    // the threads' runtimes when `client_threads` is.
    let mut on_this_runtime = tokio::task::JoinSet::new();
    let mut on_client_threads = Vec::new();
    let began = Instant::now();
    for client in 0..plan.clients {
        let worker = Worker {
            client,
            began,
            plan: plan.clone(),
            target: target.clone(),
            records: records.clone(),
            batch: Vec::with_capacity(RECORD_BATCH),
            budget: budget.clone(),
            started: started.clone(),
            deadline,
            stop: stop.clone(),
            rng: StdRng::seed_from_u64(
                plan.seed
                    .wrapping_mul(1_000_003)
                    .wrapping_add(client as u64),
            ),
        };
        match &client_threads {
            Some(threads) => on_client_threads.push(threads.spawn(worker.run())),
            None => {
                on_this_runtime.spawn(worker.run());
            }
        }
    }
    drop(records);
    // A client that panicked lost the records it had not sent yet: they show as `unaccounted`.
    while on_this_runtime.join_next().await.is_some() {}
    for client in on_client_threads {
        let _ = client.await;
    }
    // Dropping the last handle stops the client threads.
    drop(client_threads);
    started.load(Ordering::Relaxed)
}

/// Starts `count` client threads; none for 0, or when they cannot be started (the failure is logged).
fn start_client_threads(count: usize) -> Option<Shards> {
    if count == 0 {
        return None;
    }
    match Shards::start(count, "load-client") {
        Ok(threads) => Some(threads),
        Err(error) => {
            tracing::error!(
                %error,
                count,
                "cannot start the load's client threads; the clients run on the main runtime"
            );
            None
        }
    }
}

struct Worker {
    client: usize,
    began: Instant,
    plan: LoadPlan,
    target: Target,
    records: mpsc::Sender<Vec<Record>>,
    /// Records not sent to the collector yet (see [`RECORD_BATCH`]).
    batch: Vec<Record>,
    budget: Option<Arc<AtomicU64>>,
    started: Arc<AtomicU64>,
    deadline: Option<tokio::time::Instant>,
    stop: ShutdownSignal,
    rng: StdRng,
}

/// A worker's connection: the hand-spoken client or hyper's (see the module docs for which pattern uses which).
enum Connection {
    Raw(RawConnection),
    Hyper(ClientConnection),
}

impl Connection {
    fn for_pattern(pattern: Pattern, target: Target) -> Self {
        match pattern {
            Pattern::Closed | Pattern::Rate => Connection::Raw(RawConnection::new(target)),
            Pattern::IdleGap => Connection::Hyper(ClientConnection::new(target)),
        }
    }

    async fn send(&mut self, intended: Instant) -> Record {
        match self {
            Connection::Raw(raw) => raw.send(intended).await,
            Connection::Hyper(hyper) => hyper.send(intended).await,
        }
    }

    async fn close(self) {
        match self {
            Connection::Raw(raw) => raw.close().await,
            Connection::Hyper(hyper) => hyper.close().await,
        }
    }
}

impl Worker {
    async fn run(mut self) {
        let mut connection = Connection::for_pattern(self.plan.pattern, self.target.clone());
        self.send_all(&mut connection).await;
        // Whatever ended the loop, the records of every request it started reach the collector.
        self.flush().await;
        connection.close().await;
    }

    /// Hands the batched records to the collector; false when the collector is gone.
    async fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(RECORD_BATCH));
        self.records.send(batch).await.is_ok()
    }

    /// Sends until the budget is spent, the deadline passes or the run is stopped.
    async fn send_all(&mut self, connection: &mut Connection) {
        let mut intended = self.first_send();
        let mut sent: u64 = 0;
        // Idle-gap pattern only: when the previous response on this connection ended, to measure each
        // request's actual gap (`Record::idle_gap`).
        let mut previous_end: Option<Instant> = None;
        loop {
            // A client about to wait hands over what it has first, so progress and Ctrl-C see records promptly;
            // a closed loop never waits and sends them in batches.
            if intended > Instant::now()
                && (!self.flush().await || !self.wait_until(intended).await)
            {
                return;
            }
            if self.stop.is_triggered() || self.past_deadline() || !self.claim() {
                return;
            }
            let sent_at = (self.plan.pattern == Pattern::IdleGap).then(Instant::now);
            let mut record = connection.send(intended).await;
            // When the response ended (its latency runs from `intended`), without reading the clock again.
            let finished = intended + record.latency;
            if let Some(sent_at) = sent_at {
                record.idle_gap = previous_end
                    .filter(|_| record.reused_connection)
                    .map(|end| sent_at.saturating_duration_since(end));
                previous_end = Some(finished);
            }
            sent += 1;
            self.batch.push(record);
            if self.batch.len() >= RECORD_BATCH && !self.flush().await {
                return;
            }
            intended = match self.plan.pattern {
                Pattern::Closed => finished,
                Pattern::IdleGap => finished + self.draw_gap(),
                // The schedule is fixed in advance: a late response does not move the next intended send.
                Pattern::Rate => self.first_send() + self.interval().mul_f64(sent as f64),
            };
        }
    }

    /// When this client's first request is due: at once, or for `rate`, at its phase within the interval so
    /// the clients' schedules interleave evenly.
    fn first_send(&self) -> Instant {
        match self.plan.pattern {
            Pattern::Rate => {
                self.began
                    + self
                        .interval()
                        .mul_f64(self.client as f64 / self.plan.clients as f64)
            }
            _ => self.began,
        }
    }

    /// The interval between one client's intended sends under `rate`.
    fn interval(&self) -> Duration {
        let per_client = self.plan.rate.unwrap_or(1.0) / self.plan.clients as f64;
        Duration::from_secs_f64(1.0 / per_client.max(1e-6))
    }

    /// Sleeps until `intended` unless the deadline or the stop comes first; false when the run is over. The
    /// send times are the experiment (an idle gap against a KeepAliveTimeout), so the wait ends within a
    /// fraction of a millisecond of `intended` (`precise_timer`), not at tokio's next millisecond tick.
    async fn wait_until(&mut self, intended: Instant) -> bool {
        if intended <= Instant::now() {
            return true;
        }
        if let Some(deadline) = self
            .deadline
            .filter(|d| *d < tokio::time::Instant::from_std(intended))
        {
            // The next send would fall after the deadline: the run still lasts until the deadline, so its
            // throughput is counted over the time asked for, not over the first responses alone.
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = self.stop.triggered() => {}
            }
            return false;
        }
        tokio::select! {
            () = precise_timer::sleep_until(intended) => true,
            () = self.stop.triggered() => false,
        }
    }

    fn past_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|d| tokio::time::Instant::now() >= d)
    }

    /// Takes one request from the budget; false when it is spent.
    fn claim(&self) -> bool {
        let claimed = match &self.budget {
            None => true,
            Some(budget) => budget
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                    left.checked_sub(1)
                })
                .is_ok(),
        };
        if claimed {
            self.started.fetch_add(1, Ordering::Relaxed);
        }
        claimed
    }

    fn draw_gap(&mut self) -> Duration {
        let centre = self.plan.gap.as_secs_f64();
        let spread = self.plan.gap_spread.as_secs_f64();
        let gap = if spread > 0.0 {
            self.rng.random_range((centre - spread)..=(centre + spread))
        } else {
            centre
        };
        Duration::from_secs_f64(gap.max(0.0))
    }
}
