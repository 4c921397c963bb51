//! The health of each backend member: a [`ProbeState`] per member that turns probe outcomes into state
//! transitions, the shared [`Health`] table the request path reads, and the [`HealthReport`] the admin endpoint
//! serves.
//!
//! The rules are Application Gateway's: a member starts healthy, becomes unhealthy after `unhealthy_threshold`
//! consecutive failed probes, and healthy again after one successful probe. Unhealthy members leave the round
//! robin; when none is left, the gateway answers 502 `all-unhealthy` without touching the network. Every
//! transition is a tracing event (`warn` when a member goes down, `info` when it comes back) with the member,
//! the old and new state and the reason.
//!
//! [`ProbeState::record`] is pure (the time of the outcome is an argument), so the transitions are tested
//! without clocks or sockets. This module does not send probes (`probe`) and does not pick members
//! (`balancer`). With probes disabled nothing is ever recorded and every member stays healthy.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::resolve::ResolveError;

/// Whether a member is in the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthState {
    /// In the rotation.
    Healthy,
    /// Out of the rotation until a probe succeeds.
    Unhealthy,
}

impl fmt::Display for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HealthState::Healthy => "healthy",
            HealthState::Unhealthy => "unhealthy",
        })
    }
}

/// Every member's health, as served at `/_badgateway/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// Per member, in configuration order.
    pub members: Vec<MemberHealth>,
    /// How many members are healthy.
    pub healthy: usize,
    /// How many members there are.
    pub total: usize,
}

/// One member's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberHealth {
    /// The member as configured, `host:port`.
    pub member: String,
    /// Its state now.
    pub state: HealthState,
    /// The most recent probe; none before the first probe (or with probes disabled).
    pub last_probe: Option<LastProbe>,
    /// Failed probes since the last success.
    pub consecutive_failures: u32,
}

/// The result of a member's most recent probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastProbe {
    /// The probe passed.
    pub ok: bool,
    /// The status the member answered, when it answered.
    pub status: Option<u16>,
    /// Why the probe failed; none when it passed.
    pub error: Option<String>,
    /// How long ago the probe finished, in milliseconds.
    pub at_ms_ago: u64,
}

/// Why one probe failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProbeFailure {
    /// The member's name did not resolve.
    #[error("{0}")]
    Resolve(ResolveError),
    /// The TCP connect failed.
    #[error("connect failed: {0}")]
    Connect(String),
    /// The whole probe did not finish within the probe timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The status is not in `match_status`.
    #[error("status {status} is not in {expected}")]
    Status {
        /// What the member answered.
        status: u16,
        /// The configured ranges, for the message.
        expected: String,
    },
    /// The body does not contain `match_body`.
    #[error("the body of the {status} response does not contain {expected:?}")]
    Body {
        /// What the member answered.
        status: u16,
        /// The configured substring.
        expected: String,
    },
    /// The exchange failed: the probe request could not be built, or the answer was not HTTP, or the
    /// connection broke.
    #[error("{0}")]
    Http(String),
}

impl ProbeFailure {
    /// The status the member answered, when the failure came after a response head.
    fn status(&self) -> Option<u16> {
        match self {
            ProbeFailure::Status { status, .. } | ProbeFailure::Body { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }
}

/// What one probe found: the status of a passing answer, or why it failed.
pub(crate) type ProbeOutcome = Result<u16, ProbeFailure>;

/// A member changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transition {
    pub(crate) from: HealthState,
    pub(crate) to: HealthState,
}

/// One member's probe history and the state it implies.
#[derive(Debug, Clone)]
pub(crate) struct ProbeState {
    state: HealthState,
    consecutive_failures: u32,
    /// Failures in a row that make a healthy member unhealthy; at least 1.
    threshold: u32,
    last: Option<(ProbeOutcome, Instant)>,
}

impl ProbeState {
    /// A healthy member that was never probed; `unhealthy_threshold` 0 is taken as 1.
    pub(crate) fn new(unhealthy_threshold: u32) -> ProbeState {
        ProbeState {
            state: HealthState::Healthy,
            consecutive_failures: 0,
            threshold: unhealthy_threshold.max(1),
            last: None,
        }
    }

