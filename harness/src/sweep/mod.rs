//! `badgateway sweep SCENARIO --offset -50ms..50ms --step 5ms`: the race window. Each bin runs the scenario's
//! chain with an idle gap of `keepalive_timeout + offset` (± half a step) and reports P(502) with a 95 %
//! Wilson confidence interval.

use std::time::Duration;

use listener::ShutdownSignal;

use crate::chain::ChainError;
use crate::result::RunResult;
use crate::run::{RunOptions, run_scenario};
use crate::scenario::{Scenario, ScenarioError};

pub mod curve;

pub use curve::{SweepBin, SweepResult, wilson_interval};

/// A signed offset from the back's keep-alive timeout, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Offset(pub i64);

impl Offset {
    /// In milliseconds, for reports.
    pub fn as_ms(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

impl std::str::FromStr for Offset {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let (sign, magnitude) = match trimmed.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, trimmed.strip_prefix('+').unwrap_or(trimmed)),
        };
        let duration =
            humantime::parse_duration(magnitude).map_err(|e| format!("offset {text:?}: {e}"))?;
        let micros = i64::try_from(duration.as_micros())
            .map_err(|_| format!("offset {text:?} is too large"))?;
        Ok(Offset(sign * micros))
    }
}

/// The bins of a sweep: `from..to` in steps of `step`, both ends included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetRange {
    /// First offset.
    pub from: Offset,
    /// Last offset (inclusive).
    pub to: Offset,
}

impl std::str::FromStr for OffsetRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (from, to) = text
            .split_once("..")
            .ok_or_else(|| format!("--offset {text:?}: expected FROM..TO, e.g. -50ms..50ms"))?;
        let range = Self {
            from: from.parse()?,
            to: to.parse()?,
        };
        if range.from > range.to {
            return Err(format!("--offset {text:?}: FROM is after TO"));
        }
        Ok(range)
    }
}

/// The most bins a sweep runs.
pub const MAX_BINS: usize = 201;

impl OffsetRange {
    /// The offsets of every bin.
    pub fn bins(&self, step: Duration) -> Result<Vec<Offset>, String> {
        let step = i64::try_from(step.as_micros()).map_err(|_| "--step is too large".to_owned())?;
        if step <= 0 {
            return Err("--step must be positive".to_owned());
        }
        let count = (self.to.0 - self.from.0) / step + 1;
        if count as usize > MAX_BINS {
            return Err(format!(
                "--offset/--step make {count} bins, more than {MAX_BINS}"
            ));
        }
        Ok((0..count).map(|i| Offset(self.from.0 + i * step)).collect())
    }
}

/// The scenario of one bin.
pub fn bin_scenario(
    base: &Scenario,
    offset: Offset,
    step: Duration,
    requests_per_bin: u64,
) -> Result<Scenario, ScenarioError> {
    let timeout = i64::try_from(base.back.keepalive_timeout.as_micros()).unwrap_or(i64::MAX);
    let gap = timeout.saturating_add(offset.0);
    let half_step = step / 2;
    if gap < 0 || (gap as u128) < half_step.as_micros() {
        return Err(ScenarioError::Invalid {
            origin: base.name.clone(),
            message: format!(
                "offset {}ms gives a negative idle gap (back.keepalive_timeout is {:?})",
                offset.as_ms(),
                base.back.keepalive_timeout
            ),
        });
    }
    let mut scenario = base
        .with_override("load.pattern=idle-gap")?
        .with_override(&format!("load.gap={gap}us"))?
        .with_override(&format!("load.gap_spread={}us", half_step.as_micros()))?
        .with_override(&format!("load.requests={requests_per_bin}"))?;
    scenario.load.duration = None;
    scenario.expect = Default::default();
    scenario.name = format!("{} offset {:+.1}ms", base.name, offset.as_ms());
    Ok(scenario)
}

/// Runs every bin through our own chain in order; stops early (and says so) on `stop`.
pub async fn run_sweep(
    base: &Scenario,
    offsets: &[Offset],
    step: Duration,
    requests_per_bin: u64,
    options: &RunOptions,
    stop: ShutdownSignal,
    on_bin: impl FnMut(&SweepBin),
) -> Result<SweepResult, SweepError> {
    let plan = SweepPlan {
        base,
        offsets,
        step,
        requests_per_bin,
    };
    let runner = async |scenario: Scenario| -> Result<RunResult, SweepError> {
        Ok(run_scenario(&scenario, options, stop.clone()).await?)
    };
    sweep_with(&plan, &stop, runner, on_bin).await
}

