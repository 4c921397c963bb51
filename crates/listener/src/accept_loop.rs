//! Bind a TCP listener, accept connections, spawn one task per connection (on the accepting runtime or on a
//! shard thread), refuse the ones over the limit, stop on shutdown and drain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::shards::Shards;
use crate::shutdown::{Shutdown, ShutdownSignal};

/// A canned answer for HTTP tiers to give a connection over the limit: `503`, `Connection: close`, a short
/// body. The listener itself knows nothing of HTTP: it writes these bytes and closes.
pub const HTTP_503_REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain; charset=utf-8\r\n\
content-length: 28\r\n\
connection: close\r\n\
\r\n\
server at connection limit\r\n";

/// Refusals in progress at once; past that an over-limit connection is closed without a word, so a flood of
/// connections cannot grow the refusal tasks without bound either.
const MAX_REFUSALS_IN_FLIGHT: usize = 256;

/// How long a refusal may take to write its bytes and see the client's EOF before the socket is dropped.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

/// How many connections a server holds at once, and what it tells the ones over the limit.
///
/// Over the limit a connection is still accepted (so it does not sit in the kernel's backlog, unanswered):
/// it gets `refusal` (when set), its write side is shut, what it sent is read and discarded for up to a
/// second (so its unread request cannot turn the close into an RST that would destroy the refusal), and it
/// is closed. With no `refusal` it is closed at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionLimit {
    /// Live connections at most; `None` = unlimited.
    pub max: Option<usize>,
    /// Bytes written to a connection over the limit before it is closed.
    pub refusal: Option<&'static [u8]>,
}

impl ConnectionLimit {
    /// No limit.
    pub const UNLIMITED: ConnectionLimit = ConnectionLimit {
        max: None,
        refusal: None,
    };

    /// At most `max` live connections (0 = unlimited), over-limit connections closed at once.
    pub const fn new(max: usize) -> ConnectionLimit {
        ConnectionLimit {
            max: if max == 0 { None } else { Some(max) },
            refusal: None,
        }
    }

    /// The same limit, telling over-limit connections `refusal` first.
    pub const fn with_refusal(self, refusal: &'static [u8]) -> ConnectionLimit {
        ConnectionLimit {
            refusal: Some(refusal),
            ..self
        }
    }
}

/// The listen address could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The address that was asked for.
    pub addr: SocketAddr,
    /// What the kernel said.
    #[source]
    pub source: std::io::Error,
}

/// What the accept loop and the connection tasks count, readable through the handle.
#[derive(Debug)]
struct Counts {
    /// Live connection tasks (refusals not included).
    live: watch::Sender<usize>,
    /// Connections refused because the limit was reached.
    refused: AtomicU64,
}

/// Held by a connection task; its drop (the task's end, a panic included) takes the connection off the count.
struct LiveGuard(Arc<Counts>);

impl LiveGuard {
    fn new(counts: Arc<Counts>) -> LiveGuard {
        counts.live.send_modify(|live| *live += 1);
        LiveGuard(counts)
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.send_modify(|live| *live -= 1);
    }
}

/// A running server: its bound address, its shutdown trigger and its accept task.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    shutdown: Shutdown,
    accept_task: JoinHandle<()>,
    counts: Arc<Counts>,
    /// Kept until the handle is dropped, so connection tasks on the shards outlive the accept loop and drain.
    _shards: Option<Shards>,
}

impl ServerHandle {
    /// The address the server actually listens on (port 0 resolved).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A listener for this server's shutdown, for tasks that belong to it.
    pub fn shutdown_signal(&self) -> ShutdownSignal {
        self.shutdown.signal()
    }

    /// Connection tasks running now.
    pub fn live_connections(&self) -> usize {
        *self.counts.live.borrow()
    }

    /// Connections refused so far because the limit was reached.
    pub fn refused_connections(&self) -> u64 {
        self.counts.refused.load(Ordering::Relaxed)
    }

    /// Stops accepting and tells every connection task to finish; waits for the accept loop to exit (not for
    /// the connection tasks: see [`ServerHandle::drain`]).
    pub async fn stop(self) {
        self.shutdown.trigger();
        let _ = self.accept_task.await;
    }

    /// Stops accepting, tells every connection task to finish, and waits up to `grace` for them to end.
    /// Returns how many were still running when it gave up (0 = drained).
    pub async fn drain(self, grace: Duration) -> usize {
        self.shutdown.trigger();
        let _ = self.accept_task.await;
        let mut live = self.counts.live.subscribe();
        let _ = tokio::time::timeout(grace, live.wait_for(|live| *live == 0)).await;
        *live.borrow()
    }
}

/// Binds `addr` and serves every accepted connection with `on_connection` in its own task.
///
/// `limit` bounds the live connections: a connection accepted over it is refused as [`ConnectionLimit`] says,
/// and never reaches `on_connection`. The connection task gets the shutdown signal and must return soon after
/// it fires.
pub async fn serve<F, Fut>(
    addr: SocketAddr,
    limit: ConnectionLimit,
    on_connection: F,
) -> Result<ServerHandle, BindError>
where
    F: Fn(TcpStream, SocketAddr, ShutdownSignal) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    serve_on(addr, limit, None, on_connection).await
}

