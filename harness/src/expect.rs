//! `[expect]`: what a CI gate requires of a run's result, and the check that lists every violation.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::result::RunResult;

/// Expectations on a result; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expect {
    /// At least this many 502s (a reproduction must reproduce).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_502: Option<u64>,
    /// At most this many 502s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_502: Option<u64>,
    /// At most this many 502s per 10,000 requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_502_per_10k: Option<f64>,
    /// Every 502 must carry one of these causes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
    /// p99 latency at most this.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub max_p99: Option<Duration>,
}

impl Expect {
    /// One line per violated expectation; empty when the result passes. Unaccounted requests always violate.
    pub fn violations(&self, result: &RunResult) -> Vec<String> {
        let mut violations = Vec::new();
        let bad = result.bad_gateways();
        if let Some(min) = self.min_502
            && bad < min
        {
            violations.push(format!("expected at least {min} 502, got {bad}"));
        }
        if let Some(max) = self.max_502
            && bad > max
        {
            violations.push(format!("expected at most {max} 502, got {bad}"));
        }
        if let Some(max) = self.max_502_per_10k {
            let rate = result.bad_gateways_per_10k();
            if rate > max {
                violations.push(format!("expected at most {max} 502 per 10k, got {rate:.1}"));
            }
        }
        if !self.causes.is_empty() {
            for (cause, count) in &result.causes {
                if *count > 0 && !self.causes.contains(cause) {
                    violations.push(format!(
                        "502 cause {cause} ({count}) is not among the expected [{}]",
                        self.causes.join(", ")
                    ));
                }
            }
        }
        if let Some(max) = self.max_p99 {
            let p99 = result.latency_ms.p99;
            if p99 > max.as_secs_f64() * 1000.0 {
                violations.push(format!("expected p99 at most {max:?}, got {p99:.2} ms"));
            }
        }
        if result.unaccounted != 0 {
            violations.push(format!("{} requests unaccounted for", result.unaccounted));
        }
        violations
    }
}
