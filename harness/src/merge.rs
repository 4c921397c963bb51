//! Several runs' results as one (`badgateway merge`): the results of load agents that ran at the same time
//! against one target (pods of a Kubernetes Job, a CI matrix). Counts and causes are added, the latency
//! histograms are added exactly and the percentiles are read from the sum, never averaged. It merges
//! [`RunResult`]s already read; which files they came from is the command's business, and it knows nothing
//! of chains or the load.

use std::collections::BTreeMap;

use keepalive_proxy::BackStats;

use crate::distribution::{latency_percentiles, merge_race_windows};
use crate::histogram::{self, HistogramError};
use crate::resources::ResourceUsage;
use crate::result::RunResult;

/// One result to merge and the name errors call it by (its file).
#[derive(Debug, Clone)]
pub struct Part {
    /// The file it was read from, as the user wrote it.
    pub name: String,
    /// Its result.
    pub result: RunResult,
}

/// Why results could not be merged; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("nothing to merge: give at least one run result")]
    Empty,
    /// A result written before results carried their histogram (or by a tool that drops it).
    #[error(
        "{name} has no latency_histogram (written before results carried one): its percentiles cannot be merged exactly; re-run it with this version"
    )]
    NoHistogram {
        /// The file.
        name: String,
    },
    /// A histogram that does not decode.
    #[error("{name}: {source}")]
    BadHistogram {
        /// The file.
        name: String,
        /// Why.
        source: HistogramError,
    },
    /// A histogram whose values do not fit the first one's range.
    #[error("{name}: its latency histogram cannot be added to the others: {source}")]
    Addition {
        /// The file.
        name: String,
        /// Why.
        source: hdrhistogram::AdditionError,
    },
    /// Runs at different time scales measure different things.
    #[error(
        "{name} ran at time scale {theirs}, the first file at {first}: results of different time scales do not merge"
    )]
    TimeScale {
        /// The file.
        name: String,
        /// Its scale.
        theirs: f64,
        /// The first file's scale.
        first: f64,
    },
}

