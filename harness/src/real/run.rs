//! One real-stack run: start the chain, drive the scenario's `[load]` at its front with the harness's own
//! load and collector ([`run_external`]), stop the chain, and put the tiers' counters into the result.
//! Real fronts' 502s carry no `x-badgateway-cause`, so the collector counts them `unclassified`; the front's
//! own account (its log) is kept beside the result in [`RealRun::front_causes`].

use std::collections::BTreeMap;

use listener::ShutdownSignal;
use serde::Serialize;

use super::chain::{BackKind, FrontKind, RealChain};
use super::error::RealError;
use crate::load::Target;
use crate::result::RunResult;
use crate::run::{RunOptions, run_external};
use crate::scenario::Scenario;

/// The `Host` the clients send.
const HOST: &str = "badgateway.test";

/// One run through a chain with real servers.
#[derive(Debug, Clone, Serialize)]
pub struct RealRun {
    /// The front tier.
    pub front: String,
    /// The back tier.
    pub back: String,
    /// The front's own account of its upstream failures (log causes, or our gateway's 502 causes).
    pub front_causes: BTreeMap<String, u64>,
    /// What the clients saw: the result contract of design.md.
    #[serde(flatten)]
    pub result: RunResult,
}

/// Runs `scenario`'s load through `front` → [link] → `back` → origin. `label` names the run in tables.
pub async fn run_real(
    scenario: &Scenario,
    front: FrontKind,
    back: BackKind,
    label: &str,
    options: &RunOptions,
    stop: ShutdownSignal,
) -> Result<RealRun, RealError> {
    let chain = RealChain::start(scenario, front, back).await?;
    let mut load = scenario.load.clone();
    // As `run`: the idle gap defaults to the back's KeepAliveTimeout.
    load.gap = load.gap.or(Some(scenario.back.keepalive_timeout));
    let target = Target {
        addr: chain.front_addr(),
        host: HOST.to_owned(),
        method: http::Method::from_bytes(load.method.as_bytes()).unwrap_or(http::Method::GET),
        path: load.path.clone(),
        timeout: load.timeout,
    };
    let mut result = run_external(label, &load, &target, options, stop).await;
    let account = chain.stop().await?;
    result.settings = serde_json::json!({
        "front": front.name(),
        "back": back.name(),
        "scenario": serde_json::to_value(scenario).unwrap_or(serde_json::Value::Null),
    });
    result.origin_requests = account.origin_requests;
    if let Some(gateway) = &account.gateway {
        result.upstream_connections = gateway.upstream_connections;
        result.retries = gateway.retries;
        result.reused_upstream_requests = gateway.reused_requests;
        result.gateway_causes = account.front_causes.clone();
    }
    if let Some(back) = &account.back {
        result.back_keepalive_timeouts = back.keepalive_timeouts;
    }
    result.cell = BTreeMap::from([
        ("front".to_owned(), front.name().to_owned()),
        ("back".to_owned(), back.name().to_owned()),
        (
            "back.keepalive".to_owned(),
            scenario.back.keepalive.to_string(),
        ),
        ("front.retry".to_owned(), retry_name(scenario)),
    ]);
    Ok(RealRun {
        front: front.name().to_owned(),
        back: back.name().to_owned(),
        front_causes: account.front_causes,
        result,
    })
}

fn retry_name(scenario: &Scenario) -> String {
    serde_json::to_value(scenario.front.retry)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}
