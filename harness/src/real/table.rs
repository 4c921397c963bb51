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

/// One line per cell: requests, 502s, 502 per 10k, other 5xx (Varnish answers 503), requests closed without
/// a response (client errors), the front's silent retries ([`silent_retries`]; `?` where the front does not
/// say), p99 latency, and the front's own account.
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
        "{:<width$}  {:>8} {:>5} {:>8} {:>5} {:>7} {:>7} {:>8}  front's account (log / counters / gateway)",
        "cell", "requests", "502", "502/10k", "5xx", "closed", "retried", "p99 ms",
    );
    for cell in cells {
        match cell {
            CellOutcome::Ran(run) => {
                let r = &run.result;
                let retried = silent_retries(run).map_or_else(|| "?".to_owned(), |n| n.to_string());
                let _ = writeln!(
                    out,
                    "{:<width$}  {:>8} {:>5} {:>8.0} {:>5} {:>7} {:>7} {:>8.2}  {}",
                    pad(&r.scenario, width),
                    r.requests,
                    r.bad_gateways(),
                    r.bad_gateways_per_10k(),
                    other_server_errors(r),
                    r.client_error_total(),
                    retried,
                    r.latency_ms.p99,
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

/// Requests the front retried without the client seeing a failure: the `retried` count where the front
/// keeps one (our gateway, HAProxy's log, Varnish's `MAIN.backend_retry`); for nginx and Caddy, which log
/// every failed upstream attempt, the failed attempts beyond the failures the clients saw. `None` when the
/// front says nothing. Go's transport under Caddy also replays a failed GET on a reused connection without
/// logging it: those replays are not in this count (README, Real stacks).
pub fn silent_retries(run: &RealRun) -> Option<u64> {
    if let Some(n) = run.front_causes.get("retried") {
        return Some(*n);
    }
    let r = &run.result;
    match run.front.as_str() {
        "nginx" | "caddy" => {
            let attempts: u64 = run.front_causes.values().sum();
            let seen = r.bad_gateways() + other_server_errors(r) + r.client_error_total();
            Some(attempts.saturating_sub(seen))
        }
        "ours" | "haproxy" | "varnish" => Some(0),
        _ => None,
    }
}

/// 5xx responses other than 502 (Varnish's 503 `Backend fetch failed`, a 504).
fn other_server_errors(result: &crate::result::RunResult) -> u64 {
    result
        .responses
        .iter()
        .filter(|(status, _)| status.starts_with('5') && status.as_str() != "502")
        .map(|(_, n)| *n)
        .sum()
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