    /// Takes one probe outcome, finished at `at`; returns the transition it caused, if any.
    pub(crate) fn record(&mut self, outcome: ProbeOutcome, at: Instant) -> Option<Transition> {
        let from = self.state;
        match &outcome {
            Ok(_) => {
                self.consecutive_failures = 0;
                self.state = HealthState::Healthy;
            }
            Err(_) => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                if self.consecutive_failures >= self.threshold {
                    self.state = HealthState::Unhealthy;
                }
            }
        }
        self.last = Some((outcome, at));
        (from != self.state).then_some(Transition {
            from,
            to: self.state,
        })
    }

    /// The state now.
    pub(crate) fn state(&self) -> HealthState {
        self.state
    }

    /// Failed probes since the last success.
    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// The most recent probe, as seen at `now`.
    fn last_probe(&self, now: Instant) -> Option<LastProbe> {
        self.last.as_ref().map(|(outcome, at)| LastProbe {
            ok: outcome.is_ok(),
            status: match outcome {
                Ok(status) => Some(*status),
                Err(failure) => failure.status(),
            },
            error: outcome.as_ref().err().map(ToString::to_string),
            at_ms_ago: u64::try_from(now.saturating_duration_since(*at).as_millis())
                .unwrap_or(u64::MAX),
        })
    }
}

/// Every member's health, shared by the probe tasks (writers), the request path and the admin endpoint.
#[derive(Debug)]
pub(crate) struct Health {
    members: Vec<MemberSlot>,
    /// Counts recorded probes, so tests can wait for the n-th one.
    recorded: watch::Sender<u64>,
}

#[derive(Debug)]
struct MemberSlot {
    label: String,
    /// Mirrors `state`, read lock-free on every request.
    healthy: AtomicBool,
    state: Mutex<ProbeState>,
}

impl Health {
    /// Every member of `labels` healthy and never probed.
    pub(crate) fn new(
        labels: impl IntoIterator<Item = String>,
        unhealthy_threshold: u32,
    ) -> Health {
        Health {
            members: labels
                .into_iter()
                .map(|label| MemberSlot {
                    label,
                    healthy: AtomicBool::new(true),
                    state: Mutex::new(ProbeState::new(unhealthy_threshold)),
                })
                .collect(),
            recorded: watch::Sender::new(0),
        }
    }

    /// True when member `index` is in the rotation.
    pub(crate) fn is_healthy(&self, index: usize) -> bool {
        self.members
            .get(index)
            .is_some_and(|slot| slot.healthy.load(Ordering::Acquire))
    }

    /// Records a probe outcome of member `index` and logs the transition it caused.
    pub(crate) fn record(&self, index: usize, outcome: ProbeOutcome) {
        let Some(slot) = self.members.get(index) else {
            return;
        };
        let reason = match &outcome {
            Ok(status) => format!("status {status}"),
            Err(failure) => failure.to_string(),
        };
        let (transition, failures) = {
            let mut state = slot.lock();
            let transition = state.record(outcome, Instant::now());
            slot.healthy
                .store(state.state() == HealthState::Healthy, Ordering::Release);
            (transition, state.consecutive_failures())
        };
        match transition {
            Some(Transition {
                from,
                to: HealthState::Unhealthy,
            }) => tracing::warn!(
                member = %slot.label,
                old = %from,
                new = %HealthState::Unhealthy,
                consecutive_failures = failures,
                %reason,
                "backend member is unhealthy, out of rotation"
            ),
            Some(Transition {
                from,
                to: HealthState::Healthy,
            }) => tracing::info!(
                member = %slot.label,
                old = %from,
                new = %HealthState::Healthy,
                %reason,
                "backend member is healthy again, back in rotation"
            ),
            None => tracing::debug!(
                member = %slot.label,
                consecutive_failures = failures,
                %reason,
                "health probe"
            ),
        }
        self.recorded.send_modify(|count| *count += 1);
    }