/// [`serve`], with every connection task run on one of `shards` (round robin) when given; the accept loop
/// stays on the calling runtime. The connection's socket is registered with its shard's reactor, so
/// `on_connection` runs on the shard thread.
pub async fn serve_on<F, Fut>(
    addr: SocketAddr,
    limit: ConnectionLimit,
    shards: Option<Shards>,
    on_connection: F,
) -> Result<ServerHandle, BindError>
where
    F: Fn(TcpStream, SocketAddr, ShutdownSignal) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = bind(addr).map_err(|source| BindError { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| BindError { addr, source })?;
    let (shutdown, signal) = Shutdown::new();
    let counts = Arc::new(Counts {
        live: watch::Sender::new(0),
        refused: AtomicU64::new(0),
    });
    let accept_task = tokio::spawn(accept_loop(
        listener,
        limit,
        shards.clone(),
        counts.clone(),
        signal,
        Arc::new(on_connection),
    ));
    Ok(ServerHandle {
        local_addr,
        shutdown,
        accept_task,
        counts,
        _shards: shards,
    })
}

async fn accept_loop<F, Fut>(
    listener: TcpListener,
    limit: ConnectionLimit,
    shards: Option<Shards>,
    counts: Arc<Counts>,
    mut signal: ShutdownSignal,
    on_connection: Arc<F>,
) where
    F: Fn(TcpStream, SocketAddr, ShutdownSignal) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = limit.max.map(|n| Arc::new(Semaphore::new(n.max(1))));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS_IN_FLIGHT));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = signal.triggered() => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // EMFILE and friends: say so, back off briefly instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let permit = match &slots {
            Some(slots) => match slots.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    counts.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, max = ?limit.max, "connection limit reached: refusing");
                    if let (Some(refusal), Ok(slot)) =
                        (limit.refusal, refusals.clone().try_acquire_owned())
                    {
                        tokio::spawn(async move {
                            refuse(stream, refusal).await;
                            drop(slot);
                        });
                    }
                    continue;
                }
            },
            None => None,
        };
        let _ = stream.set_nodelay(true);
        let live = LiveGuard::new(counts.clone());
        let signal = signal.clone();
        match &shards {
            None => {
                let task = on_connection(stream, peer, signal);
                tokio::spawn(async move {
                    task.await;
                    drop(permit);
                    drop(live);
                });
            }
            Some(shards) => {
                // The socket moves to the shard's reactor: deregistered here, registered there.
                let stream = match stream.into_std() {
                    Ok(stream) => stream,
                    Err(error) => {
                        tracing::warn!(%peer, %error, "cannot hand the connection to a shard");
                        continue;
                    }
                };
                let on_connection = on_connection.clone();
                shards.spawn(async move {
                    match TcpStream::from_std(stream) {
                        Ok(stream) => on_connection(stream, peer, signal).await,
                        Err(error) => {
                            tracing::warn!(%peer, %error, "cannot register the connection on its shard");
                        }
                    }
                    drop(permit);
                    drop(live);
                });
            }
        }
    }
}

/// How many connections the kernel may queue before they are accepted (capped by `net.core.somaxconn`). A burst
/// of clients connecting at once (a load test's start, 10,000 keep-alive clients) must not overflow it: an
/// overflowed SYN is retried by the client a second later, a latency spike nobody asked for. nginx uses 511.
const LISTEN_BACKLOG: u32 = 1024;

