//! `badgateway sweep`: the race-window curve.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use harness::report::sweep_table;
use harness::run::RunOptions;
use harness::sweep::{Offset, OffsetRange, run_sweep};

use super::{Shaping, exit_status, interrupt_signal, shaped_scenario, write_outputs};
use crate::Outputs;

/// The bins of a sweep, shared by `sweep` and `real sweep`.
#[derive(Args, Debug, Clone)]
pub struct SweepBins {
    /// Offsets to sweep, FROM..TO (signed durations), e.g. `-20ms..10ms`.
    #[arg(long, default_value = "-16ms..8ms", allow_hyphen_values = true)]
    pub offset: OffsetRange,
    /// Distance between bins: a positive duration, e.g. `2ms`.
    #[arg(long, default_value = "2ms", allow_hyphen_values = true, value_parser = parse_step)]
    pub step: Duration,
    /// Requests in each bin.
    #[arg(long, default_value_t = 60)]
    pub requests_per_bin: u64,
}

impl SweepBins {
    /// The offset of every bin; an error names a bad range, step or request count.
    pub fn offsets(&self) -> anyhow::Result<Vec<Offset>> {
        if self.requests_per_bin == 0 {
            anyhow::bail!("--requests-per-bin 0: each bin needs requests");
        }
        self.offset.bins(self.step).map_err(anyhow::Error::msg)
    }
}

pub async fn sweep(
    scenario_path: Option<PathBuf>,
    bins: SweepBins,
    overrides: Vec<String>,
    shaping: Shaping,
    outputs: Outputs,
) -> anyhow::Result<ExitCode> {
    outputs.check_writable()?;
    let stop = interrupt_signal();
    let base = shaped_scenario(scenario_path.as_deref(), &overrides, &shaping)?;
    let offsets = bins.offsets()?;
    let SweepBins {
        step,
        requests_per_bin,
        ..
    } = bins;
    say!(
        "{}: {} bins of {} requests, idle gap = KeepAliveTimeout ({:?}) + offset ± {:?}",
        base.name,
        offsets.len(),
        requests_per_bin,
        base.back.keepalive_timeout,
        step / 2
    );
    if let Some(header) = shaping.header() {
        say!("{header}");
    }
    let options = RunOptions {
        quiet: true,
        label: None,
        timelines: 0,
    };
    let progress = !outputs.quiet && std::io::stderr().is_terminal();
    let total = offsets.len();
    let mut done = 0;
    let result = run_sweep(
        &base,
        &offsets,
        step,
        requests_per_bin,
        &options,
        stop.clone(),
        |bin| {
            // Progress only, overwritten in place: the table below is the one listing of the bins.
            done += 1;
            if progress {
                eprint!(
                    "\r  bin {done}/{total} (offset {:+.1} ms) done   ",
                    bin.offset_ms
                );
                if done == total {
                    eprint!("\r{:60}\r", "");
                }
            }
        },
    )
    .await?;
    say!("\n{}", sweep_table(&result));
    write_outputs(&outputs, &base.name, &[], Some(&result), shaping.time_scale)?;
    Ok(exit_status(&stop, &[]))
}

/// A bin step: a positive duration; a negative or zero one is refused in plain words, not with clap's `-- -2ms`
/// tip.
fn parse_step(text: &str) -> Result<Duration, String> {
    if text.trim_start().starts_with('-') {
        return Err(format!(
            "--step {text}: the distance between bins must be positive (the offsets, not the step, are signed)"
        ));
    }
    match humantime::parse_duration(text) {
        Ok(step) if step.is_zero() => Err(format!(
            "--step {text}: the distance between bins must be positive"
        )),
        Ok(step) => Ok(step),
        Err(error) => Err(format!("--step {text}: {error}")),
    }
}
