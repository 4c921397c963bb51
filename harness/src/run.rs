//! One run: stand the chain up (or take an external target), drive the load into it, collect, and build the
//! result. This process's resources are sampled before the chain starts and after it has stopped.

use std::time::{Duration, Instant};

/// The longest the end sample waits for sockets closed by detached tasks (see
/// [`ResourceMonitor::finish_settled`]).
const SETTLE_WITHIN: Duration = Duration::from_secs(1);

use listener::ShutdownSignal;
use tokio::sync::mpsc;

use crate::collector::{Tally, collect};
use crate::load::{LoadConfig, LoadPlan, Target, drive};
use crate::progress::Progress;
use crate::resources::{Checkpoints, ResourceMonitor, ResourceUsage};
use crate::result::{RunFacts, RunResult};
use crate::scenario::Scenario;
use crate::topology::{Chain, ChainError, ChainStats};

/// How a run is shown while it goes.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// No progress bar.
    pub quiet: bool,
    /// Name reported instead of the scenario's (for variants).
    pub label: Option<String>,
}

/// Runs `scenario` on a fresh in-process chain. `stop` cuts the load short (Ctrl-C); what was measured until
/// then is still returned, with `interrupted` set. The resources' start is sampled before the chain starts and
/// their end after every tier has stopped, so connections still pooled or idle are closed by then.
pub async fn run_scenario(
    scenario: &Scenario,
    options: &RunOptions,
    stop: ShutdownSignal,
) -> Result<RunResult, ChainError> {
    let monitor = ResourceMonitor::start();
    let chain = Chain::start(scenario).await?;
    let target = Target {
        addr: chain.front_addr(),
        host: "badgateway.test".to_owned(),
        method: http::Method::from_bytes(scenario.load.method.as_bytes())
            .unwrap_or(http::Method::GET),
        path: scenario.load.path.clone(),
        timeout: scenario.load.timeout,
    };
    let name = options
        .label
        .clone()
        .unwrap_or_else(|| scenario.name.clone());
    let measured = measure(
        &name,
        &scenario.load,
        scenario.back.keepalive_timeout,
        &target,
        options,
        stop.clone(),
    )
    .await;
    let stats = chain.stats();
    chain.stop().await;
    let resources = measured.resources(monitor).await;
    Ok(measured.into_result(
        name,
        serde_json::to_value(scenario).unwrap_or(serde_json::Value::Null),
        Some(stats),
        resources,
        stop.is_triggered(),
    ))
}

/// Drives `load` at an external target (real servers): the same patterns and accounting, no chain counters.
pub async fn run_external(
    name: &str,
    load: &LoadConfig,
    target: &Target,
    options: &RunOptions,
    stop: ShutdownSignal,
) -> RunResult {
    let mut monitor = ResourceMonitor::start();
    let gap = load.gap.unwrap_or(Duration::from_secs(5));
    let measured = measure(name, load, gap, target, options, stop.clone()).await;
    let settings = serde_json::json!({ "target": format!("http://{}{}", target.host, target.path), "load": load });
    // The target is not ours to stop: its sockets are whatever it keeps, so the end is read at once.
    monitor.absorb(&measured.peaks);
    let resources = monitor.finish();
    measured.into_result(
        name.to_owned(),
        settings,
        None,
        resources,
        stop.is_triggered(),
    )
}

/// What the load measured, before the chain's counters are added.
struct Measured {
    started: u64,
    tally: Tally,
    duration_s: f64,
    seed: u64,
    /// Peaks of the samples taken during the load.
    peaks: ResourceUsage,
}

impl Measured {
    /// The run's resources: `monitor` holds the start sample; the peaks of the load are folded in and the end
    /// is sampled once the sockets have settled.
    async fn resources(&self, mut monitor: ResourceMonitor) -> ResourceUsage {
        monitor.absorb(&self.peaks);
        monitor.finish_settled(SETTLE_WITHIN).await
    }

    fn into_result(
        self,
        name: String,
        settings: serde_json::Value,
        chain: Option<ChainStats>,
        resources: ResourceUsage,
        interrupted: bool,
    ) -> RunResult {
        RunResult::from_facts(RunFacts {
            name,
            settings,
            started: self.started,
            tally: &self.tally,
            chain,
            duration_s: self.duration_s,
            seed: self.seed,
            interrupted,
            resources,
        })
    }
}

async fn measure(
    name: &str,
    load: &LoadConfig,
    default_gap: Duration,
    target: &Target,
    options: &RunOptions,
    stop: ShutdownSignal,
) -> Measured {
    let plan = LoadPlan::new(load, default_gap);
    let progress = Progress::new(name, plan.requests, options.quiet);
    let (records_tx, records_rx) = mpsc::channel(256);
    let checkpoints = Checkpoints::new(plan.requests, plan.duration);
    let collector = tokio::spawn(collect(records_rx, progress, checkpoints));
    let began = Instant::now();
    let started = drive(&plan, target, records_tx, stop).await;
    let duration_s = began.elapsed().as_secs_f64();
    let (tally, peaks) = collector.await.unwrap_or_default();
    Measured {
        started,
        tally,
        duration_s,
        seed: load.seed,
        peaks,
    }
}
