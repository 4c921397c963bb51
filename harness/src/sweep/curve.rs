//! The race-window curve as data: one [`SweepBin`] per offset, the [`SweepResult`] `sweep --json` writes, and
//! the 95 % Wilson interval of each bin. Reports read it; it knows nothing of how the bins were run.

use serde::{Deserialize, Serialize};

/// One bin of the race-window curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepBin {
    /// Offset of the gap from the back's keep-alive timeout, ms.
    pub offset_ms: f64,
    /// The idle gap the clients waited, ms (centre of the bin).
    pub gap_ms: f64,
    /// Requests in the bin.
    pub requests: u64,
    /// 502s in the bin.
    pub bad_gateways: u64,
    /// Race 502s (`reused-closed` + `reused-reset`).
    pub race_bad_gateways: u64,
    /// 502s / requests.
    pub probability: f64,
    /// Lower end of the 95 % Wilson interval.
    pub ci_low: f64,
    /// Upper end of the 95 % Wilson interval.
    pub ci_high: f64,
    /// Requests unaccounted for (always 0).
    pub unaccounted: u64,
}

/// A whole sweep, as written by `--json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    /// Scenario name.
    pub scenario: String,
    /// The back's keep-alive timeout the offsets are relative to, ms.
    pub keepalive_timeout_ms: f64,
    /// The bins, by offset.
    pub bins: Vec<SweepBin>,
    /// True when Ctrl-C cut the sweep short.
    pub interrupted: bool,
}

/// The 95 % Wilson score interval of `successes` out of `trials`.
pub fn wilson_interval(successes: u64, trials: u64) -> (f64, f64) {
    if trials == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_964_f64;
    let n = trials as f64;
    let p = successes as f64 / n;
    let denominator = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denominator;
    let half = z * ((p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt()) / denominator;
    // At p = 0 and p = 1 one end equals p exactly, but not in floating point: keep p inside its interval.
    ((centre - half).clamp(0.0, p), (centre + half).clamp(p, 1.0))
}