/// What a sweep runs: the base scenario, its bins and the load of each bin.
#[derive(Debug, Clone, Copy)]
pub struct SweepPlan<'a> {
    /// The scenario the bins vary.
    pub base: &'a Scenario,
    /// One bin per offset.
    pub offsets: &'a [Offset],
    /// The width of a bin (the gap is drawn in `offset ± step/2`).
    pub step: Duration,
    /// Requests in each bin.
    pub requests_per_bin: u64,
}

/// Runs every bin of `plan` with `run_bin` (our chain, or a chain of real servers), in order; stops early on
/// `stop`. Every bin's scenario is checked before the first runs, so a bad offset fails at once.
pub async fn sweep_with<E>(
    plan: &SweepPlan<'_>,
    stop: &ShutdownSignal,
    mut run_bin: impl AsyncFnMut(Scenario) -> Result<RunResult, E>,
    mut on_bin: impl FnMut(&SweepBin),
) -> Result<SweepResult, E>
where
    E: From<ScenarioError>,
{
    let scenarios = plan
        .offsets
        .iter()
        .map(|offset| {
            bin_scenario(plan.base, *offset, plan.step, plan.requests_per_bin).map(|s| (*offset, s))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut bins = Vec::with_capacity(scenarios.len());
    for (offset, scenario) in scenarios {
        if stop.is_triggered() {
            break;
        }
        let gap_ms = scenario.load.gap.map_or(0.0, |g| g.as_secs_f64() * 1000.0);
        let result = run_bin(scenario).await?;
        let bin = bin_from(offset, gap_ms, &result);
        on_bin(&bin);
        bins.push(bin);
    }
    Ok(SweepResult {
        scenario: plan.base.name.clone(),
        keepalive_timeout_ms: plan.base.back.keepalive_timeout.as_secs_f64() * 1000.0,
        bins,
        interrupted: stop.is_triggered(),
    })
}

fn bin_from(offset: Offset, gap_ms: f64, result: &RunResult) -> SweepBin {
    let bad = result.bad_gateways();
    let (ci_low, ci_high) = wilson_interval(bad, result.requests);
    SweepBin {
        offset_ms: offset.as_ms(),
        gap_ms,
        requests: result.requests,
        bad_gateways: bad,
        race_bad_gateways: result.race_bad_gateways(),
        probability: if result.requests == 0 {
            0.0
        } else {
            bad as f64 / result.requests as f64
        },
        ci_low,
        ci_high,
        unaccounted: result.unaccounted,
    }
}

/// A sweep could not run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A bin's scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A chain did not start.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_with_signs() {
        assert_eq!("-50ms".parse::<Offset>().unwrap(), Offset(-50_000));
        assert_eq!("+2ms".parse::<Offset>().unwrap(), Offset(2_000));
        assert_eq!("0ms".parse::<Offset>().unwrap(), Offset(0));
        assert!("-fifty".parse::<Offset>().unwrap_err().contains("-fifty"));
    }

    #[test]
    fn the_range_makes_inclusive_bins() {
        let range: OffsetRange = "-10ms..10ms".parse().unwrap();
        let bins = range.bins(Duration::from_millis(5)).unwrap();
        assert_eq!(bins.len(), 5);
        assert_eq!(bins[0], Offset(-10_000));
        assert_eq!(bins[4], Offset(10_000));
        assert!("10ms..-10ms".parse::<OffsetRange>().is_err());
        assert!(range.bins(Duration::ZERO).is_err());
    }

    #[test]
    fn wilson_interval_brackets_the_estimate() {
        let (low, high) = wilson_interval(10, 100);
        assert!(low < 0.1 && 0.1 < high);
        assert!(low > 0.04 && high < 0.18, "{low} {high}");
        let (low, high) = wilson_interval(0, 50);
        assert_eq!(low, 0.0);
        assert!(high > 0.0 && high < 0.1);
    }

    #[test]
    fn a_bin_sets_the_gap_around_the_timeout() {
        let base = Scenario::default_race().unwrap();
        let bin = bin_scenario(&base, Offset(-5_000), Duration::from_millis(2), 40).unwrap();
        assert_eq!(
            bin.load.gap,
            Some(base.back.keepalive_timeout - Duration::from_millis(5))
        );
        assert_eq!(bin.load.gap_spread, Duration::from_millis(1));
        assert_eq!(bin.load.requests, Some(40));
        assert!(bin_scenario(&base, Offset(-1_000_000), Duration::from_millis(2), 40).is_err());
    }
}
