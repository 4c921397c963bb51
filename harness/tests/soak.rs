//! The shipped soak scenario, cut down to 20,000 requests: every request accounted for, the gateway's 502
//! counts equal the clients' cause by cause, every injected fault seen by the clients, and the process ends
//! with the file descriptors it started with.
//!
//! This binary holds a single test on purpose: file descriptors are counted for the whole process, so another
//! test running beside it would open sockets of its own and blur the figure.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use harness::run::run_scenario;
use harness::scenario::Scenario;
use listener::Shutdown;
use support::quiet;

/// Open file descriptors the end may hold above the start: a runtime-internal handle or two, never a
/// connection per client (the run holds more than 128 of those at its peak).
const FD_MARGIN: u64 = 4;

fn cut_down_soak() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/soak.toml");
    Scenario::from_file(&path)
        .unwrap()
        .with_override("load.requests=20000")
        .unwrap()
        // About 1 in 50 new connections reset, so the few hundred connections of a cut-down run meet several
        // resets (the seeded draw makes it the same ones every run).
        .with_override("link.front_back.reset_probability=0.02")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_down_soak_loses_nothing_and_leaks_nothing() {
    let scenario = cut_down_soak();
    let (_never, stop) = Shutdown::new();
    let options = quiet();
    let result = run_scenario(&scenario, &options, stop).await.unwrap();
    let report = harness::report::run_table(&result);

    // Accounting is exact.
    let responses: u64 = result.responses.values().sum();
    assert_eq!(result.requests, 20_000, "{report}");
    assert_eq!(result.unaccounted, 0, "{report}");
    assert_eq!(
        result.requests,
        responses + result.client_error_total(),
        "{report}"
    );
    assert!(!result.interrupted);

    // The gateway counted the same 502s as the clients, cause by cause, and every 502 carried its cause.
    let clients: BTreeMap<&str, u64> = result
        .causes
        .iter()
        .map(|(c, n)| (c.as_str(), *n))
        .collect();
    let gateway: BTreeMap<&str, u64> = result
        .gateway_causes
        .iter()
        .map(|(c, n)| (c.as_str(), *n))
        .collect();
    assert_eq!(clients, gateway, "{report}");
    assert!(!clients.contains_key("unclassified"), "{report}");
    assert_eq!(result.causes.values().sum::<u64>(), result.bad_gateways());

    // The faults happened, and each reached the clients as what it is.
    let faults = result.faults_injected;
    let fresh_resets = result.causes.get("fresh-reset").copied().unwrap_or(0);
    assert!(faults.link_resets >= 1, "{report}");
    assert_eq!(fresh_resets, faults.link_resets, "{report}");
    let origin_errors = result.responses.get("500").copied().unwrap_or(0);
    assert!(faults.origin_errors >= 1, "{report}");
    assert_eq!(origin_errors, faults.origin_errors, "{report}");
    // Whatever reached the origin came back to a client, as a 200 or as its error.
    let ok = result.responses.get("200").copied().unwrap_or(0);
    assert_eq!(result.origin_requests, ok + origin_errors, "{report}");

    // Resources: sampled, and no descriptor left behind once the chain has stopped.
    let resources = result.resources;
    assert!(resources.sampled(), "{report}");
    assert!(
        resources.fds_peak > resources.fds_start + 100,
        "the run's connections should show at the peak: {report}"
    );
    assert!(
        resources.fds_end <= resources.fds_start + FD_MARGIN,
        "descriptors leaked: {report}"
    );
    assert!(resources.rss_kib_peak >= resources.rss_kib_start && resources.rss_kib_end > 0);
}
