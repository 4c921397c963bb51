//! The link's knobs, as they appear under `[link.front_back]` or `[link.back_origin]` in a scenario.

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
    /// chunk of data the client sends. Default 0.
    pub reset_probability: f64,
    /// Accept connections and swallow everything: nothing is relayed, nothing comes back. Default false.
    pub blackhole: bool,
    /// Seed for the reset draw, so a run can be repeated. Default 1.
    pub seed: u64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            reset_probability: 0.0,
            blackhole: false,
            seed: 1,
        }
    }
}
