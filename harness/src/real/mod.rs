//! Real stacks: the keep-alive race through the software people run. This module writes configs for and
//! starts Debian's Apache httpd (back), nginx and HAProxy (fronts) on 127.0.0.1, reads the real fronts' logs
//! into cause names, and runs the real-stack comparisons.
//!
//! It owns: server configs generated from a scenario and each server's start (`apache`, `nginx`, `haproxy`;
//! a front exports its `RealFrontSpec`), the child processes and their run directories (`process`), the log
//! mapping (`errorlog`), one run of a mix (`run`), the fidelity matrix (`fidelity`), what they produce (`outcome`) and its tables
//! (`table`),
//! and the race window of real Apache beside our back (`window`). It does not own the chain (`crate::chain`
//! stands real and own tiers up alike), the load, the collector or the result contract: a real chain is driven
//! exactly as our own, by `crate::run`. Everything listens on loopback on free ports; every server is stopped
//! at the end, on error and on panic too.

pub mod apache;
pub mod error;
pub mod errorlog;
pub mod fidelity;
pub mod front;
pub mod haproxy;
pub mod nginx;
pub mod outcome;
pub mod process;
pub mod run;
mod settings;
pub mod table;
pub mod window;

pub use error::{INSTALL_HINT, RealError};
pub use errorlog::{LogCause, LogFormat, count_causes, haproxy_cause, nginx_cause};
pub use fidelity::{CellSpec, fidelity_cells, run_cell};
pub use outcome::{CellOutcome, RealRun};
pub use run::run_real;
pub use table::{fidelity_table, real_run_table};
pub use window::{BackSweep, WindowError, sweep_backs, window_table};

/// The binaries of the real servers that are not installed (`apache2`, `nginx`, `haproxy`).
pub fn missing_binaries() -> Vec<&'static str> {
    [apache::BINARY, nginx::BINARY, haproxy::BINARY]
        .into_iter()
        .filter(|binary| process::locate_binary(binary).is_none())
        .collect()
}
