//! The only place a [`RunResult`] is built: from what the load measured, the chain's account (when the chain
//! was ours to stop) and the subject, which decides the settings written (see docs/result-contract.md).

use std::collections::BTreeMap;

use crate::chain::{BackKind, ChainAccount, FrontKind};
use crate::distribution::{BackTiming, latency_percentiles, race_window};
use crate::histogram;
use crate::record::{CauseKey, ClientError};
use crate::resources::ResourceUsage;
use crate::result::{FaultsInjected, LatencyMs, RunResult};
use crate::scenario::Scenario;

use super::measure::Measured;
use super::subject::Subject;

/// The result of one run. `account` is `None` for an external target: its counters are not ours.
pub fn build(
    name: String,
    subject: &Subject<'_>,
    measured: Measured,
    account: Option<&ChainAccount>,
    resources: ResourceUsage,
    interrupted: bool,
) -> RunResult {
    let tally = &measured.tally;
    let unaccounted =
        measured.started.abs_diff(tally.records) + tally.records.abs_diff(tally.accounted());
    let client_errors = ClientError::ALL
        .iter()
        .map(|kind| {
            (
                kind.name().to_owned(),
                tally.client_errors.get(kind).copied().unwrap_or(0),
            )
        })
        .collect();
    let latency_ms = if tally.records == 0 {
        LatencyMs::default()
    } else {
        histogram::latency_ms(&tally.latency_us)
    };
    // Encoding an in-memory histogram into a Vec cannot fail short of an allocation failure; a result without
    // it still holds every other figure, so it is written without the histogram rather than not at all.
    let latency_histogram = histogram::encode(&tally.latency_us)
        .inspect_err(|error| tracing::warn!(%error, "result written without its latency histogram"))
        .ok();
    let gateway = account.and_then(|a| a.gateway.clone()).unwrap_or_default();
    let (timelines, timeline_totals) = match account.and_then(|a| a.timelines.as_ref()) {
        Some(harvests) => {
            let (timelines, totals) = crate::timelines::build(harvests);
            (timelines, Some(totals))
        }
        None => (Vec::new(), None),
    };
    let back = account.and_then(|a| a.back_stats).unwrap_or_default();
    RunResult {
        scenario: name,
        settings: settings(subject),
        requests: measured.started,
        responses: tally
            .responses
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect(),
        client_errors,
        causes: tally.causes.clone(),
        latency_ms,
        latency_histogram,
        throughput_rps: if measured.duration_s > 0.0 {
            tally.answered() as f64 / measured.duration_s
        } else {
            0.0
        },
        upstream_connections: gateway.upstream_connections,
        retries: gateway.retries,
        unaccounted,
        duration_s: measured.duration_s,
        seed: measured.seed,
        interrupted,
        time_scale: 1.0,
        gateway_causes: gateway
            .causes
            .iter()
            .map(|(cause, n)| (CauseKey::from(*cause), *n))
            .collect(),
        reused_upstream_requests: gateway.reused_requests,
        origin_requests: account.map_or(0, |a| a.origin_requests),
        origin_probe_requests: account.map_or(0, |a| a.origin_probe_requests),
        truncated_responses: gateway.truncated_responses,
        back_keepalive_timeouts: back.keepalive_timeouts,
        faults_injected: FaultsInjected {
            link_resets: account.map_or(0, ChainAccount::link_resets),
            origin_errors: account.map_or(0, |a| a.origin_errors),
        },
        resources,
        timelines,
        timeline_totals,
        cell: cell(subject),
        latency_percentiles: latency_percentiles(&tally.latency_us),
        race_window: tally
            .race_window
            .as_ref()
            .and_then(|bins| race_window(bins, back_timing(subject))),
        back_counts: account.and_then(|a| a.back_stats),
    }
}

/// The back's KeepAliveTimeout, when the chain is one we stood up from a scenario.
fn back_timing(subject: &Subject<'_>) -> Option<BackTiming> {
    match subject {
        Subject::Scenario(scenario) | Subject::Mix { scenario, .. } => Some(BackTiming {
            keepalive_timeout: scenario.back.keepalive_timeout,
            link_round_trip: scenario.front_back_latency() * 2,
        }),
        Subject::External { .. } => None,
    }
}

/// What the result stores as its settings: the scenario for our chain (so `check` reads its `[expect]`), the
/// mix and the scenario for a real-stack chain, the target and the load for an external one.
fn settings(subject: &Subject<'_>) -> serde_json::Value {
    match subject {
        Subject::Scenario(scenario) => scenario_json(scenario),
        Subject::Mix {
            scenario,
            front,
            back,
        } => serde_json::json!({
            "front": front.name(),
            "back": back.name(),
            "scenario": scenario_json(scenario),
        }),
        Subject::External { load, target } => serde_json::json!({
            "target": format!("http://{}{}", target.host, target.path),
            "load": load,
        }),
    }
}

fn scenario_json(scenario: &Scenario) -> serde_json::Value {
    serde_json::to_value(scenario).unwrap_or(serde_json::Value::Null)
}

/// A real-stack run is a cell of the fidelity matrix: the tiers and the two keys the matrix varies.
fn cell(subject: &Subject<'_>) -> BTreeMap<String, String> {
    let Subject::Mix {
        scenario,
        front,
        back,
    } = subject
    else {
        return BTreeMap::new();
    };
    BTreeMap::from([
        ("front".to_owned(), front_name(*front)),
        ("back".to_owned(), back_name(*back)),
        (
            "back.keepalive".to_owned(),
            scenario.back.keepalive.to_string(),
        ),
        ("front.retry".to_owned(), retry_name(scenario)),
    ])
}

fn front_name(front: FrontKind) -> String {
    front.name().to_owned()
}

fn back_name(back: BackKind) -> String {
    back.name().to_owned()
}

fn retry_name(scenario: &Scenario) -> String {
    serde_json::to_value(scenario.front.retry)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::Tally;
    use crate::load::{LoadConfig, Target};

    #[test]
    fn results_written_before_resources_and_faults_still_parse() {
        let load = LoadConfig::default();
        let target = Target {
            addr: "127.0.0.1:9".parse().unwrap(),
            host: "127.0.0.1:9".to_owned(),
            method: http::Method::GET,
            path: "/".to_owned(),
            timeout: std::time::Duration::from_secs(1),
        };
        let measured = Measured {
            started: 0,
            tally: Tally::new(),
            duration_s: 1.0,
            seed: 1,
            peaks: ResourceUsage::default(),
        };
        let result = build(
            "old".to_owned(),
            &Subject::External {
                load: &load,
                target: &target,
            },
            measured,
            None,
            ResourceUsage {
                fds_start: 9,
                ..ResourceUsage::default()
            },
            false,
        );
        let mut json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["resources"]["fds_start"], 9);
        let object = json.as_object_mut().unwrap();
        object.remove("resources");
        object.remove("faults_injected");
        object.remove("latency_percentiles");
        object.remove("race_window");
        let parsed: RunResult = serde_json::from_value(json).unwrap();
        assert_eq!(parsed.resources, ResourceUsage::default());
        assert!(parsed.latency_percentiles.is_empty());
        assert_eq!(parsed.race_window, None);
        assert_eq!(parsed.faults_injected, FaultsInjected::default());
        assert_eq!(parsed.scenario, "old");
    }
}
