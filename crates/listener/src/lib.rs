//! The accept loop, the shutdown signal and the server handle that every badgateway tier shares.
//!
//! Every tier (gateway, keep-alive proxy, origin, fault link) is a TCP server with the same life cycle: bind,
//! accept connections and hand each to a per-connection task, stop accepting when asked, and let the
//! per-connection tasks see the same signal so they can drain. This crate owns exactly that and nothing about
//! HTTP. It follows the shape of tokio's mini-redis `server.rs`: a `watch` channel carries the shutdown, a
//! semaphore bounds the number of live connections, and connections over the bound get a short refusal instead
//! of waiting in the kernel's backlog. Connection tasks may run on [`Shards`], threads with a single-threaded
//! runtime each, instead of the accepting runtime.

mod accept_loop;
mod shards;
mod shutdown;

pub use accept_loop::{
    BindError, ConnectionLimit, HTTP_503_REFUSAL, ServerHandle, serve, serve_on,
};
pub use shards::{Shards, shard_index};
pub use shutdown::{Shutdown, ShutdownSignal};
