//! The mitigations README.md lists (keep-alive off, front idle timeout below the back's, retry idempotent), as
//! scenario overrides, so `run` can show the problem and each fix side by side.

use std::time::Duration;

use crate::scenario::{Scenario, ScenarioError};

/// A named change to a scenario that should remove the keep-alive race.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mitigation {
    /// Short name for tables.
    pub name: &'static str,
    /// What it does and what it costs.
    pub summary: &'static str,
    /// `key=value` overrides applied to the scenario.
    pub overrides: Vec<String>,
}

/// The mitigations compared by the default run, resolved against `scenario`'s own timeouts.
pub fn mitigations_for(scenario: &Scenario) -> Vec<Mitigation> {
    vec![
        Mitigation {
            name: "keepalive-off",
            summary: "KeepAlive Off on the back: no reuse, no race; costs a connection per request",
            overrides: vec!["back.keepalive=false".to_owned()],
        },
        Mitigation {
            name: "front-idle-below-back",
            summary: "front idle timeout below the back's KeepAliveTimeout: the front closes first",
            overrides: vec![format!(
                "front.idle_timeout={}ms",
                safe_front_idle(scenario).as_millis()
            )],
        },
        Mitigation {
            name: "retry-idempotent",
            summary: "retry once on a fresh connection when a reused one fails before any response byte",
            overrides: vec!["front.retry=idempotent".to_owned()],
        },
    ]
}

/// A front idle timeout that expires before the back can close: below `T - 2L` (the back's timer starts up to
/// one link latency before the front's, and the request needs one more latency to arrive), with a margin.
pub fn safe_front_idle(scenario: &Scenario) -> Duration {
    let timeout = scenario.back.keepalive_timeout;
    let latency = scenario.front_back_latency();
    let below_race = timeout.saturating_sub(latency * 3);
    let seventy_percent = timeout.mul_f64(0.7);
    below_race
        .min(seventy_percent)
        .max(Duration::from_millis(1))
}

impl Mitigation {
    /// The scenario with this mitigation applied. Its `[expect]` keeps every ceiling but drops `min_502`: a
    /// mitigation is meant to remove the 502s the race's scenario must reproduce.
    pub fn apply(&self, scenario: &Scenario) -> Result<Scenario, ScenarioError> {
        let mut changed = scenario.clone();
        for assignment in &self.overrides {
            changed = changed.with_override(assignment)?;
        }
        changed.name = format!("{}+{}", scenario.name, self.name);
        changed.expect.min_502 = None;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mitigation_applies_to_the_default_scenario() {
        let scenario = Scenario::default_race().unwrap();
        for mitigation in mitigations_for(&scenario) {
            let changed = mitigation.apply(&scenario).unwrap();
            assert_ne!(changed, scenario, "{} changed nothing", mitigation.name);
        }
    }

    #[test]
    fn a_mitigation_does_not_inherit_the_races_minimum_of_502s() {
        let scenario = Scenario::default_race().unwrap();
        assert!(scenario.expect.min_502.is_some(), "the race expects 502s");
        for mitigation in mitigations_for(&scenario) {
            let changed = mitigation.apply(&scenario).unwrap();
            assert_eq!(changed.expect.min_502, None, "{}", mitigation.name);
        }
    }

    #[test]
    fn the_front_idle_timeout_is_below_the_race_window() {
        let scenario = Scenario::default_race().unwrap();
        let idle = safe_front_idle(&scenario);
        assert!(idle + scenario.front_back_latency() * 2 < scenario.back.keepalive_timeout);
    }
}
