//! The front tier of a chain: our gateway, or a real front started from its [`RealFrontSpec`]. It owns the
//! start in front of a pool of backs and the stop that reads what the front counted into the account.

use std::net::SocketAddr;

use gateway::Gateway;

use crate::real::front::RealFrontSpec;
use crate::real::process::ServerProcess;
use crate::scenario::Scenario;

use super::account::ChainAccount;
use super::error::ChainError;
use super::kind::FrontKind;
use super::links::loopback;
use super::pool::{gateway_pool, real_pool};

/// A running front.
pub enum Front {
    /// Our gateway.
    Ours(Gateway),
    /// A real server and what it is.
    Real {
        /// The server.
        process: ServerProcess,
        /// Its descriptor: name, log, how to read it.
        spec: &'static RealFrontSpec,
    },
}

impl Front {
    /// Starts `kind` with the scenario's `[front]` in front of `hops` (one per member).
    pub async fn start(
        kind: FrontKind,
        scenario: &Scenario,
        hops: &[SocketAddr],
    ) -> Result<Self, ChainError> {
        match kind.real() {
            None => {
                let members = gateway_pool(scenario, hops)?;
                let gateway = Gateway::start(loopback(), members, scenario.front.clone()).await?;
                Ok(Front::Ours(gateway))
            }
            Some(spec) => {
                let pool = real_pool(scenario, hops)?;
                let process = (spec.start)(&scenario.front, &pool).await?;
                Ok(Front::Real { process, spec })
            }
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        match self {
            Front::Ours(gateway) => gateway.local_addr(),
            Front::Real { process, .. } => process.addr(),
        }
    }

    /// Our gateway's timeline recorder; a real front has none.
    pub fn timeline(&self) -> Option<std::sync::Arc<timeline::Recorder>> {
        match self {
            Front::Ours(gateway) => Some(gateway.timeline()),
            Front::Real { .. } => None,
        }
    }

    /// The real server's process id.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Front::Ours(_) => None,
            Front::Real { process, .. } => Some(process.pid()),
        }
    }

    /// Stops the front and puts what it counted into `account`: our gateway's counters, or the real front's
    /// log, read after it exited so every line it wrote is in.
    pub async fn stop(self, account: &mut ChainAccount) -> Result<(), ChainError> {
        match self {
            Front::Ours(gateway) => {
                account.gateway = Some(gateway.stats());
                gateway.stop().await;
                Ok(())
            }
            Front::Real { process, spec } => {
                let snapshot = match (spec.snapshot, process.dir()) {
                    (Some(snapshot), Some(dir)) => snapshot(dir),
                    _ => Ok(()),
                };
                let (_, dir) = process.stop().await;
                snapshot?;
                if let Some(dir) = dir {
                    let text = dir.read(spec.server, spec.log)?;
                    account.front_log = (spec.account)(&text);
                }
                Ok(())
            }
        }
    }
}
