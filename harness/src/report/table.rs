//! The text table of one run and the side-by-side table of several.

use std::fmt::Write as _;

use crate::chain::{BackKind, FrontKind};
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
    if result.responses.values().all(|n| *n == 0) {
        // Latency is a response's: with none there is none to show, not zeros.
        let _ = writeln!(out, "  latency ms      none (no response)");
    } else {
        let _ = writeln!(
            out,
            "  latency ms      p50 {}   p90 {}   p99 {}   max {}",
            latency(l.p50),
            latency(l.p90),
            latency(l.p99),
            latency(l.max)
        );
    }
    let _ = writeln!(out, "  upstream        {}", upstream_line(result));
    if let Some(back) = &result.back_counts {
        let _ = writeln!(out, "  back            {}", back_line(back));
    }
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
        let _ = writeln!(
            out,
            "{:<width$}  {:>8} {:>6} {:>9} {:>9.0} {:>9} {:>9} {:>9.1} {:>11}",
            r.scenario,
            r.requests,
            r.bad_gateways(),
            r.race_bad_gateways(),
            r.bad_gateways_per_10k(),
            latency(r.latency_ms.p50),
            latency(r.latency_ms.p99),
            r.throughput_rps,
            conns_per_request(r)
        );
    }
    out
}

/// Which tiers of a run were ours, read from its settings (see `run/contract.rs`): an external target's
/// counters are none of ours, a real front has no gateway counters, a back that is its own application has
/// no origin behind it.
struct Tiers {
    external: bool,
    /// The front's name when it is not our gateway.
    real_front: Option<String>,
    /// The back's name when it answers itself (no origin of ours behind it).
    own_origin_back: Option<String>,
}

impl Tiers {
    fn of(result: &RunResult) -> Tiers {
        let name = |key: &str| result.settings.get(key).and_then(|v| v.as_str());
        let real_front = name("front")
            .filter(|front| *front != FrontKind::Ours.name())
            .map(str::to_owned);
        let own_origin_back = name("back")
            .filter(|back| back.parse::<BackKind>().is_ok_and(BackKind::is_own_origin))
            .map(str::to_owned);
        Tiers {
            external: result.settings.get("target").is_some(),
            real_front,
            own_origin_back,
        }
    }

    /// Whether the gateway's counters (upstream connections, reuse, retries) were measured.
    fn gateway_measured(&self) -> bool {
        !self.external && self.real_front.is_none()
    }
}

/// `n thing` or `n things`.
fn count(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// The front's upstream counters and the origin's, each labelled, or why they are not there.
fn upstream_line(result: &RunResult) -> String {
    let tiers = Tiers::of(result);
    if tiers.external {
        return "not measured (external target)".to_owned();
    }
    let front = match &tiers.real_front {
        Some(front) => format!("not available for {front}"),
        None => format!(
            "{} opened, {} sent ({} on reused connections), {}",
            count(result.upstream_connections, "connection"),
            count(
                result.upstream_connections + result.reused_upstream_requests,
                "request"
            ),
            result.reused_upstream_requests,
            if result.retries == 1 {
                "1 retry".to_owned()
            } else {
                format!("{} retries", result.retries)
            }
        ),
    };
    let origin = match &tiers.own_origin_back {
        Some(back) => format!("origin not available for {back} (its own application)"),
        None => format!("origin served {}", result.origin_requests),
    };
    format!("{front}; {origin}")
}

/// A latency in ms with microsecond resolution below 1 ms (loopback answers in tens of µs, which two decimals
/// would show as 0.01), two decimals above.
pub(super) fn latency(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.3}")
    } else {
        format!("{ms:.2}")
    }
}

/// The back's own counters: what it received, then (on a second line, indented under the first) why its
/// connections ended.
fn back_line(back: &keepalive_proxy::BackStats) -> String {
    let mut line = format!(
        "{} on {} ({} reused)\n                  closed by keep-alive timeout {}, request limit {}, front {}",
        count(back.requests, "request"),
        count(back.connections, "connection"),
        back.reused_requests,
        back.keepalive_timeouts,
        back.max_requests_closes,
        back.client_closes
    );
    for (n, what) in [
        (back.header_read_timeouts, "header timeouts"),
        (back.client_errors, "client errors"),
        (back.bad_gateways, "502 made by the back"),
        (back.tunnels, "tunnels"),
    ] {
        if n > 0 {
            let _ = write!(line, ", {what} {n}");
        }
    }
    line
}

/// Upstream connections per client request, with enough digits to tell 4 in 1000 from none; `n/a` when the
/// gateway's counters were not measured.
pub(super) fn conns_per_request(result: &RunResult) -> String {
    if !Tiers::of(result).gateway_measured() {
        return "n/a".to_owned();
    }
    if result.requests == 0 {
        return "0".to_owned();
    }
    ratio(result.upstream_connections as f64 / result.requests as f64)
}

