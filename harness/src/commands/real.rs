//! `badgateway real run|compare|sweep`: the keep-alive race through real fronts (nginx, HAProxy, Caddy,
//! Varnish) and backs (Apache httpd, nginx, Node.js, gunicorn, uvicorn, Tomcat), alone or mixed with our tiers.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use harness::chain::{BackKind, FrontKind};
use harness::real::process::locate_binary;
use harness::real::{
    CellOutcome, fidelity_table, matrix_cells, real_run_table, run_cell, run_real, sweep_backs,
    window_table,
};
use harness::result::write_json_atomically;
use harness::run::RunOptions;
use harness::sweep::SweepPlan;

use super::sweep::SweepBins;
use super::{Shaping, check_writable, exit_status, interrupt_signal, shaped_scenario};

/// `badgateway real` options.
#[derive(Args, Debug)]
pub struct RealArgs {
    #[command(subcommand)]
    action: RealAction,
}

#[derive(Subcommand, Debug)]
enum RealAction {
    /// One chain: FRONT → [link front_back] → BACK → origin, driven by the scenario's [load].
    ///
    /// Prints the run table and the front's own account of its upstream failures (nginx error log, HAProxy
    /// httplog termination states, or our gateway's causes). Real fronts' 502s have no cause header: the
    /// clients count them `unclassified`.
    Run {
        /// Scenario file; the keep-alive race when omitted.
        scenario: Option<PathBuf>,
        /// The front: nginx, haproxy, caddy, varnish or ours.
        #[arg(long, default_value = "nginx")]
        front: FrontKind,
        /// The back: apache, nginx, node, gunicorn, uvicorn, tomcat or ours.
        #[arg(long, default_value = "apache")]
        back: BackKind,
        /// Change a scenario key before running (repeatable), e.g. `--set front.retry=idempotent`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        #[command(flatten)]
        shaping: Shaping,
        /// Write the result (JSON) to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
        /// Keep the link's view (and our tiers' where they stand) of up to N failed requests; with a real
        /// front, a failure is request bytes that crossed the back's FIN or RST on the link. 0 records nothing; at most 1000.
        #[arg(long, value_name = "N", default_value_t = harness::timelines::DEFAULT_CAP,
              allow_negative_numbers = true,
              value_parser = clap::value_parser!(u16).range(0..=harness::timelines::MAX_CAP as i64))]
        timelines: u16,
    },
    /// The matrix: every chosen front × back (real and ours), each with keep-alive on (GET and POST), off,
    /// and the front's retry mitigation (GET and POST) where it has a switch, on the same load.
    ///
    /// Columns: 502s (and per 10k), other 5xx (Varnish answers 503), requests closed without a response, the
    /// front's silent retries, and its own account. A server that is not installed is named with its package;
    /// under `CI=true` that fails the command.
    Compare {
        /// Scenario file; the keep-alive race when omitted.
        scenario: Option<PathBuf>,
        /// The fronts, comma-separated (nginx, haproxy, caddy, varnish, ours); all when omitted.
        #[arg(long, value_delimiter = ',')]
        fronts: Vec<FrontKind>,
        /// The backs, comma-separated (apache, nginx, node, gunicorn, uvicorn, tomcat, ours); all when omitted.
        #[arg(long, value_delimiter = ',')]
        backs: Vec<BackKind>,
        /// Change a scenario key in every cell (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        #[command(flatten)]
        shaping: Shaping,
        /// Write the cells (JSON, `{"scenario": ..., "cells": [...]}`) to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// No progress bars and no per-cell tables.
        #[arg(long, short)]
        quiet: bool,
    },
    /// The race window through real Apache beside our back: the same sweep (P(502) against the idle gap's
    /// offset from KeepAliveTimeout) once per back, behind one front, and the curves side by side.
    Sweep {
        /// Scenario file; the keep-alive race when omitted.
        scenario: Option<PathBuf>,
        /// The front (ours names every 502's cause).
        #[arg(long, default_value = "ours")]
        front: FrontKind,
        /// The backs to compare, comma-separated; the first is the reference of the rate ratio.
        #[arg(long, value_delimiter = ',', default_value = "apache,ours")]
        back: Vec<BackKind>,
        #[command(flatten)]
        bins: SweepBins,
        /// Change a scenario key before sweeping (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        #[command(flatten)]
        shaping: Shaping,
        /// Write the curves (JSON, `{"scenario": ..., "sweeps": [...]}`) to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// No line per bin.
        #[arg(long, short)]
        quiet: bool,
    },
}

