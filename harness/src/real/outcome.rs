//! What real-stack runs produce, as plain data: one run with the front's own account ([`RealRun`]) and a cell
//! of the fidelity matrix that ran or failed ([`CellOutcome`]). Tables read these; they know nothing of chains.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::result::RunResult;

/// One run through a chain with real servers.
#[derive(Debug, Clone, Serialize)]
pub struct RealRun {
    /// The front tier.
    pub front: String,
    /// The back tier.
    pub back: String,
    /// The front's own account of its upstream failures (log causes, or our gateway's 502 causes).
    pub front_causes: BTreeMap<String, u64>,
    /// False when the back is its own origin (Node, gunicorn, uvicorn, Tomcat): `origin_requests` is then
    /// not available rather than zero.
    pub origin_counted: bool,
    /// What the clients saw: the result contract (docs/result-contract.md).
    #[serde(flatten)]
    pub result: RunResult,
}

/// A cell's outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum CellOutcome {
    /// It ran.
    Ran(Box<RealRun>),
    /// It could not run.
    Failed {
        /// The cell's label.
        scenario: String,
        /// Why.
        error: String,
    },
}
