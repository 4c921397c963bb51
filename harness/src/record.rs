//! One record per request: what the client saw, nothing aggregated.

use std::time::Duration;

use serde::{Deserialize, Serialize};

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
}
