//! The fidelity matrix: the same scenario and load through {nginx, HAProxy, ours} × {Apache, ours} ×
//! {keep-alive on, off}, plus each front's retry mitigation (`front.retry = "idempotent"`: nginx
//! `proxy_next_upstream error timeout`, HAProxy `retry-on conn-failure empty-response`, our gateway's retry)
//! with keep-alive on. A cell that fails to start (a missing server, a tier that errors or panics) is kept as
//! a failed cell with its message; the other cells still run.

use listener::ShutdownSignal;

use super::outcome::CellOutcome;
use super::run::run_real;
use crate::chain::{BackKind, FrontKind};
use crate::run::RunOptions;
use crate::scenario::{Scenario, ScenarioError};

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellSpec {
    /// The front tier.
    pub front: FrontKind,
    /// The back tier.
    pub back: BackKind,
    /// `back.keepalive`.
    pub keepalive: bool,
    /// The front's retry mitigation (`front.retry = "idempotent"`).
    pub retry: bool,
}

impl CellSpec {
    /// `nginx→apache ka-on`, `haproxy→ours ka-on retry`, ...
    pub fn label(&self) -> String {
        format!(
            "{}→{} ka-{}{}",
            self.front,
            self.back,
            if self.keepalive { "on" } else { "off" },
            if self.retry { " retry" } else { "" }
        )
    }

    /// `base` with this cell's keep-alive and retry settings.
    pub fn scenario(&self, base: &Scenario) -> Result<Scenario, ScenarioError> {
        base.with_override(&format!("back.keepalive={}", self.keepalive))?
            .with_override(if self.retry {
                "front.retry=idempotent"
            } else {
                "front.retry=none"
            })
    }
}

/// Every cell, grouped by front: keep-alive on, keep-alive off, keep-alive on with the retry mitigation.
pub fn fidelity_cells() -> Vec<CellSpec> {
    let mut cells = Vec::new();
    for front in FrontKind::ALL {
        for back in BackKind::ALL {
            for (keepalive, retry) in [(true, false), (false, false), (true, true)] {
                cells.push(CellSpec {
                    front,
                    back,
                    keepalive,
                    retry,
                });
            }
        }
    }
    cells
}

/// Runs one cell in its own task, so a panicking tier fails the cell rather than the whole matrix (the real
/// servers are stopped by drop while the task unwinds).
pub async fn run_cell(
    base: &Scenario,
    cell: CellSpec,
    options: &RunOptions,
    stop: ShutdownSignal,
) -> CellOutcome {
    let label = cell.label();
    let failed = |error: String| CellOutcome::Failed {
        scenario: label.clone(),
        error,
    };
    let scenario = match cell.scenario(base) {
        Ok(scenario) => scenario,
        Err(error) => return failed(error.to_string()),
    };
    let options = RunOptions {
        label: Some(label.clone()),
        ..options.clone()
    };
    let task_label = label.clone();
    let task = tokio::spawn(async move {
        run_real(
            &scenario,
            cell.front,
            cell.back,
            &task_label,
            &options,
            stop,
        )
        .await
    });
    match task.await {
        Ok(Ok(run)) => CellOutcome::Ran(Box::new(run)),
        Ok(Err(error)) => failed(error.to_string()),
        Err(join) => failed(format!("a tier panicked: {}", panic_message(join))),
    }
}

fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned()),
        Err(error) => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_has_every_front_back_pair_on_off_and_retry() {
        let cells = fidelity_cells();
        assert_eq!(cells.len(), FrontKind::ALL.len() * BackKind::ALL.len() * 3);
        let base = Scenario::default_race().unwrap();
        let retry = cells.iter().find(|c| c.retry).unwrap();
        let scenario = retry.scenario(&base).unwrap();
        assert_eq!(scenario.front.retry, gateway::RetryPolicy::Idempotent);
        assert!(scenario.back.keepalive);
        let off = cells.iter().find(|c| !c.keepalive).unwrap();
        assert!(!off.scenario(&base).unwrap().back.keepalive);
    }
}
