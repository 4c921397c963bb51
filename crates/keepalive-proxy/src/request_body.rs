//! The front's request body on its way to the origin: under `LimitRequestBody` (see `body_limit.rs`), and
//! watched for the client's own framing errors (an invalid or overflowing chunk size, a bare-LF chunk line,
//! a chunk without its CRLF, a body cut short by EOF). hyper reports those as an error of the body it reads
//! from the front connection; hyper-util then aborts the origin request and its connection and hands the
//! proxy an error that looks like the origin's. The [`BodyWatch`] tells the two apart, so that the client's
//! mistake is answered 400 and counted as a client error, never as the back's 502.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::body::BoxError;
use crate::body_limit::LimitedBody;

/// Whether the front's body failed by the client's fault.
#[derive(Debug, Clone, Default)]
pub(crate) struct BodyWatch(Arc<AtomicBool>);

impl BodyWatch {
    /// True once the body reported a framing error or an early EOF (not the body limit: that is a 413).
    pub(crate) fn client_failed(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The request body sent to the origin.
#[derive(Debug)]
pub(crate) struct RequestBody {
    inner: LimitedBody,
    watch: BodyWatch,
}

impl RequestBody {
    /// Wraps `inner`; `watch` learns of a client-side failure.
    pub(crate) fn new(inner: LimitedBody, watch: BodyWatch) -> RequestBody {
        RequestBody { inner, watch }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(error))) = &polled
            && !wire::body_size::is_over_limit(&**error)
        {
            self.watch.0.store(true, Ordering::Release);
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
