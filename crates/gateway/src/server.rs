//! The client-facing side: one hyper HTTP/1 server connection per accepted client, with keep-alive and an
//! idle timeout, parked when idle, drained gracefully on shutdown.
//!
//! This module owns the client connection's life; every request on it goes to [`Proxy::handle`], except one
//! that the framing guard saw carry both `Content-Length` and `Transfer-Encoding`, which is refused `400`.
//! When the proxy passed a `101` on, hyper ends its connection once the `101` is written (hyper's manual
//! upgrade: `poll_without_shutdown`), and the socket becomes a tunnel (`tunnel.rs`) until either side closes
//! or it idles past the client idle timeout.
//!
//! Parking: a hyper connection holds a read and a write buffer of 8 KiB each for as long as it lives, which is
//! most of what an idle keep-alive client costs. A connection idle for `park_after` (no request for that long,
//! nothing half-read, no response being made) is taken out of hyper (`graceful_shutdown`, which ends an idle
//! HTTP/1 connection at once without a word to the client, then `into_parts`), its buffers are freed, and the
//! task waits for the socket to become readable holding only the socket; then a new hyper connection serves
//! the next request. Nothing is lost: the framing guard proves that every byte read belonged to requests that
//! were answered, so hyper holds no unread request.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use listener::ShutdownSignal;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::framing_guard::{FramingLedger, GuardedStream};
use crate::proxy::Proxy;
use crate::response_body::ResponseBody;
use crate::tunnel::{self, PendingTunnel, Upstream};

/// What a client connection may do before hyper gives up on it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientLimits {
    /// Idle time between requests, and the time to send a whole request head (slowloris); 0 = none.
    pub(crate) idle_timeout: Duration,
    /// Largest request head; a longer one is answered `431` by hyper.
    pub(crate) max_header_bytes: usize,
    /// Idle time after which the connection gives its HTTP buffers back; 0 = never.
    pub(crate) park_after: Duration,
}

/// Requests handed to the service on this connection, and answers it returned (over every hyper connection
/// the client connection had).
#[derive(Debug, Default)]
struct Exchanges {
    started: AtomicU64,
    answered: AtomicU64,
}

/// Everything one client connection's requests share.
#[derive(Debug, Clone)]
struct ClientContext {
    proxy: Arc<Proxy>,
    peer: SocketAddr,
    ledger: Arc<FramingLedger>,
    exchanges: Arc<Exchanges>,
    /// The upstream side of a tunnel, set when the service passes a `101` on. Boxed: every connection holds
    /// this slot for its whole life, and a tunnel is rare (the slot is then 8 bytes, not 152).
    tunnel: Arc<std::sync::Mutex<Option<Box<Upstream>>>>,
}

