//! What `probe --json` writes: the measurement with what was probed (scenario, front, back, method, scale).

use serde::{Deserialize, Serialize};

use super::ProbeMeasurement;

/// One probe of one chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Scenario name.
    pub scenario: String,
    /// The front's kind (`ours`, `nginx`, …).
    pub front: String,
    /// The back's kind.
    pub back: String,
    /// The probes' method.
    pub method: String,
    /// The time scale the scenario was replayed at.
    pub time_scale: f64,
    /// The back's configured keep-alive timeout after scaling, ms (what the measured close is compared with).
    pub configured_keepalive_timeout_ms: f64,
    /// The scenario as probed (after scaling).
    pub settings: serde_json::Value,
    /// What the scenario's `[expect] exposed` asks, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect_exposed: Option<bool>,
    /// The measurement and the verdict.
    pub probe: ProbeMeasurement,
}

impl ProbeResult {
    /// The violations of `expect_exposed`, one line each; empty when it holds or is not asked.
    pub fn violations(&self) -> Vec<String> {
        let mut violations = Vec::new();
        if self.probe.interrupted {
            violations.push("the probe was interrupted: a partial probe proves nothing".to_owned());
        }
        if let Some(expected) = self.expect_exposed
            && expected != self.probe.findings.exposed
        {
            violations.push(if expected {
                "expected the chain to be exposed to the keep-alive race; no probe failed".to_owned()
            } else {
                format!(
                    "expected the chain not to be exposed; {} of {} probes failed (front idle timeout \
                     above the largest safe {:.1} ms)",
                    self.probe.findings.failures,
                    self.probe.findings.sent,
                    self.probe.findings.largest_safe_idle_ms
                )
            });
        }
        violations
    }
}
