//! `badgateway probe`: can this chain's front reuse a connection into the back's close? Answered with evidence
//! in bounded time:
//! 1. the back's *real* idle close, on direct connections (`close_time.rs`);
//! 2. the front→back round trip (`round_trip.rs`);
//! 3. the ages to probe: the close window below the front's idle timeout (`window.rs`);
//! 4. streams in parallel, each through a front of its own so no pool sharing can hide the race, each request
//!    sent after a controlled idle age (`stream.rs`);
//! 5. failures per age bin, the verdict and the largest safe front idle timeout (`verdict.rs`).
//!
//! Steps 1–5 measure against addresses they are given; `subject.rs` is the one part that knows the chain model
//! (it stands the scenario's chain up with a front per stream). Printing the answer is the report's.

mod close_time;
mod exchange;
mod result;
mod round_trip;
mod stream;
mod subject;
mod verdict;
mod window;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use listener::ShutdownSignal;
use serde::{Deserialize, Serialize};

pub use close_time::{CloseKind, CloseSample, CloseTime, measure_close};
pub use result::ProbeResult;
pub use round_trip::measure_round_trip;
pub use subject::{ProbeRunError, probe_scenario};
pub use verdict::{BinFindings, Findings, ProbeRecord, judge, zero_failure_bound};
pub use window::{AgeBin, FRONT_IDLE_GUARD, Window, WindowInputs, plan};

use crate::load::Target;

/// How hard the probe looks. Defaults: 8 streams, 96 probes over 8 bins, 5 close samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeSettings {
    /// Streams in parallel, each with a front of its own.
    pub streams: usize,
    /// Probes in all, spread evenly over the bins.
    pub probes: usize,
    /// Bins over the window.
    pub bins: usize,
    /// Direct connections whose idle close is timed.
    pub close_samples: usize,
    /// Slack on both ends of the window; unset = 2 ms or 4 % of the measured close, whichever is larger,
    /// plus the spread of the close samples.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub margin: Option<Duration>,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        Self {
            streams: 8,
            probes: 96,
            bins: 8,
            close_samples: 5,
            margin: None,
        }
    }
}

/// The most streams, probes and bins a probe takes.
pub const MAX_STREAMS: usize = 64;
/// See [`MAX_STREAMS`].
pub const MAX_PROBES: usize = 10_000;
/// See [`MAX_STREAMS`].
pub const MAX_BINS: usize = 64;

impl ProbeSettings {
    /// Every count within its bounds, or a message naming the bad one.
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            ("probe.streams", self.streams, MAX_STREAMS),
            ("probe.probes", self.probes, MAX_PROBES),
            ("probe.bins", self.bins, MAX_BINS),
            ("probe.close_samples", self.close_samples, 100),
        ];
        for (key, value, max) in checks {
            if value == 0 || value > max {
                return Err(format!("{key} = {value}: must be 1 to {max}"));
            }
        }
        Ok(())
    }

    /// The margin for a measured close.
    pub fn margin_for(&self, close: &CloseTime) -> Duration {
        self.margin.unwrap_or_else(|| {
            let median = Duration::from_secs_f64(close.median_ms() / 1000.0);
            let spread =
                Duration::from_secs_f64((close.max_ms() - close.min_ms()).max(0.0) / 1000.0);
            Duration::from_millis(2).max(median / 25) + spread
        })
    }
}

/// Where the probe sends.
#[derive(Debug, Clone)]
pub struct ProbeTargets {
    /// One front per stream (each with its own upstream pool).
    pub fronts: Vec<SocketAddr>,
    /// The back, for direct connections.
    pub back: SocketAddr,
    /// Where the fronts connect to reach the back (the link in front of it, or the back itself).
    pub back_path: SocketAddr,
    /// The request every stream sends (its `addr` is replaced by each stream's front).
    pub request: Target,
    /// The fronts' upstream idle timeout, when they have one.
    pub front_idle: Option<Duration>,
    /// The longest a direct connection waits for the back's close.
    pub close_limit: Duration,
}

/// What the probe measured and concluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeMeasurement {
    /// The back's idle close on direct connections.
    pub back_close: CloseTime,
    /// The front→back round trip, ms.
    pub round_trip_ms: f64,
    /// The fronts' upstream idle timeout, ms.
    pub front_idle_timeout_ms: Option<f64>,
    /// The margin used, ms.
    pub margin_ms: f64,
    /// The ages probed.
    pub window: Window,
    /// What the probes said.
    pub findings: Findings,
    /// Streams run.
    pub streams: usize,
    /// Wall time of the whole probe, s.
    pub wall_s: f64,
    /// Ctrl-C cut it short.
    pub interrupted: bool,
}

