#![allow(dead_code)] // shared by several test binaries; each uses part of it
//! Helpers of the root package's end-to-end tests: one chain run at a time (their timing would disturb each
//! other), quietly and never interrupted, and the accounting every run must satisfy.

use harness::result::RunResult;
use harness::run::{RunOptions, run_scenario};
use harness::scenario::Scenario;
use listener::Shutdown;
use tokio::sync::Mutex;

static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Runs `scenario` on our chain, alone, without a progress bar and without a stop signal.
pub async fn run_alone(scenario: &Scenario) -> RunResult {
    let _turn = ONE_RUN_AT_A_TIME.lock().await;
    let (_never, stop) = Shutdown::new();
    let options = RunOptions {
        quiet: true,
        label: None,
        timelines: 0,
    };
    run_scenario(scenario, &options, stop)
        .await
        .expect("chain starts")
}

/// Every request started is one response or one client error, and none is unaccounted for.
pub fn assert_accounted(result: &RunResult) {
    let responses: u64 = result.responses.values().sum();
    assert_eq!(
        result.requests,
        responses + result.client_error_total(),
        "{result:#?}"
    );
    assert_eq!(result.unaccounted, 0, "{result:#?}");
}
