//! The one run function: [`run`] stands a chain up (ours, real servers, or a mix) or takes an external target,
//! drives the load into it, stops the chain and builds the result. `run`, `compare`, `sweep`, `real
//! run|compare|sweep` and `load --target` all go through it; [`run_scenario`] and [`run_external`] are its two
//! common shapes. This process's resources are sampled before the chain starts and after it has stopped.
//!
//! It owns the order of a run, not the chain (`crate::chain`), the load (`crate::load`) nor the contract's
//! fields (`crate::result`); `contract.rs` is the only place a `RunResult` is built.

mod contract;
mod measure;
mod subject;

use std::time::Duration;

use listener::ShutdownSignal;

use crate::chain::{Chain, ChainAccount, ChainError};
use crate::load::{LoadConfig, Target};
use crate::resources::ResourceMonitor;
use crate::result::RunResult;
use crate::scenario::Scenario;

use contract::build;
use measure::{chain_target, measure};

pub use measure::Measured;
pub use subject::{EXTERNAL_DEFAULT_GAP, Subject};

/// The result of a load measured without a chain of ours, as `load --target` builds it, from a tally made
/// elsewhere: for tests and tools that tally their own records (`merge`'s test builds its runs so).
pub fn tallied_result(name: String, subject: &Subject<'_>, measured: Measured) -> RunResult {
    build(
        name,
        subject,
        measured,
        None,
        crate::resources::ResourceUsage::default(),
        false,
    )
}

/// The longest the end sample waits for sockets closed by detached tasks (see
/// [`ResourceMonitor::finish_settled`]).
const SETTLE_WITHIN: Duration = Duration::from_secs(1);

/// How a run is shown while it goes.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// No progress bar.
    pub quiet: bool,
    /// Name reported instead of the scenario's (for variants).
    pub label: Option<String>,
    /// Failed requests whose timelines are kept (`--timelines N`); 0 records nothing.
    pub timelines: usize,
}

/// One run's result and, for a chain, what its tiers counted.
#[derive(Debug, Clone)]
pub struct Run {
    /// The result contract.
    pub result: RunResult,
    /// Every tier's counters, for a chain.
    pub account: Option<ChainAccount>,
}

/// Runs `subject`'s load. `stop` cuts the load short (Ctrl-C); what was measured until then is still returned,
/// with `interrupted` set. For a chain, the resources' start is sampled before it starts and their end after
/// every tier has stopped, so connections still pooled or idle are closed by then; an external target is not
/// ours to stop, so its end is read at once.
pub async fn run(
    subject: Subject<'_>,
    options: &RunOptions,
    stop: ShutdownSignal,
) -> Result<Run, ChainError> {
    let monitor = ResourceMonitor::start();
    let name = options.label.clone().unwrap_or_else(|| subject.name());
    match subject {
        Subject::External { target, .. } => {
            Ok(at_target(name, &subject, target, monitor, options, stop).await)
        }
        Subject::Scenario(scenario) | Subject::Mix { scenario, .. } => {
            through_chain(name, &subject, scenario, monitor, options, stop).await
        }
    }
}

async fn through_chain(
    name: String,
    subject: &Subject<'_>,
    scenario: &Scenario,
    mut monitor: ResourceMonitor,
    options: &RunOptions,
    stop: ShutdownSignal,
) -> Result<Run, ChainError> {
    let (front, back) = subject.tiers();
    let mut chain = Chain::start(scenario, front, back).await?;
    chain.record_timelines(options.timelines, scenario);
    let target = chain_target(&chain, &scenario.load);
    let measured = measure(
        &name,
        subject.load(),
        subject.default_gap(),
        &target,
        options,
        stop.clone(),
    )
    .await;
    let account = chain.stop().await?;
    monitor.absorb(&measured.peaks);
    let resources = monitor.finish_settled(SETTLE_WITHIN).await;
    let interrupted = stop.is_triggered();
    let result = build(
        name,
        subject,
        measured,
        Some(&account),
        resources,
        interrupted,
    );
    Ok(Run {
        result,
        account: Some(account),
    })
}

async fn at_target(
    name: String,
    subject: &Subject<'_>,
    target: &Target,
    mut monitor: ResourceMonitor,
    options: &RunOptions,
    stop: ShutdownSignal,
) -> Run {
    let measured = measure(
        &name,
        subject.load(),
        subject.default_gap(),
        target,
        options,
        stop.clone(),
    )
    .await;
    monitor.absorb(&measured.peaks);
    let resources = monitor.finish();
    let interrupted = stop.is_triggered();
    let result = build(name, subject, measured, None, resources, interrupted);
    Run {
        result,
        account: None,
    }
}

/// Runs `scenario` on a fresh chain of our own tiers.
pub async fn run_scenario(
    scenario: &Scenario,
    options: &RunOptions,
    stop: ShutdownSignal,
) -> Result<RunResult, ChainError> {
    Ok(run(Subject::Scenario(scenario), options, stop)
        .await?
        .result)
}

/// Drives `load` at an external target (real servers run by someone else): the same patterns and accounting,
/// no chain counters. `name` names the run.
pub async fn run_external(
    name: &str,
    load: &LoadConfig,
    target: &Target,
    options: &RunOptions,
    stop: ShutdownSignal,
) -> RunResult {
    let subject = Subject::External { load, target };
    let monitor = ResourceMonitor::start();
    at_target(name.to_owned(), &subject, target, monitor, options, stop)
        .await
        .result
}
