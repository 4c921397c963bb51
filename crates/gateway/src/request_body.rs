//! Reading a client's request body under the `max_body_bytes` limit, and the answer when it cannot be read.
//!
//! The gateway buffers every request body (so a retry can resend it), which makes the limit simple: nothing
//! goes upstream before the whole body is in, so a body over the limit is answered `413` and never forwarded.
//! A `Content-Length` above the limit is refused before any byte is read; a chunked body is cut off as soon as
//! it grows past the limit. Framing errors (a broken chunk, the client leaving mid-body) are `400`. This
//! module owns the limit and those two answers, not the rest of the request path.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use wire::body_size;
use wire::local::LocalResponse;

use crate::response_body::{ResponseBody, local_response};

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// The body is (or was announced as) longer than `max_body_bytes`.
    #[error("request body is larger than max_body_bytes = {limit}")]
    TooLarge {
        /// The configured limit.
        limit: u64,
    },
    /// The body's framing broke, or the client went away while sending it.
    #[error("cannot read the request body: {0}")]
    Broken(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl BodyError {
    /// The answer to the client: `413` or `400`, both closing the connection, since the rest of the body (if
    /// any) was not read and cannot be told apart from a next request.
    pub(crate) fn response(&self) -> Response<ResponseBody> {
        let (status, text) = match self {
            BodyError::TooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "413 Content Too Large: the request body exceeds the gateway's limit\n",
            ),
            BodyError::Broken(_) => (StatusCode::BAD_REQUEST, "cannot read the request body\n"),
        };
        local_response(LocalResponse::text(status, text).closing())
    }
}

/// Reads `body` to its end, refusing it once it is known to exceed `limit` bytes.
pub(crate) async fn read_limited(body: Incoming, limit: u64) -> Result<Bytes, BodyError> {
    let body = body_size::limited(body, Some(limit)).map_err(|_| BodyError::TooLarge { limit })?;
    match body.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if body_size::is_over_limit(&*error) => Err(BodyError::TooLarge { limit }),
        Err(error) => Err(BodyError::Broken(error)),
    }
}
