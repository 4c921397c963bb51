//! The text answer of `badgateway probe`: what was measured, the failures per idle-age bin, the verdict.

use std::fmt::Write as _;

use crate::probe::{CloseKind, ProbeResult};

/// The table of one probe.
pub fn probe_table(result: &ProbeResult) -> String {
    let probe = &result.probe;
    let close = &probe.back_close;
    let mut out = String::new();
    let scale = if result.time_scale == 1.0 {
        String::new()
    } else {
        format!(", time scale {}", result.time_scale)
    };
    let interrupted = if probe.interrupted {
        "  (interrupted: partial probe)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "probe {} (front {} → back {}, {}{scale}){interrupted}",
        result.scenario, result.front, result.back, result.method
    );
    let kind = match close.kind() {
        CloseKind::Fin => "FIN",
        CloseKind::Reset => "RST",
    };
    let _ = writeln!(
        out,
        "  back's idle close   {:.1} ms median ({:.1}–{:.1} ms, {} samples, {kind}); configured {:.1} ms",
        close.median_ms(),
        close.min_ms(),
        close.max_ms(),
        close.samples.len(),
        result.configured_keepalive_timeout_ms
    );
    let _ = writeln!(
        out,
        "  round trip          {:.2} ms front → back",
        probe.round_trip_ms
    );
    let front_idle = probe
        .front_idle_timeout_ms
        .map_or_else(|| "none".to_owned(), |ms| format!("{ms:.1} ms"));
    let _ = writeln!(out, "  front idle timeout  {front_idle}");
    let window = &probe.window;
    let _ = writeln!(
        out,
        "  close window        {:.1} – {:.1} ms of upstream idle age (close − 2 × round trip − {:.1} ms margin … \
         close + margin){}",
        window.opens_us as f64 / 1000.0,
        window.ends_us as f64 / 1000.0,
        probe.margin_ms,
        if window.beyond_front_idle {
            "; wholly past the front's idle timeout, so probed just below that"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "  {:<15} {:>5} {:>8}  {:<22} what failed",
        "idle age ms", "sent", "failures", "P(fail) [95 %]"
    );
    for bin in &probe.findings.bins {
        let mut failed: Vec<String> = bin
            .bad_gateways
            .iter()
            .map(|(cause, n)| format!("502 {cause}: {n}"))
            .collect();
        if bin.closed_without_response > 0 {
            failed.push(format!(
                "closed without response: {}",
                bin.closed_without_response
            ));
        }
        if bin.timeouts > 0 {
            failed.push(format!("timeout: {}", bin.timeouts));
        }
        let rate = if bin.sent == 0 {
            0.0
        } else {
            bin.failures as f64 / bin.sent as f64
        };
        let _ = writeln!(
            out,
            "  {:<15} {:>5} {:>8}  {:<22} {}",
            format!("{:.1}–{:.1}", bin.from_ms, bin.to_ms),
            bin.sent,
            bin.failures,
            format!("{rate:.2} [{:.2}, {:.2}]", bin.ci_low, bin.ci_high),
            failed.join(", ")
        );
    }
    let findings = &probe.findings;
    if findings.exposed {
        let _ = writeln!(
            out,
            "  verdict             EXPOSED: {} of {} probes failed; the front reuses connections into the back's close",
            findings.failures, findings.sent
        );
    } else {
        let bound = findings
            .failure_rate_upper_bound
            .map_or_else(String::new, |b| {
                format!("; 95 % upper bound on the failure rate {:.1} %", b * 100.0)
            });
        let _ = writeln!(
            out,
            "  verdict             not exposed: 0 of {} probes failed{bound}",
            findings.sent
        );
    }
    let production = if result.time_scale == 1.0 {
        String::new()
    } else {
        format!(
            " ({:.3} s unscaled)",
            findings.largest_safe_idle_ms / 1000.0 / result.time_scale
        )
    };
    let _ = writeln!(
        out,
        "  largest safe front idle timeout measured: {:.1} ms{production}",
        findings.largest_safe_idle_ms
    );
    let _ = writeln!(
        out,
        "  {} streams, each through a front of its own; {:.1} s",
        probe.streams, probe.wall_s
    );
    out
}
