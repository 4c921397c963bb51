//! Worker threads for connection tasks, one single-threaded tokio runtime each (thread per core, as nginx's
//! worker processes and HAProxy's threads are).
//!
//! By default a server runs its connection tasks on the runtime that accepts them. On tokio's multi-thread
//! runtime every task can run on every worker, and a proxy's request path hands work between tasks (the client
//! connection, the upstream connection's driver): each hand-over may wake a parked worker thread on another
//! core. The gateway's profile showed those wake-ups and task switches as its largest cost. A shard is a thread
//! with a current-thread runtime of its own: a connection accepted onto it lives there, its sockets are
//! registered with that thread's reactor, and everything it starts (hyper's upstream driver tasks included)
//! stays on that thread. The accept loop deals connections out round robin.
//!
//! [`shard_index`] tells code on a shard which one it is, so per-thread state (the gateway's idle pool) can be
//! kept per shard. Dropping the last [`Shards`] handle stops the threads; tasks still running on them are
//! dropped with their runtimes.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

thread_local! {
    static SHARD_INDEX: Cell<usize> = const { Cell::new(0) };
}

/// The index of the shard this code runs on; 0 off the shards (a shard-less server, tests, the main runtime).
pub fn shard_index() -> usize {
    SHARD_INDEX.with(Cell::get)
}

/// A set of shard threads; cheap to clone, the threads stop when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Shards {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    handles: Vec<Handle>,
    next: AtomicUsize,
    /// Dropping these ends each thread's `block_on`, which drops its runtime.
    _stop: Vec<oneshot::Sender<()>>,
}

impl Shards {
    /// Starts `count` shard threads named `{name}-{i}` (at least one).
    pub fn start(count: usize, name: &str) -> io::Result<Shards> {
        let count = count.max(1);
        let mut handles = Vec::with_capacity(count);
        let mut stops = Vec::with_capacity(count);
        for index in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let (stop, stopped) = oneshot::channel::<()>();
            stops.push(stop);
            std::thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || {
                    SHARD_INDEX.with(|cell| cell.set(index));
                    let _ = runtime.block_on(stopped);
                })?;
        }
        Ok(Shards {
            inner: Arc::new(Inner {
                handles,
                next: AtomicUsize::new(0),
                _stop: stops,
            }),
        })
    }

    /// How many shard threads there are.
    pub fn len(&self) -> usize {
        self.inner.handles.len()
    }

    /// Always false: there is at least one shard.
    pub fn is_empty(&self) -> bool {
        self.inner.handles.is_empty()
    }

    /// Runs `task` on the next shard, round robin. The task is dropped if the shards stop first.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let next = self.inner.next.fetch_add(1, Ordering::Relaxed) % self.inner.handles.len();
        self.inner.handles[next].spawn(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_are_dealt_round_robin_and_know_their_shard() {
        let shards = Shards::start(2, "test-shard").unwrap();
        assert_eq!(shards.len(), 2);
        let mut seen = Vec::new();
        for _ in 0..4 {
            let (tx, rx) = oneshot::channel();
            shards.spawn(async move {
                let _ = tx.send((
                    shard_index(),
                    std::thread::current().name().map(str::to_owned),
                ));
            });
            seen.push(rx.await.unwrap());
        }
        let indexes: Vec<usize> = seen.iter().map(|(index, _)| *index).collect();
        assert_eq!(indexes, vec![0, 1, 0, 1]);
        assert_eq!(seen[1].1.as_deref(), Some("test-shard-1"));
        // Off the shards, the index is 0.
        assert_eq!(shard_index(), 0);
    }
}