/// Why a probe could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A direct connection could not be made or broke.
    #[error("probe: connection to {addr}: {source}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A direct exchange went wrong.
    #[error("probe: {addr}: {reason}")]
    Exchange {
        /// Where.
        addr: String,
        /// What happened.
        reason: String,
    },
    /// The back kept an idle connection open past the limit.
    #[error(
        "probe: {addr} kept an idle connection open for more than {limit:?}; its keep-alive timeout is longer \
         than the probe waits (scale the scenario's timeouts down with --time-scale)"
    )]
    NoIdleClose {
        /// The back.
        addr: SocketAddr,
        /// How long the probe waited.
        limit: Duration,
    },
    /// A measuring task failed.
    #[error("probe: a measuring task failed: {0}")]
    Task(String),
    /// No front to send through.
    #[error("probe: no front to send through")]
    NoFront,
}

/// Measures the back's close and the round trip, plans the window, runs the streams and judges.
pub async fn run_probe(
    targets: &ProbeTargets,
    settings: &ProbeSettings,
    stop: ShutdownSignal,
) -> Result<ProbeMeasurement, ProbeError> {
    if targets.fronts.is_empty() {
        return Err(ProbeError::NoFront);
    }
    let began = Instant::now();
    let host = targets.request.host.as_str();
    let path = targets.request.path.as_str();
    let back_close = measure_close(
        targets.back,
        host,
        path,
        settings.close_samples,
        targets.close_limit,
    )
    .await?;
    let round_trip = measure_round_trip(
        targets.back_path,
        targets.back,
        host,
        path,
        9,
        targets.request.timeout,
    )
    .await?;
    let margin = settings.margin_for(&back_close);
    let window = plan(
        WindowInputs {
            close: Duration::from_secs_f64(back_close.median_ms() / 1000.0),
            round_trip,
            margin,
            front_idle: targets.front_idle,
        },
        settings.bins,
    );
    let streams = targets.fronts.len().min(settings.streams).max(1);
    let mut plans = deal(&ages(&window.bins, settings.probes), streams);
    let mut tasks = tokio::task::JoinSet::new();
    for (front, ages) in targets.fronts.iter().zip(plans.drain(..)) {
        let mut request = targets.request.clone();
        request.addr = *front;
        tasks.spawn(stream::drive_stream(request, ages, stop.clone()));
    }
    let mut records = Vec::with_capacity(settings.probes);
    while let Some(joined) = tasks.join_next().await {
        records.extend(joined.map_err(|e| ProbeError::Task(e.to_string()))?);
    }
    let findings = judge(&window.bins, &records);
    Ok(ProbeMeasurement {
        back_close,
        round_trip_ms: round_trip.as_secs_f64() * 1000.0,
        front_idle_timeout_ms: targets.front_idle.map(|d| d.as_secs_f64() * 1000.0),
        margin_ms: margin.as_secs_f64() * 1000.0,
        window,
        findings,
        streams,
        wall_s: began.elapsed().as_secs_f64(),
        interrupted: stop.is_triggered(),
    })
}

/// `probes` ages spread evenly inside the bins, bins interleaved (bin 0, 1, …, then 0, 1, … again) so every
/// stream crosses the whole window.
fn ages(bins: &[AgeBin], probes: usize) -> Vec<Duration> {
    if bins.is_empty() {
        return Vec::new();
    }
    let per_bin = probes.div_ceil(bins.len());
    let mut ages = Vec::with_capacity(per_bin * bins.len());
    for k in 0..per_bin {
        for bin in bins {
            let offset = bin.width().mul_f64((k as f64 + 0.5) / per_bin as f64);
            ages.push(bin.from() + offset);
        }
    }
    ages.truncate(probes.max(bins.len()));
    ages
}

/// Deals `ages` round robin to `streams` streams.
fn deal(ages: &[Duration], streams: usize) -> Vec<Vec<Duration>> {
    let mut dealt = vec![Vec::new(); streams];
    for (i, age) in ages.iter().enumerate() {
        dealt[i % streams].push(*age);
    }
    dealt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_cover_every_bin_evenly_and_are_dealt_to_every_stream() {
        let bins = [
            AgeBin {
                from_us: 10_000,
                to_us: 12_000,
            },
            AgeBin {
                from_us: 12_000,
                to_us: 14_000,
            },
        ];
        let ages = ages(&bins, 8);
        assert_eq!(ages.len(), 8);
        assert_eq!(ages[0], Duration::from_micros(10_250));
        assert_eq!(ages[1], Duration::from_micros(12_250));
        assert!(
            ages.iter()
                .all(|a| *a >= Duration::from_millis(10) && *a < Duration::from_millis(14))
        );
        let dealt = deal(&ages, 3);
        assert_eq!(
            dealt.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![3, 3, 2]
        );
    }

    #[test]
    fn settings_out_of_bounds_are_named() {
        let settings = ProbeSettings {
            streams: 0,
            ..ProbeSettings::default()
        };
        assert_eq!(
            settings.validate(),
            Err("probe.streams = 0: must be 1 to 64".to_owned())
        );
        assert_eq!(ProbeSettings::default().validate(), Ok(()));
    }
}
