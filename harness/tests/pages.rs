//! Each HTML page kind (one run, a comparison of cells with long names, a sweep) rendered in headless
//! Chromium: every chart is present, every run name is visible as text, and no element is wider than the
//! page. Chromium is Debian's `chromium`; under `CI=true` a missing one fails, elsewhere the test says what to
//! install and passes. With `BADGATEWAY_SCREENS=DIR` it also writes one screenshot per page kind there.

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::report::{ReportInput, html_report};
use harness::result::RunResult;
use harness::sweep::curve::{SweepBin, SweepResult};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The page is laid out at this width; nothing may stick out of it.
const WINDOW: &str = "--window-size=1000,2600";

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

fn chromium(dir: &Path, args: &[&str]) -> std::process::Output {
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
            WINDOW,
        ])
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
        &["--dump-dom", &format!("file://{}", measured.display())],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    let overflow = dom
        .split_once("<div id=\"overflow\">")
        .and_then(|(_, rest)| rest.split_once("</div>"))
        .map(|(list, _)| list.to_owned())
        .unwrap_or_else(|| panic!("the measuring script did not run: {dom}"));
    if let Ok(screens) = std::env::var("BADGATEWAY_SCREENS") {
        let plain = dir.join("page.html");
        std::fs::write(&plain, page).unwrap();
        let shot = Path::new(&screens).join(format!("{name}.png"));
        let output = chromium(
            &dir,
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

/// Every chart present, every run name as text, nothing wider than the page.
fn check(name: &str, page: &str, charts: usize, names: &[&str]) {
    if !chromium_present() {
        return;
    }
    let (dom, overflow) = render(name, page);
    assert_eq!(dom.matches("<svg").count(), charts, "{name}: charts");
    for run in names {
        assert!(
            dom.contains(run),
            "{name}: run name {run:?} is not in the page"
        );
    }
    assert!(overflow.trim().is_empty(), "{name}: too wide: {overflow}");
}

#[test]
fn a_single_run_page_fits_and_shows_its_charts() {
    let runs = [run("keepalive-race", 200, &[("reused-closed", 9)], 4.5, 0)];
    let page = html_report(&ReportInput {
        title: "keepalive-race",
        runs: &runs,
        sweep: None,
    });
    check("run", &page, 2, &["keepalive-race", "reused-closed"]);
}

#[test]
fn a_comparison_page_names_every_cell_and_hides_no_column() {
    let names = [
        "keepalive-race back.keepalive=true front.retry=none",
        "keepalive-race back.keepalive=true front.retry=idempotent",
        "keepalive-race back.keepalive=false front.retry=none",
    ];
    let runs = [
        run(
            names[0],
            600,
            &[("reused-closed", 30), ("reused-reset", 6)],
            9.0,
            0,
        ),
        run(names[1], 600, &[], 7.0, 2),
        run(names[2], 600, &[("fresh-closed", 1)], 3.0, 0),
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
    check("compare", &page, 2, &names);
}

#[test]
fn a_sweep_page_shows_the_race_window() {
    let sweep = sweep();
    let page = html_report(&ReportInput {
        title: "sweep",
        runs: &[],
        sweep: Some(&sweep),
    });
    check("sweep", &page, 1, &["keepalive-race"]);
}