    /// Every member's health now.
    pub(crate) fn report(&self) -> HealthReport {
        let now = Instant::now();
        let members: Vec<MemberHealth> = self
            .members
            .iter()
            .map(|slot| {
                let state = slot.lock();
                MemberHealth {
                    member: slot.label.clone(),
                    state: state.state(),
                    last_probe: state.last_probe(now),
                    consecutive_failures: state.consecutive_failures(),
                }
            })
            .collect();
        HealthReport {
            healthy: members
                .iter()
                .filter(|member| member.state == HealthState::Healthy)
                .count(),
            total: members.len(),
            members,
        }
    }

    /// Follows the count of recorded probes.
    #[cfg(test)]
    pub(crate) fn recorded(&self) -> watch::Receiver<u64> {
        self.recorded.subscribe()
    }
}

impl MemberSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, ProbeState> {
        // Every update of a ProbeState is complete before anything can panic; keep going after a poison.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed() -> ProbeOutcome {
        Err(ProbeFailure::Status {
            status: 500,
            expected: "200-399".to_owned(),
        })
    }

    #[test]
    fn unhealthy_after_exactly_the_threshold_of_consecutive_failures() {
        let mut state = ProbeState::new(3);
        let now = Instant::now();
        assert_eq!(state.record(failed(), now), None);
        assert_eq!(state.record(failed(), now), None);
        assert_eq!(state.state(), HealthState::Healthy);
        assert_eq!(
            state.record(failed(), now),
            Some(Transition {
                from: HealthState::Healthy,
                to: HealthState::Unhealthy
            })
        );
        assert_eq!(state.state(), HealthState::Unhealthy);
        // More failures keep it down without another transition.
        assert_eq!(state.record(failed(), now), None);
        assert_eq!(state.consecutive_failures(), 4);
    }

    #[test]
    fn a_success_resets_the_count_of_failures() {
        let mut state = ProbeState::new(3);
        let now = Instant::now();
        state.record(failed(), now);
        state.record(failed(), now);
        assert_eq!(state.record(Ok(200), now), None);
        assert_eq!(state.consecutive_failures(), 0);
        state.record(failed(), now);
        state.record(failed(), now);
        assert_eq!(state.state(), HealthState::Healthy);
    }

    #[test]
    fn healthy_again_after_one_success() {
        let mut state = ProbeState::new(2);
        let now = Instant::now();
        state.record(failed(), now);
        state.record(failed(), now);
        assert_eq!(state.state(), HealthState::Unhealthy);
        assert_eq!(
            state.record(Ok(204), now),
            Some(Transition {
                from: HealthState::Unhealthy,
                to: HealthState::Healthy
            })
        );
        assert_eq!(state.state(), HealthState::Healthy);
    }

    #[test]
    fn a_threshold_of_zero_is_one() {
        let mut state = ProbeState::new(0);
        assert!(state.record(failed(), Instant::now()).is_some());
        assert_eq!(state.state(), HealthState::Unhealthy);
    }

    #[tokio::test(start_paused = true)]
    async fn the_report_shows_the_last_probe_and_its_age() {
        let health = Health::new(["a:1".to_owned(), "b:2".to_owned()], 1);
        assert!(
            health
                .report()
                .members
                .iter()
                .all(|m| m.last_probe.is_none())
        );
        health.record(0, failed());
        health.record(
            1,
            Err(ProbeFailure::Connect("connection refused".to_owned())),
        );
        tokio::time::advance(Duration::from_millis(250)).await;
        health.record(1, Ok(200));

        let report = health.report();

        assert_eq!((report.healthy, report.total), (1, 2));
        assert!(!health.is_healthy(0) && health.is_healthy(1));
        let down = &report.members[0];
        assert_eq!(down.state, HealthState::Unhealthy);
        assert_eq!(down.consecutive_failures, 1);
        assert_eq!(
            down.last_probe,
            Some(LastProbe {
                ok: false,
                status: Some(500),
                error: Some("status 500 is not in 200-399".to_owned()),
                at_ms_ago: 250,
            })
        );
        let up = &report.members[1];
        assert_eq!(
            up.last_probe,
            Some(LastProbe {
                ok: true,
                status: Some(200),
                error: None,
                at_ms_ago: 0,
            })
        );
    }
}
