//! Opening one upstream connection: TCP connect within `connect_timeout`, `TCP_NODELAY`, a byte-counting IO
//! wrapper, the hyper HTTP/1 client handshake, and the spawned task that drives the connection.
//!
//! The byte counter is what lets classification say exactly whether any response byte arrived for a request:
//! the proxy reads it before sending and again after a failure. This module does not pool, retry or classify
//! send failures; it only maps connect failures to a [`Cause`].
//!
//! Parking: an idle hyper client connection holds a read buffer, a write buffer and a request channel (about
//! 24 KiB) for as long as it lives. [`UpstreamConn::park`] (the pool calls it for a connection idle for
//! `upstream_park_after`) drops hyper's handle; the driver takes hyper's connection apart
//! (`poll_without_shutdown`, `into_parts`), frees all three and watches the bare socket. Readable then means
//! the backend closed it (FIN, RST) or sent bytes nobody asked for: the connection is closed and
//! [`UpstreamConn::is_closed`] says so, as it would have with hyper. [`UpstreamConn::ready`] wakes it: the
//! driver builds a new hyper connection on the same socket and hands back its handle. For the same reason the
//! driver runs hyper without its shutdown: after a `101` it hands the socket to the tunnel itself
//! ([`UpstreamConn::expect_upgrade`]) instead of hyper's upgrade machinery.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{TrySendError, http1};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::Cause;
use timeline::{Conn, ConnLog, EventKind, Recorder};

/// A recorder that never records, for connections opened outside a gateway (benches, tests).
static NOT_RECORDING: Recorder = Recorder::new();

/// The request type every upstream connection carries: the body is buffered so a retry can resend it.
pub(crate) type UpstreamRequest = Request<Full<Bytes>>;

/// Connection ids, unique in the process, so log lines about one connection can be joined.
static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// One open HTTP/1 connection to a backend member. Dropping it closes the connection at once.
#[derive(Debug)]
pub(crate) struct UpstreamConn {
    /// Unique id, for the logs.
    pub(crate) id: u64,
    /// When the TCP connection was established.
    pub(crate) created_at: Instant,
    /// hyper's handle; `None` while parked (its channel, about 8 KiB, is freed with it).
    sender: Option<http1::SendRequest<Full<Bytes>>>,
    shared: Arc<Shared>,
    driver: AbortHandle,
    /// With a request that asked for an `Upgrade`: where the socket arrives if the answer is `101`.
    upgrade: Option<oneshot::Receiver<UpgradedIo>>,
    /// Its events for the timelines (off unless the gateway's recorder is on).
    pub(crate) log: ConnLog,
}

/// What a connection and its driver task share.
#[derive(Debug, Default)]
struct Shared {
    /// Bytes received from the backend so far.
    bytes_read: AtomicU64,
    /// Nanoseconds after `created_at` of the last read that returned bytes (0: none yet).
    last_read_ns: AtomicU64,
    saw_reset: AtomicBool,
    /// The socket is closed, or the driver ended: set by the driver on its way out.
    closed: AtomicBool,
    /// A park was asked for and the driver has not taken hyper's connection apart yet.
    park: AtomicBool,
    /// Where a parked driver sends the new hyper handle when it is woken.
    unpark: Mutex<Option<oneshot::Sender<http1::SendRequest<Full<Bytes>>>>>,
    /// Where the driver sends the socket when hyper's connection ends after a `101`.
    upgrade: Mutex<Option<oneshot::Sender<UpgradedIo>>>,
    /// Wakes the driver: a park or an unpark was asked for.
    wake: Notify,
}

/// The upstream socket after a `101`, with the bytes hyper had read past the response head.
#[derive(Debug)]
pub(crate) struct UpgradedIo {
    pub(crate) io: CountingStream,
    pub(crate) early: Bytes,
}

/// A connection that closed while parked, found when it was woken: nothing was written on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClosedWhileParked;

/// Why [`UpstreamConn::send`] failed.
#[derive(Debug)]
pub(crate) enum SendFailure {
    /// hyper's failure; the request comes back when it was not written ([`TrySendError::take_message`]).
    Hyper(TrySendError<UpstreamRequest>),
    /// The connection is parked and its socket closed: the request was not written.
    Parked(UpstreamRequest),
}

