//! The client-facing side: one hyper HTTP/1 server connection per accepted client, with keep-alive and an
//! idle timeout, drained gracefully on shutdown.
//!
//! This module owns the client connection's life; every request on it goes to [`Proxy::handle`], except one
//! that the framing guard saw carry both `Content-Length` and `Transfer-Encoding`, which is refused `400`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use listener::ShutdownSignal;
use tokio::net::TcpStream;

use crate::framing_guard::{FramingLedger, GuardedStream};
use crate::proxy::Proxy;

/// What a client connection may do before hyper gives up on it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientLimits {
    /// Idle time between requests, and the time to send a whole request head (slowloris); 0 = none.
    pub(crate) idle_timeout: Duration,
    /// Largest request head; a longer one is answered `431` by hyper.
    pub(crate) max_header_bytes: usize,
}

/// Serves one client connection until the client leaves, idles past `limits.idle_timeout`, or shutdown.
pub(crate) async fn serve_client(
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: ShutdownSignal,
    proxy: Arc<Proxy>,
    limits: ClientLimits,
) {
    let idle_timeout = limits.idle_timeout;
    let ledger = Arc::new(FramingLedger::default());
    let io = GuardedStream::new(stream, limits.max_header_bytes, ledger.clone());
    // hyper hands the requests of one HTTP/1 connection to the service one by one, in order.
    let requests = AtomicU64::new(0);
    let service = service_fn(move |request| {
        let number = requests.fetch_add(1, Ordering::Relaxed) + 1;
        let ambiguous = ledger.is_ambiguous(number);
        let proxy = proxy.clone();
        async move {
            if ambiguous {
                return Ok(proxy.refuse_ambiguous_framing(peer));
            }
            proxy.handle(request, peer).await
        }
    });
    let mut builder = http1::Builder::new();
    // hyper starts the header-read timer when it waits for the next request head, so between two requests on a
    // kept-alive connection it is exactly the client idle timeout; a client that trickles its head (slowloris)
    // is cut off by the same timer, with no response (hyper closes the connection).
    builder
        .keep_alive(true)
        .max_header_size(limits.max_header_bytes)
        .timer(TokioTimer::new())
        .header_read_timeout((!idle_timeout.is_zero()).then_some(idle_timeout));
    let connection = builder.serve_connection(TokioIo::new(io), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.triggered() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "client connection ended with an error");
    }
}
