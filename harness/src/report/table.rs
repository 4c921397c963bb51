//! The text table of one run and the side-by-side table of several.

use std::fmt::Write as _;

use crate::result::RunResult;

/// The table of one run.
pub fn run_table(result: &RunResult) -> String {
    let mut out = String::new();
    let interrupted = if result.interrupted {
        "  (interrupted: partial result)"
    } else {
        ""
    };
    let _ = writeln!(out, "{}{interrupted}", result.scenario);
    let _ = writeln!(
        out,
        "  requests        {:<8} throughput {:.1} req/s over {}, seed {}",
        result.requests,
        result.throughput_rps,
        span(result.duration_s),
        result.seed
    );
    let responses: Vec<String> = result
        .responses
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    let _ = writeln!(out, "  responses       {}", or_none(&responses.join("   ")));
    let errors: Vec<String> = result
        .client_errors
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    let _ = writeln!(out, "  client errors   {}", or_none(&errors.join("   ")));
    if result.truncated_responses > 0 {
        let _ = writeln!(
            out,
            "  truncated       {} responses cut short by the gateway after their head (not 502s: the \
             clients saw them as client errors above; `explain` says why)",
            result.truncated_responses
        );
    }
    let causes: Vec<String> = result
        .causes
        .iter()
        .map(|(c, n)| format!("{c}: {n}"))
        .collect();
    let _ = writeln!(out, "  502 by cause    {}", or_none(&causes.join("   ")));
    let l = result.latency_ms;
    let _ = writeln!(
        out,
        "  latency ms      p50 {:.2}   p90 {:.2}   p99 {:.2}   max {:.2}",
        l.p50, l.p90, l.p99, l.max
    );
    let _ = writeln!(
        out,
        "  upstream        {} connections for {} requests ({} on reused connections), {} retries",
        result.upstream_connections,
        result.origin_requests,
        result.reused_upstream_requests,
        result.retries
    );
    if result.faults_injected.any() {
        let _ = writeln!(
            out,
            "  faults injected link resets {}   origin errors {}",
            result.faults_injected.link_resets, result.faults_injected.origin_errors
        );
    }
    let r = result.resources;
    if r.sampled() {
        let _ = writeln!(
            out,
            "  resources       RSS {} / {} / {} KiB   fds {} / {} / {}   (start / peak / end)",
            r.rss_kib_start, r.rss_kib_peak, r.rss_kib_end, r.fds_start, r.fds_peak, r.fds_end
        );
    }
    if result.unaccounted != 0 {
        let _ = writeln!(out, "  UNACCOUNTED     {}", result.unaccounted);
    }
    out
}

/// One line per run, for comparing variants of a scenario on the same load.
pub fn comparison_table(results: &[RunResult]) -> String {
    let width = results
        .iter()
        .map(|r| r.scenario.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}",
        "run", "requests", "502", "race-502", "502/10k", "p50 ms", "p99 ms", "req/s", "conns/req"
    );
    for r in results {
        let conns_per_request = if r.requests == 0 {
            0.0
        } else {
            r.upstream_connections as f64 / r.requests as f64
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:>8} {:>6} {:>9} {:>9.0} {:>9.2} {:>9.2} {:>9.1} {:>11.2}",
            r.scenario,
            r.requests,
            r.bad_gateways(),
            r.race_bad_gateways(),
            r.bad_gateways_per_10k(),
            r.latency_ms.p50,
            r.latency_ms.p99,
            r.throughput_rps,
            conns_per_request
        );
    }
    out
}

/// A run's length, in ms below a second so that a short run never reads "over 0.0 s".
fn span(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.1} ms", seconds * 1000.0)
    } else {
        format!("{seconds:.1} s")
    }
}

fn or_none(text: &str) -> &str {
    if text.is_empty() { "none" } else { text }
}

/// The race-window curve as text: one line per bin with P(502), its 95 % interval and a bar.
pub fn sweep_table(sweep: &crate::sweep::curve::SweepResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>10} {:>8} {:>8} {:>6} {:>8} {:>17}  (KeepAliveTimeout {} ms)",
        "offset ms",
        "gap ms",
        "requests",
        "502",
        "P(502)",
        "95% interval",
        sweep.keepalive_timeout_ms
    );
    for bin in &sweep.bins {
        let bar = "#".repeat((bin.probability * 40.0).round() as usize);
        let _ = writeln!(
            out,
            "{:>+10.1} {:>8.1} {:>8} {:>6} {:>8.3} {:>8.3}..{:<7.3}  {bar}",
            bin.offset_ms,
            bin.gap_ms,
            bin.requests,
            bin.bad_gateways,
            bin.probability,
            bin.ci_low,
            bin.ci_high
        );
    }
    out
}