pub async fn real(args: RealArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        RealAction::Run {
            scenario,
            front,
            back,
            overrides,
            shaping,
            json,
            quiet,
            timelines,
        } => {
            check_writable(json.as_deref())?;
            if let Some(header) = shaping.header() {
                say!("{header}");
            }
            let (scenario, note) =
                front.expressible(shaped_scenario(scenario.as_deref(), &overrides, &shaping)?)?;
            if let Some(note) = note {
                say!("{note}");
            }
            let label = format!("{} ({front}→{back})", scenario.name);
            let options = RunOptions {
                quiet,
                label: None,
                timelines: usize::from(timelines),
            };
            let stop = interrupt_signal();
            let mut run = run_real(&scenario, front, back, &label, &options, stop.clone()).await?;
            run.result.time_scale = shaping.time_scale.factor();
            say_raw!("{}", real_run_table(&run));
            if let Some(timeline) = run.result.timelines.first() {
                say!(
                    "\n{}",
                    harness::report::ladder(timeline, run.result.timeline_totals.as_ref())
                );
            }
            if let Some(path) = json {
                write_json_atomically(&path, &run)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                say!("result written to {}", path.display());
            }
            Ok(exit_status(&stop, &scenario.expect.violations(&run.result)))
        }
        RealAction::Compare {
            scenario,
            fronts,
            backs,
            overrides,
            shaping,
            json,
            quiet,
        } => {
            check_writable(json.as_deref())?;
            if let Some(header) = shaping.header() {
                say!("{header}");
            }
            let scenario = shaped_scenario(scenario.as_deref(), &overrides, &shaping)?;
            let stop = interrupt_signal();
            let fronts = if fronts.is_empty() {
                FrontKind::ALL.to_vec()
            } else {
                fronts
            };
            let backs = if backs.is_empty() {
                BackKind::ALL.to_vec()
            } else {
                backs
            };
            let missing = missing_servers(&fronts, &backs);
            if !missing.is_empty() {
                say!("not installed (their cells fail): {}", missing.join(", "));
                if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                    anyhow::bail!("CI: servers missing: {}", missing.join(", "));
                }
            }
            let cells = matrix_cells(&fronts, &backs);
            say!("{}: {} cells", scenario.name, cells.len());
            let options = RunOptions {
                quiet,
                label: None,
                timelines: 0,
            };
            let mut outcomes = Vec::with_capacity(cells.len());
            for cell in cells {
                if stop.is_triggered() {
                    break;
                }
                let mut outcome = run_cell(&scenario, cell, &options, stop.clone()).await;
                if let CellOutcome::Ran(run) = &mut outcome {
                    run.result.time_scale = shaping.time_scale.factor();
                }
                if !quiet {
                    match &outcome {
                        CellOutcome::Ran(run) => say_raw!("{}", real_run_table(run)),
                        CellOutcome::Failed { scenario, error } => {
                            say!("{scenario}: FAILED: {error}");
                        }
                    }
                }
                outcomes.push(outcome);
            }
            say!("\n{}", fidelity_table(&outcomes));
            if let Some(path) = json {
                let document = serde_json::json!({
                    "scenario": scenario.name,
                    "time_scale": shaping.time_scale.factor(),
                    "cells": outcomes,
                });
                write_json_atomically(&path, &document)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                say!("result written to {}", path.display());
            }
            Ok(exit_status(&stop, &[]))
        }
        RealAction::Sweep {
            scenario,
            front,
            back,
            bins,
            overrides,
            shaping,
            json,
            quiet,
        } => {
            check_writable(json.as_deref())?;
            if let Some(header) = shaping.header() {
                say!("{header}");
            }
            let base = shaped_scenario(scenario.as_deref(), &overrides, &shaping)?;
            let offsets = bins.offsets()?;
            let SweepBins {
                step,
                requests_per_bin,
                ..
            } = bins;
            say!(
                "{}: {} bins of {} requests per back ({}), idle gap = KeepAliveTimeout ({:?}) + offset ± {:?}",
                base.name,
                offsets.len(),
                requests_per_bin,
                back.iter().map(|b| b.name()).collect::<Vec<_>>().join(", "),
                base.back.keepalive_timeout,
                step / 2
            );
            let plan = SweepPlan {
                base: &base,
                offsets: &offsets,
                step,
                requests_per_bin,
            };
            let options = RunOptions {
                quiet: true,
                label: None,
                timelines: 0,
            };
            let stop = interrupt_signal();
            let sweeps = sweep_backs(&plan, front, &back, &options, &stop, |back, bin| {
                if !quiet {
                    say!(
                        "  {front}→{back} offset {:+.1} ms: {}/{} 502",
                        bin.offset_ms,
                        bin.bad_gateways,
                        bin.requests
                    );
                }
            })
            .await?;
            say!("\n{}", window_table(&sweeps));
            if let Some(path) = json {
                let document = serde_json::json!({
                    "scenario": base.name,
                    "time_scale": shaping.time_scale.factor(),
                    "sweeps": sweeps,
                });
                write_json_atomically(&path, &document)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                say!("result written to {}", path.display());
            }
            Ok(exit_status(&stop, &[]))
        }
    }
}

/// The chosen real servers that are not installed, as `server (apt-get install package)`.
fn missing_servers(fronts: &[FrontKind], backs: &[BackKind]) -> Vec<String> {
    let fronts = fronts
        .iter()
        .filter_map(|kind| kind.real())
        .map(|spec| (spec.server, spec.binary, spec.package));
    let backs = backs
        .iter()
        .filter_map(|kind| kind.real())
        .map(|spec| (spec.server, spec.binary, spec.package));
    fronts
        .chain(backs)
        .filter(|(_, binary, _)| locate_binary(binary).is_none())
        .map(|(server, _, package)| format!("{server} (apt-get install {package})"))
        .collect()
}
