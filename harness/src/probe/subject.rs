//! Probing a scenario's chain: stands it up with one front per stream (the chain model's `add_fronts`), takes
//! the back's own address and the path the fronts reach it by, runs the probe and stops everything, on error
//! too. The only part of the probe that knows what a chain is.

use std::time::Duration;

use listener::ShutdownSignal;

use super::{ProbeError, ProbeResult, ProbeSettings, ProbeTargets, run_probe};
use crate::chain::{BackKind, Chain, ChainError, FrontKind};
use crate::load::Target;
use crate::scenario::Scenario;
use crate::time_scale::TimeScale;

/// The `Host` every probe request carries.
const PROBE_HOST: &str = "badgateway.test";

/// The least time a direct connection waits for the back's idle close.
const MIN_CLOSE_LIMIT: Duration = Duration::from_secs(2);

/// Why a scenario could not be probed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeRunError {
    /// A key of the scenario makes the probe meaningless; the message names it.
    #[error("probe: {0}")]
    Unprobeable(String),
    /// The chain did not start or stop cleanly.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A measurement failed.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// The probe settings are out of bounds.
    #[error("probe: {0}")]
    Settings(String),
}

/// Probes `scenario` (already time-scaled by `scale`) with `front` in front of `back`.
pub async fn probe_scenario(
    scenario: &Scenario,
    front: FrontKind,
    back: BackKind,
    settings: &ProbeSettings,
    scale: TimeScale,
    stop: ShutdownSignal,
) -> Result<ProbeResult, ProbeRunError> {
    settings.validate().map_err(ProbeRunError::Settings)?;
    refuse_unprobeable(scenario)?;
    let mut chain = Chain::start(scenario, front, back).await?;
    let probed = probe_started(&mut chain, scenario, settings, stop).await;
    let stopped = chain.stop().await;
    let measurement = probed?;
    stopped?;
    Ok(ProbeResult {
        scenario: scenario.name.clone(),
        front: front.name().to_owned(),
        back: back.name().to_owned(),
        method: scenario.load.method.clone(),
        time_scale: scale.factor(),
        configured_keepalive_timeout_ms: scenario.back.keepalive_timeout.as_secs_f64() * 1000.0,
        settings: serde_json::to_value(scenario).unwrap_or(serde_json::Value::Null),
        expect_exposed: scenario.expect.exposed,
        probe: measurement,
    })
}

async fn probe_started(
    chain: &mut Chain,
    scenario: &Scenario,
    settings: &ProbeSettings,
    stop: ShutdownSignal,
) -> Result<super::ProbeMeasurement, ProbeRunError> {
    chain
        .add_fronts(scenario, settings.streams.saturating_sub(1))
        .await?;
    let Some(Some((back, back_path))) = chain.back_paths().first().copied() else {
        return Err(ProbeRunError::Unprobeable(
            "the chain has no back tier to probe".to_owned(),
        ));
    };
    let method = http::Method::from_bytes(scenario.load.method.as_bytes()).map_err(|_| {
        ProbeRunError::Unprobeable(format!(
            "load.method = {:?} is not an HTTP method",
            scenario.load.method
        ))
    })?;
    let targets = ProbeTargets {
        fronts: chain.front_addrs(),
        back,
        back_path,
        request: Target {
            addr: back_path,
            host: PROBE_HOST.to_owned(),
            method,
            path: scenario.load.path.clone(),
            timeout: scenario.load.timeout,
        },
        front_idle: (scenario.front.max_idle_per_backend > 0)
            .then_some(scenario.front.idle_timeout),
        close_limit: (scenario.back.keepalive_timeout * 3).max(MIN_CLOSE_LIMIT),
    };
    Ok(run_probe(&targets, settings, stop).await?)
}

/// The probe needs exactly one path to one back: every stream must own its upstream connection.
fn refuse_unprobeable(scenario: &Scenario) -> Result<(), ProbeRunError> {
    let chain = &scenario.chain;
    let refusal = if !chain.back {
        Some("chain.back = false: there is no back tier whose close could race".to_owned())
    } else if chain.members != 1 {
        Some(format!(
            "chain.members = {}: the probe needs exactly 1, so that each stream's front holds its one upstream \
             connection",
            chain.members
        ))
    } else if chain.closed_port {
        Some("chain.closed_port = true: nothing would answer".to_owned())
    } else {
        None
    };
    refusal.map_or(Ok(()), |r| Err(ProbeRunError::Unprobeable(r)))
}
