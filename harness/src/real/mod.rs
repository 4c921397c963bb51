//! Real stacks: the keep-alive race through the software people run. This module writes configs for and
//! starts Debian's servers on 127.0.0.1: backs that proxy to our origin (Apache httpd, nginx) or answer
//! themselves (Node.js, gunicorn, uvicorn, Tomcat 10), fronts (nginx, HAProxy, Caddy, Varnish), reads the real fronts' logs
//! into cause names, and runs the real-stack comparisons.
//!
//! It owns: server configs generated from a scenario and each server's start (one file per server; a front
//! exports its `RealFrontSpec`, a back its `RealBackSpec`, `back` holds the shared `[back]` refusals), the
//! child processes and their run directories (`process`), the log
//! mapping (`errorlog`), one run of a mix (`run`), the fidelity matrix (`fidelity`), what they produce (`outcome`) and its tables
//! (`table`),
//! and the race window of real Apache beside our back (`window`). It does not own the chain (`crate::chain`
//! stands real and own tiers up alike), the load, the collector or the result contract: a real chain is driven
//! exactly as our own, by `crate::run`. Everything listens on loopback on free ports; every server is stopped
//! at the end, on error and on panic too.

pub mod apache;
pub mod back;
pub mod caddy;
pub mod error;
pub mod errorlog;
pub mod fidelity;
pub mod front;
pub mod gunicorn;
pub mod haproxy;
pub mod nginx;
pub mod nginx_back;
pub mod node;
pub mod outcome;
pub mod process;
pub mod run;
mod settings;
pub mod table;
pub mod tomcat;
pub mod uvicorn;
pub mod varnish;
pub mod window;

pub use error::{INSTALL_HINT, RealError};
pub use errorlog::{LogCause, LogFormat, count_causes, haproxy_cause, nginx_cause};
pub use fidelity::{CellSpec, fidelity_cells, matrix_cells, run_cell};
pub use outcome::{CellOutcome, RealRun};
pub use run::run_real;
pub use table::{fidelity_table, real_run_table};
pub use window::{BackSweep, WindowError, sweep_backs, window_table};

/// Every real front, in table order (the chain's `FrontKind` names one each).
pub const FRONTS: [&front::RealFrontSpec; 4] = [
    &nginx::FRONT,
    &haproxy::FRONT,
    &caddy::FRONT,
    &varnish::FRONT,
];

/// Every real back, in table order (the chain's `BackKind` names one each).
pub const BACKS: [&back::RealBackSpec; 6] = [
    &apache::BACK,
    &nginx_back::BACK,
    &node::BACK,
    &gunicorn::BACK,
    &uvicorn::BACK,
    &tomcat::BACK,
];

/// The Debian packages of the real servers that are not installed, each named once.
pub fn missing_packages() -> Vec<&'static str> {
    let fronts = FRONTS.map(|spec| (spec.binary, spec.package));
    let backs = BACKS.map(|spec| (spec.binary, spec.package));
    let mut missing: Vec<&'static str> = fronts
        .into_iter()
        .chain(backs)
        .filter(|(binary, _)| process::locate_binary(binary).is_none())
        .map(|(_, package)| package)
        .collect();
    missing.dedup();
    missing
}
