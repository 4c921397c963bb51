//! Every 502 cause of the Application Gateway troubleshooting list, reproduced by its shipped scenario under
//! `scenarios/causes/`: each run yields 502s of exactly that cause and no other, and every request is
//! accounted for.

mod support;

use std::path::{Path, PathBuf};

use harness::result::RunResult;
use harness::scenario::Scenario;
use support::{assert_accounted, run_alone};

fn scenario_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/causes")
        .join(format!("{name}.toml"))
}

async fn run(name: &str) -> (Scenario, RunResult) {
    let scenario = Scenario::from_file(&scenario_path(name)).expect("scenario parses");
    let result = run_alone(&scenario).await;
    assert_accounted(&result);
    (scenario, result)
}

/// Runs the scenario named after `cause` and checks that its 502s carry that cause only, at least `min` of
/// them, and that the gateway's own count agrees with the clients'.
async fn assert_only(cause: &str, min: u64) -> RunResult {
    let (scenario, result) = run(cause).await;
    assert!(
        result.bad_gateways() >= min,
        "{cause}: {} 502, expected at least {min}: {result:#?}",
        result.bad_gateways()
    );
    let causes: Vec<&str> = result.causes.keys().map(|key| key.as_str()).collect();
    assert_eq!(causes, [cause], "{cause}: {:?}", result.causes);
    assert_eq!(result.causes[cause], result.bad_gateways());
    assert_eq!(
        result.causes, result.gateway_causes,
        "clients and gateway disagree"
    );
    assert!(
        scenario.expect.violations(&result).is_empty(),
        "{:?}",
        scenario.expect.violations(&result)
    );
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_backends() {
    let result = assert_only("no-backends", 20).await;
    assert_eq!(result.upstream_connections, 0);
    assert_eq!(result.origin_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_unhealthy_answers_without_touching_the_network() {
    let result = assert_only("all-unhealthy", 1).await;
    // Before the probe marked the member down, clients got the application's 503; after, only 502s. No
    // proxied request reached the origin after that: everything it saw beyond the probes was a 503 answer.
    let answered_503 = result.responses.get("503").copied().unwrap_or(0);
    assert_eq!(
        result.origin_requests - result.origin_probe_requests,
        answered_503,
        "{result:#?}"
    );
    assert!(result.origin_probe_requests >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_failure() {
    let result = assert_only("dns-failure", 20).await;
    assert_eq!(result.upstream_connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_refused() {
    assert_only("connect-refused", 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_timeout() {
    assert_only("connect-timeout", 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_reset() {
    assert_only("fresh-reset", 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_closed() {
    assert_only("fresh-closed", 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_timeout() {
    assert_only("response-timeout", 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_response() {
    assert_only("invalid-response", 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_reset() {
    assert_only("reused-reset", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_the_head_is_a_truncated_response_not_a_502() {
    let (_, result) = run("truncated-response").await;
    assert_eq!(result.bad_gateways(), 0, "{:?}", result.causes);
    assert_eq!(result.truncated_responses, 20, "{result:#?}");
    assert_eq!(
        result.client_error_total(),
        20,
        "every client saw its response cut: {:?}",
        result.client_errors
    );
}
