//! `--html FILE`: one self-contained page (inline SVG, inline CSS, no script, no external reference) with the
//! result table, the charts and the race-window curve. Written as well-formed XHTML so tests can parse it.

use std::fmt::Write as _;

use super::charts::{causes_chart, latency_chart};
use super::percentiles::{has_percentiles, percentile_chart};
use super::table::run_table;
use super::window::{has_race_window, run_window_chart, sweep_window_chart};
use crate::result::RunResult;
use crate::sweep::curve::SweepResult;

/// What a report shows: runs, a sweep, or both.
pub struct ReportInput<'a> {
    /// Page title.
    pub title: &'a str,
    /// Runs (a single run, the default run's variants, or compare's cells).
    pub runs: &'a [RunResult],
    /// A race-window sweep.
    pub sweep: Option<&'a SweepResult>,
}

/// The page.
pub fn html_report(input: &ReportInput<'_>) -> String {
    let mut page = String::new();
    let title = escape(input.title);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <title>{title}</title>\n<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;padding:0 1em;}}\
         pre{{background:#f4f4f4;padding:1em;white-space:pre-wrap;overflow-wrap:anywhere;}}\
         figure{{margin:1.5em 0 2.5em 0;}}figcaption{{font-size:0.85em;font-style:italic;color:#444;margin:0.3em 0 0 0;}}svg{{max-width:100%;height:auto;}}\
         table{{border-collapse:collapse;width:100%;table-layout:fixed;font-size:0.9em;}}\
         th,td{{border:1px solid #ccc;padding:0.2em 0.4em;text-align:right;overflow-wrap:anywhere;}}th{{font-size:0.85em;}}\
         th:first-child,td:first-child{{text-align:left;width:30%;}}</style>\n</head>\n<body>\n\
         <h1>{title}</h1>\n"
    );
    if !input.runs.is_empty() {
        page.push_str("<h2>Runs</h2>\n");
        if input.runs.len() > 1 {
            comparison(&mut page, input.runs);
        }
        page.push_str("<pre>");
        for run in input.runs {
            page.push_str(&escape(&run_table(run)));
            page.push('\n');
        }
        page.push_str("</pre>\n");
        figure(&mut page, "Latency percentiles", latency_chart(input.runs));
        if has_percentiles(input.runs) {
            figure(
                &mut page,
                "Latency distribution: one curve per run, from its HDR histogram",
                percentile_chart(input.runs),
            );
        }
        figure(&mut page, "502 by cause", causes_chart(input.runs));
        if has_race_window(input.runs) {
            figure(
                &mut page,
                &race_window_caption(input.runs),
                run_window_chart(input.runs),
            );
        }
        page.push_str(&super::timelines_section(input.runs));
    }
    if let Some(sweep) = input.sweep {
        let _ = write!(
            page,
            "<h2>Race window: {}</h2>\n<pre>",
            escape(&sweep.scenario)
        );
        page.push_str(&escape(&super::sweep_table(sweep)));
        page.push_str("</pre>\n");
        figure(&mut page, "Race window", sweep_window_chart(sweep));
    }
    page.push_str("</body>\n</html>\n");
    page
}

/// The race window's caption, saying how many requests waited a gap outside the bins (not drawn).
fn race_window_caption(runs: &[RunResult]) -> String {
    let mut caption =
        "Race window: P(502) per bin of the measured idle gap, 95 % Wilson intervals. The shaded band is \
         where the race is expected on the client's clock: the back's idle clock starts half a link round trip \
         before the front has the response, the next request needs the other half to reach the back, so a gap \
         from KeepAliveTimeout minus the round trip up to KeepAliveTimeout meets a closing connection"
            .to_owned();
    for run in runs {
        if let Some(window) = run.race_window.as_ref().filter(|w| w.outside_requests > 0) {
            let _ = write!(
                caption,
                "; {}: {} {} ({} 502) waited a gap outside the bins, not drawn",
                run.scenario,
                window.outside_requests,
                if window.outside_requests == 1 {
                    "request"
                } else {
                    "requests"
                },
                window.outside_bad_gateways
            );
        }
    }
    caption
}

/// The side-by-side table as an HTML table: every column fits the page (cells wrap), none hides behind a
/// scroll bar.
fn comparison(page: &mut String, runs: &[RunResult]) {
    page.push_str(
        "<table class=\"comparison\">\n<tr><th>run</th><th>requests</th><th>502</th><th>race 502</th>\
         <th>502 / 10k</th><th>truncated</th><th>p50 ms</th><th>p99 ms</th><th>req/s</th><th>conns / req</th></tr>\n",
    );
    for run in runs {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{:.1}</td><td>{}</td></tr>",
            escape(&run.scenario),
            run.requests,
            run.bad_gateways(),
            run.race_bad_gateways(),
            run.bad_gateways_per_10k(),
            run.truncated_responses,
            super::table::latency(run.latency_ms.p50),
            super::table::latency(run.latency_ms.p99),
            run.throughput_rps,
            super::table::conns_per_request(run)
        );
    }
    page.push_str("</table>\n");
}

fn figure(page: &mut String, caption: &str, svg: Result<String, String>) {
    match svg {
        Ok(svg) => {
            let _ = write!(
                page,
                "<figure>\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
                strip_xml_declaration(&svg),
                escape(caption)
            );
        }
        Err(error) => {
            let _ = writeln!(page, "<p>{}: {}</p>", escape(caption), escape(&error));
        }
    }
}

fn strip_xml_declaration(svg: &str) -> &str {
    match svg.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(svg, |(_, body)| body.trim_start()),
        None => svg,
    }
}

/// Escapes text for XHTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}
