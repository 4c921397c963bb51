//! The audit as text (one block per pair) and as JSON (the same fields).
//!
//! Owns presentation only: every figure comes from [`Audit`] as the parsers and the verdict left it.

use std::fmt::Write as _;

use gateway::RetryPolicy;
use serde_json::{Value, json};

use super::{Audit, Diagnostic, Pair, Setting, Severity};
use crate::preset::{IdleLimit, RequestLimit};

fn retry_name(retry: RetryPolicy) -> &'static str {
    match retry {
        RetryPolicy::None => "none",
        RetryPolicy::Idempotent => "idempotent methods",
        RetryPolicy::Always => "every method",
    }
}

fn reuse_text(reuse: &Setting<Result<(), String>>) -> String {
    match &reuse.value {
        Ok(()) => format!("yes ({})", reuse.at),
        Err(why) => format!("no: {why} ({})", reuse.at),
    }
}

/// The text report: diagnostics first, then one block per pair, then a summary line.
pub fn text(audit: &Audit) -> String {
    let mut out = String::new();
    for diagnostic in &audit.diagnostics {
        let _ = writeln!(out, "{diagnostic}");
    }
    if !audit.diagnostics.is_empty() {
        out.push('\n');
    }
    if let Some(preset) = audit.preset {
        if let Some(front) = preset.front {
            let defaults = front.defaults();
            let _ = writeln!(
                out,
                "preset front={front}: {}; {}",
                defaults.source, defaults.note
            );
        }
        if let Some(back) = preset.back {
            let defaults = back.defaults();
            let _ = writeln!(
                out,
                "preset back={back}: {}; {}",
                defaults.source, defaults.note
            );
        }
        out.push('\n');
    }
    for pair in &audit.pairs {
        pair_text(&mut out, pair, &audit.options.method);
    }
    let exposed = audit
        .pairs
        .iter()
        .filter(|p| matches!(&p.verdict, Ok(v) if v.exposed))
        .count();
    let _ = writeln!(
        out,
        "{exposed} of {} exposed (method {}, margin 2 × RTT = {})",
        match audit.pairs.len() {
            1 => "1 pair".to_owned(),
            n => format!("{n} pairs"),
        },
        audit.options.method,
        humantime::format_duration(audit.options.margin())
    );
    out
}

fn pair_text(out: &mut String, pair: &Pair, method: &str) {
    let (front, back) = (&pair.front, &pair.back);
    let _ = writeln!(out, "{} → {}", front.label, back.label);
    let rows = [
        (
            "front reuses idle upstream connections",
            reuse_text(&front.reuse),
        ),
        (
            "front upstream idle timeout",
            format!("{} ({})", front.idle_timeout.value, front.idle_timeout.at),
        ),
        (
            "back keep-alive",
            format!(
                "{} ({})",
                if back.keepalive.value { "on" } else { "off" },
                back.keepalive.at
            ),
        ),
        (
            "back keep-alive timeout",
            format!(
                "{} ({})",
                back.keepalive_timeout.value, back.keepalive_timeout.at
            ),
        ),
        (
            "front retry on a reused connection",
            format!("{} ({})", retry_name(front.retry.value), front.retry.at),
        ),
        (
            "front max requests per connection",
            format!("{} ({})", front.max_requests.value, front.max_requests.at),
        ),
        (
            "back max requests per connection",
            format!("{} ({})", back.max_requests.value, back.max_requests.at),
        ),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "  {name:38} {value}");
    }
    match &pair.verdict {
        Ok(verdict) => {
            let word = if verdict.exposed {
                "EXPOSED"
            } else {
                "not exposed"
            };
            let _ = writeln!(out, "  {:38} {word} ({method}): {}", "verdict", verdict.why);
            for change in &verdict.changes {
                let _ = writeln!(out, "  {:38} {change}", "change");
            }
        }
        Err(missing) => {
            let _ = writeln!(out, "  {:38} unknown: {missing}", "verdict");
        }
    }
    out.push('\n');
}

fn idle_json(limit: IdleLimit) -> Value {
    match limit {
        IdleLimit::After(duration) => json!(duration.as_secs_f64()),
        IdleLimit::Unbounded => json!("unbounded"),
        IdleLimit::Undocumented => json!("undocumented"),
    }
}

fn requests_json(limit: RequestLimit) -> Value {
    match limit {
        RequestLimit::At(count) => json!(count),
        RequestLimit::Unlimited => json!("unlimited"),
        RequestLimit::Undocumented => json!("undocumented"),
    }
}

fn diagnostic_json(diagnostic: &Diagnostic) -> Value {
    json!({
        "severity": match diagnostic.severity { Severity::Warning => "warning", Severity::Error => "error" },
        "at": diagnostic.at.to_string(),
        "message": diagnostic.message,
    })
}

/// The JSON report: `{"method", "margin_seconds", "exposed", "pairs": [...], "diagnostics": [...]}`;
/// durations in seconds, unbounded or undocumented values as those words.
pub fn json(audit: &Audit) -> Value {
    let pairs: Vec<Value> = audit
        .pairs
        .iter()
        .map(|pair| {
            let (front, back) = (&pair.front, &pair.back);
            let verdict = match &pair.verdict {
                Ok(verdict) => json!({
                    "exposed": verdict.exposed,
                    "why": verdict.why,
                    "changes": verdict.changes.iter().map(|c| json!({
                        "side": c.side.to_string(),
                        "directive": c.directive,
                        "at": c.at.to_string(),
                        "replaces": c.replaces,
                    })).collect::<Vec<_>>(),
                }),
                Err(missing) => json!({ "exposed": Value::Null, "error": missing }),
            };
            json!({
                "front": {
                    "label": front.label,
                    "reuse": front.reuse.value.as_ref().map(|()| Value::Bool(true)).unwrap_or_else(|why| json!(why)),
                    "reuse_at": front.reuse.at.to_string(),
                    "idle_timeout_seconds": idle_json(front.idle_timeout.value),
                    "idle_timeout_at": front.idle_timeout.at.to_string(),
                    "retry": match front.retry.value {
                        RetryPolicy::None => "none",
                        RetryPolicy::Idempotent => "idempotent",
                        RetryPolicy::Always => "always",
                    },
                    "retry_at": front.retry.at.to_string(),
                    "max_requests_per_conn": requests_json(front.max_requests.value),
                    "max_requests_at": front.max_requests.at.to_string(),
                },
                "back": {
                    "label": back.label,
                    "keepalive": back.keepalive.value,
                    "keepalive_at": back.keepalive.at.to_string(),
                    "keepalive_timeout_seconds": idle_json(back.keepalive_timeout.value),
                    "keepalive_timeout_at": back.keepalive_timeout.at.to_string(),
                    "max_keepalive_requests": requests_json(back.max_requests.value),
                    "max_requests_at": back.max_requests.at.to_string(),
                },
                "verdict": verdict,
            })
        })
        .collect();
    json!({
        "method": audit.options.method,
        "margin_seconds": audit.options.margin().as_secs_f64(),
        "exposed": audit.any_exposed(),
        "pairs": pairs,
        "diagnostics": audit.diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>(),
    })
}
