//! The back tier over real loopback sockets: proxying, `Connection: close` decisions, what a raw front
//! connection sees on the wire when an idle connection is closed by each close mode, bad input and hostile
//! clients, the whole chain's hop-by-hop stripping, and the admin endpoint's `/metrics`.

mod bad_input;
mod chain;
mod client_error_props;
mod idle_close;
mod keep_alive_hint;
mod metrics;
mod proxying;
mod request_hygiene;
#[path = "../support/mod.rs"]
mod support;
mod sweep;
mod websocket;
