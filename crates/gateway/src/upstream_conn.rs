//! Opening one upstream connection: TCP connect within `connect_timeout`, `TCP_NODELAY`, a byte-counting IO
//! wrapper, the hyper HTTP/1 client handshake, and the spawned task that drives the connection.
//!
//! The byte counter is what lets classification say exactly whether any response byte arrived for a request:
//! the proxy reads it before sending and again after a failure. This module does not pool, retry or classify
//! send failures; it only maps connect failures to a [`Cause`].

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{TrySendError, http1};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
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
    sender: http1::SendRequest<Full<Bytes>>,
    bytes_read: Arc<AtomicU64>,
    /// Nanoseconds after `created_at` of the last read that returned bytes (0: none yet).
    last_read_ns: Arc<AtomicU64>,
    saw_reset: Arc<AtomicBool>,
    driver: AbortHandle,
    /// Its events for the timelines (off unless the gateway's recorder is on).
    pub(crate) log: ConnLog,
}

impl UpstreamConn {
    /// Bytes received from the backend on this connection so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Acquire)
    }

    /// When the socket last returned bytes (the connection's creation before any): for a response read to
    /// its end, the arrival of its last byte, which is when its idle time starts (the backend's keep-alive
    /// clock started one link crossing earlier still).
    pub(crate) fn last_read_at(&self) -> Instant {
        self.created_at + Duration::from_nanos(self.last_read_ns.load(Ordering::Acquire))
    }

    /// True once a read or a write on the socket failed with a reset (ECONNRESET, EPIPE, ECONNABORTED).
    ///
    /// hyper does not always carry that error to the request that fails: when the RST lands while the
    /// request is being written, the write fails, the next read returns 0 (Linux reports an RST once), and
    /// hyper says "connection closed before message completed" with no `io::Error` behind it. The socket
    /// knows better, so the classification asks it.
    pub(crate) fn saw_reset(&self) -> bool {
        self.saw_reset.load(Ordering::Acquire)
    }

    /// True once hyper knows the connection is gone (it read the FIN or RST, or its task ended).
    pub(crate) fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Waits until the connection can take a request; fails if it closed meanwhile.
    pub(crate) async fn ready(&mut self) -> hyper::Result<()> {
        self.sender.ready().await
    }

    /// Sends `request`. A failure that happened before the request was written gives the request back
    /// ([`TrySendError::take_message`]).
    pub(crate) async fn send(
        &mut self,
        request: UpstreamRequest,
    ) -> Result<Response<Incoming>, TrySendError<UpstreamRequest>> {
        self.sender.try_send_request(request).await
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
    let bytes_read = Arc::new(AtomicU64::new(0));
    let last_read_ns = Arc::new(AtomicU64::new(0));
    let saw_reset = Arc::new(AtomicBool::new(false));
    let created_at = Instant::now();
    let io = TokioIo::new(CountingStream {
        inner: stream,
        bytes_read: bytes_read.clone(),
        created_at,
        last_read_ns: last_read_ns.clone(),
        saw_reset: saw_reset.clone(),
    });
    // The HTTP/1 handshake writes nothing; it cannot fail on a connected socket, but stay honest about it.
    let (sender, connection) = http1::handshake(io).await.map_err(|error| {
        tracing::warn!(backend, %error, "upstream handshake failed");
        Cause::FreshClosed
    })?;
    let backend_label = backend.to_owned();
    let driver = tokio::spawn(async move {
        // With upgrades: after a `101` the driver hands the socket to the tunnel instead of closing it.
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(backend = %backend_label, connection = id, %error, "upstream connection ended");
        }
    })
    .abort_handle();
    tracing::debug!(backend, connection = id, "upstream connection opened");
    Ok(UpstreamConn {
        id,
        created_at,
        sender,
        bytes_read,
        last_read_ns,
        saw_reset,
        driver,
        log,
    })
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
struct CountingStream {
    inner: TcpStream,
    bytes_read: Arc<AtomicU64>,
    created_at: Instant,
    last_read_ns: Arc<AtomicU64>,
    saw_reset: Arc<AtomicBool>,
}

impl CountingStream {
    fn note<T>(&self, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(error)) = &polled
            && is_reset(error.kind())
        {
            self.saw_reset.store(true, Ordering::Release);
        }
        polled
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
        let read = buf.filled().len().saturating_sub(before);
        if read > 0 {
            this.bytes_read.fetch_add(read as u64, Ordering::Release);
            let since = Instant::now().saturating_duration_since(this.created_at);
            this.last_read_ns.store(
                u64::try_from(since.as_nanos()).unwrap_or(u64::MAX),
                Ordering::Release,
            );
        }
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
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
