//! The result contract of design.md (`--json FILE`): built from the collector's tally and the chain's counters;
//! the text table is printed from this same struct.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::collector::Tally;
use crate::record::ClientError;
use crate::resources::ResourceUsage;

/// Latency percentiles in milliseconds, from the HDR histogram.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyMs {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// One run's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Scenario name (with the variant, for a mitigation run).
    pub scenario: String,
    /// The full scenario as run.
    pub settings: serde_json::Value,
    /// Requests started.
    pub requests: u64,
    /// Complete responses by status code.
    pub responses: BTreeMap<String, u64>,
    /// Failures without a response, by kind (every kind present, zero included).
    pub client_errors: BTreeMap<String, u64>,
    /// 502s by cause, as the clients saw the header (`unclassified` without one).
    pub causes: BTreeMap<String, u64>,
    /// Latency from the intended send time.
    pub latency_ms: LatencyMs,
    /// Requests finished per second of run time.
    pub throughput_rps: f64,
    /// Upstream connections the gateway opened.
    pub upstream_connections: u64,
    /// Retries the gateway made.
    pub retries: u64,
    /// Requests started without a record, plus records that are neither response nor client error: always 0.
    pub unaccounted: u64,
    /// Wall-clock length of the load.
    pub duration_s: f64,
    /// The load's seed.
    pub seed: u64,
    /// True when the run was cut short (Ctrl-C): the figures are what was measured until then.
    #[serde(default)]
    pub interrupted: bool,
    /// The gateway's own count of its 502s by cause, to cross-check the clients' view.
    #[serde(default)]
    pub gateway_causes: BTreeMap<String, u64>,
    /// Requests the gateway sent on a reused upstream connection.
    #[serde(default)]
    pub reused_upstream_requests: u64,
    /// Requests the origin served.
    #[serde(default)]
    pub origin_requests: u64,
    /// Of the origin's requests, the gateway's health probes.
    #[serde(default)]
    pub origin_probe_requests: u64,
    /// Responses the gateway aborted after their head (not 502s).
    #[serde(default)]
    pub truncated_responses: u64,
    /// Idle connections the back proxy closed on its keep-alive timeout.
    #[serde(default)]
    pub back_keepalive_timeouts: u64,
    /// Faults the chain injected on purpose, as its tiers counted them.
    #[serde(default)]
    pub faults_injected: FaultsInjected,
    /// This process's resident memory and open file descriptors: before the chain started, at their peak
    /// during the run, and after the chain stopped.
    #[serde(default)]
    pub resources: ResourceUsage,
    /// For a cell of `compare`: the varied keys and their values in this cell.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cell: BTreeMap<String, String>,
}

/// Faults injected by the chain's tiers, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultsInjected {
    /// Connections a fault link reset on purpose (`reset_probability`), both links together.
    pub link_resets: u64,
    /// Requests the origin failed with its `error_status` (`error_probability`).
    pub origin_errors: u64,
}

impl FaultsInjected {
    /// Whether any fault was injected.
    pub fn any(&self) -> bool {
        self.link_resets > 0 || self.origin_errors > 0
    }
}

/// Everything a [`RunResult`] is made from.
pub struct RunFacts<'a> {
    /// Scenario name as reported.
    pub name: String,
    /// The scenario as run.
    pub settings: serde_json::Value,
    /// Requests started by the workers.
    pub started: u64,
    /// The collector's tally.
    pub tally: &'a Tally,
    /// The chain's counters, when the chain was ours.
    pub chain: Option<crate::topology::ChainStats>,
    /// Load duration in seconds.
    pub duration_s: f64,
    /// Seed.
    pub seed: u64,
    /// Cut short.
    pub interrupted: bool,
    /// This process's resources over the run.
    pub resources: ResourceUsage,
}

