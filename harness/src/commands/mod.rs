//! The CLI's commands. They print; the library they call does not.

pub mod audit;
pub mod check;
pub mod compare;
pub mod explain;
pub mod load;
pub mod merge;
pub mod probe;
pub mod real;
pub mod run;
pub mod serve;
pub mod sweep;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use harness::preset::{BackPreset, FrontPreset, Preset};
use harness::report::{ReportInput, html_report};
use harness::result::{RunResult, write_json_atomically};
use harness::scenario::Scenario;
use harness::sweep::SweepResult;
use harness::time_scale::{TimeScale, time_scaled};
use listener::{Shutdown, ShutdownSignal};

use crate::Outputs;

/// `--preset`'s help, with the names from the presets themselves.
fn preset_help() -> String {
    let names = |all: Vec<String>| all.join(", ");
    format!(
        "Start from a product's defaults, e.g. `front=alb,back=apache`; applied before the `--set`s, which win. \
         Fronts: {}. Backs: {}",
        names(FrontPreset::ALL.iter().map(ToString::to_string).collect()),
        names(BackPreset::ALL.iter().map(ToString::to_string).collect()),
    )
}

/// How the scenario is shaped before a measuring command runs it: a product preset, then the user's `--set`s,
/// then the time scale.
#[derive(Args, Debug, Clone)]
pub struct Shaping {
    #[arg(long, value_name = "front=NAME,back=NAME", help = preset_help())]
    pub preset: Option<Preset>,
    /// Multiply every configured timeout, gap and interval by F (after the preset and the `--set`s); link
    /// latency and the machine's own processing stay as they are. 0.01 replays 60 s as 600 ms.
    #[arg(
        long,
        value_name = "F",
        default_value = "1",
        allow_negative_numbers = true
    )]
    pub time_scale: TimeScale,
}

/// A duration on the command line (`500ms`, `2s`, `1m30s`); the error names the value and shows the form.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|error| {
        format!("{text:?} is not a duration ({error}): write a number with a unit, e.g. 500ms, 2s, 1m30s")
    })
}

impl Shaping {
    /// The preset's overrides followed by the user's.
    pub fn overrides(&self, user_sets: &[String]) -> anyhow::Result<Vec<String>> {
        let mut all = match &self.preset {
            Some(preset) => preset.overrides(user_sets)?,
            None => Vec::new(),
        };
        all.extend(user_sets.iter().cloned());
        Ok(all)
    }

