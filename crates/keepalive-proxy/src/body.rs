//! The body types of the back tier: what its responses carry (the origin's body, or an answer made here), and
//! the answers it makes itself ([`local`]: Apache's pages, shaped by `wire::local`).
//!
//! This module owns the types only; who answers what is `forward.rs`'s and `body_limit.rs`'s.

use bytes::Bytes;
use http::Response;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use wire::local::LocalResponse;

/// The error type of every body this crate produces.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body from the origin, or made here.
pub(crate) type ProxyBody = BoxBody<Bytes, BoxError>;

/// An answer the back tier makes itself, as a response.
pub(crate) fn local(answer: LocalResponse) -> Response<ProxyBody> {
    answer
        .into_response()
        .map(|body| body.map_err(|never| match never {}).boxed())
}
