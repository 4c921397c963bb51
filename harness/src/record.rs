//! One record per request: what the client saw, nothing aggregated; and [`CauseKey`], what a 502 is counted
//! under.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use gateway::Cause;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How a request failed on the client side, without any HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientError {
    /// The connection to the front could not be made.
    Connect,
    /// The front reset the connection.
    Reset,
    /// The front closed the connection without a (complete) response.
    Closed,
    /// No complete response within the load's timeout.
    Timeout,
}

impl ClientError {
    /// Every kind, in report order.
    pub const ALL: [ClientError; 4] = [
        ClientError::Connect,
        ClientError::Reset,
        ClientError::Closed,
        ClientError::Timeout,
    ];

    /// The name used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            ClientError::Connect => "connect",
            ClientError::Reset => "reset",
            ClientError::Closed => "closed",
            ClientError::Timeout => "timeout",
        }
    }
}

/// What happened to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A complete response with this status and, for a gateway 502, the cause header's value.
    Response {
        /// The status code.
        status: u16,
        /// `x-badgateway-cause`, when present.
        cause: Option<String>,
    },
    /// No response.
    Failed(ClientError),
}

/// One request as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Response or client-side failure.
    pub outcome: Outcome,
    /// From the intended send to the end of the response (or the failure).
    pub latency: Duration,
    /// Whether the client sent it on a connection that had already carried a request.
    pub reused_connection: bool,
    /// Under the idle-gap pattern, on a reused connection: how long the client actually waited between the
    /// end of the previous response on that connection and this request's send (what the pattern controls,
    /// and what the race window is drawn against). `None` for the other patterns and a connection's first
    /// request.
    pub idle_gap: Option<Duration>,
}

/// What a result counts a 502 under: one of our gateway's causes, or `unclassified` when the 502 carried no
/// `x-badgateway-cause` (a real front's) or one that names no cause. Ordered, printed and serialized by name,
/// so maps keyed by it read (and sort) exactly as the names do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CauseKey {
    /// A cause our gateway names.
    Gateway(Cause),
    /// No cause header, or an unknown one.
    Unclassified,
}

/// The name counted for a 502 without a (known) cause header.
pub const UNCLASSIFIED: &str = "unclassified";

impl CauseKey {
    /// The key of a 502 whose `x-badgateway-cause` header was `header`.
    pub fn from_header(header: Option<&str>) -> Self {
        header
            .and_then(|value| value.parse().ok())
            .map_or(CauseKey::Unclassified, CauseKey::Gateway)
    }

    /// The kebab-case name, as in the header and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            CauseKey::Gateway(cause) => cause.name(),
            CauseKey::Unclassified => UNCLASSIFIED,
        }
    }

    /// Whether this is the key of a 502 without a known cause.
    pub fn is_unclassified(self) -> bool {
        self == CauseKey::Unclassified
    }

    /// The name, borrowed.
    pub fn as_str(&self) -> &'static str {
        self.name()
    }

    /// Whether it is a cause of the keep-alive reuse race (`reused-closed`, `reused-reset`).
    pub fn is_keepalive_race(self) -> bool {
        matches!(self, CauseKey::Gateway(cause) if cause.is_keepalive_race())
    }
}

impl From<Cause> for CauseKey {
    fn from(cause: Cause) -> Self {
        CauseKey::Gateway(cause)
    }
}

impl PartialOrd for CauseKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CauseKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.name().cmp(other.name())
    }
}

/// Lets a map keyed by cause be read with a name: `causes.get("reused-closed")`. Consistent with `Ord`, which
/// compares names.
impl Borrow<str> for CauseKey {
    fn borrow(&self) -> &str {
        self.name()
    }
}

impl fmt::Display for CauseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is neither a 502 cause nor `unclassified`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown 502 cause {0:?}: expected `unclassified` or one of the gateway's causes ({causes})", causes = cause_names())]
pub struct UnknownCauseKey(pub String);

fn cause_names() -> String {
    Cause::ALL.map(Cause::name).join(", ")
}

impl FromStr for CauseKey {
    type Err = UnknownCauseKey;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if name == UNCLASSIFIED {
            return Ok(CauseKey::Unclassified);
        }
        name.parse()
            .map(CauseKey::Gateway)
            .map_err(|_| UnknownCauseKey(name.to_owned()))
    }
}

impl Serialize for CauseKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for CauseKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_keys_read_from_headers_and_names_and_sort_by_name() {
        assert_eq!(
            CauseKey::from_header(Some("reused-closed")),
            CauseKey::Gateway(Cause::ReusedClosed)
        );
        assert_eq!(CauseKey::from_header(None), CauseKey::Unclassified);
        assert_eq!(
            CauseKey::from_header(Some("teapot")),
            CauseKey::Unclassified
        );
        assert!(CauseKey::Gateway(Cause::ReusedReset).is_keepalive_race());
        assert!(!CauseKey::Unclassified.is_keepalive_race());
        let mut keys = vec![
            CauseKey::Unclassified,
            CauseKey::Gateway(Cause::ReusedClosed),
            CauseKey::Gateway(Cause::ConnectTimeout),
        ];
        keys.sort();
        assert_eq!(
            keys.iter().map(|k| k.name()).collect::<Vec<_>>(),
            ["connect-timeout", "reused-closed", "unclassified"]
        );
        let json = serde_json::to_string(&keys).unwrap();
        assert_eq!(
            json,
            r#"["connect-timeout","reused-closed","unclassified"]"#
        );
        let error = serde_json::from_str::<CauseKey>("\"teapot\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("teapot"), "{error}");
    }
}
