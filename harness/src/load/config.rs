//! `[load]`: the load pattern and its bounds.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How clients pace their requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// Each client sends its next request as soon as the previous one finished.
    Closed,
    /// Open loop at `rate` requests/s over all clients; latency is measured from each request's *intended*
    /// send time, so a stall is charged to every request it delayed (no coordinated omission, as in wrk2).
    Rate,
    /// Each client waits a gap drawn uniformly in `gap ± gap_spread` after each response, then reuses its
    /// connection: the shape that meets the back's keep-alive timeout.
    #[default]
    IdleGap,
}

/// The load of a run. At least one of `requests` and `duration` bounds it; both may.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadConfig {
    /// See [`Pattern`]. Default idle-gap.
    pub pattern: Pattern,
    /// Concurrent clients, each with its own keep-alive connection to the front. Default 1.
    pub clients: usize,
    /// Total requests over all clients. Default 200 when `duration` is not set.
    pub requests: Option<u64>,
    /// Wall-clock bound of the run.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    /// Requests per second over all clients, for the `rate` pattern.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Centre of the idle gap; default: the back's `keepalive_timeout`.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub gap: Option<Duration>,
    /// Half-width of the uniform idle gap draw. Default 10 ms.
    #[serde(with = "humantime_serde")]
    pub gap_spread: Duration,
    /// HTTP method of every request. Default GET.
    pub method: String,
    /// Request path. Default `/`.
    pub path: String,
    /// How long a client waits for a whole response before counting a timeout. Default 30 s.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Seed of every random draw of the load. Default 1.
    pub seed: u64,
    /// Threads the clients run on, each with a single-threaded runtime of its own (wrk's `-t`); clients are
    /// dealt to them round robin, and a client's connection stays on its thread. 0 = run the clients on the
    /// harness's own runtime. At most [`MAX_THREADS`]. Default 0.
    pub threads: usize,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            pattern: Pattern::IdleGap,
            clients: 1,
            requests: None,
            duration: None,
            rate: None,
            gap: None,
            gap_spread: Duration::from_millis(10),
            method: "GET".to_owned(),
            path: "/".to_owned(),
            timeout: Duration::from_secs(30),
            seed: 1,
            threads: 0,
        }
    }
}

/// The request count used when neither `requests` nor `duration` is given.
pub const DEFAULT_REQUESTS: u64 = 200;

/// The most client threads a load may ask for (`load.threads`, `badgateway load --threads`).
pub const MAX_THREADS: usize = 256;

impl LoadConfig {
    /// The request budget: `requests`, or [`DEFAULT_REQUESTS`] when the run has no other bound.
    pub fn request_budget(&self) -> Option<u64> {
        match (self.requests, self.duration) {
            (Some(requests), _) => Some(requests),
            (None, None) => Some(DEFAULT_REQUESTS),
            (None, Some(_)) => None,
        }
    }

    /// Cross-field checks; the message names the key and the value.
    pub fn validate(&self) -> Result<(), String> {
        if self.clients == 0 {
            return Err("load.clients = 0: at least one client is needed".to_owned());
        }
        if self.clients > 10_000 {
            return Err(format!(
                "load.clients = {} is above the limit of 10000",
                self.clients
            ));
        }
        if self.threads > MAX_THREADS {
            return Err(format!(
                "load.threads = {} is above the limit of {MAX_THREADS}",
                self.threads
            ));
        }
        if self.requests == Some(0) {
            return Err("load.requests = 0: nothing to send".to_owned());
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            return Err("load.duration = 0s: nothing to send".to_owned());
        }
        match (self.pattern, self.rate) {
            (Pattern::Rate, None) => {
                return Err("load.pattern = \"rate\" needs load.rate (requests/s; --rate N on the command line)".to_owned());
            }
            (_, Some(rate)) if !(rate.is_finite() && rate > 0.0 && rate <= 1_000_000.0) => {
                return Err(format!(
                    "load.rate = {rate} is not in (0, 1000000] requests/s"
                ));
            }
            _ => {}
        }
        if http::Method::from_bytes(self.method.as_bytes()).is_err() {
            return Err(format!(
                "load.method = {:?} is not an HTTP method",
                self.method
            ));
        }
        if !self.path.starts_with('/') {
            return Err(format!("load.path = {:?} must start with /", self.path));
        }
        if let Some(gap) = self.gap
            && self.gap_spread > gap
        {
            return Err(format!(
                "load.gap_spread = {:?} is larger than load.gap = {:?}",
                self.gap_spread, gap
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_above_the_limit_are_refused_with_the_value() {
        let load = LoadConfig {
            threads: MAX_THREADS + 1,
            ..LoadConfig::default()
        };
        let message = load.validate().unwrap_err();
        assert!(message.contains("load.threads = 257"), "{message}");
        let load = LoadConfig {
            threads: MAX_THREADS,
            ..LoadConfig::default()
        };
        assert_eq!(load.validate(), Ok(()));
    }
}
