//! The verdict on one front → back pair: exposed to the keep-alive race or not, why in one sentence, and the
//! directive lines that would change it.
//!
//! The rule: a pair is exposed when the front reuses idle upstream connections, the back keeps them alive,
//! the front may keep one idle at least as long as the back's keep-alive timeout minus a margin of 2 × the
//! round trip between them (`--rtt`, default 1 ms: the back's idle clock starts up to one crossing before the
//! front's, and the request needs one more crossing to arrive), and the front does not retry a request of
//! the audited method that fails on a reused connection. Owns the rule and the suggested values; it reads
//! what the parsers and presets filled in and formats nothing but the change lines.

use std::fmt;
use std::time::Duration;

use gateway::RetryPolicy;

use super::model::{Back, BackKind, Front, FrontKind, Where};
use crate::preset::{BackPreset, FrontPreset, IdleLimit};

/// The knobs of the rule.
#[derive(Debug, Clone)]
pub struct Options {
    /// Round trip between front and back; the margin is twice it.
    pub rtt: Duration,
    /// The method the verdict is for (upper case).
    pub method: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rtt: Duration::from_millis(1),
            method: "GET".to_owned(),
        }
    }
}

impl Options {
    /// The margin below the back's timeout: 2 × the round trip.
    pub fn margin(&self) -> Duration {
        self.rtt * 2
    }

    fn method_is_idempotent(&self) -> bool {
        matches!(
            self.method.as_str(),
            "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
        )
    }
}

/// Which side a change is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The front.
    Front,
    /// The back.
    Back,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Front => "front",
            Side::Back => "back",
        })
    }
}

/// One line to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Front or back.
    pub side: Side,
    /// The exact directive (or setting) to write.
    pub directive: String,
    /// Where: the line it replaces, or the block it goes into.
    pub at: Where,
    /// True when `at` is the line to replace; false when the directive is added in the block at `at`.
    pub replaces: bool,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.replaces {
            "replace the line at"
        } else {
            "add in the block at"
        };
        match &self.at {
            Where::Line { .. } => {
                write!(f, "{}: {}   ({how} {})", self.side, self.directive, self.at)
            }
            other => write!(f, "{}: {}   ({other})", self.side, self.directive),
        }
    }
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether a request can meet the back's close and fail.
    pub exposed: bool,
    /// Why, in one sentence.
    pub why: String,
    /// What to change (empty when not exposed).
    pub changes: Vec<Change>,
}

/// Judges a pair; an error names a value the verdict needs and nobody gave.
pub fn judge(front: &Front, back: &Back, options: &Options) -> Result<Verdict, String> {
    let safe = |why: String| Verdict {
        exposed: false,
        why,
        changes: Vec::new(),
    };
    if let Err(why) = &front.reuse.value {
        return Ok(safe(format!("{why} ({})", front.reuse.at)));
    }
    if !back.keepalive.value {
        return Ok(safe(format!(
            "KeepAlive Off ({}): the back closes after each response, nothing is reused",
            back.keepalive.at
        )));
    }
    let front_idle = match front.idle_timeout.value {
        IdleLimit::Undocumented => {
            return Err(format!(
                "{}: the front's upstream idle timeout is not documented; give it with --set front.idle_timeout=DURATION",
                front.label
            ));
        }
        other => other,
    };
    let margin = options.margin();
    let outlives = match (front_idle, back.keepalive_timeout.value) {
        (_, IdleLimit::Unbounded | IdleLimit::Undocumented) => false,
        (IdleLimit::After(idle), IdleLimit::After(timeout)) => idle + margin >= timeout,
        (IdleLimit::Unbounded | IdleLimit::Undocumented, IdleLimit::After(_)) => true,
    };
    if !outlives {
        return Ok(safe(format!(
            "the front drops an idle connection after {} ({}), before the back's {} ({}) minus 2 × RTT ({})",
            front_idle,
            front.idle_timeout.at,
            back.keepalive_timeout.value,
            back.keepalive_timeout.at,
            humantime::format_duration(margin)
        )));
    }
    let method = &options.method;
    let retried = match front.retry.value {
        RetryPolicy::Always => true,
        RetryPolicy::Idempotent => options.method_is_idempotent(),
        RetryPolicy::None => false,
    };
    if retried {
        let post = if front.retry.value == RetryPolicy::Idempotent {
            " (a POST would not be: audit with --method POST)"
        } else {
            ""
        };
        return Ok(safe(format!(
            "idle connections outlive the back's {} ({}), but the front retries a {method} that fails on a reused connection ({}){post}",
            back.keepalive_timeout.value, back.keepalive_timeout.at, front.retry.at
        )));
    }
    let failure = front
        .failure_note
        .as_deref()
        .map(|note| format!("; {note}"))
        .unwrap_or_else(|| "; the front answers 502".to_owned());
    let why = format!(
        "the front may reuse a connection idle {} ({}) that the back closes after {} ({}), and a {method} that meets the close is not retried ({}){failure}",
        match front_idle {
            IdleLimit::After(idle) => format!("for up to {}", IdleLimit::After(idle)),
            _ => "without limit".to_owned(),
        },
        front.idle_timeout.at,
        back.keepalive_timeout.value,
        back.keepalive_timeout.at,
        front.retry.at
    );
    let mut changes = front_changes(front, back.keepalive_timeout.value, options);
    changes.extend(back_changes(back, front_idle, options));
    Ok(Verdict {
        exposed: true,
        why,
        changes,
    })
}