/// The request service: the proxy, or the framing guard's `400`. Counts every request and answer.
async fn handle(
    context: ClientContext,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, std::convert::Infallible> {
    let number = context.exchanges.started.fetch_add(1, Ordering::AcqRel) + 1;
    let mut response = if context.ledger.is_ambiguous(number) {
        Ok(context.proxy.refuse_ambiguous_framing(context.peer))
    } else {
        context.proxy.handle(request, context.peer).await
    };
    if let Ok(response) = &mut response
        && let Some(pending) = response.extensions_mut().remove::<PendingTunnel>()
        && let Ok(mut slot) = context.tunnel.lock()
    {
        *slot = pending.take().map(Box::new);
    }
    context.exchanges.answered.fetch_add(1, Ordering::AcqRel);
    response
}

/// How one hyper connection ended.
enum Ended {
    /// HTTP ended the connection (the client's EOF, `Connection: close`, an error, a shutdown): close it.
    Closed(Option<GuardedStream>),
    /// The connection went idle and was taken out of hyper: park it.
    Parked(GuardedStream),
    /// hyper wrote a `101`: the connection is a tunnel now, `early` the bytes read past the request head.
    Upgraded {
        stream: GuardedStream,
        early: bytes::Bytes,
        upstream: Box<Upstream>,
    },
}

/// Serves one client connection until the client leaves, idles past `limits.idle_timeout`, or shutdown.
pub(crate) async fn serve_client(
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: ShutdownSignal,
    proxy: Arc<Proxy>,
    limits: ClientLimits,
) {
    let ledger = Arc::new(FramingLedger::default());
    let context = ClientContext {
        proxy,
        peer,
        ledger: ledger.clone(),
        exchanges: Arc::new(Exchanges::default()),
        tunnel: Arc::default(),
    };
    let mut io = GuardedStream::new(stream, limits.max_header_bytes, ledger);
    loop {
        // Boxed: while the connection is parked, its task holds no room for this future's state.
        let serving = Box::pin(serve_until_idle(io, &context, &limits, &mut shutdown));
        let stream = match serving.await {
            Ended::Parked(stream) => stream,
            Ended::Closed(Some(mut stream)) => {
                let _ = stream.shutdown().await;
                return;
            }
            Ended::Closed(None) => return,
            Ended::Upgraded {
                stream,
                early,
                upstream,
            } => {
                let stats = context.proxy.stats();
                // Boxed: the tunnel's state is the largest of this task's, and a parked connection's task
                // would otherwise hold room for it (a task is as large as its largest state).
                Box::pin(tunnel::run(
                    stream.into_inner(),
                    &early,
                    *upstream,
                    limits.idle_timeout,
                    stats,
                ))
                .await;
                return;
            }
        };
        if park(&stream, &limits, &mut shutdown).await {
            io = stream;
        } else {
            let mut stream = stream;
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// One hyper connection on `io`, until HTTP ends it or it idles for `limits.park_after`.
async fn serve_until_idle(
    io: GuardedStream,
    context: &ClientContext,
    limits: &ClientLimits,
    shutdown: &mut ShutdownSignal,
) -> Ended {
    let idle_timeout = limits.idle_timeout;
    let service_context = context.clone();
    // Boxed, so the service's future is `Unpin` as `poll_without_shutdown` needs.
    let service = service_fn(move |request| Box::pin(handle(service_context.clone(), request)));
    let mut builder = http1::Builder::new();
    // hyper starts the header-read timer when it waits for the next request head, so between two requests on a
    // kept-alive connection it is exactly the client idle timeout; a client that trickles its head (slowloris)
    // is cut off by the same timer, with no response (hyper closes the connection).
    builder
        .keep_alive(true)
        .max_header_size(limits.max_header_bytes)
        .timer(TokioTimer::new())
        .header_read_timeout((!idle_timeout.is_zero()).then_some(idle_timeout));
    // Boxed: a parked connection's task then holds only the socket, not room for hyper's state.
    let mut connection = Box::new(builder.serve_connection(TokioIo::new(io), service));
    let parking = !limits.park_after.is_zero();
    let check = tokio::time::sleep(limits.park_after);
    tokio::pin!(check);
    let mut last_started = context.exchanges.started.load(Ordering::Acquire);
    let mut draining = false;
    let mut park = false;
    let result = loop {
        tokio::select! {
            biased;
            result = poll_fn(|cx| connection.poll_without_shutdown(cx)) => break result,
            () = shutdown.triggered(), if !draining => {
                draining = true;
                std::pin::Pin::new(connection.as_mut()).graceful_shutdown();
            }
            () = &mut check, if parking && !draining => {
                let started = context.exchanges.started.load(Ordering::Acquire);
                if started == last_started && is_idle(context) {
                    // hyper is between requests with nothing buffered: it ends at once, without a word.
                    park = true;
                    draining = true;
                    std::pin::Pin::new(connection.as_mut()).graceful_shutdown();
                } else {
                    last_started = started;
                    check.as_mut().reset(Instant::now() + limits.park_after);
                }
            }
        }
    };
    if let Err(error) = &result {
        tracing::debug!(peer = %context.peer, %error, "client connection ended with an error");
        return Ended::Closed(None);
    }
    let parts = connection.into_parts();
    let mut stream = parts.io.into_inner();
    let upstream = context.tunnel.lock().ok().and_then(|mut slot| slot.take());
    if let Some(upstream) = upstream {
        return Ended::Upgraded {
            stream,
            early: parts.read_buf,
            upstream,
        };
    }
    if !park || shutdown.is_triggered() {
        return Ended::Closed(Some(stream));
    }
    if parts
        .read_buf
        .iter()
        .any(|byte| !matches!(byte, b'\r' | b'\n'))
    {
        // Cannot happen: the ledger saw every byte read belong to an answered request. Never drop a request
        // silently: close instead.
        tracing::warn!(peer = %context.peer, buffered = parts.read_buf.len(), "idle connection held unread bytes; closing it");
        return Ended::Closed(Some(stream));
    }
    stream.release_buffers();
    context.proxy.stats().record_parked_connection();
    crate::memory_trim::connection_parked();
    Ended::Parked(stream)
}

/// True when every request read was answered and nothing of a next one was read: hyper is between requests.
fn is_idle(context: &ClientContext) -> bool {
    let answered = context.exchanges.answered.load(Ordering::Acquire);
    let started = context.exchanges.started.load(Ordering::Acquire);
    context.ledger.complete_heads() == Some(started) && answered == started
}

/// Waits, holding only the socket, until the client sends its next request (true: serve it), or until the
/// idle timeout or shutdown (false: close). The socket is borrowed, so the parked task holds it once.
async fn park(
    stream: &GuardedStream,
    limits: &ClientLimits,
    shutdown: &mut ShutdownSignal,
) -> bool {
    // The connection was idle for at least `park_after` already.
    let left = limits.idle_timeout.saturating_sub(limits.park_after);
    let limited = !limits.idle_timeout.is_zero();
    tokio::select! {
        readable = stream.readable() => readable.is_ok(),
        () = tokio::time::sleep(left), if limited => false,
        () = shutdown.triggered() => false,
    }
}
