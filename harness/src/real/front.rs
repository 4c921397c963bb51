//! What the chain needs to know of a real front, as each front's file exports it ([`RealFrontSpec`]): how to
//! start it in front of a pool of backs and how to read its own account from its log. It starts nothing.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;

use gateway::FrontConfig;

use super::error::RealError;
use super::process::ServerProcess;

/// A started real server, as a real front's `start` returns it.
pub type Starting<'a> = Pin<Box<dyn Future<Output = Result<ServerProcess, RealError>> + Send + 'a>>;

/// Reads a live front's account into its run directory (the directory given).
pub type Snapshot = fn(&Path) -> Result<(), RealError>;

/// What the chain needs to know of a real front: how to start it in front of a pool of backs, and how to read
/// its own account of upstream failures from its log after it stopped.
#[derive(Debug, Clone, Copy)]
pub struct RealFrontSpec {
    /// The server's name in messages and errors (`nginx`).
    pub server: &'static str,
    /// The binary looked for in PATH, /usr/sbin and /usr/bin.
    pub binary: &'static str,
    /// The Debian package that installs it.
    pub package: &'static str,
    /// Writes the config and starts the server in front of these backs (one per `chain.members`).
    pub start: for<'a> fn(&'a FrontConfig, &'a [SocketAddr]) -> Starting<'a>,
    /// The log file, in the server's run directory, that holds its account.
    pub log: &'static str,
    /// The log's text to cause names and counts.
    pub account: fn(&str) -> BTreeMap<String, u64>,
    /// Run just before the stop with the run directory, for a front whose account is read from the live
    /// server (Varnish's counters) rather than from a log it writes.
    pub snapshot: Option<Snapshot>,
    /// Whether `front.retry` switches the front's own retry on and off (the matrix's retry cells).
    pub retry_switch: bool,
    /// Whether it can cap the requests per upstream connection (`front.max_requests_per_conn`). One that
    /// cannot runs the default cap as 0, unlimited, which is what it does ([`crate::chain::FrontKind::expressible`]).
    pub request_limit: bool,
}
