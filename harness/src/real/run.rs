//! One real-stack run: the scenario's `[load]` through `front` → [link] → `back` → origin, by the one run
//! function (`crate::run::run` with `Subject::Mix`), and the front's own account kept beside the result.
//! Real fronts' 502s carry no `x-badgateway-cause`, so the collector counts them `unclassified`; the front's
//! account (its log, or our gateway's causes and retries) is in [`RealRun::front_causes`].

use listener::ShutdownSignal;

use super::outcome::RealRun;
use crate::chain::{BackKind, ChainAccount, ChainError, FrontKind};
use crate::run::{RunOptions, Subject, run};
use crate::scenario::Scenario;

/// Runs `scenario`'s load through `front` → [link] → `back` → origin. `label` names the run in tables.
pub async fn run_real(
    scenario: &Scenario,
    front: FrontKind,
    back: BackKind,
    label: &str,
    options: &RunOptions,
    stop: ShutdownSignal,
) -> Result<RealRun, ChainError> {
    let options = RunOptions {
        label: Some(label.to_owned()),
        ..options.clone()
    };
    let subject = Subject::Mix {
        scenario,
        front,
        back,
    };
    let run = run(subject, &options, stop).await?;
    Ok(RealRun {
        front: front.name().to_owned(),
        back: back.name().to_owned(),
        front_causes: run
            .account
            .as_ref()
            .map(ChainAccount::front_causes)
            .unwrap_or_default(),
        origin_counted: run.account.as_ref().is_none_or(|a| a.origin_counted),
        result: run.result,
    })
}
