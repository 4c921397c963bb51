//! The text answer of `badgateway probe`: what was measured, the failures per idle-age bin, the verdict.

use std::fmt::Write as _;

use crate::probe::{CloseKind, FRONT_IDLE_GUARD, ProbeMeasurement, ProbeResult};

/// The top of the probed ages, ms (0 without bins).
fn last_bin_ms(probe: &ProbeMeasurement) -> f64 {
    probe.findings.bins.last().map_or(0.0, |bin| bin.to_ms)
}

/// True when `top` reached `limit`, give or take the bins' µs rounding.
fn reaches(top: f64, limit: f64) -> bool {
    top >= limit - 0.001
}

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
    let guard_ms = FRONT_IDLE_GUARD.as_secs_f64() * 1000.0;
    let capped_at = probe
        .front_idle_timeout_ms
        .filter(|&idle| reaches(last_bin_ms(probe), idle - guard_ms));
    if let (Some(first), Some(last)) = (probe.findings.bins.first(), probe.findings.bins.last()) {
        let why = match capped_at {
            Some(idle) => format!(
                ", one window's width up to the front's idle timeout {idle:.1} ms less {guard_ms:.1} ms \
                 (older connections the front closes itself)"
            ),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "  probed ages         {:.1} – {:.1} ms{why}",
            first.from_ms, last.to_ms
        );
    }
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
    match capped_at {
        // Nothing failed up to where the front stops reusing: its own timeout is what was shown safe.
        Some(idle) if !findings.exposed => {
            let production = if result.time_scale == 1.0 {
                String::new()
            } else {
                format!(" ({:.3} s unscaled)", idle / 1000.0 / result.time_scale)
            };
            let _ = writeln!(
                out,
                "  largest safe front idle timeout measured: the configured {idle:.1} ms{production}; no failure \
                 up to {:.1} ms, as old as the front reuses",
                findings.largest_safe_idle_ms
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "  largest safe front idle timeout measured: {:.1} ms{production}",
                findings.largest_safe_idle_ms
            );
        }
    }
    let _ = writeln!(
        out,
        "  {} streams, each through a front of its own; {:.1} s",
        probe.streams, probe.wall_s
    );
    out
}

/// The probe's page: the text answer and a chart of P(failure) per idle-age bin with its 95 % interval, the
/// back's measured close and the front's idle timeout drawn as vertical lines. Self-contained XHTML.
pub fn probe_page(title: &str, result: &ProbeResult) -> String {
    let chart = match probe_chart(result) {
        Ok(svg) => svg
            .strip_prefix("<?xml")
            .and_then(|rest| rest.split_once("?>"))
            .map_or(svg.clone(), |(_, body)| body.trim_start().to_owned()),
        Err(error) => format!("<p>chart: {}</p>", super::escape(&error)),
    };
    format!(
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <title>{title}</title>\n<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;}}\
         pre{{background:#f4f4f4;padding:1em;white-space:pre-wrap;}}svg{{max-width:100%;height:auto;}}\
         figcaption{{font-size:0.85em;font-style:italic;color:#444;margin:0.3em 0 0 0;}}</style>\n\
         </head>\n<body>\n<h1>{title}</h1>\n<pre>{table}</pre>\n<figure>\n{chart}\n<figcaption>P(failure) per \
         upstream idle age, 95 % Wilson intervals; the back's measured close (red){front}</figcaption>\n\
         </figure>\n</body>\n</html>\n",
        table = super::escape(&probe_table(result)),
        front = match result.probe.front_idle_timeout_ms {
            Some(idle) if front_idle_on_chart(&result.probe) => {
                format!(" and the front's idle timeout, {idle:.1} ms (blue)")
            }
            Some(idle) =>
                format!("; the front's idle timeout, {idle:.1} ms, is far right of the chart"),
            None => "; the front has no idle timeout".to_owned(),
        },
    )
}

/// Whether the chart reaches the front's idle timeout: drawn when it lies within half the probed span again.
fn front_idle_on_chart(probe: &ProbeMeasurement) -> bool {
    let high = last_bin_ms(probe).max(probe.back_close.median_ms());
    probe
        .front_idle_timeout_ms
        .is_some_and(|idle| idle < high * 1.5)
}

fn probe_chart(result: &ProbeResult) -> Result<String, String> {
    use plotters::prelude::*;
    let failed = |e: &dyn std::fmt::Debug| format!("{e:?}");
    let probe = &result.probe;
    let bins = &probe.findings.bins;
    let close = probe.back_close.median_ms();
    let mut low = bins.first().map_or(0.0, |b| b.from_ms).min(close);
    let mut high = bins.last().map_or(1.0, |b| b.to_ms).max(close);
    if let Some(idle) = probe.front_idle_timeout_ms
        && front_idle_on_chart(probe)
    {
        low = low.min(idle);
        high = high.max(idle);
    }
    let pad = ((high - low) * 0.05).max(0.1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "probe: P(failure) vs upstream idle age (front {} → back {})",
                    result.front, result.back
                ),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((low - pad)..(high + pad), 0.0..1.0)
            .map_err(|e| failed(&e))?;
        chart
            .configure_mesh()
            .x_desc("upstream idle age before the request (ms)")
            .y_desc("P(failure)")
            .draw()
            .map_err(|e| failed(&e))?;
        chart
            .draw_series(bins.iter().map(|b| {
                let centre = (b.from_ms + b.to_ms) / 2.0;
                let rate = if b.sent == 0 {
                    0.0
                } else {
                    b.failures as f64 / b.sent as f64
                };
                ErrorBar::new_vertical(centre, b.ci_low, rate, b.ci_high, BLACK.filled(), 6)
            }))
            .map_err(|e| failed(&e))?;
        chart
            .draw_series(LineSeries::new(
                [(close, 0.0), (close, 1.0)],
                RED.stroke_width(2),
            ))
            .map_err(|e| failed(&e))?;
        if let Some(idle) = probe.front_idle_timeout_ms
            && idle <= high + pad
        {
            chart
                .draw_series(LineSeries::new(
                    [(idle, 0.0), (idle, 1.0)],
                    BLUE.stroke_width(2),
                ))
                .map_err(|e| failed(&e))?;
        }
        root.present().map_err(|e| failed(&e))?;
    }
    Ok(svg)
}
