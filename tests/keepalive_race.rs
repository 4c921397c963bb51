//! End to end over loopback: the default race scenario reproduces the race, each mitigation removes it, and
//! every request is accounted for. Runs share a lock so their timing does not disturb each other.

mod support;

use harness::mitigation::mitigations_for;
use harness::scenario::Scenario;
use support::{assert_accounted, run_alone as run};

fn race_scenario() -> Scenario {
    Scenario::default_race().expect("embedded scenario parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_race_scenario_reproduces_reused_connection_502s() {
    let scenario = race_scenario();
    let result = run(&scenario).await;
    assert_accounted(&result);
    assert!(
        result.race_bad_gateways() >= 1,
        "no race 502 in {} requests: {result:#?}",
        result.requests
    );
    // Only race causes: the chain has no other fault.
    assert_eq!(
        result.race_bad_gateways(),
        result.bad_gateways(),
        "{:?}",
        result.causes
    );
    // The clients' view of the causes equals the gateway's own count.
    assert_eq!(result.causes, result.gateway_causes);
    assert!(scenario.expect.violations(&result).is_empty());
}

async fn assert_mitigation_removes_the_race(name: &str) {
    let scenario = race_scenario();
    let mitigation = mitigations_for(&scenario)
        .into_iter()
        .find(|m| m.name == name)
        .expect("mitigation exists");
    let variant = mitigation.apply(&scenario).expect("applies");
    let result = run(&variant).await;
    assert_accounted(&result);
    assert_eq!(result.race_bad_gateways(), 0, "{name}: {:?}", result.causes);
    assert_eq!(result.bad_gateways(), 0, "{name}: {:?}", result.causes);
    assert_eq!(
        result.responses.get("200").copied(),
        Some(result.requests),
        "{name}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_off_removes_the_race_at_a_connection_per_request() {
    assert_mitigation_removes_the_race("keepalive-off").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_idle_timeout_below_the_backs_removes_the_race() {
    assert_mitigation_removes_the_race("front-idle-below-back").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_idempotent_requests_hides_the_race() {
    let scenario = race_scenario();
    let variant = scenario
        .with_override("front.retry=idempotent")
        .expect("override");
    let result = run(&variant).await;
    assert_accounted(&result);
    assert_eq!(result.bad_gateways(), 0, "{:?}", result.causes);
    // The race still happened upstream; the retries absorbed it.
    assert!(
        result.retries >= 1,
        "no retry: the load did not hit the race: {result:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_does_not_cover_non_idempotent_methods() {
    let scenario = race_scenario()
        .with_override("front.retry=idempotent")
        .and_then(|s| s.with_override("load.method=POST"))
        .expect("override");
    let result = run(&scenario).await;
    assert_accounted(&result);
    assert_eq!(result.retries, 0);
    assert!(result.race_bad_gateways() >= 1, "{result:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_keepalive_requests_ends_connections_without_502() {
    let scenario = race_scenario()
        .with_override("back.max_keepalive_requests=3")
        .and_then(|s| s.with_override("load.pattern=closed"))
        .and_then(|s| s.with_override("load.requests=60"))
        .expect("override");
    let result = run(&scenario).await;
    assert_accounted(&result);
    assert_eq!(result.bad_gateways(), 0, "{:?}", result.causes);
    // Every third response closes its connection, so 60 requests need 20 upstream connections.
    assert_eq!(result.upstream_connections, 20, "{result:#?}");
}
