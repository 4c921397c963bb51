//! The scenario that confirms a pair's verdict: the pair's timeouts, retry and request limits with every
//! timeout multiplied by a scale (default 0.01: a 5 s KeepAliveTimeout becomes 50 ms), a link of half the
//! round trip between front and back, and one client idling around the back's (scaled) timeout. Its
//! `[expect]` is the prediction: at least one 502 when the pair is exposed, none otherwise.
//!
//! Owns the mapping from a pair to scenario text; the text is checked with `Scenario::from_toml` before it is
//! returned. A timeout without limit is written as [`UNBOUNDED_AS`] before scaling.

use std::time::Duration;

use gateway::RetryPolicy;

use super::{Options, Pair};
use crate::preset::{IdleLimit, RequestLimit, UNBOUNDED_AS, duration_value};
use crate::scenario::{Scenario, ScenarioError};

/// The scale `--scenario` uses unless told: seconds become tens of milliseconds.
pub const DEFAULT_SCALE: f64 = 0.01;

fn scaled(limit: IdleLimit, scale: f64) -> Duration {
    let duration = match limit {
        IdleLimit::After(duration) => duration,
        IdleLimit::Unbounded | IdleLimit::Undocumented => UNBOUNDED_AS,
    };
    duration.mul_f64(scale).max(Duration::from_millis(1))
}

fn limit(limit: RequestLimit) -> Option<u64> {
    match limit {
        RequestLimit::Unlimited => Some(0),
        RequestLimit::At(count) => Some(count),
        RequestLimit::Undocumented => None,
    }
}

/// The scenario text for `pair`, scaled by `scale`, validated. The caller has checked the pair has a verdict.
pub fn scenario_for(pair: &Pair, options: &Options, scale: f64) -> Result<String, ScenarioError> {
    let exposed = matches!(&pair.verdict, Ok(v) if v.exposed);
    let (front, back) = (&pair.front, &pair.back);
    let front_idle = scaled(front.idle_timeout.value, scale);
    let back_timeout = scaled(back.keepalive_timeout.value, scale);
    let gap = match back.keepalive_timeout.value {
        IdleLimit::After(_) => back_timeout,
        _ => front_idle,
    };
    let spread = (gap / 4).min(Duration::from_millis(12));
    let retry = match front.retry.value {
        RetryPolicy::None => "none",
        RetryPolicy::Idempotent => "idempotent",
        RetryPolicy::Always => "always",
    };
    let mut text = format!(
        "# Written by `badgateway audit --scenario`: {} -> {}, timeouts × {scale}.\n\
         # The audit predicts: {}.\n\
         name = \"audit\"\n\
         description = {:?}\n\n[front]\nidle_timeout = \"{}\"\nretry = \"{retry}\"\n",
        front.label,
        back.label,
        if exposed {
            "exposed (at least one 502)"
        } else {
            "not exposed (no 502)"
        },
        format!("{} -> {} (audit, × {scale})", front.label, back.label),
        duration_value(front_idle),
    );
    if front.reuse.value.is_err() {
        text.push_str("max_idle_per_backend = 0\n");
    }
    if let Some(count) = limit(front.max_requests.value) {
        text.push_str(&format!("max_requests_per_conn = {count}\n"));
    }
    text.push_str(&format!(
        "\n[back]\nkeepalive = {}\nkeepalive_timeout = \"{}\"\n",
        back.keepalive.value,
        duration_value(back_timeout)
    ));
    if let Some(count) = limit(back.max_requests.value) {
        text.push_str(&format!("max_keepalive_requests = {count}\n"));
    }
    text.push_str(&format!(
        "\n[link.front_back]\nlatency = \"{}\"\n\n[load]\npattern = \"idle-gap\"\nclients = 1\nrequests = 200\n\
         gap = \"{}\"\ngap_spread = \"{}\"\nmethod = \"{}\"\nseed = 1\n\n[expect]\n{}\n",
        duration_value((options.rtt / 2).max(Duration::from_micros(1))),
        duration_value(gap),
        duration_value(spread),
        options.method,
        if exposed { "min_502 = 1" } else { "max_502 = 0" },
    ));
    Scenario::from_toml(&text, "audit --scenario")?;
    Ok(text)
}
