//! `LimitRequestBody`: the request body limit of the back tier and its `413`.
//!
//! The back tier streams request bodies to the origin, so the limit is enforced twice: a `Content-Length`
//! above it is refused before anything goes to the origin, and a chunked body is wrapped so that it fails the
//! moment it grows past the limit, which aborts the origin request (hyper stops writing it and drops the
//! origin connection); the front then gets `413` instead of the back's 502, since its response head is not
//! sent yet. This module owns the check, the wrapper and the answer; `forward.rs` applies them.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;

use crate::forward::ProxyBody;
use crate::tracked_body::BoxError;

/// A request body that fails once more than the limit has been read from it.
pub(crate) type LimitedBody = Limited<Incoming>;

/// `body` under `limit`, or `Err` when its `Content-Length` already exceeds it.
pub(crate) fn limit(body: Incoming, limit: u64) -> Result<LimitedBody, Incoming> {
    // hyper sets the lower bound of the size hint to the Content-Length (0 when chunked).
    if body.size_hint().lower() > limit {
        return Err(body);
    }
    Ok(Limited::new(
        body,
        usize::try_from(limit).unwrap_or(usize::MAX),
    ))
}

/// True when `error`, or any error it was caused by, is the limit being exceeded.
pub(crate) fn is_exceeded(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<LengthLimitError>() {
            return true;
        }
        current = error.source();
    }
    false
}

/// Apache's `413 Request Entity Too Large`, closing the connection: the rest of the body was not read.
pub(crate) fn payload_too_large() -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(
            b"<html><body><h1>Request Entity Too Large</h1></body></html>\n",
        ))
        .map_err(BoxError::from)
        .boxed(),
    );
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=iso-8859-1"),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
