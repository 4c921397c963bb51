//! `--time-scale F`: a production pair's timeouts replayed in a fraction of their time. Every configured
//! timeout, gap and interval of a scenario is multiplied by `F`; link latency, the origin's latency and the
//! machine's own processing stay as they are, and so do the two limits that bound that processing
//! (`front.connect_timeout`, `load.timeout`).
//!
//! What scaling keeps: which side closes first and the order of every pair of timeouts (front idle against
//! back KeepAliveTimeout, probe interval against timeout), since each is multiplied by the same factor. What it
//! does not keep: the race window's width *relative* to the timeouts. The window is about two link crossings
//! wide whatever the timeouts are, so at `F = 0.01` a 2 ms link is a hundred times larger a share of a 50 ms
//! KeepAliveTimeout than of the real 5 s: a scaled run finds the same exposure, at a higher rate per request.
//!
//! Owns the factor and the multiplication; which keys exist is the scenario's and the tiers' config's.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;

/// The smallest factor taken: below it a 1 s timeout would be under a microsecond.
pub const MIN_TIME_SCALE: f64 = 1e-6;
/// The largest factor taken.
pub const MAX_TIME_SCALE: f64 = 1000.0;

/// A factor every configured timeout, gap and interval is multiplied by. 1 leaves a scenario as it is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct TimeScale(f64);

impl TimeScale {
    /// No scaling.
    pub const ONE: TimeScale = TimeScale(1.0);

    /// The factor, checked: finite and within [`MIN_TIME_SCALE`]..=[`MAX_TIME_SCALE`].
    pub fn new(factor: f64) -> Result<Self, String> {
        if factor.is_finite() && (MIN_TIME_SCALE..=MAX_TIME_SCALE).contains(&factor) {
            Ok(Self(factor))
        } else {
            Err(format!(
                "time scale {factor}: must be a number from {MIN_TIME_SCALE} to {MAX_TIME_SCALE} (e.g. 0.01 \
                 replays 60 s as 600 ms)"
            ))
        }
    }

    /// The factor.
    pub fn factor(self) -> f64 {
        self.0
    }

    /// True for 1.
    pub fn is_one(self) -> bool {
        self.0 == 1.0
    }

    /// `duration × factor`, to the microsecond.
    pub fn apply(self, duration: Duration) -> Duration {
        Duration::from_micros((duration.as_micros() as f64 * self.0).round() as u64)
    }
}

impl TryFrom<f64> for TimeScale {
    type Error = String;

    fn try_from(factor: f64) -> Result<Self, Self::Error> {
        Self::new(factor)
    }
}

impl From<TimeScale> for f64 {
    fn from(scale: TimeScale) -> Self {
        scale.0
    }
}

impl FromStr for TimeScale {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let factor: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("time scale {text:?}: not a number (e.g. 0.01)"))?;
        Self::new(factor)
    }
}

impl fmt::Display for TimeScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `scenario` with every timeout, gap and interval multiplied by `scale` (see the module doc for which).
pub fn time_scaled(scenario: &Scenario, scale: TimeScale) -> Scenario {
    let mut scaled = scenario.clone();
    if scale.is_one() {
        return scaled;
    }
    let s = |d: &mut Duration| *d = scale.apply(*d);
    let front = &mut scaled.front;
    s(&mut front.idle_timeout);
    s(&mut front.request_timeout);
    s(&mut front.client_idle_timeout);
    s(&mut front.probe.interval);
    s(&mut front.probe.timeout);
    let back = &mut scaled.back;
    s(&mut back.keepalive_timeout);
    s(&mut back.timer_granularity);
    s(&mut back.lingering_timeout);
    s(&mut back.request_timeout);
    s(&mut back.header_read_timeout);
    let load = &mut scaled.load;
    if let Some(duration) = load.duration.as_mut() {
        s(duration);
    }
    if let Some(gap) = load.gap.as_mut() {
        s(gap);
    }
    s(&mut load.gap_spread);
    // The same requests in the scaled time: a rate's interval shrinks with everything else.
    if let Some(rate) = load.rate.as_mut() {
        *rate /= scale.factor();
    }
    scaled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_production_pair_keeps_its_order_at_one_hundredth() {
        let scenario = Scenario::from_toml(
            "name = \"prod\"\n[front]\nidle_timeout = \"60s\"\n[back]\nkeepalive_timeout = \"5s\"\n\
             [link.front_back]\nlatency = \"2ms\"\n[load]\npattern = \"idle-gap\"\ngap = \"4s\"\n\
             gap_spread = \"1s\"\nduration = \"60s\"\n",
            "test",
        )
        .expect("a valid scenario");
        let scale: TimeScale = "0.01".parse().expect("a valid factor");
        let scaled = time_scaled(&scenario, scale);
        assert_eq!(scaled.front.idle_timeout, Duration::from_millis(600));
        assert_eq!(scaled.back.keepalive_timeout, Duration::from_millis(50));
        assert_eq!(scaled.load.gap, Some(Duration::from_millis(40)));
        assert_eq!(scaled.load.gap_spread, Duration::from_millis(10));
        assert_eq!(scaled.load.duration, Some(Duration::from_millis(600)));
        assert_eq!(scaled.front_back_latency(), Duration::from_millis(2));
        assert_eq!(scaled.front.connect_timeout, scenario.front.connect_timeout);
        assert_eq!(scaled.load.timeout, scenario.load.timeout);
        assert!(scaled.front.idle_timeout > scaled.back.keepalive_timeout);
    }

    #[test]
    fn factors_out_of_range_are_refused_with_the_value() {
        for bad in ["0", "-1", "nan", "inf", "2000", "abc"] {
            let error = bad.parse::<TimeScale>().expect_err(bad);
            assert!(error.starts_with("time scale"), "{bad}: {error}");
        }
        assert_eq!("1".parse::<TimeScale>().map(TimeScale::is_one), Ok(true));
    }
}
