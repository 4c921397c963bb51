//! The result contract (`--json FILE`, docs/result-contract.md) as plain data, and the figures derived from
//! it. It is built in one place, `crate::run` (from the collector's tally and the chain's account); the text
//! tables, `check` and `explain` read this same struct. It knows nothing of chains or of the load.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::distribution::{PercentilePoint, RaceWindow};
use crate::record::CauseKey;
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
    pub causes: BTreeMap<CauseKey, u64>,
    /// Latency from the intended send time.
    pub latency_ms: LatencyMs,
    /// The latency histogram behind `latency_ms` (µs), HdrHistogram V2 + DEFLATE in base64
    /// ([`crate::histogram`]): what `merge` adds up. Absent in files written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_histogram: Option<String>,
    /// Responses (any status, 502 included) per second of run time; client errors, which got no response,
    /// are not counted (wrk's Requests/sec).
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
    pub gateway_causes: BTreeMap<CauseKey, u64>,
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
    /// The `--time-scale` factor every configured timeout, gap and interval was multiplied by (`settings` holds
    /// the scaled values); 1 when absent, as in files written before the flag existed.
    #[serde(default = "unscaled")]
    pub time_scale: f64,
    /// The wire story of each failed request, up to `--timelines N` (absent when recording was off or nothing
    /// failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timelines: Vec<crate::timelines::Timeline>,
    /// How many failures the run had and how many timelines it kept (absent when recording was off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline_totals: Option<crate::timelines::TimelineTotals>,
    /// For a cell of `compare`: the varied keys and their values in this cell.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cell: BTreeMap<String, String>,
    /// The latency distribution from the HDR histogram, at HdrHistogram's usual percentile steps (0, 50, 75,
    /// 87.5, ... 100); empty in files written before it existed, and for a run without records.
    #[serde(default)]
    pub latency_percentiles: Vec<PercentilePoint>,
    /// P(502) against the clients' measured idle gap, binned; absent when the load had no idle gaps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub race_window: Option<RaceWindow>,
    /// What our back tier counted, all members together (the same counts its `/metrics` serves); absent for a
    /// real back, without a back tier, and for an external target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub back_counts: Option<keepalive_proxy::BackStats>,
}

fn unscaled() -> f64 {
    1.0
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

impl RunResult {
    /// The scenario the run stood up, as its settings hold it: our chain's settings are the scenario itself,
    /// a real-stack run's (`{front, back, scenario}`) hold it under `scenario`. An external target's settings
    /// (target and load) hold none, and neither parses as a scenario.
    pub fn scenario_settings(&self) -> &serde_json::Value {
        match (self.settings.get("front"), self.settings.get("scenario")) {
            (Some(_), Some(scenario)) => scenario,
            _ => &self.settings,
        }
    }

    /// The front that answered the clients, when a real server's (`nginx`, `haproxy`, ...): its 502s carry no
    /// `x-badgateway-cause`, so they are all `unclassified` on the client side. `None` for our gateway and for
    /// an external target.
    pub fn real_front(&self) -> Option<&str> {
        self.settings
            .get("front")
            .and_then(serde_json::Value::as_str)
            .filter(|name| *name != "ours")
    }

    /// 502 responses.
    pub fn bad_gateways(&self) -> u64 {
        self.responses.get("502").copied().unwrap_or(0)
    }

    /// 502s of the keep-alive race (`reused-closed` + `reused-reset`: [`gateway::Cause::is_keepalive_race`]).
    pub fn race_bad_gateways(&self) -> u64 {
        self.causes
            .iter()
            .filter(|(cause, _)| cause.is_keepalive_race())
            .map(|(_, n)| n)
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
