//! Logs fit for CI: no ANSI colour codes when stderr is a pipe or a file, and `--log-format json` writes one
//! JSON object per line. A `serve gateway` logs "gateway listening" at info, which is the event looked at.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use support::{Reaped, badgateway_command, scratch_dir};

/// How long the tier may take to log that it listens.
const LIMIT: Duration = Duration::from_secs(20);

/// Starts `serve gateway` with `extra` flags and stderr piped; returns the child and its stderr lines.
fn serve_gateway(name: &str, extra: &[&str]) -> (Reaped, mpsc::Receiver<String>) {
    let dir = scratch_dir(name);
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nbackends = [\"127.0.0.1:9\"]\n",
    )
    .unwrap();
    let mut child = badgateway_command()
        .args(["--log", "gateway=info"])
        .args(extra)
        .args(["serve", "gateway", "--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    (Reaped::new(child), receive)
}

/// The first stderr line containing `needle`, or a panic listing what came instead.
fn line_with(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    let mut seen = Vec::new();
    while let Ok(line) = lines.recv_timeout(LIMIT) {
        if line.contains(needle) {
            return line;
        }
        seen.push(line);
    }
    panic!("no stderr line with {needle:?} within {LIMIT:?}; got {seen:?}");
}

fn stop(child: Reaped) {
    // Killed and reaped on drop.
    drop(child);
}

#[test]
fn text_logs_into_a_pipe_have_no_ansi_codes() {
    let (child, lines) = serve_gateway("logs-text", &[]);
    let line = line_with(&lines, "gateway listening");
    stop(child);
    assert!(
        !line.contains('\u{1b}'),
        "ANSI escape in a piped log line: {line:?}"
    );
    assert!(line.contains("INFO"), "{line}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let (child, lines) = serve_gateway("logs-json", &["--log-format", "json"]);
    let line = line_with(&lines, "gateway listening");
    stop(child);
    assert!(
        !line.contains('\u{1b}'),
        "ANSI escape in a JSON log line: {line:?}"
    );
    let event: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|error| panic!("{error}: {line}"));
    assert_eq!(event["level"], "INFO", "{event}");
    assert_eq!(event["fields"]["message"], "gateway listening", "{event}");
    assert!(event["timestamp"].is_string(), "{event}");
}
