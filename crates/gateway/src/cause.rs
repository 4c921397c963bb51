//! Why the gateway answered 502: one [`Cause`] per failure, named as in the README's "502 causes" table.
//!
//! Failures are data: the proxy path matches on this enum, the header, the log line and the JSON carry its
//! kebab-case [`Display`] name, and nothing ever matches on strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The classified cause of a 502 made by the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// The backend pool has no members.
    NoBackends,
    /// Every member failed its health probe.
    AllUnhealthy,
    /// The backend host name does not resolve.
    DnsFailure,
    /// Connect was answered with an RST.
    ConnectRefused,
    /// Connect did not finish within `connect_timeout`.
    ConnectTimeout,
    /// EOF before any response byte on a reused connection: the keep-alive race.
    ReusedClosed,
    /// RST before any response byte on a reused connection: the keep-alive race, or a backend reset.
    ReusedReset,
    /// EOF before any response byte on a new connection.
    FreshClosed,
    /// RST before any response byte on a new connection.
    FreshReset,
    /// No response head within `request_timeout`.
    ResponseTimeout,
    /// The upstream bytes are not HTTP.
    InvalidResponse,
}

impl Cause {
    /// Every cause, in the order of the README's "502 causes" table.
    pub const ALL: [Cause; 11] = [
        Cause::NoBackends,
        Cause::AllUnhealthy,
        Cause::DnsFailure,
        Cause::ConnectRefused,
        Cause::ConnectTimeout,
        Cause::ReusedClosed,
        Cause::ReusedReset,
        Cause::FreshClosed,
        Cause::FreshReset,
        Cause::ResponseTimeout,
        Cause::InvalidResponse,
    ];

    /// The kebab-case name used in the header, the logs and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Cause::NoBackends => "no-backends",
            Cause::AllUnhealthy => "all-unhealthy",
            Cause::DnsFailure => "dns-failure",
            Cause::ConnectRefused => "connect-refused",
            Cause::ConnectTimeout => "connect-timeout",
            Cause::ReusedClosed => "reused-closed",
            Cause::ReusedReset => "reused-reset",
            Cause::FreshClosed => "fresh-closed",
            Cause::FreshReset => "fresh-reset",
            Cause::ResponseTimeout => "response-timeout",
            Cause::InvalidResponse => "invalid-response",
        }
    }

    /// True for the failures a retry on a fresh connection can cure: a reused connection that the backend had
    /// already closed or reset before it saw the request.
    pub fn is_retryable(self) -> bool {
        matches!(self, Cause::ReusedClosed | Cause::ReusedReset)
    }

    /// True for the two causes of the keep-alive reuse race.
    pub fn is_keepalive_race(self) -> bool {
        matches!(self, Cause::ReusedClosed | Cause::ReusedReset)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that names no [`Cause`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown 502 cause {0:?} (expected one of: no-backends, all-unhealthy, dns-failure, connect-refused, connect-timeout, reused-closed, reused-reset, fresh-closed, fresh-reset, response-timeout, invalid-response)"
)]
pub struct UnknownCause(pub String);

impl FromStr for Cause {
    type Err = UnknownCause;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cause::ALL
            .into_iter()
            .find(|cause| cause.name() == s)
            .ok_or_else(|| UnknownCause(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_display_from_str_and_serde() {
        for cause in Cause::ALL {
            assert_eq!(cause.to_string().parse::<Cause>(), Ok(cause));
            let json = serde_json::to_string(&cause).unwrap();
            assert_eq!(json, format!("\"{cause}\""));
        }
    }

    #[test]
    fn unknown_name_is_named_in_the_error() {
        let error = "reused-closd".parse::<Cause>().unwrap_err();
        assert!(error.to_string().contains("reused-closd"));
    }

    #[test]
    fn only_the_race_is_retryable() {
        let retryable: Vec<_> = Cause::ALL
            .into_iter()
            .filter(|c| c.is_retryable())
            .collect();
        assert_eq!(retryable, [Cause::ReusedClosed, Cause::ReusedReset]);
    }
}
