//! The CI gate through the real binary (issue 12 item 4): `[expect]` means the same everywhere (the default
//! run's mitigation cells pass their own check), a partial result fails `check` unless `--allow-partial`,
//! Ctrl-C exits 130, `load` exits 2 when nothing reached the target, an unwritable output path is refused before
//! the run, every kind of result file is read (and an unknown one names the kinds tried), `--time-scale` keeps a
//! production pair's verdict, and `--preset` sets the product's figures.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::{badgateway_command, scratch_dir};

fn badgateway(args: &[&str]) -> Output {
    badgateway_command()
        .args(args)
        .output()
        .expect("the binary runs")
}

fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn check(args: &[&str]) -> Output {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    badgateway(&all)
}

/// A result of `requests` with `bad` 502s, in the contract's shape.
fn contract(bad: u64, requests: u64, interrupted: bool) -> String {
    serde_json::json!({
        "scenario": "gate", "settings": null, "requests": requests,
        "responses": {"200": requests - bad, "502": bad},
        "client_errors": {"connect": 0, "reset": 0, "closed": 0, "timeout": 0},
        "causes": if bad > 0 { serde_json::json!({"reused-closed": bad}) } else { serde_json::json!({}) },
        "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": 3.0, "max": 4.0},
        "throughput_rps": 100.0, "upstream_connections": 10, "retries": 0,
        "unaccounted": 0, "duration_s": 10.0, "seed": 1, "interrupted": interrupted
    })
    .to_string()
}

