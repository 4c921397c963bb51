//! Accounting reconciles under injected client errors: whatever the target does (answers, 502s, closes,
//! resets, stalls), every request started is one response or one client error, and `unaccounted` is 0; and so
//! it does with the clients on client threads of their own (`load.threads`).

mod support;

use std::time::Duration;

use harness::load::{LoadConfig, Pattern};
use harness::run::{RunOptions, run_external};
use listener::Shutdown;
use origin::{Origin, OriginConfig};
use proptest::prelude::*;
use support::{FakeServer, Mix, quiet, target};

async fn run_against(
    mix: Mix,
    seed: u64,
    clients: usize,
    requests: u64,
) -> harness::result::RunResult {
    let server = FakeServer::start(mix, seed).await;
    let load = LoadConfig {
        pattern: Pattern::Closed,
        clients,
        requests: Some(requests),
        timeout: Duration::from_millis(150),
        seed,
        ..LoadConfig::default()
    };
    let (_never, stop) = Shutdown::new();
    let options = quiet();
    let result = run_external(
        "fake",
        &load,
        &target(server.addr, load.timeout),
        &options,
        stop,
    )
    .await;
    drop(server);
    result
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn every_request_is_a_response_or_a_client_error(
        weights in proptest::array::uniform5(0u32..6),
        seed in 0u64..1000,
        clients in 1usize..5,
        requests in 1u64..60,
    ) {
        let mut weights = weights;
        weights[0] += 1; // some answers, so runs are not all timeouts
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let result = runtime.block_on(run_against(Mix(weights), seed, clients, requests));
        let responses: u64 = result.responses.values().sum();
        prop_assert_eq!(result.requests, requests);
        prop_assert_eq!(result.requests, responses + result.client_error_total());
        prop_assert_eq!(result.unaccounted, 0);
        prop_assert_eq!(result.causes.get("reused-closed").copied().unwrap_or(0), result.bad_gateways());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_kind_is_counted_under_its_name() {
    for (weights, kind) in [
        ([0, 0, 1, 0, 0], "closed"),
        ([0, 0, 0, 1, 0], "reset"),
        ([0, 0, 0, 0, 1], "timeout"),
    ] {
        let result = run_against(Mix(weights), 7, 1, 3).await;
        assert_eq!(
            result.client_errors[kind], 3,
            "{kind}: {:?}",
            result.client_errors
        );
        assert_eq!(result.unaccounted, 0);
    }
    let result = run_against(Mix([0, 1, 0, 0, 0]), 7, 2, 10).await;
    assert_eq!(result.bad_gateways(), 10);
    assert_eq!(result.causes["reused-closed"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_a_connect_error() {
    // Free a moment ago, below the ephemeral range: nothing listens there.
    let addr = harness::ports::free_loopback_port().unwrap();
    let load = LoadConfig {
        pattern: Pattern::Closed,
        requests: Some(4),
        ..LoadConfig::default()
    };
    let (_never, stop) = Shutdown::new();
    let result = run_external(
        "refused",
        &load,
        &target(addr, Duration::from_secs(1)),
        &RunOptions::default(),
        stop,
    )
    .await;
    assert_eq!(result.client_errors["connect"], 4);
    assert_eq!(result.unaccounted, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_still_accounts_for_every_request() {
    interrupt_a_run_and_account_for_every_request(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_on_client_threads_still_accounts_for_every_request() {
    interrupt_a_run_and_account_for_every_request(2).await;
}

/// Stops an idle-gap load with `threads` client threads once the server has seen traffic.
async fn interrupt_a_run_and_account_for_every_request(threads: usize) {
    let server = FakeServer::start(Mix([1, 0, 0, 0, 0]), 3).await;
    let load = LoadConfig {
        pattern: Pattern::IdleGap,
        clients: 3,
        requests: Some(1_000_000),
        gap: Some(Duration::from_millis(5)),
        gap_spread: Duration::from_millis(2),
        threads,
        ..LoadConfig::default()
    };
    let (shutdown, stop) = Shutdown::new();
    let run = tokio::spawn({
        let target = target(server.addr, Duration::from_secs(1));
        async move { run_external("interrupted", &load, &target, &RunOptions::default(), stop).await }
    });
    // Interrupt once the server has seen some traffic (bounded: the load sends ~600 requests/s).
    let traffic = async {
        while server.requests.load(std::sync::atomic::Ordering::Relaxed) < 20 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), traffic)
        .await
        .expect("the load reached the server");
    shutdown.trigger();
    let result = run.await.unwrap();
    assert!(result.interrupted);
    assert!(result.requests >= 20 && result.requests < 1_000_000);
    let responses: u64 = result.responses.values().sum();
    assert_eq!(result.requests, responses + result.client_error_total());
    assert_eq!(result.unaccounted, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_on_two_client_threads_accounts_for_every_request_to_a_real_origin() {
    let origin = Origin::start("127.0.0.1:0".parse().unwrap(), OriginConfig::default())
        .await
        .unwrap();
    let load = LoadConfig {
        pattern: Pattern::Closed,
        clients: 8,
        requests: Some(2_000),
        threads: 2,
        ..LoadConfig::default()
    };
    let (_never, stop) = Shutdown::new();
    let result = run_external(
        "client-threads",
        &load,
        &target(origin.local_addr(), Duration::from_secs(5)),
        &RunOptions::default(),
        stop,
    )
    .await;
    assert_eq!(result.requests, 2_000);
    assert_eq!(
        result.responses.get("200").copied(),
        Some(2_000),
        "{:?}",
        result.responses
    );
    assert_eq!(result.client_error_total(), 0, "{:?}", result.client_errors);
    assert_eq!(result.unaccounted, 0);
    assert_eq!(origin.requests_served(), 2_000);
    origin.stop().await;
}
