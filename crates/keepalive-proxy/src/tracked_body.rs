//! The response body handed to hyper: the proxied (or locally made) body, plus a marker that tells the
//! connection's [`Activity`] when hyper is done with it. hyper takes the last frame (or drops the body, for a
//! `HEAD` or an empty body) just before it flushes the response's last bytes, so that instant is when the
//! connection's keep-alive idle time starts, as Apache starts it when the response is written.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;

use crate::activity::Activity;
use crate::body::BoxError;

/// A response body whose end is reported to the connection.
#[derive(Debug)]
pub(crate) struct TrackedBody {
    inner: BoxBody<Bytes, BoxError>,
    activity: Option<Arc<Activity>>,
}

impl TrackedBody {
    /// Wraps `inner`; `activity` learns when it ends.
    pub(crate) fn new(inner: BoxBody<Bytes, BoxError>, activity: Arc<Activity>) -> Self {
        Self {
            inner,
            activity: Some(activity),
        }
    }

    fn finish(&mut self) {
        if let Some(activity) = self.activity.take() {
            activity.response_ended();
        }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.finish();
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

impl Drop for TrackedBody {
    fn drop(&mut self) {
        self.finish();
    }
}
