//! The wire story of each 502 (issue 16): what every tier of our chain did on one connection and when, on one
//! clock.
//!
//! Every tier of our chain runs in the harness process, so one monotonic clock ([`std::time::Instant`]) serves
//! them all: an event's time is an `Instant`, and the harness turns it into milliseconds relative to the failed
//! request's write. The types here are plain data shared by the three tiers (`gateway`, `keepalive-proxy`,
//! `faultlink`) and the harness; the crate depends on none of them.
//!
//! - [`event`]: the one enum of what happened ([`EventKind`]), stamped events ([`Event`]) and a connection's
//!   identity ([`Conn`], its two socket addresses);
//! - [`log`]: [`ConnLog`], the bounded ring one connection records into; off, it is `None` and every record
//!   call is one branch;
//! - [`recorder`]: [`Recorder`], one per tier instance: off by default, it hands out logs when on and keeps the
//!   rings of closed connections (the last [`KEPT_CONNECTIONS`]) and the gateway's failed requests (the first
//!   `cap`), so memory stays bounded.
//!
//! It owns no socket and no task; which moments matter and where they are recorded is each tier's own module.

pub mod event;
pub mod log;
pub mod recorder;

pub use event::{CloseHow, Conn, Direction, Event, EventKind, Segment};
pub use log::{ConnLog, ConnRecord, EVENTS_PER_CONNECTION};
pub use recorder::{Harvest, KEPT_CONNECTIONS, Outcome, Recorder, RequestRecord};
