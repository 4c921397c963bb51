//! The `badgateway` binary: bad input gives a clear error naming the offending value and exit status 2; the
//! gate's exit status follows its verdict; help explains.

mod support;

use std::path::PathBuf;
use std::process::Output;

use support::{badgateway_command, scratch_dir};

fn badgateway(args: &[&str]) -> Output {
    badgateway_command()
        .args(args)
        .output()
        .expect("the binary runs")
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = scratch_dir("cli").join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_unknown_scenario_key_names_the_file_the_key_and_the_line() {
    let path = temp_file(
        "typo.toml",
        "name = \"typo\"\n\n[back]\nkeepalive_timout = \"5s\"\n",
    );
    let output = badgateway(&["run", path.to_str().unwrap(), "--quiet"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("typo.toml"), "{message}");
    assert!(message.contains("keepalive_timout"), "{message}");
    assert!(message.contains("line 4"), "{message}");
}

#[test]
fn a_bad_value_is_named() {
    let path = temp_file("value.toml", "name = \"v\"\n[back]\nclose = \"gently\"\n");
    let output = badgateway(&["run", path.to_str().unwrap(), "--quiet"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("gently"), "{message}");
    assert!(
        message.contains("lingering"),
        "the accepted values are listed: {message}"
    );
}

#[test]
fn a_missing_scenario_file_is_named() {
    let output = badgateway(&["run", "/nonexistent/scenario.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("/nonexistent/scenario.toml"));
}

#[test]
fn a_bad_override_is_named() {
    let output = badgateway(&["run", "--set", "front.retry=sometimes", "--quiet"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("sometimes"), "{}", stderr(&output));
}

#[test]
fn a_remote_load_target_is_refused_without_the_flag() {
    let output = badgateway(&[
        "load",
        "--target",
        "http://192.0.2.1:80/",
        "--requests",
        "1",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--allow-remote"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn check_exits_one_on_a_violation_and_zero_when_clean() {
    let result = |bad: u64| {
        serde_json::json!({
            "scenario": "gate", "settings": null, "requests": 1000,
            "responses": {"200": 1000 - bad, "502": bad},
            "client_errors": {"connect": 0, "reset": 0, "closed": 0, "timeout": 0},
            "causes": if bad > 0 { serde_json::json!({"reused-closed": bad}) } else { serde_json::json!({}) },
            "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": 3.0, "max": 4.0},
            "throughput_rps": 100.0, "upstream_connections": 10, "retries": 0,
            "unaccounted": 0, "duration_s": 10.0, "seed": 1
        })
        .to_string()
    };
    let baseline = temp_file("base.json", &result(0));
    let clean = temp_file("clean.json", &result(0));
    let raced = temp_file("raced.json", &result(20));
    let pass = badgateway(&[
        "check",
        clean.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
    ]);
    assert_eq!(
        pass.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&pass.stdout)
    );
    let fail = badgateway(&[
        "check",
        raced.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
    ]);
    assert_eq!(fail.status.code(), Some(1));
    let lines = String::from_utf8_lossy(&fail.stdout).into_owned();
    assert!(lines.contains("502 per 10k"), "{lines}");
    assert!(lines.contains("new 502 cause reused-closed"), "{lines}");
    let garbage = temp_file("garbage.json", "{\"not\": \"a result\"}");
    let broken = badgateway(&["check", garbage.to_str().unwrap()]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(stderr(&broken).contains("garbage.json"));
}

#[test]
fn help_explains_the_commands() {
    let output = badgateway(&["--help"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for command in ["run", "compare", "sweep", "check", "load", "serve"] {
        assert!(text.contains(command), "{command} missing from --help");
    }
    assert!(text.contains("KeepAliveTimeout"));
}

#[test]
fn a_bad_worker_thread_count_is_named() {
    let output = badgateway(&["--worker-threads", "0", "run"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("'0'") && message.contains("--worker-threads"),
        "{message}"
    );
}

#[test]
fn too_many_load_threads_are_named() {
    let output = badgateway(&[
        "load",
        "--target",
        "http://127.0.0.1:9/",
        "--threads",
        "100000",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("'100000'") && message.contains("--threads"),
        "{message}"
    );
}

#[test]
fn a_negative_step_and_a_tolerance_without_percent_are_refused_in_plain_words() {
    let step = badgateway(&["sweep", "--step", "-2ms"]);
    assert_eq!(step.status.code(), Some(2));
    let said = stderr(&step);
    assert!(
        said.contains("--step -2ms: the distance between bins must be positive"),
        "{said}"
    );
    assert!(!said.contains("-- -2ms"), "clap's tip: {said}");
    let result = temp_file("tolerance.json", "{}");
    let result = result.to_string_lossy();
    let tolerance = badgateway(&["check", &result, "--tolerance", "10"]);
    assert_eq!(tolerance.status.code(), Some(2));
    let said = stderr(&tolerance);
    assert!(said.contains("tolerance \"10\" has no %"), "{said}");
    assert!(said.contains("write 10%"), "{said}");
}

#[test]
fn a_directory_as_output_is_refused_before_the_run() {
    let dir = scratch_dir("cli-dir-output");
    let output = badgateway(&["run", "--no-mitigations", "--json", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("is a directory"), "{message}");
    assert!(message.contains(dir.to_str().unwrap()), "{message}");
}

#[test]
fn a_closed_stdout_neither_panics_nor_loses_the_result() {
    use std::process::Stdio;
    let json = scratch_dir("cli-closed-stdout").join("run.json");
    let _ = std::fs::remove_file(&json);
    let mut child = badgateway_command()
        .args([
            "run",
            "--no-mitigations",
            "--set",
            "load.requests=5",
            "--json",
        ])
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // The reader goes away before the first line, as `| head -0` would.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("the binary ends");
    let message = stderr(&output);
    assert!(!message.contains("panicked"), "{message}");
    // The run's own verdict (0, or 1 when five requests happened to meet no race), never a panic's 101.
    assert!(matches!(output.status.code(), Some(0 | 1)), "{message}");
    assert!(json.is_file(), "the result was written: {message}");
}

#[test]
fn a_probe_of_a_close_it_cannot_time_names_the_timeout_and_the_scale() {
    let output = badgateway(&["probe", "--time-scale", "0.1"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("back.keepalive_timeout = 5ms"),
        "{message}"
    );
    assert!(message.contains("--time-scale 0.1"), "{message}");
    assert!(message.contains("round trip (8ms)"), "{message}");
}
