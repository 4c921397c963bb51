//! The back tier over real loopback sockets: proxying, `Connection: close` decisions, and what a raw front
//! connection sees on the wire when an idle connection is closed by each close mode.

mod bad_input;
mod idle_close;
mod proxying;
mod support;
mod sweep;
