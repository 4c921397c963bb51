//! The link's knobs, as they appear under `[link.front_back]` or `[link.back_origin]` in a scenario.
//!
//! Which fault wins when several are set: `drop_syn` (nothing is ever accepted), then `blackhole` (accepted,
//! never relayed), then `reset_probability` (relayed, reset at the first data); `latency` applies to whatever is
//! relayed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the link does to the bytes and the connection events crossing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkConfig {
    /// One-way latency applied to data, to the FIN and to the RST, in both directions. Default 0.
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
    /// Probability, per accepted connection, that the link resets both sides instead of relaying the first
    /// chunk of data the client sends: the client's connect succeeds, its request gets ECONNRESET and the
    /// upstream sees its connection reset without a byte. Must be within 0..=1. Default 0.
    pub reset_probability: f64,
    /// Accept connections and swallow everything: the client's connect succeeds, nothing is relayed, nothing
    /// comes back (a response timeout for the client); the upstream is never connected. Default false.
    pub blackhole: bool,
    /// A network rule that drops packets: the link's listener never accepts and keeps its accept queue full, so
    /// the kernel drops new SYNs and connects to the link time out (no SYN-ACK, no RST; the client's kernel
    /// retransmits its SYN until the client gives up). Nothing is accepted, counted or relayed. Wins over
    /// `blackhole` and `reset_probability`. Default false.
    pub drop_syn: bool,
    /// Charge a new connection the round trip a TCP handshake over this link would cost. The relay completes
    /// the client's handshake locally at once (a userspace relay cannot delay a SYN-ACK), so instead it waits
    /// 2 × `latency` before connecting upstream and relaying: the client's first bytes reach the upstream
    /// 3 × `latency` after its connect, as over a real path. Without it, a new connection would be free and
    /// KeepAlive Off would look costless. Default true.
    pub model_handshake: bool,
    /// Seed for the reset draw, so a run can be repeated. Default 1.
    pub seed: u64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            reset_probability: 0.0,
            blackhole: false,
            drop_syn: false,
            model_handshake: true,
            seed: 1,
        }
    }
}
