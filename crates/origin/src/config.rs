//! The origin's knobs, as they appear under `[origin]` in a scenario.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the origin answers every request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OriginConfig {
    /// Delay before the response head is sent. Default 0.
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
    /// Size of the response body in bytes. Default 64.
    pub body_bytes: usize,
    /// Status code of every response. Default 200.
    pub status: u16,
    /// What goes wrong on the wire instead of (or in the middle of) a normal answer. Default `none`.
    pub fault: OriginFault,
    /// Probability, per request, that the application fails it: the answer carries `error_status` instead of
    /// `status` (same body, keep-alive kept), as an application that throws now and then. Drawn only for
    /// normal answers (`fault = "none"`) and never for the gateway's health probes, so the error rate does not
    /// mark members unhealthy. Must be within 0..=1. Default 0.
    pub error_probability: f64,
    /// The status of a failed request (see `error_probability`). Default 500.
    pub error_status: u16,
    /// Seed of the `error_probability` draw, one draw per request in arrival order, so a run can be repeated.
    /// Default 1.
    pub seed: u64,
}

/// A broken origin, as `fault = "..."` in a scenario: what the origin puts on the wire for every request.
///
/// Every fault except `none` serves one request per connection: the origin reads the request head itself (up to
/// the blank line, at most 64 KiB; a request body is not read), counts the request, waits `latency`, then acts.
/// Where a fault closes "with a FIN", the origin shuts its write side down first and then reads and discards what
/// the client still sends for a short while before closing, so that unread request bytes cannot turn the FIN
/// into an RST.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OriginFault {
    /// Normal HTTP/1.1 answers with keep-alive: `status`, `content-length: body_bytes`, the body.
    #[default]
    None,
    /// Read the request head, then close with a FIN and no response byte: the client reads EOF before any byte
    /// (a proxy's "upstream prematurely closed connection", `fresh-closed`).
    Close,
    /// Read the request head, then close with an RST (SO_LINGER 0) and no response byte: the client reads
    /// ECONNRESET (`fresh-reset`).
    Reset,
    /// Read the request head, write `garbage, not HTTP\r\n\r\n`, then close with a FIN: the bytes are not HTTP
    /// (`invalid-response`).
    Garbage,
    /// Send a valid response head with `content-length: body_bytes` (at least 2), then half the body
    /// (`content-length / 2` bytes), then close with a FIN: a truncated response (`truncated-response`, which a
    /// proxy cannot turn into a 502 once the head is out).
    CloseMidBody,
}

impl Default for OriginConfig {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            body_bytes: 64,
            status: 200,
            fault: OriginFault::None,
            error_probability: 0.0,
            error_status: 500,
            seed: 1,
        }
    }
}