/// A front idle timeout safely below the back's `timeout` minus `margin`: whole seconds when the timeout is
/// 2 s or more (5 s → 4 s), else 70 % of what the margin leaves.
pub fn suggested_front_idle(timeout: Duration, margin: Duration) -> Duration {
    let room = timeout.saturating_sub(margin);
    if timeout >= Duration::from_secs(2) {
        let whole = Duration::from_secs(room.as_secs());
        if whole < room {
            whole
        } else {
            whole.saturating_sub(Duration::from_secs(1))
        }
    } else {
        room.mul_f64(0.7).max(Duration::from_millis(1))
    }
}

/// A back keep-alive timeout safely above the front's `idle`: the next whole second plus 5 s (60 s → 65 s),
/// or plus the margin's whole seconds and one when the margin is larger.
pub fn suggested_back_timeout(idle: Duration, margin: Duration) -> Duration {
    let ceil = idle.as_secs() + u64::from(idle.subsec_nanos() > 0);
    let pad = 5.max(margin.as_secs() + 2);
    Duration::from_secs(ceil + pad)
}

fn seconds(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis().max(1))
    }
}

fn front_changes(front: &Front, back_timeout: IdleLimit, options: &Options) -> Vec<Change> {
    let mut changes = Vec::new();
    let target = match back_timeout {
        IdleLimit::After(timeout) => Some(suggested_front_idle(timeout, options.margin())),
        _ => None,
    };
    let at_idle = |anchor: &Where| match &front.idle_timeout.at {
        line @ Where::Line { .. } => (line.clone(), true),
        _ => (anchor.clone(), false),
    };
    let change = |directive: String, (at, replaces): (Where, bool)| Change {
        side: Side::Front,
        directive,
        at,
        replaces,
    };
    match &front.kind {
        FrontKind::Nginx { upstream, location } => {
            if let Some(target) = target {
                changes.push(change(
                    format!("keepalive_timeout {};", seconds(target)),
                    at_idle(upstream),
                ));
            }
            let retry_at = match &front.retry.at {
                line @ Where::Line { .. } => (line.clone(), true),
                _ => (location.clone(), false),
            };
            changes.push(change(
                "proxy_next_upstream error timeout;".to_owned(),
                retry_at,
            ));
        }
        FrontKind::Haproxy { section } => {
            changes.push(change(
                "retry-on conn-failure empty-response".to_owned(),
                (section.clone(), false),
            ));
            changes.push(change("retries 1".to_owned(), (section.clone(), false)));
        }
        FrontKind::Caddy { directive } => {
            if let Some(target) = target {
                let line = match &front.idle_timeout.at {
                    Where::Line { .. } => format!("keepalive {}", seconds(target)),
                    _ => format!("transport http {{ keepalive {} }}", seconds(target)),
                };
                changes.push(change(line, at_idle(directive)));
            }
        }
        FrontKind::Preset(preset) => {
            if let Some(text) = target.and_then(|t| preset_front_setting(*preset, t)) {
                changes.push(change(
                    text,
                    (Where::Preset(preset.name().to_owned()), false),
                ));
            }
        }
    }
    changes
}

