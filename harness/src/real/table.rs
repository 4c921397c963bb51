//! The text tables of real-stack runs: one run (the harness's run table plus the front's own account) and
//! the fidelity table (one line per cell).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::outcome::{CellOutcome, RealRun};
use crate::report::run_table;

/// One run: the harness table, then the front's own account of upstream failures.
pub fn real_run_table(run: &RealRun) -> String {
    let mut out = run_table(&run.result);
    let _ = writeln!(
        out,
        "  front's account {}  ({} front, {} back)",
        causes_text(&run.front_causes),
        run.front,
        run.back
    );
    if !run.origin_counted {
        let _ = writeln!(
            out,
            "  origin          not in the chain: {} answers itself, so the origin counts above are not available",
            run.back
        );
    }
    out
}

/// One line per cell: requests, 502s, 502 per 10k, failed per 10k (502s plus client errors: HAProxy hides the
/// race as a silent close), client errors, the front's own account.
pub fn fidelity_table(cells: &[CellOutcome]) -> String {
    let width = cells
        .iter()
        .map(|cell| match cell {
            CellOutcome::Ran(run) => run.result.scenario.chars().count(),
            CellOutcome::Failed { scenario, .. } => scenario.chars().count(),
        })
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:>8} {:>5} {:>8} {:>10} {:>8} {:>7}  {:<20} front's account (log / gateway)",
        "cell", "requests", "502", "502/10k", "failed/10k", "p99 ms", "client", "client errors",
    );
    for cell in cells {
        match cell {
            CellOutcome::Ran(run) => {
                let r = &run.result;
                let errors: BTreeMap<String, u64> = r
                    .client_errors
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(k, n)| (k.clone(), *n))
                    .collect();
                let _ = writeln!(
                    out,
                    "{:<width$}  {:>8} {:>5} {:>8.0} {:>10.0} {:>8.2} {:>7}  {:<20} {}",
                    pad(&r.scenario, width),
                    r.requests,
                    r.bad_gateways(),
                    r.bad_gateways_per_10k(),
                    failed_per_10k(r),
                    r.latency_ms.p99,
                    r.client_error_total(),
                    causes_text(&errors),
                    causes_text(&run.front_causes),
                );
            }
            CellOutcome::Failed { scenario, error } => {
                let _ = writeln!(out, "{:<width$}  FAILED: {error}", pad(scenario, width));
            }
        }
    }
    out
}

/// `{:<width$}` counts bytes for `String`s given as `&str` with multi-byte arrows; pad by characters.
fn pad(text: &str, width: usize) -> String {
    let mut padded = text.to_owned();
    padded.extend(std::iter::repeat_n(
        ' ',
        width.saturating_sub(text.chars().count()),
    ));
    padded
}

/// 502s and client-side failures per 10,000 requests: every request the race reached the client with.
fn failed_per_10k(result: &crate::result::RunResult) -> f64 {
    if result.requests == 0 {
        0.0
    } else {
        (result.bad_gateways() + result.client_error_total()) as f64 * 10_000.0
            / result.requests as f64
    }
}

fn causes_text(causes: &BTreeMap<String, u64>) -> String {
    if causes.is_empty() {
        "none".to_owned()
    } else {
        causes
            .iter()
            .map(|(cause, n)| format!("{cause}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
