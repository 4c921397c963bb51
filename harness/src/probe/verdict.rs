//! From probe records to the answer: failures per idle-age bin with 95 % intervals, the verdict, the largest
//! front idle timeout measured safe, and, when nothing failed, the 95 % upper bound on the failure rate.
//!
//! Pure: records in, [`Findings`] out.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::window::AgeBin;
use crate::record::{ClientError, Outcome};
use crate::sweep::wilson_interval;

/// One probe: the upstream idle age it was sent at and what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRecord {
    /// The stream's measured idle time before the request was written: the front's pooled connection had been
    /// idle as long, give or take the front's own microseconds.
    pub age: Duration,
    /// What the client saw.
    pub outcome: Outcome,
}

/// The probes of one bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinFindings {
    /// Lower edge, ms.
    pub from_ms: f64,
    /// Upper edge, ms.
    pub to_ms: f64,
    /// Probes sent.
    pub sent: u64,
    /// 502s by cause (`unclassified` without a cause header).
    pub bad_gateways: BTreeMap<String, u64>,
    /// The front closed or reset the client connection without a response.
    pub closed_without_response: u64,
    /// No response within the load's timeout.
    pub timeouts: u64,
    /// 502s + closes without response + timeouts.
    pub failures: u64,
    /// Lower end of the 95 % Wilson interval on failures / sent.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
}

/// Everything the probes say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// Per bin, lowest ages first.
    pub bins: Vec<BinFindings>,
    /// Probes sent in all.
    pub sent: u64,
    /// Failures in all.
    pub failures: u64,
    /// True when any probe failed: the front can reuse a connection into the back's close.
    pub exposed: bool,
    /// The largest upstream idle age below which no probe failed, ms: a front idle timeout up to this was
    /// measured safe (the top of the probed range when nothing failed).
    pub largest_safe_idle_ms: f64,
    /// When nothing failed: the 95 % upper bound on the failure rate for this many probes.
    pub failure_rate_upper_bound: Option<f64>,
}

/// Sorts `records` into `bins` by measured age (an age outside every bin counts in the nearest) and judges.
pub fn judge(bins: &[AgeBin], records: &[ProbeRecord]) -> Findings {
    let mut found: Vec<BinFindings> = bins
        .iter()
        .map(|bin| BinFindings {
            from_ms: bin.from_us as f64 / 1000.0,
            to_ms: bin.to_us as f64 / 1000.0,
            sent: 0,
            bad_gateways: BTreeMap::new(),
            closed_without_response: 0,
            timeouts: 0,
            failures: 0,
            ci_low: 0.0,
            ci_high: 1.0,
        })
        .collect();
    if found.is_empty() {
        return Findings {
            bins: found,
            sent: 0,
            failures: 0,
            exposed: false,
            largest_safe_idle_ms: 0.0,
            failure_rate_upper_bound: None,
        };
    }
    for record in records {
        let age_us = record.age.as_micros() as u64;
        let index = bins
            .iter()
            .position(|bin| age_us < bin.to_us)
            .unwrap_or(bins.len() - 1);
        let bin = &mut found[index];
        bin.sent += 1;
        match &record.outcome {
            Outcome::Response { status: 502, cause } => {
                let cause = cause.clone().unwrap_or_else(|| "unclassified".to_owned());
                *bin.bad_gateways.entry(cause).or_default() += 1;
                bin.failures += 1;
            }
            Outcome::Response { .. } => {}
            Outcome::Failed(ClientError::Timeout) => {
                bin.timeouts += 1;
                bin.failures += 1;
            }
            Outcome::Failed(_) => {
                bin.closed_without_response += 1;
                bin.failures += 1;
            }
        }
    }
    for bin in &mut found {
        (bin.ci_low, bin.ci_high) = wilson_interval(bin.failures, bin.sent);
    }
    let sent = found.iter().map(|b| b.sent).sum();
    let failures = found.iter().map(|b| b.failures).sum();
    let largest_safe_idle_ms = found
        .iter()
        .find(|b| b.failures > 0)
        .map_or_else(|| found.last().map_or(0.0, |b| b.to_ms), |b| b.from_ms);
    Findings {
        bins: found,
        sent,
        failures,
        exposed: failures > 0,
        largest_safe_idle_ms,
        failure_rate_upper_bound: (failures == 0 && sent > 0).then(|| zero_failure_bound(sent)),
    }
}

/// The exact 95 % upper bound on a rate after `trials` trials without one event: `1 − 0.05^(1/n)` (about
/// 3/n, the "rule of three").
pub fn zero_failure_bound(trials: u64) -> f64 {
    1.0 - 0.05_f64.powf(1.0 / trials as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bins() -> Vec<AgeBin> {
        vec![
            AgeBin {
                from_us: 40_000,
                to_us: 44_000,
            },
            AgeBin {
                from_us: 44_000,
                to_us: 48_000,
            },
            AgeBin {
                from_us: 48_000,
                to_us: 52_000,
            },
        ]
    }

    fn record(age_ms: u64, outcome: Outcome) -> ProbeRecord {
        ProbeRecord {
            age: Duration::from_millis(age_ms),
            outcome,
        }
    }

    fn ok() -> Outcome {
        Outcome::Response {
            status: 200,
            cause: None,
        }
    }

    #[test]
    fn failures_land_in_their_bins_and_set_the_safe_limit() {
        let records = vec![
            record(41, ok()),
            record(
                45,
                Outcome::Response {
                    status: 502,
                    cause: Some("reused-closed".into()),
                },
            ),
            record(46, Outcome::Failed(ClientError::Closed)),
            record(49, ok()),
            record(
                60,
                Outcome::Response {
                    status: 502,
                    cause: None,
                },
            ),
        ];
        let findings = judge(&bins(), &records);
        assert!(findings.exposed);
        assert_eq!(findings.sent, 5);
        assert_eq!(findings.failures, 3);
        assert_eq!(findings.bins[1].failures, 2);
        assert_eq!(findings.bins[1].closed_without_response, 1);
        assert_eq!(findings.bins[2].bad_gateways.get("unclassified"), Some(&1));
        assert_eq!(findings.largest_safe_idle_ms, 44.0);
        assert_eq!(findings.failure_rate_upper_bound, None);
    }

    #[test]
    fn no_failure_gives_an_upper_bound_and_the_whole_range_as_safe() {
        let records: Vec<_> = (0..60).map(|i| record(40 + i % 12, ok())).collect();
        let findings = judge(&bins(), &records);
        assert!(!findings.exposed);
        assert_eq!(findings.largest_safe_idle_ms, 52.0);
        let bound = findings.failure_rate_upper_bound.unwrap_or(1.0);
        assert!((bound - 0.0487).abs() < 0.001, "{bound}");
    }

    #[test]
    fn the_zero_failure_bound_is_about_three_over_n() {
        assert!((zero_failure_bound(300) * 300.0 - 3.0).abs() < 0.02);
    }
}
