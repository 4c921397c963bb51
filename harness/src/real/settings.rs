//! Durations as the real servers' config files write them: whole milliseconds or seconds, rounded up so a
//! non-zero scenario value never becomes 0 (which means "off" or "forever" to some directives).

use std::time::Duration;

/// Whole milliseconds, rounded up, at least 1.
pub fn ceil_millis(duration: Duration) -> u128 {
    duration.as_nanos().div_ceil(1_000_000).max(1)
}

/// Whole seconds, rounded up, at least 1.
pub fn ceil_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0).max(u64::from(duration.is_zero()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_and_never_reach_zero() {
        assert_eq!(ceil_millis(Duration::from_micros(50_100)), 51);
        assert_eq!(ceil_millis(Duration::ZERO), 1);
        assert_eq!(ceil_millis(Duration::from_millis(50)), 50);
        assert_eq!(ceil_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(ceil_seconds(Duration::from_secs(60)), 60);
        assert_eq!(ceil_seconds(Duration::ZERO), 1);
    }
}