impl RunResult {
    /// Builds the contract from the run's facts.
    pub fn from_facts(facts: RunFacts<'_>) -> Self {
        let tally = facts.tally;
        let unaccounted =
            facts.started.abs_diff(tally.records) + tally.records.abs_diff(tally.accounted());
        let client_errors = ClientError::ALL
            .iter()
            .map(|kind| {
                (
                    kind.name().to_owned(),
                    tally.client_errors.get(kind).copied().unwrap_or(0),
                )
            })
            .collect();
        let quantile = |q: f64| tally.latency_us.value_at_quantile(q) as f64 / 1000.0;
        let latency_ms = if tally.records == 0 {
            LatencyMs::default()
        } else {
            LatencyMs {
                p50: quantile(0.50),
                p90: quantile(0.90),
                p99: quantile(0.99),
                max: tally.latency_us.max() as f64 / 1000.0,
            }
        };
        let chain = facts.chain.unwrap_or_default();
        Self {
            scenario: facts.name,
            settings: facts.settings,
            requests: facts.started,
            responses: tally
                .responses
                .iter()
                .map(|(s, n)| (s.to_string(), *n))
                .collect(),
            client_errors,
            causes: tally.causes.clone(),
            latency_ms,
            throughput_rps: if facts.duration_s > 0.0 {
                tally.records as f64 / facts.duration_s
            } else {
                0.0
            },
            upstream_connections: chain.gateway.upstream_connections,
            retries: chain.gateway.retries,
            unaccounted,
            duration_s: facts.duration_s,
            seed: facts.seed,
            interrupted: facts.interrupted,
            gateway_causes: chain
                .gateway
                .causes
                .iter()
                .map(|(c, n)| (c.to_string(), *n))
                .collect(),
            reused_upstream_requests: chain.gateway.reused_requests,
            origin_requests: chain.origin_requests,
            origin_probe_requests: chain.origin_probe_requests,
            truncated_responses: chain.gateway.truncated_responses,
            back_keepalive_timeouts: chain.back.keepalive_timeouts,
            faults_injected: FaultsInjected {
                link_resets: chain.link_resets(),
                origin_errors: chain.origin_errors,
            },
            resources: facts.resources,
            cell: BTreeMap::new(),
        }
    }

    /// 502 responses.
    pub fn bad_gateways(&self) -> u64 {
        self.responses.get("502").copied().unwrap_or(0)
    }

    /// 502s of the keep-alive race (`reused-closed` + `reused-reset`).
    pub fn race_bad_gateways(&self) -> u64 {
        ["reused-closed", "reused-reset"]
            .iter()
            .map(|c| self.causes.get(*c).copied().unwrap_or(0))
            .sum()
    }

    /// Sum of client errors.
    pub fn client_error_total(&self) -> u64 {
        self.client_errors.values().sum()
    }

    /// Upstream connections opened per second of run.
    pub fn upstream_connections_per_s(&self) -> f64 {
        if self.duration_s > 0.0 {
            self.upstream_connections as f64 / self.duration_s
        } else {
            0.0
        }
    }

    /// 502s per 10,000 requests.
    pub fn bad_gateways_per_10k(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.bad_gateways() as f64 * 10_000.0 / self.requests as f64
        }
    }
}

/// Writes `value` as pretty JSON to `path` atomically (a temporary file renamed into place).
pub fn write_json_atomically<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = std::path::PathBuf::from(temporary);
    std::fs::write(&temporary, text + "\n")?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_written_before_resources_and_faults_still_parse() {
        let tally = Tally::new();
        let result = RunResult::from_facts(RunFacts {
            name: "old".to_owned(),
            settings: serde_json::Value::Null,
            started: 0,
            tally: &tally,
            chain: None,
            duration_s: 1.0,
            seed: 1,
            interrupted: false,
            resources: ResourceUsage {
                fds_start: 9,
                ..ResourceUsage::default()
            },
        });
        let mut json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["resources"]["fds_start"], 9);
        let object = json.as_object_mut().unwrap();
        object.remove("resources");
        object.remove("faults_injected");
        let parsed: RunResult = serde_json::from_value(json).unwrap();
        assert_eq!(parsed.resources, ResourceUsage::default());
        assert_eq!(parsed.faults_injected, FaultsInjected::default());
        assert_eq!(parsed.scenario, "old");
    }
}