/// Two decimals, or two significant digits below 0.1 (0.004, not 0.00).
fn ratio(value: f64) -> String {
    if value == 0.0 || value >= 0.1 {
        return format!("{value:.2}");
    }
    let digits = (-value.log10().floor()) as usize + 1;
    format!("{value:.digits$}")
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
        let row = format!(
            "{:>+10.1} {:>8.1} {:>8} {:>6} {:>8.3} {:>8.3}..{:<7.3}  {bar}",
            bin.offset_ms,
            bin.gap_ms,
            bin.requests,
            bin.bad_gateways,
            bin.probability,
            bin.ci_low,
            bin.ci_high
        );
        let _ = writeln!(out, "{}", row.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(settings: serde_json::Value, back_counts: Option<serde_json::Value>) -> RunResult {
        serde_json::from_value(serde_json::json!({
            "scenario": "t", "settings": settings, "requests": 1000,
            "responses": {"200": 1000}, "client_errors": {}, "causes": {},
            "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": 3.0, "max": 4.0},
            "throughput_rps": 100.0, "upstream_connections": 4, "retries": 1, "unaccounted": 0,
            "duration_s": 10.0, "seed": 1, "reused_upstream_requests": 996, "origin_requests": 1,
            "back_counts": back_counts,
        }))
        .expect("the contract parses")
    }

    fn upstream(table: &str) -> &str {
        table
            .lines()
            .find(|l| l.trim_start().starts_with("upstream"))
            .expect("an upstream line")
    }

    #[test]
    fn our_chain_labels_every_upstream_figure_in_singular_or_plural() {
        let table = run_table(&result(serde_json::json!({}), None));
        assert_eq!(
            upstream(&table).trim(),
            "upstream        4 connections opened, 1000 requests sent (996 on reused connections), 1 retry; \
             origin served 1"
        );
        assert!(
            !table.contains("  back "),
            "no back line without back counts"
        );
    }

    #[test]
    fn counters_not_measured_are_not_printed_as_zeros() {
        let external = run_table(&result(
            serde_json::json!({"target": "http://127.0.0.1:9/", "load": {}}),
            None,
        ));
        assert_eq!(
            upstream(&external).trim(),
            "upstream        not measured (external target)"
        );
        let real_front = run_table(&result(
            serde_json::json!({"front": "nginx", "back": "ours", "scenario": {}}),
            None,
        ));
        assert!(
            upstream(&real_front).contains("not available for nginx; origin served 1"),
            "{real_front}"
        );
        let own_origin = run_table(&result(
            serde_json::json!({"front": "ours", "back": "node", "scenario": {}}),
            None,
        ));
        let line = upstream(&own_origin);
        assert!(line.contains("4 connections opened"), "{line}");
        assert!(line.contains("origin not available for node"), "{line}");
        let rows = comparison_table(&[result(
            serde_json::json!({"target": "http://127.0.0.1:9/", "load": {}}),
            None,
        )]);
        assert!(
            rows.lines().nth(1).is_some_and(|r| r.ends_with("n/a")),
            "{rows}"
        );
    }

    #[test]
    fn the_back_counts_get_a_line_of_their_own() {
        let back = serde_json::json!({"connections": 6, "requests": 998, "keepalive_timeouts": 2,
            "max_requests_closes": 0, "header_read_timeouts": 0, "client_errors": 0, "bad_gateways": 3,
            "tunnels": 0, "tunnel_idle_timeouts": 0, "tunnels_closed": 0, "client_closes": 1,
            "reused_requests": 992, "origin_connections": 6});
        let table = run_table(&result(serde_json::json!({}), Some(back)));
        let mut lines = table
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("back "));
        let (line, closes) = (
            lines.next().expect("a back line"),
            lines.next().expect("its closes' line"),
        );
        assert!(
            line.contains("998 requests on 6 connections (992 reused)"),
            "{line}"
        );
        assert!(
            closes.starts_with("                  closed by")
                && closes.contains("keep-alive timeout 2")
                && closes.contains("502 made by the back 3")
                && !closes.contains("tunnels"),
            "{closes}"
        );
        assert!(
            table.lines().all(|l| l.chars().count() <= 120),
            "every line fits a 120-column terminal: {table}"
        );
    }

    #[test]
    fn a_small_ratio_keeps_its_digits() {
        assert_eq!(ratio(0.004), "0.0040");
        assert_eq!(ratio(0.0), "0.00");
        assert_eq!(ratio(0.64), "0.64");
        assert_eq!(ratio(1.0), "1.00");
        let rows = comparison_table(&[result(serde_json::json!({}), None)]);
        assert!(rows.contains("0.0040"), "{rows}");
    }

    #[test]
    fn sweep_rows_have_no_trailing_spaces() {
        let sweep: crate::sweep::curve::SweepResult = serde_json::from_value(serde_json::json!({
            "scenario": "s", "keepalive_timeout_ms": 50.0, "bins": [
                {"offset_ms": -1.0, "gap_ms": 49.0, "requests": 20, "bad_gateways": 0, "probability": 0.0,
                 "ci_low": 0.0, "ci_high": 0.16, "race_bad_gateways": 0, "unaccounted": 0},
                {"offset_ms": 0.0, "gap_ms": 50.0, "requests": 20, "bad_gateways": 10, "probability": 0.5,
                 "ci_low": 0.3, "ci_high": 0.7, "race_bad_gateways": 10, "unaccounted": 0}],
            "interrupted": false
        }))
        .expect("a sweep parses");
        let table = sweep_table(&sweep);
        assert!(table.lines().all(|l| l == l.trim_end()), "{table:?}");
        assert!(table.lines().nth(2).is_some_and(|l| l.ends_with('#')));
    }
}
