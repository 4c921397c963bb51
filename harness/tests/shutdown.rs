//! Shutdown of the `badgateway` binary: SIGTERM on `serve gateway` lets the request in flight finish and then
//! exits 0 (1 when `--grace` ran out first and cut it); SIGINT on `run` stops the load and still prints and
//! writes what was measured, every request accounted for.

mod support;

use std::io::{BufRead, BufReader, Lines};
use std::process::{ChildStdout, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use support::Reaped;

const LIMIT: Duration = Duration::from_secs(20);

fn scratch_dir(test: &str) -> std::path::PathBuf {
    support::scratch_dir(&format!("shutdown-{test}"))
}

fn spawn(args: &[&str]) -> (Reaped, Lines<BufReader<ChildStdout>>) {
    let mut child = support::badgateway_command()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    let stdout = child.stdout.take().unwrap();
    (Reaped::new(child), BufReader::new(stdout).lines())
}

fn send_signal(child: &Reaped, signal: &str) {
    // The shell's own `kill`: no dependency on procps being installed.
    let status = Command::new("sh")
        .args(["-c", &format!("kill -{signal} {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} failed");
}

/// Reads stdout lines (blocking, on a thread) until one contains `needle`; returns every line read. Panics
/// when stdout ends first (the process exited).
async fn read_until(
    lines: Lines<BufReader<ChildStdout>>,
    needle: &'static str,
) -> (Lines<BufReader<ChildStdout>>, Vec<String>) {
    let reading = tokio::task::spawn_blocking(move || {
        let mut lines = lines;
        let mut seen = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let found = line.contains(needle);
            seen.push(line);
            if found {
                return (lines, seen);
            }
        }
        panic!("stdout ended without a line with {needle:?}: {seen:?}")
    });
    tokio::time::timeout(LIMIT, reading)
        .await
        .unwrap_or_else(|_| panic!("no line with {needle:?} on stdout"))
        .unwrap()
}

async fn wait_exit(mut child: Reaped) -> std::process::ExitStatus {
    tokio::time::timeout(LIMIT, tokio::task::spawn_blocking(move || child.wait()))
        .await
        .expect("the process exits")
        .unwrap()
        .unwrap()
}

/// Reads one request head from `stream`.
async fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.unwrap();
        assert!(n > 0, "EOF inside a request head: {head:?}");
        head.push(byte[0]);
    }
    head
}

/// `serve gateway` in front of a backend that is this test, with one client request read by the backend and
/// not answered yet.
struct InFlight {
    child: Reaped,
    lines: Lines<BufReader<ChildStdout>>,
    client: TcpStream,
    upstream: TcpStream,
}

async fn request_in_flight(test: &str, grace: &str, path: &str) -> InFlight {
    let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = scratch_dir(test).join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nbackends = [\"{}\"]\n",
            backend.local_addr().unwrap()
        ),
    )
    .unwrap();
    let (child, lines) = spawn(&[
        "serve",
        "gateway",
        "--config",
        config.to_str().unwrap(),
        "--grace",
        grace,
    ]);
    let (lines, seen) = read_until(lines, "listening on").await;
    let addr: std::net::SocketAddr = seen
        .last()
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {seen:?}"));
    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let (mut upstream, _) = tokio::time::timeout(LIMIT, backend.accept())
        .await
        .unwrap()
        .unwrap();
    let head = read_head(&mut upstream).await;
    assert!(
        head.starts_with(format!("GET {path} ").as_bytes()),
        "{head:?}"
    );
    InFlight {
        child,
        lines,
        client,
        upstream,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_serve_gateway_lets_the_request_in_flight_finish() {
    // The backend is this test: it holds the request until the gateway has been told to stop.
    let InFlight {
        child,
        lines,
        mut client,
        mut upstream,
    } = request_in_flight("serve", "10s", "/slow").await;

    send_signal(&child, "TERM");
    let (lines, _) = read_until(lines, "draining").await;
    upstream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
        .await
        .unwrap();

    let mut response = Vec::new();
    tokio::time::timeout(LIMIT, client.read_to_end(&mut response))
        .await
        .expect("the gateway closes the drained connection")
        .unwrap();
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with("hello"), "{text}");

    let (_, rest) = read_until(lines, "stopped").await;
    assert!(
        rest.iter().any(|line| line.ends_with("stopped")),
        "not drained cleanly: {rest:?}"
    );
    assert!(wait_exit(child).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_serve_gateway_exits_1_when_the_grace_cuts_a_request() {
    // The backend never answers: the request is still in flight when the grace runs out.
    let InFlight {
        child,
        lines,
        client: _client,
        upstream: _upstream,
    } = request_in_flight("serve-cut", "200ms", "/never").await;

    send_signal(&child, "TERM");
    let (_, rest) = read_until(lines, "stopped").await;
    let stopped = rest.last().cloned().unwrap_or_default();
    assert!(
        stopped.contains("1 client connection still busy") && stopped.contains("cut"),
        "{rest:?}"
    );
    assert_eq!(wait_exit(child).await.code(), Some(1), "{rest:?}");
}

/// Polls the gateway's admin stats until it has received at least `at_least` requests; returns its count.
async fn wait_for_gateway_requests(admin: std::net::SocketAddr, at_least: u64) -> u64 {
    let polling = async {
        loop {
            if let Ok(mut stream) = TcpStream::connect(admin).await {
                let _ = stream
                    .write_all(b"GET /_badgateway/stats HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n")
                    .await;
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer).await;
                let text = String::from_utf8_lossy(&answer);
                let requests = text
                    .split_once("\r\n\r\n")
                    .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
                    .and_then(|stats| stats["requests"].as_u64());
                if let Some(requests) = requests.filter(|n| *n >= at_least) {
                    return requests;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(LIMIT, polling)
        .await
        .expect("the gateway never saw the load")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_on_run_still_prints_and_writes_what_was_measured() {
    let dir = scratch_dir("run");
    let scenario = dir.join("long.toml");
    // The gateway's admin endpoint shows the test when the load is under way; its port is found free first,
    // below the ephemeral range: a port-0 one could be handed to the other test's backend meanwhile, and this
    // test's polls would then reach it.
    let admin = harness::ports::free_loopback_port().unwrap();
    // Far more requests than the test waits for: only the interrupt ends this run.
    std::fs::write(
        &scenario,
        format!(
            "name = \"long\"\ndescription = \"a run cut short\"\n[front]\nadmin_listen = \"{admin}\"\n\
             [origin]\nlatency = \"2ms\"\n[load]\npattern = \"closed\"\nclients = 4\nrequests = 10000000\n"
        ),
    )
    .unwrap();
    let json = dir.join("result.json");
    let _ = std::fs::remove_file(&json);
    let (child, lines) = spawn(&[
        "run",
        scenario.to_str().unwrap(),
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ]);
    let served_before_interrupt = wait_for_gateway_requests(admin, 50).await;
    send_signal(&child, "INT");
    let (_, printed) = read_until(lines, "result written to").await;
    assert!(
        printed.iter().any(|line| line.contains("requests")),
        "no run table: {printed:?}"
    );
    wait_exit(child).await;

    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(result["interrupted"], true, "{result}");
    assert_eq!(result["unaccounted"], 0, "{result}");
    let requests = result["requests"].as_u64().unwrap();
    let answered: u64 = result["responses"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    let failed: u64 = result["client_errors"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(requests, answered + failed, "{result}");
    assert!(requests < 10_000_000, "the run was not cut short: {result}");
    assert!(
        requests >= served_before_interrupt,
        "{served_before_interrupt} requests seen by the gateway before the interrupt: {result}"
    );
}