impl UpstreamConn {
    /// Bytes received from the backend on this connection so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.shared.bytes_read.load(Ordering::Acquire)
    }

    /// When the socket last returned bytes (the connection's creation before any): for a response read to
    /// its end, the arrival of its last byte, which is when its idle time starts (the backend's keep-alive
    /// clock started one link crossing earlier still).
    pub(crate) fn last_read_at(&self) -> Instant {
        self.created_at + Duration::from_nanos(self.shared.last_read_ns.load(Ordering::Acquire))
    }

    /// True once a read or a write on the socket failed with a reset (ECONNRESET, EPIPE, ECONNABORTED).
    ///
    /// hyper does not always carry that error to the request that fails: when the RST lands while the
    /// request is being written, the write fails, the next read returns 0 (Linux reports an RST once), and
    /// hyper says "connection closed before message completed" with no `io::Error` behind it. The socket
    /// knows better, so the classification asks it.
    pub(crate) fn saw_reset(&self) -> bool {
        self.shared.saw_reset.load(Ordering::Acquire)
    }

    /// True once the connection is known gone: hyper read the FIN or RST, the parked socket did, or the
    /// driver ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
            || self
                .sender
                .as_ref()
                .is_some_and(|sender| sender.is_closed())
    }

    /// True while the connection is parked: its socket is held without hyper's buffers.
    pub(crate) fn is_parked(&self) -> bool {
        self.sender.is_none()
    }

    /// Parks an idle connection: hyper's connection is taken apart (its read and write buffers and its
    /// request channel are freed) and the driver holds only the socket, watching it for the backend's close;
    /// [`UpstreamConn::ready`] builds a new hyper connection on the same socket. Only for a connection with no
    /// request in flight and its last response read to the end (the pool parks idle connections only).
    pub(crate) fn park(&mut self) {
        if self.sender.take().is_some() {
            self.shared.park.store(true, Ordering::Release);
            self.shared.wake.notify_one();
        }
    }

    /// Waits until the connection can take a request (waking it first if it is parked); fails if it closed
    /// meanwhile.
    pub(crate) async fn ready(&mut self) -> Result<(), ClosedWhileParked> {
        if self.sender.is_none() {
            let (reply, woken) = oneshot::channel();
            if let Ok(mut slot) = self.shared.unpark.lock() {
                *slot = Some(reply);
            }
            self.shared.wake.notify_one();
            self.sender = Some(woken.await.map_err(|_| ClosedWhileParked)?);
        }
        match self.sender.as_mut() {
            Some(sender) => sender.ready().await.map_err(|_| ClosedWhileParked),
            None => Err(ClosedWhileParked),
        }
    }

    /// Before sending a request that asks for an `Upgrade`: a `101` answer will hand the socket over
    /// ([`UpstreamConn::take_upgrade`]) instead of closing it.
    pub(crate) fn expect_upgrade(&mut self) {
        let (sender, receiver) = oneshot::channel();
        if let Ok(mut slot) = self.shared.upgrade.lock() {
            *slot = Some(sender);
        }
        self.upgrade = Some(receiver);
    }

    /// Before sending a request that asks for no `Upgrade`: an earlier one's expectation (answered with
    /// something else than `101`) is dropped, so the connection's end closes the socket.
    pub(crate) fn forget_upgrade(&mut self) {
        if self.upgrade.take().is_some()
            && let Ok(mut slot) = self.shared.upgrade.lock()
        {
            *slot = None;
        }
    }

    /// After a `101`: where the socket arrives once hyper has let go of it.
    pub(crate) fn take_upgrade(&mut self) -> Option<oneshot::Receiver<UpgradedIo>> {
        self.upgrade.take()
    }

    /// Sends `request`. A failure that happened before the request was written gives the request back.
    pub(crate) async fn send(
        &mut self,
        request: UpstreamRequest,
    ) -> Result<Response<Incoming>, SendFailure> {
        if self.sender.is_none() && self.ready().await.is_err() {
            return Err(SendFailure::Parked(request));
        }
        match self.sender.as_mut() {
            Some(sender) => sender
                .try_send_request(request)
                .await
                .map_err(SendFailure::Hyper),
            None => Err(SendFailure::Parked(request)),
        }
    }
}

impl Drop for UpstreamConn {
    fn drop(&mut self) {
        // Dropping only the sender would let hyper close politely once idle; a discarded connection must close
        // now, so a pool's decision is visible to the backend at once.
        self.driver.abort();
    }
}

