//! Each HTML page kind (one run, a comparison of cells with long names, a sweep) rendered in headless
//! Chromium: every chart is present, every run name is visible as text, and no element is wider than the
//! page. The run page is a real run of the default race scenario (about 10 s), so its latency distribution and
//! race window are the ones `badgateway run --html` draws; the comparison's cells are made up (two with idle
//! gaps, one closed loop without a race window, one from a file older than the latency distribution).
//! Chromium is Debian's `chromium`; under `CI=true` a missing one fails, elsewhere the test says what to
//! install and passes. With `BADGATEWAY_SCREENS=DIR` it also writes one screenshot per page kind there.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::report::{ReportInput, html_report, run_window_chart};
use harness::result::RunResult;
use harness::run::run_scenario;
use harness::scenario::Scenario;
use harness::sweep::curve::{SweepBin, SweepResult};
use listener::Shutdown;

const CHROMIUM: &str = "/usr/bin/chromium";

/// The page is laid out at this width; nothing may stick out of it.
const WIDTH_PX: u32 = 1000;

/// The window's height for the DOM check; a screenshot is as tall as its page.
const CHECK_HEIGHT_PX: u32 = 3400;

/// Appended to a copy of the page: records in the DOM the elements wider than the viewport.
const MEASURE: &str = "<script>window.addEventListener('load', function () {\
  var width = document.documentElement.clientWidth, wide = [];\
  document.querySelectorAll('body *').forEach(function (e) {\
    var r = e.getBoundingClientRect();\
    if (r.right > width + 1 || r.left < -1) { wide.push(e.tagName + ':' + Math.round(r.right)); }\
    if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible') {\
      wide.push(e.tagName + ':scrolls'); }\
  });\
  var out = document.createElement('div'); out.id = 'overflow'; out.textContent = wide.join(' ');\
  out.setAttribute('data-height', Math.ceil(document.body.getBoundingClientRect().bottom));\
  document.body.appendChild(out);\
});</script>";

fn chromium_present() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {CHROMIUM} is missing (apt-get install chromium)"
    );
    eprintln!("skipped: {CHROMIUM} is missing; `apt-get install chromium` to run the page tests");
    false
}

