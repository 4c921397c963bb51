//! The rate pattern keeps its schedule (judged by counts), the HTML report is well-formed XHTML with its
//! charts, and the check gate fails and passes where it should.

mod support;

use std::time::Duration;

use harness::check::{ResultFile, Tolerance, check_files};
use harness::load::{LoadConfig, Pattern};
use harness::report::{ReportInput, html_report};
use harness::result::RunResult;
use harness::run::{RunOptions, run_external};
use harness::sweep::{SweepBin, SweepResult, wilson_interval};
use listener::Shutdown;
use support::{FakeServer, Mix, target};

async fn external(load: LoadConfig, mix: Mix) -> RunResult {
    let server = FakeServer::start(mix, 1).await;
    let target = target(server.addr, Duration::from_secs(2));
    let (_never, stop) = Shutdown::new();
    run_external("fake", &load, &target, &RunOptions::default(), stop).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_run_sends_the_scheduled_number_of_requests() {
    // 200 requests/s for 1.5 s over 4 clients: 300 intended sends. A fast target keeps up, so the count is
    // the schedule's, within 10 % (the last interval may or may not fall before the deadline).
    let load = LoadConfig {
        pattern: Pattern::Rate,
        clients: 4,
        rate: Some(200.0),
        duration: Some(Duration::from_millis(1500)),
        ..LoadConfig::default()
    };
    let result = external(load, Mix([1, 0, 0, 0, 0])).await;
    assert!(
        (270..=304).contains(&result.requests),
        "expected about 300 requests, got {}",
        result.requests
    );
    assert_eq!(result.unaccounted, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_loop_is_faster_than_a_slow_rate() {
    // The same bound, closed loop vs 50 requests/s: the open loop must not exceed its schedule.
    let base = LoadConfig {
        clients: 2,
        duration: Some(Duration::from_millis(500)),
        ..LoadConfig::default()
    };
    let closed = external(
        LoadConfig {
            pattern: Pattern::Closed,
            ..base.clone()
        },
        Mix([1, 0, 0, 0, 0]),
    )
    .await;
    let rate = external(
        LoadConfig {
            pattern: Pattern::Rate,
            rate: Some(50.0),
            ..base
        },
        Mix([1, 0, 0, 0, 0]),
    )
    .await;
    assert!(
        rate.requests <= 26,
        "a 50/s schedule over 0.5 s sent {}",
        rate.requests
    );
    assert!(
        closed.requests > rate.requests * 4,
        "closed {} vs rate {}",
        closed.requests,
        rate.requests
    );
}

fn sample_sweep() -> SweepResult {
    let bins = [(-4.0, 0, 40), (-2.0, 10, 40), (0.0, 20, 40), (2.0, 0, 40)]
        .into_iter()
        .map(|(offset_ms, bad, requests)| {
            let (ci_low, ci_high) = wilson_interval(bad, requests);
            SweepBin {
                offset_ms,
                gap_ms: 50.0 + offset_ms,
                requests,
                bad_gateways: bad,
                race_bad_gateways: bad,
                probability: bad as f64 / requests as f64,
                ci_low,
                ci_high,
                unaccounted: 0,
            }
        })
        .collect();
    SweepResult {
        scenario: "keepalive-race <&> \"quoted\"".to_owned(),
        keepalive_timeout_ms: 50.0,
        bins,
        interrupted: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_is_well_formed_and_self_contained() {
    let mut runs = Vec::new();
    for mix in [Mix([3, 1, 0, 0, 0]), Mix([1, 0, 0, 0, 0])] {
        let load = LoadConfig {
            pattern: Pattern::Closed,
            requests: Some(40),
            ..LoadConfig::default()
        };
        runs.push(external(load, mix).await);
    }
    let sweep = sample_sweep();
    let page = html_report(&ReportInput {
        title: "report <test>",
        runs: &runs,
        sweep: Some(&sweep),
    });
    let document = roxmltree::Document::parse_with_options(
        &page,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("the report is well-formed XHTML");
    let svgs: Vec<_> = document
        .descendants()
        .filter(|n| n.has_tag_name("svg"))
        .collect();
    assert_eq!(
        svgs.len(),
        4,
        "latency bars, latency distribution, causes and the sweep's race window (closed loops have none)"
    );
    let text: String = document.descendants().filter_map(|n| n.text()).collect();
    assert!(text.contains("report <test>"));
    assert!(
        text.contains("reused-closed"),
        "the causes chart names the cause"
    );
    assert!(text.contains("race window"));
    // Self-contained: no external references.
    for node in document.descendants() {
        for attribute in node.attributes() {
            let value = attribute.value();
            assert!(
                !value.starts_with("http://") || attribute.name() == "xmlns",
                "{value}"
            );
            assert!(!value.starts_with("https://"), "{value}");
        }
        assert!(!node.has_tag_name("script"));
    }
}

fn result_with(bad: u64, requests: u64, p99: f64, rps: f64) -> RunResult {
    let mut result: RunResult = serde_json::from_value(serde_json::json!({
        "scenario": "gate", "settings": null, "requests": requests,
        "responses": {"200": requests - bad, "502": bad},
        "client_errors": {"connect": 0, "reset": 0, "closed": 0, "timeout": 0},
        "causes": {"reused-closed": bad},
        "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": p99, "max": p99 * 2.0},
        "throughput_rps": rps, "upstream_connections": 10, "retries": 0,
        "unaccounted": 0, "duration_s": 1.0, "seed": 1
    }))
    .expect("contract parses");
    if bad == 0 {
        result.causes.clear();
    }
    result
}

#[test]
fn the_gate_passes_within_tolerance_and_fails_outside_it() {
    let baseline = ResultFile::Single(Box::new(result_with(10, 10_000, 5.0, 1000.0)));
    let same = ResultFile::Single(Box::new(result_with(10, 10_000, 5.2, 990.0)));
    assert!(check_files(&same, Some(&baseline), Tolerance(0.1)).is_empty());

    let worse = ResultFile::Single(Box::new(result_with(40, 10_000, 9.0, 500.0)));
    let violations = check_files(&worse, Some(&baseline), Tolerance(0.1));
    assert_eq!(violations.len(), 3, "{violations:#?}");
    assert!(violations.iter().any(|v| v.contains("502 per 10k")));
    assert!(violations.iter().any(|v| v.contains("p99")));
    assert!(violations.iter().any(|v| v.contains("throughput")));
}

#[test]
fn the_gate_applies_the_scenarios_own_expectations() {
    let scenario = harness::scenario::Scenario::default_race().unwrap();
    let mut clean = result_with(0, 200, 5.0, 10.0);
    clean.settings = serde_json::to_value(&scenario).unwrap();
    // The race scenario expects at least one 502: a clean run fails its own gate.
    let violations = check_files(
        &ResultFile::Single(Box::new(clean.clone())),
        None,
        Tolerance(0.1),
    );
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(violations[0].contains("at least 1 502"));
    let mut raced = result_with(5, 200, 5.0, 10.0);
    raced.settings = clean.settings.clone();
    assert!(check_files(&ResultFile::Single(Box::new(raced)), None, Tolerance(0.1)).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_targets_table_says_its_chain_counters_were_not_measured() {
    let load = LoadConfig {
        pattern: Pattern::Closed,
        clients: 1,
        requests: Some(20),
        ..LoadConfig::default()
    };
    let result = external(load, Mix([1, 0, 0, 0, 0])).await;
    let table = harness::report::run_table(&result);
    assert!(
        table.contains("upstream        not measured (external target)"),
        "{table}"
    );
    assert!(!table.contains("0 connections"), "{table}");
    let rows = harness::report::comparison_table(std::slice::from_ref(&result));
    assert!(
        rows.lines().nth(1).is_some_and(|r| r.ends_with("n/a")),
        "{rows}"
    );
}
