//! `[expect]`: what a CI gate requires of a run's result, as plain data. Checking a result against it is
//! `Expect::violations`, in `crate::check`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::record::CauseKey;

/// Expectations on a result; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expect {
    /// At least this many 502s (a reproduction must reproduce).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_502: Option<u64>,
    /// At most this many 502s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_502: Option<u64>,
    /// At most this many 502s per 10,000 requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_502_per_10k: Option<f64>,
    /// Every 502 must carry one of these causes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<CauseKey>,
    /// p99 latency at most this.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub max_p99: Option<Duration>,
    /// What `badgateway probe` must find: `false` = the front never reuses a connection into the back's close.
    /// Judged on probe results only; a run has no verdict on exposure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed: Option<bool>,
}
