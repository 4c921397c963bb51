//! `badgateway sweep`: the race-window curve.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use harness::report::sweep_table;
use harness::run::RunOptions;
use harness::sweep::{OffsetRange, run_sweep};

use super::{interrupt_signal, load_scenario, write_outputs};
use crate::Outputs;

pub async fn sweep(
    scenario_path: Option<PathBuf>,
    offset: OffsetRange,
    step: Duration,
    requests_per_bin: u64,
    overrides: Vec<String>,
    outputs: Outputs,
) -> anyhow::Result<ExitCode> {
    let stop = interrupt_signal();
    let base = load_scenario(scenario_path.as_deref(), &overrides)?;
    let offsets = offset.bins(step).map_err(anyhow::Error::msg)?;
    if requests_per_bin == 0 {
        anyhow::bail!("--requests-per-bin 0: each bin needs requests");
    }
    println!(
        "{}: {} bins of {} requests, idle gap = KeepAliveTimeout ({:?}) + offset ± {:?}",
        base.name,
        offsets.len(),
        requests_per_bin,
        base.back.keepalive_timeout,
        step / 2
    );
    let options = RunOptions {
        quiet: true,
        label: None,
    };
    let quiet = outputs.quiet;
    let result = run_sweep(
        &base,
        &offsets,
        step,
        requests_per_bin,
        &options,
        stop,
        |bin| {
            if !quiet {
                println!(
                    "  offset {:+.1} ms: {}/{} 502",
                    bin.offset_ms, bin.bad_gateways, bin.requests
                );
            }
        },
    )
    .await?;
    println!("\n{}", sweep_table(&result));
    write_outputs(&outputs, &base.name, &[], Some(&result))?;
    Ok(ExitCode::SUCCESS)
}
