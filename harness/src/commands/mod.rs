//! The CLI's commands. They print; the library they call does not.

pub mod audit;
pub mod check;
pub mod compare;
pub mod explain;
pub mod load;
pub mod probe;
pub mod real;
pub mod run;
pub mod serve;
pub mod sweep;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use harness::report::{ReportInput, html_report};
use harness::result::{RunResult, write_json_atomically};
use harness::scenario::Scenario;
use harness::sweep::SweepResult;
use listener::{Shutdown, ShutdownSignal};

use crate::Outputs;

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

/// Writes the JSON and HTML outputs that were asked for and says where they went.
pub fn write_outputs(
    outputs: &Outputs,
    title: &str,
    runs: &[RunResult],
    sweep: Option<&SweepResult>,
) -> anyhow::Result<()> {
    if let Some(path) = &outputs.json {
        let written = match (runs, sweep) {
            (_, Some(sweep)) => write_json_atomically(path, sweep),
            ([single], None) => write_json_atomically(path, single),
            (many, None) => write_json_atomically(
                path,
                &serde_json::json!({ "scenario": title, "cells": many }),
            ),
        };
        written.with_context(|| format!("cannot write {}", path.display()))?;
        println!("result written to {}", path.display());
    }
    if let Some(path) = &outputs.html {
        let page = html_report(&ReportInput { title, runs, sweep });
        write_atomically(path, &page)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("report written to {}", path.display());
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
    let (shutdown, signal) = Shutdown::new();
    let interrupted = wait_for_interrupt();
    tokio::spawn(async move {
        interrupted.await;
        eprintln!("interrupted: finishing in-flight requests, then reporting what was measured");
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