/// Binds `addr` with `SO_REUSEADDR` and [`LISTEN_BACKLOG`].
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Tells an over-limit connection `refusal` and closes it without destroying what it was told.
async fn refuse(mut stream: TcpStream, refusal: &'static [u8]) {
    let told = async {
        stream.write_all(refusal).await?;
        stream.shutdown().await?;
        // Read and discard until the client's EOF: closing with its request unread would send an RST, and an
        // RST makes the client's kernel drop the refusal it has not read yet.
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, told).await;
}
#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn serves_connections_until_stopped() {
        let handle = serve(
            "127.0.0.1:0".parse().unwrap(),
            ConnectionLimit::new(4),
            |mut stream, _, _| async move {
                let _ = stream.write_all(b"hi").await;
            },
        )
        .await
        .unwrap();
        let addr = handle.local_addr();
        assert_ne!(addr.port(), 0);
        let mut client = TcpStream::connect(addr).await.unwrap();
        let mut buf = Vec::new();
        client.read_to_end(&mut buf).await.unwrap();
        assert_eq!(buf, b"hi");
        handle.stop().await;
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn bind_error_names_the_address() {
        let first = serve(
            "127.0.0.1:0".parse().unwrap(),
            ConnectionLimit::UNLIMITED,
            |_, _, _| async {},
        )
        .await
        .unwrap();
        let taken = first.local_addr();
        let error = serve(taken, ConnectionLimit::UNLIMITED, |_, _, _| async {})
            .await
            .unwrap_err();
        assert!(error.to_string().contains(&taken.to_string()), "{error}");
        first.stop().await;
    }

    #[tokio::test]
    async fn connections_over_the_limit_are_refused_with_the_given_bytes_and_counted() {
        let (release, released) = watch::channel(false);
        let handle = serve(
            "127.0.0.1:0".parse().unwrap(),
            ConnectionLimit::new(2).with_refusal(HTTP_503_REFUSAL),
            move |mut stream, _, _| {
                let mut released = released.clone();
                async move {
                    let _ = released.wait_for(|go| *go).await;
                    let _ = stream.write_all(b"served").await;
                }
            },
        )
        .await
        .unwrap();
        let addr = handle.local_addr();
        let held = [
            TcpStream::connect(addr).await.unwrap(),
            TcpStream::connect(addr).await.unwrap(),
        ];
        let mut live = handle.counts.live.subscribe();
        live.wait_for(|live| *live == 2).await.unwrap();
        for _ in 0..3 {
            let mut over = TcpStream::connect(addr).await.unwrap();
            over.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
                .await
                .unwrap();
            let mut answer = Vec::new();
            over.read_to_end(&mut answer).await.unwrap();
            assert_eq!(answer, HTTP_503_REFUSAL);
        }
        assert_eq!(handle.refused_connections(), 3);
        assert_eq!(handle.live_connections(), 2);
        release.send_replace(true);
        for mut stream in held {
            let mut buf = Vec::new();
            stream.read_to_end(&mut buf).await.unwrap();
            assert_eq!(buf, b"served");
        }
        assert_eq!(handle.drain(Duration::from_secs(5)).await, 0);
    }

    #[tokio::test]
    async fn drain_waits_for_connection_tasks_up_to_the_grace() {
        let handle = serve(
            "127.0.0.1:0".parse().unwrap(),
            ConnectionLimit::UNLIMITED,
            |mut stream, _, mut shutdown| async move {
                shutdown.triggered().await;
                let _ = stream.write_all(b"bye").await;
            },
        )
        .await
        .unwrap();
        let mut client = TcpStream::connect(handle.local_addr()).await.unwrap();
        let mut live = handle.counts.live.subscribe();
        live.wait_for(|live| *live == 1).await.unwrap();
        assert_eq!(handle.drain(Duration::from_secs(5)).await, 0);
        let mut buf = Vec::new();
        client.read_to_end(&mut buf).await.unwrap();
        assert_eq!(buf, b"bye");
    }

    #[tokio::test]
    async fn sharded_connections_run_on_the_shard_threads_and_drain() {
        let shards = Shards::start(2, "accept-test").unwrap();
        let handle = serve_on(
            "127.0.0.1:0".parse().unwrap(),
            ConnectionLimit::UNLIMITED,
            Some(shards),
            |mut stream, _, mut shutdown| async move {
                // The shard's name, then wait for the drain and say goodbye.
                let name = std::thread::current().name().unwrap_or("?").to_owned();
                let _ = stream.write_all(format!("{name}\n").as_bytes()).await;
                shutdown.triggered().await;
                let _ = stream.write_all(b"bye").await;
            },
        )
        .await
        .unwrap();
        let mut clients = Vec::new();
        let mut names = Vec::new();
        for _ in 0..2 {
            let mut client = TcpStream::connect(handle.local_addr()).await.unwrap();
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            while client.read_exact(&mut byte).await.is_ok() && byte[0] != b'\n' {
                line.push(byte[0]);
            }
            names.push(String::from_utf8(line).unwrap());
            clients.push(client);
        }
        names.sort();
        assert_eq!(names, vec!["accept-test-0", "accept-test-1"]);
        // The accept loop ends first; the shards keep running the connections until they finish.
        assert_eq!(handle.drain(Duration::from_secs(5)).await, 0);
        for mut client in clients {
            let mut buf = Vec::new();
            client.read_to_end(&mut buf).await.unwrap();
            assert_eq!(buf, b"bye");
        }
    }

    #[tokio::test]
    async fn the_kernel_queues_a_burst_of_connections_past_the_old_backlog_of_128() {
        // Nothing accepts: every connect that completes was queued by the kernel. With tokio's default backlog
        // (128) the 129th would wait on SYN retries, never answered.
        // The kernel caps every backlog at net.core.somaxconn (4096 by default since Linux 5.4).
        let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(4096);
        let burst = somaxconn.min(300);
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let held = tokio::time::timeout(Duration::from_secs(10), async {
            let mut held = Vec::new();
            for _ in 0..burst {
                held.push(TcpStream::connect(addr).await.unwrap());
            }
            held
        })
        .await
        .expect("the burst's connects complete without an accept");
        assert_eq!(held.len(), burst);
    }
}