/// The results of agents that ran side by side, as one run.
///
/// Summed: `requests`, `responses`, `client_errors`, `causes`, `gateway_causes`, `unaccounted` and every
/// counter. The latency histograms are added and `latency_ms` is read from the sum. `duration_s` is the longest
/// part's (the agents ran at the same time) and `throughput_rps` is every response over it. `interrupted` when any
/// part was. `resources` holds the largest part's figure of each (they are each agent's own process).
/// `scenario` is the parts' name when they share it, else their names joined by ` + `; `settings`, `seed` and
/// fields this function does not know are the first part's.
pub fn merge(parts: &[Part]) -> Result<RunResult, MergeError> {
    let Some(first) = parts.first() else {
        return Err(MergeError::Empty);
    };
    let mut latency = decoded(first)?;
    for part in &parts[1..] {
        if part.result.time_scale != first.result.time_scale {
            return Err(MergeError::TimeScale {
                name: part.name.clone(),
                theirs: part.result.time_scale,
                first: first.result.time_scale,
            });
        }
        latency
            .add(decoded(part)?)
            .map_err(|source| MergeError::Addition {
                name: part.name.clone(),
                source,
            })?;
    }
    let results: Vec<&RunResult> = parts.iter().map(|part| &part.result).collect();
    let sum = |field: fn(&RunResult) -> u64| results.iter().map(|r| field(r)).sum::<u64>();
    let duration_s = results.iter().map(|r| r.duration_s).fold(0.0, f64::max);
    // What throughput counts: responses of any status (client errors got none).
    let answered: u64 = results
        .iter()
        .map(|r| r.responses.values().sum::<u64>())
        .sum();
    let mut merged = first.result.clone();
    merged.scenario = scenario_name(&results);
    merged.requests = sum(|r| r.requests);
    merged.responses = summed(results.iter().map(|r| &r.responses));
    merged.client_errors = summed(results.iter().map(|r| &r.client_errors));
    merged.causes = summed(results.iter().map(|r| &r.causes));
    merged.gateway_causes = summed(results.iter().map(|r| &r.gateway_causes));
    merged.latency_ms = histogram::latency_ms(&latency);
    merged.latency_percentiles = latency_percentiles(&latency);
    merged.race_window = merge_race_windows(
        &results
            .iter()
            .map(|r| r.race_window.as_ref())
            .collect::<Vec<_>>(),
    );
    merged.back_counts = results
        .iter()
        .map(|r| r.back_counts)
        .collect::<Option<Vec<_>>>()
        .map(|counts| {
            counts
                .into_iter()
                .fold(BackStats::default(), |sum, one| sum + one)
        });
    // Each agent kept its own first failures; together they are the merged run's, in file order.
    merged.timelines = results
        .iter()
        .flat_map(|r| r.timelines.iter().cloned())
        .collect();
    merged.timeline_totals = results
        .iter()
        .filter_map(|r| r.timeline_totals)
        .reduce(|sum, one| sum + one);
    merged.latency_histogram =
        Some(
            histogram::encode(&latency).map_err(|source| MergeError::BadHistogram {
                name: first.name.clone(),
                source,
            })?,
        );
    merged.duration_s = duration_s;
    merged.throughput_rps = if duration_s > 0.0 {
        answered as f64 / duration_s
    } else {
        0.0
    };
    merged.upstream_connections = sum(|r| r.upstream_connections);
    merged.retries = sum(|r| r.retries);
    merged.unaccounted = sum(|r| r.unaccounted);
    merged.interrupted = results.iter().any(|r| r.interrupted);
    merged.reused_upstream_requests = sum(|r| r.reused_upstream_requests);
    merged.origin_requests = sum(|r| r.origin_requests);
    merged.origin_probe_requests = sum(|r| r.origin_probe_requests);
    merged.truncated_responses = sum(|r| r.truncated_responses);
    merged.back_keepalive_timeouts = sum(|r| r.back_keepalive_timeouts);
    merged.faults_injected.link_resets = sum(|r| r.faults_injected.link_resets);
    merged.faults_injected.origin_errors = sum(|r| r.faults_injected.origin_errors);
    merged.resources = largest(results.iter().map(|r| &r.resources));
    if results.iter().any(|r| r.cell != first.result.cell) {
        merged.cell = BTreeMap::new();
    }
    Ok(merged)
}

fn decoded(part: &Part) -> Result<hdrhistogram::Histogram<u64>, MergeError> {
    let text = part
        .result
        .latency_histogram
        .as_deref()
        .ok_or_else(|| MergeError::NoHistogram {
            name: part.name.clone(),
        })?;
    histogram::decode(text).map_err(|source| MergeError::BadHistogram {
        name: part.name.clone(),
        source,
    })
}

fn scenario_name(results: &[&RunResult]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for result in results {
        if !names.contains(&result.scenario.as_str()) {
            names.push(&result.scenario);
        }
    }
    names.join(" + ")
}

fn summed<'a, K: Ord + Clone + 'a>(
    maps: impl Iterator<Item = &'a BTreeMap<K, u64>>,
) -> BTreeMap<K, u64> {
    let mut total = BTreeMap::new();
    for map in maps {
        for (key, n) in map {
            *total.entry(key.clone()).or_default() += n;
        }
    }
    total
}

fn largest<'a>(usages: impl Iterator<Item = &'a ResourceUsage>) -> ResourceUsage {
    usages.fold(ResourceUsage::default(), |most, usage| ResourceUsage {
        rss_kib_start: most.rss_kib_start.max(usage.rss_kib_start),
        rss_kib_end: most.rss_kib_end.max(usage.rss_kib_end),
        rss_kib_peak: most.rss_kib_peak.max(usage.rss_kib_peak),
        fds_start: most.fds_start.max(usage.fds_start),
        fds_end: most.fds_end.max(usage.fds_end),
        fds_peak: most.fds_peak.max(usage.fds_peak),
    })
}