fn preset_front_setting(preset: FrontPreset, idle: Duration) -> Option<String> {
    let secs = idle.as_secs().max(1);
    Some(match preset {
        FrontPreset::Alb => format!("load balancer attribute idle_timeout.timeout_seconds={secs}"),
        FrontPreset::Envoy => format!("common_http_protocol_options: {{ idle_timeout: {secs}s }}"),
        FrontPreset::Traefik => {
            format!("serversTransport.forwardingTimeouts.idleConnTimeout: {secs}s")
        }
        FrontPreset::Nginx => format!(
            "keepalive_timeout {};  (in the upstream block)",
            seconds(idle)
        ),
        FrontPreset::Haproxy => "retry-on conn-failure empty-response  (in the backend)".to_owned(),
        FrontPreset::Caddy => format!("transport http {{ keepalive {} }}", seconds(idle)),
        FrontPreset::Varnish => format!("varnishd -p backend_idle_timeout={secs}"),
        // Fixed or not documented: only the back can change.
        FrontPreset::Appgw | FrontPreset::Gcp | FrontPreset::Cloudflare => return None,
    })
}

fn back_changes(back: &Back, front_idle: IdleLimit, options: &Options) -> Vec<Change> {
    let IdleLimit::After(idle) = front_idle else {
        return Vec::new();
    };
    let target = suggested_back_timeout(idle, options.margin());
    let secs = target.as_secs();
    let (at, replaces) = match (&back.keepalive_timeout.at, &back.kind) {
        (line @ Where::Line { .. }, _) => (line.clone(), true),
        (_, BackKind::Apache { context }) => (context.clone(), false),
        (_, BackKind::Preset(preset)) => (Where::Preset(preset.name().to_owned()), false),
    };
    let directive = match &back.kind {
        BackKind::Apache { .. } => format!("KeepAliveTimeout {secs}"),
        BackKind::Preset(preset) => preset_back_setting(*preset, secs),
    };
    vec![Change {
        side: Side::Back,
        directive,
        at,
        replaces,
    }]
}

fn preset_back_setting(preset: BackPreset, secs: u64) -> String {
    match preset {
        BackPreset::Apache => format!("KeepAliveTimeout {secs}"),
        BackPreset::Nginx => format!("keepalive_timeout {secs}s;"),
        BackPreset::Node20 | BackPreset::Node26 => {
            format!("server.keepAliveTimeout = {};", secs * 1000)
        }
        BackPreset::Gunicorn => format!("--keep-alive {secs}"),
        BackPreset::Uvicorn => format!("--timeout-keep-alive {secs}"),
        BackPreset::Tomcat => format!("<Connector ... keepAliveTimeout=\"{}\" />", secs * 1000),
        BackPreset::Jetty => format!("idleTimeout {}", secs * 1000),
        BackPreset::Iis => format!(
            "<limits connectionTimeout=\"00:{:02}:{:02}\" />",
            secs / 60,
            secs % 60
        ),
        BackPreset::Puma => format!("persistent_timeout {secs}"),
        BackPreset::Kestrel => format!("Limits.KeepAliveTimeout = TimeSpan.FromSeconds({secs})"),
        BackPreset::Go => format!("http.Server{{IdleTimeout: {secs} * time.Second}}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_sit_on_the_right_side_of_the_margin() {
        let margin = Duration::from_millis(2);
        assert_eq!(
            suggested_front_idle(Duration::from_secs(5), margin),
            Duration::from_secs(4)
        );
        assert_eq!(
            suggested_front_idle(Duration::from_secs(5), Duration::ZERO),
            Duration::from_secs(4)
        );
        assert!(
            suggested_front_idle(Duration::from_millis(50), margin) < Duration::from_millis(48)
        );
        assert_eq!(
            suggested_back_timeout(Duration::from_secs(60), margin),
            Duration::from_secs(65)
        );
    }
}