fn chromium(dir: &Path, height: u32, args: &[&str]) -> std::process::Output {
    Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--window-size={WIDTH_PX},{height}"))
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("badgateway-pages-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The DOM Chromium built from `page` with the measuring script, and the list of too-wide elements.
fn render(name: &str, page: &str) -> (String, String) {
    let dir = scratch(name);
    let measured = dir.join("measured.html");
    std::fs::write(
        &measured,
        page.replace("</body>", &format!("{MEASURE}</body>")),
    )
    .unwrap();
    let output = chromium(
        &dir,
        CHECK_HEIGHT_PX,
        &["--dump-dom", &format!("file://{}", measured.display())],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    let (height, overflow) = dom
        .split_once("<div id=\"overflow\" data-height=\"")
        .and_then(|(_, rest)| rest.split_once("\">"))
        .and_then(|(height, rest)| {
            Some((height.parse::<u32>().ok()?, rest.split_once("</div>")?.0))
        })
        .map(|(height, list)| (height, list.to_owned()))
        .unwrap_or_else(|| panic!("the measuring script did not run: {dom}"));
    if let Ok(screens) = std::env::var("BADGATEWAY_SCREENS") {
        let plain = dir.join("page.html");
        std::fs::write(&plain, page).unwrap();
        let shot = Path::new(&screens).join(format!("{name}.png"));
        let output = chromium(
            &dir,
            height + 32,
            &[
                &format!("--screenshot={}", shot.display()),
                &format!("file://{}", plain.display()),
            ],
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    (dom, overflow)
}

fn run(name: &str, requests: u64, causes: &[(&str, u64)], p99: f64, truncated: u64) -> RunResult {
    let bad: u64 = causes.iter().map(|c| c.1).sum();
    serde_json::from_value(serde_json::json!({
        "scenario": name, "settings": null, "requests": requests,
        "responses": {"200": requests - bad - truncated, "502": bad},
        "client_errors": {"connect": 0, "reset": 0, "closed": truncated, "timeout": 0},
        "causes": causes.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
        "latency_ms": {"p50": p99 / 8.0, "p90": p99 / 3.0, "p99": p99, "max": p99 * 1.2},
        "throughput_rps": 812.5, "upstream_connections": 40, "retries": 3, "unaccounted": 0,
        "duration_s": 12.0, "seed": 1, "truncated_responses": truncated
    }))
    .expect("the contract parses")
}

/// `run` with a latency distribution whose tail grows to `p99 * 1.2`, and with a race window around a 50 ms
/// KeepAliveTimeout peaking at `peak` when `peak` is given.
fn with_curves(mut run: RunResult, peak: Option<f64>) -> RunResult {
    let p99 = run.latency_ms.p99;
    let steps = [
        0.0, 50.0, 75.0, 87.5, 93.75, 96.875, 98.4375, 99.21875, 99.609375, 100.0,
    ];
    run.latency_percentiles = serde_json::from_value(serde_json::Value::Array(
        steps
            .iter()
            .map(|&p: &f64| {
                let tail = -(1.0 - p / 100.0).max(1.0 / 600.0).log10() / 2.78;
                serde_json::json!({"percentile": p, "ms": p99 / 10.0 + p99 * 1.1 * tail.powi(3)})
            })
            .collect(),
    ))
    .expect("percentile points parse");
    if let Some(peak) = peak {
        let bins: Vec<serde_json::Value> = (37..63)
            .map(|low: i32| {
                let p: f64 = if (42..50).contains(&low) { peak } else { 0.0 };
                let bad = (p * 20.0).round() as u64;
                serde_json::json!({"gap_ms_low": low, "gap_ms_high": low + 1, "requests": 20,
                    "bad_gateways": bad, "p": bad as f64 / 20.0, "p_low": (bad as f64 / 20.0 - 0.15).max(0.0),
                    "p_high": (bad as f64 / 20.0 + 0.15).min(1.0)})
            })
            .collect();
        run.race_window = Some(
            serde_json::from_value(serde_json::json!({"keepalive_timeout_ms": 50.0, "bins": bins}))
                .expect("the race window parses"),
        );
    }
    run
}

fn sweep() -> SweepResult {
    let bins = (-8..=4)
        .map(|i| {
            let offset = f64::from(i) * 2.0;
            let probability = if (-4..=0).contains(&i) { 0.4 } else { 0.02 };
            SweepBin {
                offset_ms: offset,
                gap_ms: 50.0 + offset,
                requests: 60,
                bad_gateways: (probability * 60.0) as u64,
                race_bad_gateways: (probability * 60.0) as u64,
                unaccounted: 0,
                probability,
                ci_low: (probability - 0.1_f64).max(0.0),
                ci_high: (probability + 0.1_f64).min(1.0),
            }
        })
        .collect();
    SweepResult {
        scenario: "keepalive-race".to_owned(),
        keepalive_timeout_ms: 50.0,
        bins,
        interrupted: false,
    }
}

/// Every chart present (`charts`: the figure captions, in order), every run name as text, nothing wider than
/// the page (the wire stories included).
fn check(name: &str, page: &str, charts: &[&str], names: &[&str]) {
    if !chromium_present() {
        return;
    }
    let (dom, overflow) = render(name, page);
    // Charts are figures, each with its SVG; a wire story's ladder is an SVG too, inside its `<details>`.
    let figures = dom
        .split("<figure")
        .skip(1)
        .filter(|rest| {
            rest.split("</figure>")
                .next()
                .is_some_and(|f| f.contains("<svg"))
        })
        .count();
    assert_eq!(figures, charts.len(), "{name}: charts");
    assert_eq!(
        dom.matches("<svg").count(),
        charts.len() + dom.matches("<details").count(),
        "{name}: every SVG is a chart or a wire story"
    );
    let captions: Vec<&str> = dom
        .split("<figcaption>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</figcaption>").map(|(caption, _)| caption))
        .collect();
    assert_eq!(captions.len(), charts.len(), "{name}: {captions:?}");
    for (caption, chart) in captions.iter().zip(charts) {
        assert!(
            caption.starts_with(chart),
            "{name}: {caption:?} is not {chart:?}"
        );
    }
    for run in names {
        assert!(
            dom.contains(run),
            "{name}: run name {run:?} is not in the page"
        );
    }
    assert!(overflow.trim().is_empty(), "{name}: too wide: {overflow}");
}

/// The SVG of the figure whose caption starts with `caption`.
fn chart_of<'a>(page: &'a str, caption: &str) -> &'a str {
    page.split("<figure>")
        .find(|figure| figure.contains(&format!("<figcaption>{caption}")))
        .unwrap_or_else(|| panic!("no figure {caption:?}"))
}

const BARS: &str = "Latency percentiles";
const DISTRIBUTION: &str = "Latency distribution";
const CAUSES: &str = "502 by cause";
const RACE_WINDOW: &str = "Race window";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_page_of_the_default_race_shows_its_distribution_and_race_window() {
    let scenario = Scenario::default_race().expect("the embedded scenario parses");
    let (_shutdown, stop) = Shutdown::new();
    // Two failures keep their timelines, so that the page (and its screenshot) has its wire-story section.
    let options = harness::run::RunOptions {
        timelines: 2,
        ..support::quiet()
    };
    let result = run_scenario(&scenario, &options, stop)
        .await
        .expect("the default race runs");
    let window = result
        .race_window
        .as_ref()
        .expect("an idle-gap run has a race window");
    let binned: u64 = window.bins.iter().map(|b| b.requests).sum::<u64>() + window.outside_requests;
    // One client: every request but its first (and any after a failed one) waited a gap on its connection.
    assert!(
        binned < result.requests && binned * 10 >= result.requests * 9,
        "{binned} of {} requests binned",
        result.requests
    );
    let bad: u64 =
        window.bins.iter().map(|b| b.bad_gateways).sum::<u64>() + window.outside_bad_gateways;
    assert!(
        bad <= result.bad_gateways(),
        "{bad} > {}",
        result.bad_gateways()
    );
    assert!(
        window
            .bins
            .iter()
            .all(|b| b.p_low <= b.p && b.p <= b.p_high),
        "{window:?}"
    );
    assert_eq!(window.keepalive_timeout_ms, Some(50.0));
    let back = result
        .back_counts
        .expect("our back's counts are in the result");
    assert_eq!(
        back.requests + result.race_bad_gateways(),
        result.requests,
        "a request is either served by the back or met its close"
    );
    assert_eq!(
        result.latency_percentiles.last().map(|p| p.percentile),
        Some(100.0)
    );
    let runs = [result];
    let page = html_report(&ReportInput {
        title: "keepalive-race",
        runs: &runs,
        sweep: None,
    });
    assert_eq!(
        runs[0].timelines.is_empty(),
        runs[0].bad_gateways() == 0,
        "a run with failures keeps timelines"
    );
    assert_eq!(
        page.matches("<details").count(),
        runs[0].timelines.len(),
        "every kept timeline is on the page"
    );
    assert_eq!(
        page.contains("Wire stories"),
        !runs[0].timelines.is_empty(),
        "kept timelines get their section"
    );
    assert!(
        chart_of(&page, RACE_WINDOW).contains("measured idle gap"),
        "the run's race window is drawn against the measured gap, not the sweep's offset"
    );
    check(
        "run",
        &page,
        &[BARS, DISTRIBUTION, CAUSES, RACE_WINDOW],
        &["keepalive-race"],
    );
}

#[test]
fn a_comparison_page_names_every_cell_and_hides_no_column() {
    let names = [
        "keepalive-race back.keepalive=true front.retry=none",
        "keepalive-race back.keepalive=true front.retry=idempotent",
        "keepalive-race back.keepalive=false front.retry=none",
        "closed-loop load.pattern=closed",
    ];
    let runs = [
        with_curves(
            run(
                names[0],
                600,
                &[("reused-closed", 30), ("reused-reset", 6)],
                9.0,
                0,
            ),
            Some(0.45),
        ),
        with_curves(run(names[1], 600, &[], 7.0, 2), Some(0.0)),
        // Written before the latency distribution existed: no curve, no failure.
        run(names[2], 600, &[("fresh-closed", 1)], 3.0, 0),
        with_curves(run(names[3], 600, &[], 2.0, 0), None),
    ];
    let page = html_report(&ReportInput {
        title: "compare",
        runs: &runs,
        sweep: None,
    });
    assert!(
        page.contains("conns / req"),
        "the last column is in the table"
    );
    let distribution = chart_of(&page, DISTRIBUTION);
    for name in [names[0], names[1], names[3]] {
        assert!(
            distribution.contains(name),
            "{name} in the distribution's legend"
        );
    }
    assert!(
        !distribution.contains(names[2]),
        "a run without points has no curve"
    );
    assert!(
        distribution.contains("99 %"),
        "the percentile axis is labelled"
    );
    let window = chart_of(&page, RACE_WINDOW);
    assert!(window.contains(names[0]) && window.contains(names[1]));
    assert!(
        !window.contains(names[3]),
        "a closed loop has no race window"
    );
    check(
        "compare",
        &page,
        &[BARS, DISTRIBUTION, CAUSES, RACE_WINDOW],
        &names,
    );
}

#[test]
fn a_race_window_series_without_a_502_is_a_thin_line_without_intervals() {
    let race = with_curves(
        run("race", 600, &[("reused-closed", 30)], 9.0, 0),
        Some(0.45),
    );
    let quiet = with_curves(run("mitigated", 600, &[], 7.0, 0), Some(0.0));
    let alone = run_window_chart(std::slice::from_ref(&race)).expect("a chart");
    let lone = run_window_chart(std::slice::from_ref(&quiet)).expect("a chart");
    let both = run_window_chart(&[race, quiet]).expect("a chart");
    assert!(
        both.contains("mitigated (no 502 at any gap)"),
        "the legend says why it is flat"
    );
    assert!(
        !both.contains("race (no 502"),
        "the race curve is not called flat"
    );
    // The flat series adds its one line and its legend entry (a thin line and a name), never an error bar
    // or a marker (26 bins here).
    let shapes = |svg: &str| {
        ["<line", "<polygon", "<circle", "<rect"]
            .iter()
            .map(|shape| svg.matches(shape).count())
            .sum::<usize>()
    };
    assert!(
        shapes(&both) == shapes(&alone),
        "no error bars or markers for the flat series: {} shapes vs {} without it",
        shapes(&both),
        shapes(&alone)
    );
    assert!(
        shapes(&lone) > 26 && !lone.contains("(no 502"),
        "alone, a series without a 502 keeps its intervals (they bound how rare it is)"
    );
}

#[test]
fn a_run_without_idle_gaps_or_distribution_draws_no_empty_chart() {
    let runs = [run("old-file", 200, &[("reused-closed", 9)], 4.5, 0)];
    let page = html_report(&ReportInput {
        title: "old-file",
        runs: &runs,
        sweep: None,
    });
    assert!(
        !page.contains(DISTRIBUTION) && !page.contains(RACE_WINDOW),
        "{page}"
    );
    assert_eq!(page.matches("<svg").count(), 2);
}

#[test]
fn a_sweep_page_shows_the_race_window() {
    let sweep = sweep();
    let page = html_report(&ReportInput {
        title: "sweep",
        runs: &[],
        sweep: Some(&sweep),
    });
    check("sweep", &page, &[RACE_WINDOW], &["keepalive-race"]);
}