    /// The line a run header prints, when there is anything to say.
    pub fn header(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(preset) = &self.preset {
            let sides: Vec<String> = [
                preset.front.map(|f| format!("front={f}")),
                preset.back.map(|b| format!("back={b}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            parts.push(format!("preset {}", sides.join(",")));
        }
        if !self.time_scale.is_one() {
            parts.push(format!(
                "time scale {}: every configured timeout, gap and interval × {} (link latency unchanged)",
                self.time_scale, self.time_scale
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// The scenario at `path` (the embedded race when `None`) with the preset, then `overrides`, then the time
/// scale applied.
pub fn shaped_scenario(
    path: Option<&Path>,
    overrides: &[String],
    shaping: &Shaping,
) -> anyhow::Result<Scenario> {
    let unscaled = load_scenario(path, &shaping.overrides(overrides)?)?;
    Ok(time_scaled(&unscaled, shaping.time_scale))
}

/// The scenario at `path` (the embedded race when `None`) with `overrides` applied in order.
pub fn load_scenario(path: Option<&Path>, overrides: &[String]) -> anyhow::Result<Scenario> {
    let mut scenario = match path {
        Some(path) => Scenario::from_file(path)?,
        None => Scenario::default_race()?,
    };
    for assignment in overrides {
        scenario = scenario.with_override(assignment)?;
    }
    Ok(scenario)
}

/// The exit status of a run stopped by Ctrl-C or SIGTERM (128 + SIGINT, as a shell reports it).
pub const INTERRUPTED: u8 = 130;

/// The exit status of a measuring command: 130 when it was interrupted (whatever it measured), 1 when an
/// `[expect]` failed (each violation on stderr), else 0.
pub fn exit_status(stop: &ShutdownSignal, violations: &[String]) -> ExitCode {
    for violation in violations {
        eprintln!("expect: {violation}");
    }
    if stop.is_triggered() {
        eprintln!("interrupted: the result is partial (exit status {INTERRUPTED})");
        ExitCode::from(INTERRUPTED)
    } else if violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Checks, before anything runs, that every output file can be written: its temporary sibling is created and
/// removed again. An unwritable path is an error naming it, not a lost result after a long run.
pub fn check_writable<'a>(paths: impl IntoIterator<Item = &'a Path>) -> anyhow::Result<()> {
    for path in paths {
        // A directory at the path passes the sibling test but cannot be replaced by a file at the end.
        if path.is_dir() {
            anyhow::bail!(
                "cannot write {}: it is a directory; give a file name, e.g. {} (checked before the run, so \
                 that no result is lost)",
                path.display(),
                path.join("result.json").display()
            );
        }
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temporary)
            .and_then(|_| std::fs::remove_file(&temporary))
            .with_context(|| {
                format!(
                    "cannot write {} (checked before the run, so that no result is lost)",
                    path.display()
                )
            })?;
    }
    Ok(())
}

impl Outputs {
    /// [`check_writable`] on the JSON and HTML paths asked for.
    pub fn check_writable(&self) -> anyhow::Result<()> {
        check_writable(
            self.json
                .iter()
                .chain(self.html.iter())
                .map(PathBuf::as_path),
        )
    }
}

/// Writes the JSON and HTML outputs that were asked for and says where they went.
pub fn write_outputs(
    outputs: &Outputs,
    title: &str,
    runs: &[RunResult],
    sweep: Option<&SweepResult>,
    time_scale: TimeScale,
) -> anyhow::Result<()> {
    if let Some(path) = &outputs.json {
        let written = match (runs, sweep) {
            (_, Some(sweep)) => {
                let mut document = serde_json::to_value(sweep)?;
                if let Some(fields) = document.as_object_mut() {
                    fields.insert("time_scale".to_owned(), time_scale.factor().into());
                }
                write_json_atomically(path, &document)
            }
            ([single], None) => write_json_atomically(path, single),
            (many, None) => write_json_atomically(
                path,
                &serde_json::json!({ "scenario": title, "time_scale": time_scale.factor(), "cells": many }),
            ),
        };
        written.with_context(|| format!("cannot write {}", path.display()))?;
        say!("result written to {}", path.display());
    }
    if let Some(path) = &outputs.html {
        let page = html_report(&ReportInput { title, runs, sweep });
        write_atomically(path, &page)
            .with_context(|| format!("cannot write {}", path.display()))?;
        say!("report written to {}", path.display());
    }
    Ok(())
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

/// A signal that fires on Ctrl-C or SIGTERM. The handlers are installed before this returns, so a signal that
/// arrives right after is never taken by the default action (which would exit without a report).
pub fn interrupt_signal() -> ShutdownSignal {
    interrupt_signal_saying(Some(
        "interrupted: finishing in-flight requests, then reporting what was measured",
    ))
}

/// [`interrupt_signal`] for a command that says what it does on a signal itself (`serve`).
pub fn interrupt_signal_quietly() -> ShutdownSignal {
    interrupt_signal_saying(None)
}

fn interrupt_signal_saying(message: Option<&'static str>) -> ShutdownSignal {
    let (shutdown, signal) = Shutdown::new();
    let interrupted = wait_for_interrupt();
    tokio::spawn(async move {
        interrupted.await;
        if let Some(message) = message {
            eprintln!("{message}");
        }
        shutdown.trigger();
        // Keep the trigger alive: its drop would look like a second shutdown.
        std::future::pending::<()>().await;
    });
    signal
}

/// Registers for SIGINT and SIGTERM now; the future resolves on the first of them.
#[cfg(unix)]
fn wait_for_interrupt() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        match (interrupt, terminate) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

#[cfg(not(unix))]
fn wait_for_interrupt() -> impl std::future::Future<Output = ()> + Send + 'static {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
