//! The life cycle of one front connection, and its idle deadline.
//!
//! One task owns the hyper connection and loops over four events: hyper made progress or finished, the
//! connection's [`Activity`] changed (which moves its deadline), the server is shutting down, or the deadline
//! passed. An expired deadline is acted on only after one more look at the socket (events before timers, as
//! Apache's event MPM and nginx order them). On a keep-alive (or first-request) timeout the task asks hyper to
//! stop (`graceful_shutdown`, which ends an idle HTTP/1 connection at once), takes the socket back with
//! `into_parts` and closes it with the configured [`CloseMode`](crate::CloseMode): that close is the back's half
//! of the keep-alive race. When HTTP ended the connection itself (`Connection: close` written, the peer's EOF, an
//! error, or shutdown) the socket gets the plain close. A request head still incomplete at its header-read
//! deadline (slowloris) is not left to hyper: the socket is taken back, answered `408` and closed with a
//! lingering close, as Apache's mod_reqtimeout does. After a `101`, hyper ends its connection once the `101` is
//! written (its manual upgrade) and the socket becomes a tunnel to the origin (`tunnel.rs`). Nothing else here:
//! requests are `service.rs`'s, timeouts `deadline.rs`'s, socket calls `close.rs`'s, the 408's shape
//! `wire::local`'s.

use std::future::{pending, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use listener::ShutdownSignal;
use precise_timer::{PRECISE_SPAN, PreciseTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use wire::local::LocalResponse;

use crate::activity::{Activity, ActivityState};
use crate::close;
use crate::deadline::{Deadline, Expiry};
use crate::observed_stream::ObservedStream;
use crate::recording::BackLog;
use crate::service::RequestService;
use crate::tunnel::{self, TunnelSlot};
use crate::{CloseMode, Shared};

/// Apache's answer when `RequestReadTimeout` expires while a request head is being read.
fn request_timeout_answer() -> Vec<u8> {
    LocalResponse::text(
        http::StatusCode::REQUEST_TIMEOUT,
        "request head not read in time\r\n",
    )
    .closing()
    .to_bytes()
}

/// What woke the connection task.
enum Event {
    Done(hyper::Result<()>),
    ActivityChanged,
    Shutdown,
    Expired(Deadline),
}

/// Serves `stream` until HTTP, a timeout or the shutdown ends it.
pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: ShutdownSignal,
    shared: Arc<Shared>,
) {
    shared.stats.connection_accepted();
    let mut log = BackLog::accepted(&shared.recorder, &stream, peer);
    let activity = Arc::new(Activity::new(Instant::now()));
    let mut state = activity.subscribe();
    let tunnel = TunnelSlot::default();
    let service = RequestService::new(shared.clone(), activity.clone(), peer, tunnel.clone());
    let io = TokioIo::new(ObservedStream::new(stream, activity.clone()));
    let mut conn = http1::Builder::new()
        .keep_alive(shared.config.keepalive)
        .max_header_size(shared.config.max_header_bytes)
        // Room past `LimitRequestFields` so that the rules, not hyper's parser, refuse a few fields too many.
        .max_headers(
            shared
                .config
                .limit_request_fields
                .saturating_mul(2)
                .max(100),
        )
        .serve_connection(io, service);
    let mut draining = false;
    // Whether the deadline already expired once since the last event: see `Event::Expired` below.
    let mut looked_again = false;

    let expired = loop {
        // A `101` waiting for its tunnel is not an idle connection.
        let current = *state.borrow_and_update();
        log.observe(current);
        let deadline = if draining || tunnel.is_pending() {
            None
        } else {
            shared.policy.deadline(current)
        };
        // Biased: hyper first, so bytes that already arrived are read (and the connection marked busy)
        // before an expired deadline is acted on.
        let event = tokio::select! {
            biased;
            done = poll_fn(|cx| conn.poll_without_shutdown(cx)) => Event::Done(done),
            () = changed(&mut state) => Event::ActivityChanged,
            () = shutdown.triggered(), if !draining => Event::Shutdown,
            deadline = expire(deadline, shared.timer.as_ref()) => Event::Expired(deadline),
        };
        if !matches!(event, Event::Expired(_)) {
            looked_again = false;
        }
        match event {
            Event::Done(result) => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "front connection failed");
                }
                if !draining && !ended_by_request_limit(&shared, &activity) {
                    shared.stats.client_close();
                }
                break None;
            }
            Event::ActivityChanged => {}
            Event::Shutdown => {
                draining = true;
                Pin::new(&mut conn).graceful_shutdown();
            }
            Event::Expired(deadline) if deadline.expiry == Expiry::IncompleteHead => {
                // hyper holds a partial head: asking it to shut down gracefully would wait for the rest.
                break Some(deadline);
            }
            Event::Expired(_) if !looked_again => {
                // Events before timers, as Apache's event MPM and nginx order them: a request that reached the
                // socket just before the deadline is served, not closed on. tokio learns of readiness only when
                // a worker polls its I/O driver; a yield makes this worker poll it before running this task
                // again, and the biased select above then lets hyper read first.
                looked_again = true;
                tokio::task::yield_now().await;
            }
            Event::Expired(deadline) => {
                Pin::new(&mut conn).graceful_shutdown();
                // On an idle connection hyper is done at once. If it is not, the connection was not idle after
                // all: let hyper finish the exchange and close as HTTP says.
                match poll_fn(|cx| Poll::Ready(conn.poll_without_shutdown(cx))).await {
                    Poll::Ready(_) => break Some(deadline),
                    Poll::Pending => draining = true,
                }
            }
        }
    };

    let parts = conn.into_parts();
    let stream = parts.io.into_inner().into_inner();
    if let Some(upgrade) = tunnel.take() {
        let idle = shared.config.request_timeout;
        tokio::select! {
            () = tunnel::run(stream, &parts.read_buf, upgrade, idle, &shared.stats) => {}
            () = shutdown.triggered() => {}
        }
        return;
    }
    let Some(deadline) = expired else {
        log.record(timeline::EventKind::Closed {
            how: timeline::CloseHow::Fin,
        });
        close::close_gracefully(stream).await;
        return;
    };
    let config = &shared.config;
    match deadline.expiry {
        Expiry::KeepAliveTimeout { idle_since } => {
            shared.stats.keepalive_timeout();
            log.record(timeline::EventKind::KeepAliveExpired);
            tracing::debug!(
                %peer,
                requests = activity.requests(),
                idle_ms = idle_since.elapsed().as_secs_f64() * 1e3,
                close = ?config.close,
                "keep-alive timeout: closing idle connection"
            );
        }
        Expiry::RequestTimeout => {
            tracing::debug!(%peer, close = ?config.close, "no request within the request timeout: closing");
        }
        Expiry::IncompleteHead => {
            shared.stats.header_read_timeout();
            shared.stats.response(http::StatusCode::REQUEST_TIMEOUT);
            tracing::debug!(%peer, timeout = ?config.header_read_timeout, "request head not read in time: 408");
            let mut stream = stream;
            if let Err(error) = stream.write_all(&request_timeout_answer()).await {
                tracing::trace!(%peer, %error, "cannot write the 408");
            }
            log.closing(CloseMode::Lingering);
            tokio::select! {
                () = close::close(stream, CloseMode::Lingering, config.lingering_timeout, log.log()) => {}
                () = shutdown.triggered() => {}
            }
            return;
        }
    }
    log.closing(config.close);
    tokio::select! {
        () = close::close(stream, config.close, config.lingering_timeout, log.log()) => {}
        // A lingering close may take `lingering_timeout`; shutdown does not wait for it.
        () = shutdown.triggered() => {}
    }
}

