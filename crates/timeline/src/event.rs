//! What a tier saw happen on a connection: the one [`EventKind`] enum for every tier, an [`Event`] stamped on
//! the process's monotonic clock, and the connection's identity ([`Conn`]).

use std::net::SocketAddr;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// A TCP connection as one end sees it: its own address and its peer's. The link relays front → back, so the
/// link's front-side `peer` is the gateway's `local`, and the link's back-side `local` is the back's `peer`:
/// that is how the harness joins the three tiers' views of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Conn {
    /// This end's address.
    pub local: SocketAddr,
    /// The other end's address.
    pub peer: SocketAddr,
}

/// Which way a link event travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// From the front (the gateway) toward the back.
    ToBack,
    /// From the back toward the front.
    ToFront,
}

/// What crossed the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Segment {
    /// A run of bytes (one read).
    Data,
    /// The sender's FIN.
    Fin,
    /// A reset.
    Rst,
}

/// How the back let go of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloseHow {
    /// `shutdown(SHUT_WR)`, then reading and discarding until the peer's FIN or the lingering timeout
    /// (Apache's lingering close): the peer reads EOF.
    LingeringFin,
    /// `close()` at once: a FIN, or an RST when request bytes were unread.
    Immediate,
    /// `SO_LINGER 0`: an RST.
    Rst,
    /// HTTP ended the connection (`Connection: close` written, or the peer's EOF): a FIN.
    Fin,
}

/// What happened. Times are the [`Event`]'s; the fields are what that tier knew at that moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EventKind {
    // The gateway, per client request.
    /// The gateway has read a client's request head (the client's send, as near as the gateway sees it).
    ClientRequest,
    /// The gateway retries the request once on a fresh connection.
    Retried,
    /// The gateway answered the client (its 502, or the retried request's response head).
    Answered {
        /// The status sent to the client.
        status: u16,
    },
    // The gateway, per upstream connection.
    /// The gateway opened this upstream connection.
    Connected,
    /// The gateway could not open an upstream connection (refused, unreachable, or not within
    /// `connect_timeout`): no connection exists. Stamped as the gateway gave up on the request, right after
    /// the failed connect.
    ConnectFailed {
        /// The connect did not complete in time (else it was refused or unreachable).
        timed_out: bool,
    },
    /// The back's host name did not resolve (or not within `connect_timeout`): nothing was connected.
    NotResolved,
    /// The gateway took this connection out of its pool for a request.
    CheckedOut {
        /// How long it sat idle, in microseconds.
        idle_age_us: u64,
        /// Requests it served before this one.
        reuse_count: u64,
    },
    /// The gateway handed the request to the connection (hyper writes it at once).
    WroteRequest,
    /// The response head arrived.
    ResponseHead {
        /// Its status.
        status: u16,
    },
    /// The connection ended before any response byte: EOF (the back's FIN).
    ReadEof,
    /// The connection was reset before any response byte.
    ReadRst,
    /// Bytes arrived that are not a valid HTTP response head (the gateway's `invalid-response`).
    ReadInvalid,
    /// No response head within the request timeout.
    ResponseTimeout,
    /// The response body failed after its head was sent: the client connection is aborted (the client sees
    /// it closed without a complete response).
    BodyFailed,
    // The link, per relayed connection.
    /// The link read a segment from one side.
    Received {
        /// Which way it goes.
        dir: Direction,
        /// What it was.
        segment: Segment,
        /// Its length (0 for a FIN or an RST).
        bytes: u32,
    },
    /// The link delivered a segment to the other side, `delay_us` after it received it.
    Delivered {
        /// Which way it went.
        dir: Direction,
        /// What it was.
        segment: Segment,
        /// Its length (0 for a FIN or an RST).
        bytes: u32,
        /// The delay applied, in microseconds.
        delay_us: u64,
    },
    // The back, per front connection.
    /// The back accepted this connection.
    Accepted,
    /// The first bytes of a request head arrived.
    RequestBytes,
    /// A request head was parsed: the back is serving it.
    RequestRead,
    /// The back wrote its response; the keep-alive (idle) clock starts now.
    ResponseWritten,
    /// The back's keep-alive timer fired on the idle connection.
    KeepAliveExpired,
    /// The back closed the connection, the way `how` says.
    Closed {
        /// FIN, RST, or a FIN followed by a lingering read.
        how: CloseHow,
    },
    /// The lingering read after the FIN read and discarded bytes: a request that crossed the FIN.
    Discarded {
        /// How many.
        bytes: u32,
    },
}

/// An event on the process's monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// When it happened.
    pub at: Instant,
    /// What happened.
    pub kind: EventKind,
}
