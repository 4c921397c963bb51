//! The front tier's knobs, as they appear under `[front]` in a scenario.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// When the gateway retries a request that failed on a reused upstream connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RetryPolicy {
    /// Never retry: every failure becomes a 502.
    #[default]
    None,
    /// Retry once, on a fresh connection, when a *reused* connection failed before any response byte and the
    /// method is idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE).
    Idempotent,
    /// The same for every method, POST included. Unsafe: a request the backend did process may run twice.
    Always,
}

/// The gateway's upstream and retry knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FrontConfig {
    /// An idle pooled upstream connection older than this is closed, never reused. Default 60 s (nginx's
    /// upstream `keepalive_timeout`).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Idle connections kept per backend member; more are closed on return. 0 disables reuse. Default 32.
    pub max_idle_per_backend: usize,
    /// A connection is not reused after this many requests. 0 = unlimited. Default 1000 (nginx's
    /// `keepalive_requests`).
    pub max_requests_per_conn: u64,
    /// See [`RetryPolicy`]. Default none.
    pub retry: RetryPolicy,
    /// Limit on TCP connect to a backend member. Default 5 s.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Limit from sending the request upstream to receiving the response head. Default 20 s (Application
    /// Gateway's default request timeout).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Set `x-badgateway-cause` on every 502 the gateway makes. Default true.
    pub cause_header: bool,
    /// How long a client connection may sit idle between requests. Default 120 s.
    #[serde(with = "humantime_serde")]
    pub client_idle_timeout: Duration,
}

impl Default for FrontConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(60),
            max_idle_per_backend: 32,
            max_requests_per_conn: 1000,
            retry: RetryPolicy::None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            cause_header: true,
            client_idle_timeout: Duration::from_secs(120),
        }
    }
}
