//! What a run drives its load into: [`Subject`], our chain, a mix of real and own tiers, or an external
//! target; and the one place the idle-gap default is resolved.

use std::time::Duration;

use crate::chain::{BackKind, FrontKind};
use crate::load::{LoadConfig, Target};
use crate::scenario::Scenario;

/// The idle gap of an external target's idle-gap load when `[load] gap` is unset: there is no back whose
/// KeepAliveTimeout it could default to.
pub const EXTERNAL_DEFAULT_GAP: Duration = Duration::from_secs(5);

/// What a run drives its load into.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// Our own chain (`run`, `compare`, `sweep`): the result's settings are the scenario, so `check` reads its
    /// `[expect]`.
    Scenario(&'a Scenario),
    /// A chain of the given front and back (`real run|compare|sweep`): the settings name the mix.
    Mix {
        /// The chain and the load.
        scenario: &'a Scenario,
        /// The front's software.
        front: FrontKind,
        /// The back's software.
        back: BackKind,
    },
    /// A target someone else runs (`load --target`): no chain counters.
    External {
        /// The load.
        load: &'a LoadConfig,
        /// Where it goes.
        target: &'a Target,
    },
}

impl Subject<'_> {
    /// The software of the front and the back: ours unless the subject is a mix.
    pub(super) fn tiers(&self) -> (FrontKind, BackKind) {
        match *self {
            Subject::Mix { front, back, .. } => (front, back),
            Subject::Scenario(_) | Subject::External { .. } => (FrontKind::Ours, BackKind::Ours),
        }
    }

    /// The load it drives.
    pub(super) fn load(&self) -> &LoadConfig {
        match self {
            Subject::Scenario(scenario) | Subject::Mix { scenario, .. } => &scenario.load,
            Subject::External { load, .. } => load,
        }
    }

    /// The idle gap when `[load] gap` is unset, resolved here only: the back's KeepAliveTimeout in a chain.
    pub(super) fn default_gap(&self) -> Duration {
        match self {
            Subject::Scenario(scenario) | Subject::Mix { scenario, .. } => {
                scenario.back.keepalive_timeout
            }
            Subject::External { .. } => EXTERNAL_DEFAULT_GAP,
        }
    }

    /// The name reported when the options give none.
    pub(super) fn name(&self) -> String {
        match self {
            Subject::Scenario(scenario) | Subject::Mix { scenario, .. } => scenario.name.clone(),
            Subject::External { target, .. } => format!("http://{}{}", target.host, target.path),
        }
    }
}
