//! The body the gateway sends to its client: either one it made (a 502, a 400, a 413: [`local_response`]) or
//! the upstream's, streamed.
//!
//! The upstream variant holds the connection's lease: when the upstream body ends, the connection goes back to
//! the pool; if the body is dropped before its end (the client went away), the connection is closed, since
//! unread bytes would poison the next request. If the upstream body fails after the head was sent, the failure
//! cannot become a 502 any more: the error is passed to hyper, which aborts the client connection, and the
//! truncation is counted.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Response;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use hyper::body::Incoming;
use wire::local::LocalResponse;

use crate::pool::{PooledConn, UpstreamPool};
use crate::stats::Stats;

/// The client-facing response body.
#[derive(Debug)]
pub(crate) enum ResponseBody {
    /// A body the gateway wrote itself.
    Local(Full<Bytes>),
    /// The upstream response's body, streamed through.
    Upstream(UpstreamBody),
}

impl ResponseBody {
    /// A body the gateway wrote itself.
    pub(crate) fn local(bytes: impl Into<Bytes>) -> ResponseBody {
        ResponseBody::Local(Full::new(bytes.into()))
    }
}

/// An answer the gateway makes itself, as a client response.
pub(crate) fn local_response(answer: LocalResponse) -> Response<ResponseBody> {
    answer.into_response().map(ResponseBody::Local)
}

/// An upstream body that returns its connection to the pool at its end.
#[derive(Debug)]
pub(crate) struct UpstreamBody {
    inner: Incoming,
    lease: Option<Lease>,
    stats: Arc<Stats>,
    /// The timelines' recorder, only while it records (see `recording.rs`): a cut body is a failed request.
    recorder: Option<Arc<timeline::Recorder>>,
}

/// The connection the body is read from, until the body ends.
#[derive(Debug)]
struct Lease {
    pool: UpstreamPool,
    conn: PooledConn,
    /// The response head allowed another request on the connection.
    keeps_alive: bool,
    /// The response's status, for the timelines.
    status: u16,
}

impl UpstreamBody {
    /// Streams `inner`, read from `conn`; `keeps_alive` is what the response head said about reuse; `status`
    /// and `recorder` (given only while it records) name a body cut short in the timelines.
    pub(crate) fn new(
        inner: Incoming,
        pool: UpstreamPool,
        conn: PooledConn,
        keeps_alive: bool,
        stats: Arc<Stats>,
        recorder: Option<(Arc<timeline::Recorder>, u16)>,
    ) -> UpstreamBody {
        let (recorder, status) = match recorder {
            Some((recorder, status)) => (Some(recorder), status),
            None => (None, 0),
        };
        let mut body = UpstreamBody {
            inner,
            lease: Some(Lease {
                pool,
                conn,
                keeps_alive,
                status,
            }),
            stats,
            recorder,
        };
        // A body that is empty from the start (HEAD, 204, 304, content-length 0) may never be polled.
        if body.inner.is_end_stream() {
            body.give_back();
        }
        body
    }

    /// The body ended: the connection may carry another request.
    fn give_back(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.pool.checkin(lease.conn, lease.keeps_alive);
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) => {
                // hyper's server stops polling once `is_end_stream` is true, so the last frame is the end.
                if this.inner.is_end_stream() {
                    this.give_back();
                }
            }
            Poll::Ready(None) => this.give_back(),
            Poll::Ready(Some(Err(error))) => {
                this.stats.record_truncated_response();
                let connection = this.lease.as_ref().map(|lease| lease.conn.conn.id);
                tracing::warn!(%error, connection, "upstream body failed after the response head was sent; aborting the client connection");
                if let (Some(recorder), Some(lease)) = (&this.recorder, &mut this.lease) {
                    crate::recording::truncated(recorder, &mut lease.conn.conn.log, lease.status);
                }
                // Dropping the lease closes the connection.
                this.lease = None;
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ResponseBody::Local(full) => Pin::new(full)
                .poll_frame(cx)
                .map(|frame| frame.map(|result| result.map_err(|never| match never {}))),
            ResponseBody::Upstream(upstream) => Pin::new(upstream).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Local(full) => full.is_end_stream(),
            ResponseBody::Upstream(upstream) => upstream.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Local(full) => full.size_hint(),
            ResponseBody::Upstream(upstream) => upstream.size_hint(),
        }
    }
}