#[test]
fn the_default_runs_json_passes_its_own_check() {
    let dir = scratch_dir("gate-default");
    let result = dir.join("d.json");
    // Fewer requests than the default, so that the four runs stay short; the race still reproduces.
    let run = badgateway(&[
        "run",
        "--quiet",
        "--set",
        "load.requests=80",
        "--json",
        result.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let checked = check(&[result.to_str().unwrap()]);
    assert_eq!(
        checked.status.code(),
        Some(0),
        "the mitigation cells must not inherit min_502: {}",
        text(&checked.stdout)
    );
    let lines = text(&checked.stdout);
    assert!(lines.contains("keepalive-race: [expect] holds"), "{lines}");
    assert!(
        lines.contains("keepalive-race+keepalive-off: [expect] holds"),
        "{lines}"
    );
}

#[test]
fn a_partial_result_fails_the_gate_unless_allowed() {
    let dir = scratch_dir("gate-partial");
    let partial = file(&dir, "partial.json", &contract(0, 100, true));
    let failed = check(&[partial.to_str().unwrap()]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed.stdout));
    assert!(text(&failed.stdout).contains("interrupted"));
    let allowed = check(&[partial.to_str().unwrap(), "--allow-partial"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed.stdout));
}

#[test]
fn every_baseline_line_names_its_rule() {
    let dir = scratch_dir("gate-rules");
    let base = file(&dir, "base.json", &contract(0, 200, false));
    let few = file(&dir, "few.json", &contract(2, 200, false));
    let many = file(&dir, "many.json", &contract(12, 200, false));
    // 2 in 200 after 0 in 200 is what an identical chain does now and then: no rise.
    let noise = check(&[few.to_str().unwrap(), "--baseline", base.to_str().unwrap()]);
    let lines = text(&noise.stdout);
    assert!(
        lines.contains("502 rate: 2 in 200 vs 0 in 200, p = 0.25"),
        "{lines}"
    );
    assert!(
        lines.contains("p99 not compared: 200 requests, under 1000"),
        "{lines}"
    );
    // The new cause still fails: 2 reused-closed where the baseline had none.
    assert!(lines.contains("new 502 cause reused-closed"), "{lines}");
    let rise = check(&[many.to_str().unwrap(), "--baseline", base.to_str().unwrap()]);
    assert_eq!(rise.status.code(), Some(1));
    let lines = text(&rise.stdout);
    assert!(
        lines.contains("FAIL gate: 502 rate: 12 in 200 vs 0 in 200, p = 2.4e-4 < 0.001: a rise"),
        "{lines}"
    );
    // Enough samples: p99 is compared with the relative and the absolute tolerance.
    let big_base = file(&dir, "big-base.json", &contract(0, 5000, false));
    let big = file(&dir, "big.json", &contract(0, 5000, false));
    let compared = check(&[
        big.to_str().unwrap(),
        "--baseline",
        big_base.to_str().unwrap(),
        "--latency-floor",
        "2ms",
    ]);
    assert_eq!(
        compared.status.code(),
        Some(0),
        "{}",
        text(&compared.stdout)
    );
    assert!(
        text(&compared.stdout)
            .contains("p99 3.00 ms within 5.30 ms (the baseline's 3.00 ms + 10% + 2 ms)"),
        "{}",
        text(&compared.stdout)
    );
}

#[test]
fn an_unknown_file_names_the_kinds_tried_and_a_baseline_must_be_of_the_same_kind() {
    let dir = scratch_dir("gate-kinds");
    let garbage = file(&dir, "garbage.json", "{\"not\": \"a result\"}");
    let output = check(&[garbage.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let message = text(&output.stderr);
    for kind in [
        "run",
        "cells",
        "sweep",
        "sweeps",
        "probe",
        "garbage.json",
        "not",
    ] {
        assert!(message.contains(kind), "{kind}: {message}");
    }
    assert!(!message.contains("untagged"), "{message}");

    let sweep = dir.join("sweep.json");
    let swept = badgateway(&[
        "sweep",
        "--quiet",
        "--offset",
        "-2ms..2ms",
        "--step",
        "2ms",
        "--requests-per-bin",
        "4",
        "--json",
        sweep.to_str().unwrap(),
    ]);
    assert_eq!(swept.status.code(), Some(0), "{}", text(&swept.stderr));
    let checked = check(&[sweep.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stderr));
    assert!(
        text(&checked.stdout).contains("a sweep has no [expect]"),
        "{}",
        text(&checked.stdout)
    );
    let run = file(&dir, "run.json", &contract(0, 100, false));
    let mixed = check(&[run.to_str().unwrap(), "--baseline", sweep.to_str().unwrap()]);
    assert_eq!(mixed.status.code(), Some(2));
    let message = text(&mixed.stderr);
    assert!(
        message.contains("a run file and the baseline a sweep file"),
        "{message}"
    );
}

#[test]
fn load_exits_2_when_no_request_reached_the_target() {
    // A port that was free a moment ago, below the ephemeral range: nothing listens there.
    let port = harness::ports::free_loopback_port().unwrap().port();
    let target = format!("http://127.0.0.1:{port}/");
    let output = badgateway(&[
        "load",
        "--target",
        &target,
        "--pattern",
        "closed",
        "--requests",
        "5",
        "--quiet",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stdout));
    let message = text(&output.stderr);
    assert!(message.contains(&target), "{message}");
    assert!(message.contains("connect 5"), "{message}");
}

#[test]
fn an_unwritable_output_path_is_refused_before_the_run() {
    let output = badgateway(&[
        "run",
        "--quiet",
        "--no-mitigations",
        "--json",
        "/nonexistent-dir/result.json",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("/nonexistent-dir/result.json"),
        "{}",
        text(&output.stderr)
    );
    assert!(
        !text(&output.stdout).contains("requests"),
        "the run started: {}",
        text(&output.stdout)
    );
}

#[test]
fn ctrl_c_exits_130_and_the_partial_result_fails_the_gate() {
    let dir = scratch_dir("gate-interrupt");
    let scenario = file(
        &dir,
        "long.toml",
        "name = \"long\"\ndescription = \"a run cut short\"\n[load]\npattern = \"idle-gap\"\n\
         gap = \"20ms\"\nclients = 2\nrequests = 10000000\n",
    );
    let result = dir.join("long.json");
    let mut child = badgateway_command()
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--quiet",
            "--json",
            result.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // Killed on drop if the test fails before the run ends: 10,000,000 requests would outlive it.
    let mut child = support::Reaped::new(child);
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // The header is printed after the signal handlers are installed.
    let header = received
        .recv_timeout(Duration::from_secs(30))
        .expect("the run prints its header");
    assert!(header.contains("a run cut short"), "{header}");
    let sent = std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(json(&result)["interrupted"], true);
    let checked = check(&[result.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(1), "{}", text(&checked.stdout));
    let allowed = check(&[result.to_str().unwrap(), "--allow-partial"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed.stdout));
}

/// A production pair replayed at 0.01: front idle `front_idle`, back KeepAliveTimeout 5 s, a 2 ms link, clients
/// idle 5 s ± 1 s between requests. Returns the result's JSON.
fn production_pair(dir: &Path, front_idle: &str) -> serde_json::Value {
    let scenario = file(
        dir,
        &format!("prod-{front_idle}.toml"),
        &format!(
            "name = \"prod\"\n[front]\nidle_timeout = \"{front_idle}\"\n[back]\nkeepalive_timeout = \"5s\"\n\
             [link.front_back]\nlatency = \"2ms\"\n[load]\npattern = \"idle-gap\"\ngap = \"5s\"\n\
             gap_spread = \"1s\"\nclients = 4\nrequests = 400\n"
        ),
    );
    let result = dir.join(format!("prod-{front_idle}.json"));
    let output = badgateway(&[
        "run",
        scenario.to_str().unwrap(),
        "--quiet",
        "--time-scale",
        "0.01",
        "--json",
        result.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("time scale 0.01"),
        "{}",
        text(&output.stdout)
    );
    json(&result)
}

fn race_502s(result: &serde_json::Value) -> u64 {
    ["reused-closed", "reused-reset"]
        .iter()
        .filter_map(|cause| result["causes"][cause].as_u64())
        .sum()
}

#[test]
fn a_production_pair_keeps_its_verdict_at_one_hundredth() {
    let dir = scratch_dir("gate-scale");
    let exposed = production_pair(&dir, "60s");
    assert_eq!(exposed["time_scale"], 0.01);
    assert_eq!(exposed["settings"]["back"]["keepalive_timeout"], "50ms");
    assert_eq!(exposed["settings"]["front"]["idle_timeout"], "600ms");
    assert!(
        race_502s(&exposed) > 0,
        "front 60 s over back 5 s must race: {exposed}"
    );
    let safe = production_pair(&dir, "4s");
    // At 0.01 the pair's 1 s margin is 10 ms, less two link crossings: a scheduling stall of the loaded
    // machine that long between the front's idle check and its write can still meet the close (scaling does not
    // keep the machine's delays relative to the timeouts). So here at most 1 % of the requests; none on an idle
    // machine is the ignored test below.
    let bad = safe["responses"]["502"].as_u64().unwrap_or(0);
    assert!(bad <= 4, "front 4 s under back 5 s must not race: {safe}");
}

#[test]
#[ignore = "timing precision on a loaded 2-core machine: fails while other builds saturate the cores; run with --ignored on an idle one"]
fn a_safe_production_pair_never_races_at_one_hundredth() {
    let dir = scratch_dir("gate-scale-idle");
    let safe = production_pair(&dir, "4s");
    let bad = safe["responses"]["502"].as_u64().unwrap_or(0);
    assert_eq!(bad, 0, "front 4 s under back 5 s must not race: {safe}");
}

#[test]
fn a_preset_sets_the_products_figures_before_the_users_sets_and_the_scale() {
    let dir = scratch_dir("gate-preset");
    let result = dir.join("preset.json");
    let output = badgateway(&[
        "run",
        "--quiet",
        "--no-mitigations",
        "--preset",
        "front=alb,back=apache",
        "--set",
        "load.requests=3",
        "--set",
        "load.gap=2s",
        "--set",
        "front.retry=idempotent",
        "--time-scale",
        "0.01",
        "--json",
        result.to_str().unwrap(),
    ]);
    // The race's [expect] wants 502s, which three requests need not give: only the settings matter here.
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        text(&output.stderr)
    );
    assert!(text(&output.stdout).contains("preset front=alb,back=apache"));
    let settings = &json(&result)["settings"];
    // ALB's idle timeout 60 s and Apache's KeepAliveTimeout 5 s, at 0.01; the user's --set wins over the preset.
    assert_eq!(settings["front"]["idle_timeout"], "600ms", "{settings}");
    assert_eq!(settings["front"]["retry"], "idempotent", "{settings}");
    assert_eq!(settings["load"]["gap"], "20ms", "{settings}");
    let back_timeout = settings["back"]["keepalive_timeout"].as_str().unwrap();
    assert!(back_timeout.starts_with("50"), "{settings}");
}

#[test]
fn the_gate_catches_the_race_coming_back() {
    let dir = scratch_dir("gate-miss");
    let scenario = |keepalive: bool| {
        file(
            &dir,
            &format!("race-{keepalive}.toml"),
            &format!(
                "name = \"race\"\n[back]\nkeepalive = {keepalive}\nkeepalive_timeout = \"50ms\"\n\
                 [link.front_back]\nlatency = \"4ms\"\n[load]\npattern = \"idle-gap\"\ngap = \"50ms\"\n\
                 gap_spread = \"12ms\"\nclients = 1\nrequests = 150\n"
            ),
        )
    };
    let run = |keepalive: bool| {
        let result = dir.join(format!("race-{keepalive}.json"));
        let output = badgateway(&[
            "run",
            scenario(keepalive).to_str().unwrap(),
            "--quiet",
            "--json",
            result.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        result
    };
    let (off, on) = (run(false), run(true));
    let output = check(&[on.to_str().unwrap(), "--baseline", off.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let lines = text(&output.stdout);
    assert!(lines.contains("FAIL race: 502 rate:"), "{lines}");
    assert!(lines.contains("a rise"), "{lines}");
}
