//! When a connection that waits for a request must be closed: `Timeout` for a fresh connection,
//! `KeepAliveTimeout` for an idle one, the sweep granularity that delays the latter, and
//! `RequestReadTimeout header=` for a connection whose request head has begun but not ended.
//!
//! With `timer_granularity` 0 an idle connection has its own exact deadline, `idle_since + keepalive_timeout`,
//! as Apache 2.4's event MPM (it closes within about 0.5 ms of the timeout). With a granularity `g`, idle
//! connections are closed by a periodic sweep whose ticks fall at `epoch + k·g` (the epoch is the server's
//! start): a connection is closed at the first tick at or after its due time, so connections that fell due
//! within one tick window all close at the same instant. That models servers that scan their idle list on a
//! coarse timer. The tick is computed per connection rather than run as a shared task: same instants, no
//! shared state. This module owns the arithmetic only; `connection.rs` sleeps until the result.

use std::time::Duration;

use tokio::time::Instant;

use crate::activity::ActivityState;
use crate::config::BackConfig;

/// Why a connection's deadline is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// A fresh connection sent no request within `request_timeout`.
    RequestTimeout,
    /// A request head was not complete within `header_read_timeout` of its first byte.
    IncompleteHead,
    /// An idle connection's `keepalive_timeout` expired; it was idle since `idle_since`.
    KeepAliveTimeout { idle_since: Instant },
}

/// A closing time and its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) expiry: Expiry,
}

/// The timeouts of one back tier, and the epoch of its sweep.
#[derive(Debug, Clone)]
pub(crate) struct IdlePolicy {
    epoch: Instant,
    keepalive_timeout: Duration,
    granularity: Duration,
    request_timeout: Duration,
    header_read_timeout: Duration,
}

impl IdlePolicy {
    /// The policy of `config`, with sweep ticks counted from `epoch`.
    pub(crate) fn new(config: &BackConfig, epoch: Instant) -> Self {
        Self {
            epoch,
            keepalive_timeout: config.keepalive_timeout,
            granularity: config.timer_granularity,
            request_timeout: config.request_timeout,
            header_read_timeout: config.header_read_timeout,
        }
    }

    /// When a connection in `state` must be closed; `None` while it is busy.
    pub(crate) fn deadline(&self, state: ActivityState) -> Option<Deadline> {
        match state {
            ActivityState::Busy => None,
            ActivityState::Fresh { since } => Some(Deadline {
                at: add(since, self.request_timeout),
                expiry: Expiry::RequestTimeout,
            }),
            ActivityState::ReadingHead { since } => {
                (!self.header_read_timeout.is_zero()).then(|| Deadline {
                    at: add(since, self.header_read_timeout),
                    expiry: Expiry::IncompleteHead,
                })
            }
            ActivityState::Idle { since } => Some(Deadline {
                at: self.next_tick(add(since, self.keepalive_timeout)),
                expiry: Expiry::KeepAliveTimeout { idle_since: since },
            }),
        }
    }

    /// The first sweep tick at or after `due` (`due` itself without a sweep).
    fn next_tick(&self, due: Instant) -> Instant {
        let tick = self.granularity.as_nanos();
        if tick == 0 {
            return due;
        }
        let elapsed = due.saturating_duration_since(self.epoch).as_nanos();
        let ticks_ns = elapsed.div_ceil(tick).saturating_mul(tick);
        let offset = Duration::from_nanos(u64::try_from(ticks_ns).unwrap_or(u64::MAX));
        add(self.epoch, offset)
    }
}

/// `at + by`, saturating far in the future instead of overflowing (a "never" timeout such as 100 years).
fn add(at: Instant, by: Duration) -> Instant {
    at.checked_add(by)
        .unwrap_or_else(|| at + Duration::from_secs(60 * 60 * 24 * 365))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(keepalive_ms: u64, granularity_ms: u64, epoch: Instant) -> IdlePolicy {
        let config = BackConfig {
            keepalive_timeout: Duration::from_millis(keepalive_ms),
            timer_granularity: Duration::from_millis(granularity_ms),
            request_timeout: Duration::from_secs(60),
            ..BackConfig::default()
        };
        IdlePolicy::new(&config, epoch)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_busy_connection_has_no_deadline() {
        assert_eq!(
            policy(100, 0, Instant::now()).deadline(ActivityState::Busy),
            None
        );
    }

    #[test]
    fn a_fresh_connection_gets_the_request_timeout() {
        let since = Instant::now();
        let deadline = policy(100, 200, since).deadline(ActivityState::Fresh { since });
        assert_eq!(
            deadline,
            Some(Deadline {
                at: since + Duration::from_secs(60),
                expiry: Expiry::RequestTimeout
            })
        );
    }

    #[test]
    fn a_started_head_gets_the_header_read_timeout_unless_it_is_zero() {
        let since = Instant::now();
        let config = BackConfig {
            header_read_timeout: ms(300),
            timer_granularity: ms(200),
            ..BackConfig::default()
        };
        let deadline =
            IdlePolicy::new(&config, since).deadline(ActivityState::ReadingHead { since });
        assert_eq!(
            deadline,
            Some(Deadline {
                at: since + ms(300),
                expiry: Expiry::IncompleteHead
            })
        );
        let config = BackConfig {
            header_read_timeout: Duration::ZERO,
            ..config
        };
        let deadline =
            IdlePolicy::new(&config, since).deadline(ActivityState::ReadingHead { since });
        assert_eq!(deadline, None);
    }

    #[test]
    fn without_a_sweep_the_deadline_is_exact() {
        let epoch = Instant::now();
        let since = epoch + ms(7);
        let deadline = policy(100, 0, epoch).deadline(ActivityState::Idle { since });
        assert_eq!(deadline.map(|d| d.at), Some(since + ms(100)));
    }

    #[test]
    fn a_sweep_closes_at_the_first_tick_at_or_after_the_due_time() {
        let epoch = Instant::now();
        let policy = policy(50, 200, epoch);
        let close_at = |idle_ms: u64| {
            policy
                .deadline(ActivityState::Idle {
                    since: epoch + ms(idle_ms),
                })
                .map(|d| d.at - epoch)
        };
        // Due at 70, 150, 200 (exactly on a tick), 201, 349 ms.
        assert_eq!(close_at(20), Some(ms(200)));
        assert_eq!(close_at(100), Some(ms(200)));
        assert_eq!(close_at(150), Some(ms(200)));
        assert_eq!(close_at(151), Some(ms(400)));
        assert_eq!(close_at(299), Some(ms(400)));
    }

    #[test]
    fn a_never_timeout_does_not_overflow() {
        let epoch = Instant::now();
        let config = BackConfig {
            keepalive_timeout: Duration::MAX,
            timer_granularity: ms(100),
            ..BackConfig::default()
        };
        let deadline =
            IdlePolicy::new(&config, epoch).deadline(ActivityState::Idle { since: epoch });
        assert!(deadline.is_some_and(|d| d.at > epoch));
    }
}