/// Connects to the first of `addrs` that accepts, within `limit` in total, and performs the HTTP/1 handshake.
pub(crate) async fn connect(
    backend: &str,
    addrs: &[SocketAddr],
    limit: Duration,
) -> Result<UpstreamConn, Cause> {
    connect_recorded(backend, addrs, limit, &NOT_RECORDING).await
}

/// [`connect`], with the connection's events in a log from `recorder` (when it is on).
pub(crate) async fn connect_recorded(
    backend: &str,
    addrs: &[SocketAddr],
    limit: Duration,
    recorder: &Recorder,
) -> Result<UpstreamConn, Cause> {
    let stream = match tokio::time::timeout(limit, connect_any(addrs)).await {
        Err(_) => return Err(Cause::ConnectTimeout),
        Ok(Err(error)) if error.kind() == io::ErrorKind::ConnectionRefused => {
            return Err(Cause::ConnectRefused);
        }
        Ok(Err(error)) => {
            // Unreachable networks, resets during the handshake, no local ports: the member is down for us.
            tracing::warn!(backend, %error, "upstream connect failed");
            return Err(Cause::ConnectRefused);
        }
        Ok(Ok(stream)) => stream,
    };
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(backend, %error, "cannot set TCP_NODELAY");
    }
    let mut log = recorder.open(|| {
        Some(Conn {
            local: stream.local_addr().ok()?,
            peer: stream.peer_addr().ok()?,
        })
    });
    log.record(EventKind::Connected);
    let id = NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed);
    let shared = Arc::new(Shared::default());
    let created_at = Instant::now();
    let io = CountingStream {
        inner: stream,
        created_at,
        shared: shared.clone(),
    };
    // The HTTP/1 handshake writes nothing; it cannot fail on a connected socket, but stay honest about it.
    let (sender, connection) = http1::handshake(TokioIo::new(io)).await.map_err(|error| {
        tracing::warn!(backend, %error, "upstream handshake failed");
        Cause::FreshClosed
    })?;
    let driver = tokio::spawn(drive(
        Box::new(connection),
        shared.clone(),
        backend.into(),
        id,
    ))
    .abort_handle();
    tracing::debug!(backend, connection = id, "upstream connection opened");
    Ok(UpstreamConn {
        id,
        created_at,
        sender: Some(sender),
        shared,
        driver,
        upgrade: None,
        log,
    })
}

/// hyper's side of one upstream connection. Boxed in the driver: a parked driver's task then holds only
/// the socket, not room for hyper's state.
type HyperConnection = http1::Connection<TokioIo<CountingStream>, Full<Bytes>>;

/// The task behind an [`UpstreamConn`]: drives hyper's connection; when asked to park, takes it apart and
/// watches the bare socket until it is woken (a new hyper connection on the same socket) or the backend
/// closes it. After a `101` it hands the socket to the tunnel; otherwise it closes the socket as hyper would.
async fn drive(
    mut connection: Box<HyperConnection>,
    shared: Arc<Shared>,
    backend: Box<str>,
    id: u64,
) {
    loop {
        let ended = tokio::select! {
            biased;
            ended = poll_fn(|cx| connection.poll_without_shutdown(cx)) => Some(ended),
            () = shared.wake.notified() => None,
        };
        if let Some(Err(error)) = ended {
            tracing::debug!(%backend, connection = id, %error, "upstream connection ended");
            break;
        }
        // Parking drops hyper's handle, which ends hyper's connection at once (it is idle): either way round,
        // a park asked for is a park.
        let parking = shared.park.swap(false, Ordering::AcqRel);
        if ended.is_none() && !parking {
            continue;
        }
        // Out of its box, and the box freed with it: a parked task holds no room for hyper's state.
        let parts = {
            let boxed = connection;
            (*boxed).into_parts()
        };
        let mut io = parts.io.into_inner();
        if !parking {
            // hyper is done: after a `101` (its manual upgrade), or at the connection's end.
            let upgrade = shared.upgrade.lock().ok().and_then(|mut slot| slot.take());
            if let Some(upgrade) = upgrade.filter(|upgrade| !upgrade.is_closed()) {
                let _ = upgrade.send(UpgradedIo {
                    io,
                    early: parts.read_buf,
                });
                shared.closed.store(true, Ordering::Release);
                return;
            }
            let _ = io.shutdown().await;
            break;
        }
        if !parts.read_buf.is_empty() {
            tracing::debug!(%backend, connection = id, unread = parts.read_buf.len(), "idle upstream connection held unread bytes; closing it");
            break;
        }
        // hyper's read buffer: the parked task must not hold it.
        drop(parts.read_buf);
        let Some(reply) = park(&io, &shared).await else {
            tracing::debug!(%backend, connection = id, "parked upstream connection closed");
            break;
        };
        match http1::handshake(TokioIo::new(io)).await {
            Ok((sender, woken)) => {
                connection = Box::new(woken);
                // A waker that gave up leaves the connection parked in a pool that no longer has it.
                if reply.send(sender).is_err() {
                    break;
                }
            }
            Err(error) => {
                tracing::debug!(%backend, connection = id, %error, "upstream handshake failed");
                break;
            }
        }
    }
    shared.closed.store(true, Ordering::Release);
}

