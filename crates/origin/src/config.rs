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
}

impl Default for OriginConfig {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            body_bytes: 64,
            status: 200,
        }
    }
}