/// Whether hyper ended the connection because its last response said `Connection: close` (KeepAlive Off, or
/// `MaxKeepAliveRequests` reached): the back's close, not the front's.
fn ended_by_request_limit(shared: &Shared, activity: &Activity) -> bool {
    let requests = activity.requests();
    requests > 0 && shared.config.is_last_response(requests)
}

/// Resolves when the activity changes. The sender lives in the `Activity` this task holds, so the channel
/// cannot close; if it did, this never resolves rather than spinning.
async fn changed(state: &mut watch::Receiver<ActivityState>) {
    if state.changed().await.is_err() {
        pending::<()>().await;
    }
}

/// Resolves at `deadline`; never without one. tokio's timer (millisecond ticks, rounded up) takes the wait to
/// just before the deadline, the precise timer the rest.
async fn expire(deadline: Option<Deadline>, timer: Option<&PreciseTimer>) -> Deadline {
    let Some(deadline) = deadline else {
        return pending().await;
    };
    match timer {
        Some(timer) => {
            let hand_over = deadline.at.checked_sub(PRECISE_SPAN).unwrap_or(deadline.at);
            tokio::time::sleep_until(hand_over).await;
            // After tokio's sleep, so that under paused time the clock has reached the hand-over first.
            let remaining = deadline.at.saturating_duration_since(Instant::now());
            timer
                .sleep_until(std::time::Instant::now() + remaining)
                .await;
        }
        None => tokio::time::sleep_until(deadline.at).await,
    }
    deadline
}