/// A parked connection's wait: until it is woken (the sender for its new hyper handle) or its socket becomes
/// readable, which on an idle connection means the backend closed it (FIN or RST) or sent bytes nobody asked
/// for: `None`, and the connection is closed.
async fn park(
    io: &CountingStream,
    shared: &Shared,
) -> Option<oneshot::Sender<http1::SendRequest<Full<Bytes>>>> {
    loop {
        if let Some(reply) = shared.unpark.lock().ok().and_then(|mut slot| slot.take()) {
            return Some(reply);
        }
        tokio::select! {
            biased;
            () = shared.wake.notified() => {}
            readable = io.inner.readable() => {
                readable.ok()?;
                let mut byte = [0u8; 1];
                match io.inner.try_read(&mut byte) {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(error) => {
                        io.note_error(&error);
                        return None;
                    }
                    Ok(read) => {
                        io.count(read);
                        return None;
                    }
                }
            }
        }
    }
}

/// Tries each address in turn; the last error wins.
pub(crate) async fn connect_any(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut last_error =
        io::Error::new(io::ErrorKind::AddrNotAvailable, "no address to connect to");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

/// A TCP stream that counts the bytes it reads and notes a reset seen by a read or a write.
#[derive(Debug)]
pub(crate) struct CountingStream {
    inner: TcpStream,
    created_at: Instant,
    shared: Arc<Shared>,
}

impl CountingStream {
    fn note<T>(&self, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(error)) = &polled {
            self.note_error(error);
        }
        polled
    }

    fn note_error(&self, error: &io::Error) {
        if is_reset(error.kind()) {
            self.shared.saw_reset.store(true, Ordering::Release);
        }
    }

    /// Counts `read` bytes received now.
    fn count(&self, read: usize) {
        if read > 0 {
            self.shared
                .bytes_read
                .fetch_add(read as u64, Ordering::Release);
            let since = Instant::now().saturating_duration_since(self.created_at);
            self.shared.last_read_ns.store(
                u64::try_from(since.as_nanos()).unwrap_or(u64::MAX),
                Ordering::Release,
            );
        }
    }
}

/// The error kinds a socket reports after an RST.
pub(crate) fn is_reset(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

impl AsyncRead for CountingStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.count(buf.filled().len().saturating_sub(before));
        this.note(polled)
    }
}

impl AsyncWrite for CountingStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.note(polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.note(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn refused_connect_is_connect_refused() {
        // Bound but not listening: a SYN gets an RST, and no concurrent test can take the port meanwhile.
        let closed =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        closed
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        let addr = closed.local_addr().unwrap().as_socket().unwrap();
        let result = connect("test", &[addr], Duration::from_secs(2)).await;
        assert_eq!(result.err(), Some(Cause::ConnectRefused));
    }

    #[tokio::test]
    async fn bytes_read_counts_what_the_backend_sent() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let backend = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buf)
                .await
                .unwrap();
            let response = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            stream.write_all(response).await.unwrap();
            response.len() as u64
        });
        let mut conn = connect("test", &[addr], Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(conn.bytes_read(), 0);
        let request = Request::get("/").body(Full::new(Bytes::new())).unwrap();
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let sent = backend.await.unwrap();
        http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap();
        assert_eq!(conn.bytes_read(), sent);
    }
}
