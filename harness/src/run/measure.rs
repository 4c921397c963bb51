//! Driving a load into a target and collecting it: the `Target` of a chain (built here only), the plan, the
//! collector task, the progress bar and the resource checkpoints. What comes out is [`Measured`], before any
//! chain counter is added.

use std::time::{Duration, Instant};

use listener::ShutdownSignal;
use tokio::sync::mpsc;

use crate::chain::Chain;
use crate::collector::{Tally, collect};
use crate::gap_bins::GapBins;
use crate::load::{LoadConfig, LoadPlan, Pattern, Target, drive};
use crate::progress::{Bound, Progress};
use crate::resources::{Checkpoints, ResourceUsage};

use super::RunOptions;

/// The `Host` clients send to a chain's front.
const CHAIN_HOST: &str = "badgateway.test";

/// What the load measured, before the chain's counters are added.
pub struct Measured {
    /// Requests the workers started.
    pub started: u64,
    /// The collector's tally.
    pub tally: Tally,
    /// Wall-clock length of the load.
    pub duration_s: f64,
    /// The load's seed.
    pub seed: u64,
    /// Peaks of the resource samples taken during the load.
    pub peaks: ResourceUsage,
}

/// Where the clients of a chain send: its front, with the load's method (GET when it is not one) and path.
pub fn chain_target(chain: &Chain, load: &LoadConfig) -> Target {
    Target {
        addr: chain.front_addr(),
        host: CHAIN_HOST.to_owned(),
        method: http::Method::from_bytes(load.method.as_bytes()).unwrap_or(http::Method::GET),
        path: load.path.clone(),
        timeout: load.timeout,
    }
}

/// Drives `load` at `target` (`default_gap` when its idle gap is unset) and waits for the collector.
pub async fn measure(
    name: &str,
    load: &LoadConfig,
    default_gap: Duration,
    target: &Target,
    options: &RunOptions,
    stop: ShutdownSignal,
) -> Measured {
    let plan = LoadPlan::new(load, default_gap);
    let progress = Progress::new(name, Bound::of(plan.requests, plan.duration), options.quiet);
    let (records_tx, records_rx) = mpsc::channel(256);
    let checkpoints = Checkpoints::new(plan.requests, plan.duration);
    // Only idle gaps have a race window to draw.
    let tally = match plan.pattern {
        Pattern::IdleGap => {
            Tally::with_race_window(GapBins::for_idle_gap(plan.gap, plan.gap_spread))
        }
        Pattern::Closed | Pattern::Rate => Tally::new(),
    };
    let collector = tokio::spawn(collect(records_rx, tally, progress, checkpoints));
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
