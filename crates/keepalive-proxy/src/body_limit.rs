//! `LimitRequestBody`: the request body limit of the back tier and its `413`.
//!
//! The back tier streams request bodies to the origin, so the limit is enforced twice: a `Content-Length`
//! above it is refused before anything goes to the origin, and a chunked body is wrapped so that it fails the
//! moment it grows past the limit, which aborts the origin request (hyper stops writing it and drops the
//! origin connection); the front then gets `413` instead of the back's 502, since its response head is not
//! sent yet. This module owns the back's limit and its answer; the check and the wrapper are
//! `wire::body_size`'s, shared with the front; `forward.rs` applies them.

use http::{Response, StatusCode};
use http_body_util::Limited;
use hyper::body::Incoming;
use wire::body_size;
use wire::local::LocalResponse;

use crate::body::{self, ProxyBody};

/// A request body that fails once more than the limit has been read from it.
pub(crate) type LimitedBody = Limited<Incoming>;

/// `body` under `limit` (`None`: unlimited), or `Err` when its `Content-Length` already exceeds it.
pub(crate) fn limit(
    body: Incoming,
    limit: Option<u64>,
) -> Result<LimitedBody, body_size::TooLarge> {
    body_size::limited(body, limit)
}

/// True when `error`, or any error it was caused by, is the limit being exceeded.
pub(crate) fn is_exceeded(error: &(dyn std::error::Error + 'static)) -> bool {
    body_size::is_over_limit(error)
}

/// Apache's `413 Request Entity Too Large`, closing the connection: the rest of the body was not read.
pub(crate) fn payload_too_large() -> Response<ProxyBody> {
    body::local(
        LocalResponse::apache(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large").closing(),
    )
}
