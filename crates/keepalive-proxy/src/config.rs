//! The back tier's knobs, as they appear under `[back]` in a scenario. Defaults are Apache httpd 2.4's.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the back tier closes a connection whose keep-alive timeout expired (see design.md for the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CloseMode {
    /// Apache's `ap_lingering_close`: shutdown(SHUT_WR) sends a FIN, then read and discard for a while.
    /// The peer sees EOF.
    #[default]
    Lingering,
    /// Plain close(): a FIN, or an RST if unread request bytes sit in the receive buffer.
    Immediate,
    /// SO_LINGER 0 then close(): always an RST.
    Reset,
}

/// Apache httpd's keep-alive directives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackConfig {
    /// `KeepAlive`. Apache's default: On.
    pub keepalive: bool,
    /// `KeepAliveTimeout`: how long an idle connection waits for its next request. Apache's default: 5 s.
    #[serde(with = "humantime_serde")]
    pub keepalive_timeout: Duration,
    /// `MaxKeepAliveRequests`: the N-th response on a connection carries `Connection: close`. 0 = unlimited.
    /// Apache's default: 100.
    pub max_keepalive_requests: u64,
    /// How an idle connection is closed when its keep-alive timeout expires. Default: lingering, as Apache.
    pub close: CloseMode,
    /// Idle connections are closed by a sweep that runs every `timer_granularity` (0 = an exact timer per
    /// connection). Apache 2.4's event MPM closes within about 0.5 ms of the timeout: default 0.
    #[serde(with = "humantime_serde")]
    pub timer_granularity: Duration,
    /// How long a lingering close keeps reading and discarding after its FIN. Apache: 2 s.
    #[serde(with = "humantime_serde")]
    pub lingering_timeout: Duration,
    /// `Timeout`: how long a new connection may take to send its first request. Apache's default: 60 s.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

impl Default for BackConfig {
    fn default() -> Self {
        Self {
            keepalive: true,
            keepalive_timeout: Duration::from_secs(5),
            max_keepalive_requests: 100,
            close: CloseMode::Lingering,
            timer_granularity: Duration::ZERO,
            lingering_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(60),
        }
    }
}
