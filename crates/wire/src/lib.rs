//! The HTTP/1.1 wire rules both proxy tiers (`gateway`, the front, and `keepalive-proxy`, the back) share, so
//! that the two cannot drift apart on what a proxy forwards and how it answers by itself.
//!
//! - [`hop_by_hop`]: the headers that describe one hop (RFC 9110 §7.6.1), stripped both ways, and whether a
//!   response lets its connection carry another request;
//! - [`keep_alive`]: the `Keep-Alive: timeout=N, max=M` hint, parsed for the front and written as Apache
//!   writes it for the back;
//! - [`forwarded`]: `X-Forwarded-For`, with one behaviour on both tiers (nginx's `$proxy_add_x_forwarded_for`);
//! - [`local`]: the answers a tier makes itself (a 502, a 400, a 413, a 408), as a hyper response or as bytes
//!   for a socket hyper no longer owns;
//! - [`body_size`]: the request body limit, checked on the announced `Content-Length` before a byte is read
//!   and on the bytes as they come;
//! - [`error_chain`]: walking an error's `source()` chain;
//! - [`refusal`]: the request rules applied before anything is forwarded, and the one [`refusal::Refusal`]
//!   enum of why a request is refused: [`method`] (CONNECT, TRACE), [`limits`] (Apache's head limits),
//!   [`host`] (RFC 9112 §3.2, §3.2.2), [`transfer_encoding`] (one `chunked` only).
//!
//! - [`tunnel`]: the byte tunnel of an upgraded connection (WebSocket), with the tier's idle timeout.
//!
//! Besides the tunnel, this crate holds rules only: no sockets, no counters. Each tier decides where to apply
//! them.

pub mod body_size;
pub mod error_chain;
pub mod forwarded;
pub mod hop_by_hop;
pub mod host;
pub mod keep_alive;
pub mod limits;
pub mod local;
pub mod method;
pub mod refusal;
pub mod transfer_encoding;
pub mod tunnel;
