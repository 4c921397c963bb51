//! The matrix: the same scenario and load through every chosen front × back (real and ours), each pair with
//! keep-alive on (GET, and POST: what a silent retry of idempotent requests does not cover), keep-alive off,
//! and, for a front whose retry has a switch, its retry mitigation (`front.retry = "idempotent"`: nginx
//! `proxy_next_upstream error timeout`, HAProxy `retry-on conn-failure empty-response`, Caddy `lb_retries 1`,
//! our gateway's retry) with GET and POST. Varnish's one retry on a recycled connection is built in: it has no
//! retry cells. Caddy and Varnish have no limit of requests per upstream connection, so their cells run with
//! `front.max_requests_per_conn = 0` (the result's settings show it). A cell that fails to start (a missing
//! server, named with its package; a setting a server cannot express; a tier that errors or panics) is kept
//! as a failed cell with its message; the other cells still run.

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
    /// The load's method is POST (not replayed by a retry of idempotent requests) rather than GET.
    pub post: bool,
}

impl CellSpec {
    /// `nginx→apache ka-on`, `haproxy→ours ka-on retry`, ...
    pub fn label(&self) -> String {
        format!(
            "{}→{} ka-{}{}{}",
            self.front,
            self.back,
            if self.keepalive { "on" } else { "off" },
            if self.retry { " retry" } else { "" },
            if self.post { " POST" } else { "" }
        )
    }

    /// `base` with this cell's keep-alive and retry settings.
    pub fn scenario(&self, base: &Scenario) -> Result<Scenario, ScenarioError> {
        let scenario = base
            .with_override(&format!("back.keepalive={}", self.keepalive))?
            .with_override(if self.retry {
                "front.retry=idempotent"
            } else {
                "front.retry=none"
            })?
            .with_override(if self.post {
                "load.method=POST"
            } else {
                "load.method=GET"
            })?;
        Ok(self.front.expressible(scenario)?.0)
    }
}

/// Every cell of every front × back, grouped by front.
pub fn fidelity_cells() -> Vec<CellSpec> {
    matrix_cells(&FrontKind::ALL, &BackKind::ALL)
}

/// The cells of `fronts` × `backs`, grouped by front: keep-alive on (GET, POST), keep-alive off, and with
/// the front's retry mitigation (GET, POST) when its retry has a switch.
pub fn matrix_cells(fronts: &[FrontKind], backs: &[BackKind]) -> Vec<CellSpec> {
    let mut cells = Vec::new();
    for &front in fronts {
        for &back in backs {
            let mut variants = vec![
                (true, false, false),
                (true, false, true),
                (false, false, false),
            ];
            if front.has_retry_switch() {
                variants.extend([(true, true, false), (true, true, true)]);
            }
            for (keepalive, retry, post) in variants {
                cells.push(CellSpec {
                    front,
                    back,
                    keepalive,
                    retry,
                    post,
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
        // Five cells per pair, three for Varnish (no retry switch).
        assert_eq!(cells.len(), (4 * 5 + 3) * BackKind::ALL.len());
        let varnish = matrix_cells(&[FrontKind::Varnish], &[BackKind::Ours]);
        assert!(varnish.iter().all(|c| !c.retry), "{varnish:?}");
        let post = cells.iter().find(|c| c.post).unwrap();
        assert_eq!(
            post.scenario(&Scenario::default_race().unwrap())
                .unwrap()
                .load
                .method,
            "POST"
        );
        let base = Scenario::default_race().unwrap();
        let retry = cells.iter().find(|c| c.retry).unwrap();
        let scenario = retry.scenario(&base).unwrap();
        assert_eq!(scenario.front.retry, gateway::RetryPolicy::Idempotent);
        assert!(scenario.back.keepalive);
        let off = cells.iter().find(|c| !c.keepalive).unwrap();
        assert!(!off.scenario(&base).unwrap().back.keepalive);
    }
}
