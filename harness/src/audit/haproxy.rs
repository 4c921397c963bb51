//! haproxy.cfg as a front: every `backend` and `listen` section, with what it inherits from the `defaults`
//! section before it: `mode`, `http-reuse`, `retries`, `retry-on`, `option http-server-close`/`httpclose`,
//! and the `pool-purge-delay`/`max-reuse` of its `server`/`default-server` lines.
//!
//! Owns HAProxy's syntax and 2.6 defaults (mode tcp, http-reuse safe, retries 3, retry-on conn-failure,
//! pool-purge-delay 5s). HAProxy has no idle timeout for server-side connections: every `pool-purge-delay` it
//! closes half of the idle ones, so one may stay idle for any length of time; `timeout http-keep-alive` bounds
//! idle *client* connections and is reported as such.

use std::path::Path;
use std::time::Duration;

use gateway::RetryPolicy;

use super::model::{Front, FrontKind, Parsed, Setting, Where};
use crate::preset::{IdleLimit, RequestLimit};

/// What a section sets (or inherits).
#[derive(Debug, Clone)]
struct Section {
    mode_http: Setting<bool>,
    server_close: Option<Where>,
    retries: Setting<u64>,
    retry_on: Setting<Vec<String>>,
    purge_delay: Setting<Duration>,
    max_reuse: Setting<RequestLimit>,
}

impl Default for Section {
    fn default() -> Self {
        Section {
            mode_http: Setting::default_of(false, "HAProxy mode tcp"),
            server_close: None,
            retries: Setting::default_of(3, "HAProxy retries 3"),
            retry_on: Setting::default_of(
                vec!["conn-failure".to_owned()],
                "HAProxy retry-on conn-failure",
            ),
            purge_delay: Setting::default_of(Duration::from_secs(5), "HAProxy pool-purge-delay 5s"),
            max_reuse: Setting::default_of(RequestLimit::Unlimited, "HAProxy max-reuse -1"),
        }
    }
}

const RETRY_ON: [&str; 7] = [
    "none",
    "conn-failure",
    "empty-response",
    "junk-response",
    "response-timeout",
    "0rtt-rejected",
    "all-retryable-errors",
];

/// HAProxy's time syntax: a number in milliseconds, or with `us`, `ms`, `s`, `m`, `h`, `d`.
pub fn parse_time(text: &str) -> Option<Duration> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text.get(..digits)?.parse().ok()?;
    let micros: u64 = match &text[digits..] {
        "us" => 1,
        "" | "ms" => 1000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return None,
    };
    Some(Duration::from_micros(number.checked_mul(micros)?))
}

/// Reads `path` and returns its fronts and diagnostics.
pub fn read(path: &Path) -> Result<Parsed, std::io::Error> {
    let text = std::fs::read_to_string(path)?;
    let mut parsed = Parsed::default();
    let mut defaults = Section::default();
    // The section being read: its kind, name, first line and settings.
    let mut current: Option<(String, String, Where, Section)> = None;
    for (index, raw) in text.lines().enumerate() {
        let at = Where::line(path, index + 1);
        let line = raw.split('#').next().unwrap_or_default().trim();
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(&keyword) = words.first() else {
            continue;
        };
        match keyword {
            "global" | "defaults" | "frontend" | "backend" | "listen" | "resolvers" | "peers"
            | "userlist" | "cache" | "program" | "http-errors" | "ring" | "mailers" => {
                finish(current.take(), &mut defaults, &mut parsed);
                let name = words.get(1).copied().unwrap_or_default().to_owned();
                let settings = if keyword == "defaults" {
                    Section::default()
                } else {
                    defaults.clone()
                };
                current = Some((keyword.to_owned(), name, at, settings));
                continue;
            }
            _ => {}
        }
        let Some((kind, _, _, section)) = current.as_mut() else {
            parsed.warn(at, format!("{keyword} outside any section"));
            continue;
        };
        if !matches!(kind.as_str(), "defaults" | "backend" | "listen") {
            continue;
        }
        read_line(&words, &at, section, &mut parsed);
    }
    finish(current.take(), &mut defaults, &mut parsed);
    Ok(parsed)
}

fn read_line(words: &[&str], at: &Where, section: &mut Section, parsed: &mut Parsed) {
    let value = words.get(1).copied().unwrap_or_default();
    match (words[0], value) {
        ("mode", "http") => section.mode_http = Setting::new(true, at.clone()),
        ("mode", "tcp") => section.mode_http = Setting::new(false, at.clone()),
        ("mode", other) => {
            parsed.error(at.clone(), format!("mode {other:?}: expected http or tcp"))
        }
        ("option", "http-server-close" | "httpclose") => section.server_close = Some(at.clone()),
        ("option", "http-keep-alive") => section.server_close = None,
        ("no", "option") if matches!(words.get(2), Some(&("http-server-close" | "httpclose"))) => {
            section.server_close = None;
        }
        ("http-reuse", "never" | "safe" | "aggressive" | "always") => {}
        ("http-reuse", other) => {
            parsed.error(
                at.clone(),
                format!("http-reuse {other:?}: expected never, safe, aggressive or always"),
            );
        }
        ("retries", count) => match count.parse::<u64>() {
            Ok(count) if words.len() == 2 => section.retries = Setting::new(count, at.clone()),
            _ => parsed.error(at.clone(), format!("retries {count:?}: expected a number")),
        },
        ("retry-on", _) => {
            let keywords: Vec<String> = words[1..].iter().map(|w| (*w).to_owned()).collect();
            let bad = keywords.iter().find(|k| {
                !(RETRY_ON.contains(&k.as_str()) || (k.len() == 3 && k.parse::<u16>().is_ok()))
            });
            match bad {
                Some(bad) => parsed.error(
                    at.clone(),
                    format!(
                        "retry-on {bad:?}: not a retry-on keyword or status ({})",
                        RETRY_ON.join(", ")
                    ),
                ),
                None if keywords.is_empty() => parsed.error(at.clone(), "retry-on needs keywords"),
                None => section.retry_on = Setting::new(keywords, at.clone()),
            }
        }
        ("timeout", "http-keep-alive") => {
            let time = words.get(2).copied().unwrap_or_default();
            match parse_time(time) {
                Some(_) => parsed.warn(
                    at.clone(),
                    format!("timeout http-keep-alive {time} bounds idle client connections, not idle server connections"),
                ),
                None => parsed.error(at.clone(), format!("timeout http-keep-alive {time:?}: not a HAProxy time")),
            }
        }
        ("server" | "default-server", _) => server_line(words, at, section, parsed),
        _ => {}
    }
}

fn server_line(words: &[&str], at: &Where, section: &mut Section, parsed: &mut Parsed) {
    for pair in words.windows(2) {
        match pair {
            ["pool-purge-delay", value] => match parse_time(value) {
                Some(delay) => section.purge_delay = Setting::new(delay, at.clone()),
                None => parsed.error(
                    at.clone(),
                    format!("pool-purge-delay {value:?}: not a HAProxy time"),
                ),
            },
            ["max-reuse", value] => match value.parse::<i64>() {
                Ok(count) if count < 0 => {
                    section.max_reuse = Setting::new(RequestLimit::Unlimited, at.clone())
                }
                Ok(count) => {
                    section.max_reuse =
                        Setting::new(RequestLimit::At(count.unsigned_abs()), at.clone());
                }
                Err(_) => parsed.error(
                    at.clone(),
                    format!("max-reuse {value:?}: expected a number"),
                ),
            },
            _ => {}
        }
    }
}

fn finish(
    section: Option<(String, String, Where, Section)>,
    defaults: &mut Section,
    parsed: &mut Parsed,
) {
    let Some((kind, name, at, settings)) = section else {
        return;
    };
    match kind.as_str() {
        "defaults" => *defaults = settings,
        "backend" | "listen" => parsed.fronts.push(front_of(&kind, &name, at, settings)),
        _ => {}
    }
}

fn front_of(kind: &str, name: &str, at: Where, section: Section) -> Front {
    let reuse = if !section.mode_http.value {
        Setting::new(
            Err("mode tcp: one server connection per client connection, the client meets the close itself".to_owned()),
            section.mode_http.at.clone(),
        )
    } else if let Some(close) = section.server_close {
        Setting::new(Err("option http-server-close: HAProxy closes the server connection after each response".to_owned()), close)
    } else if section.purge_delay.value.is_zero() {
        Setting::new(
            Err("pool-purge-delay 0: no idle server connection is kept".to_owned()),
            section.purge_delay.at.clone(),
        )
    } else {
        Setting::new(Ok(()), section.mode_http.at.clone())
    };
    let retries_sent = section
        .retry_on
        .value
        .iter()
        .any(|k| k == "empty-response" || k == "all-retryable-errors");
    let retry = if section.retries.value > 0 && retries_sent {
        Setting::new(RetryPolicy::Always, section.retry_on.at.clone())
    } else if section.retries.value == 0 {
        Setting::new(RetryPolicy::None, section.retries.at.clone())
    } else {
        Setting::new(RetryPolicy::None, section.retry_on.at.clone())
    };
    Front {
        label: format!("HAProxy {kind} {name}"),
        kind: FrontKind::Haproxy { section: at },
        reuse,
        idle_timeout: Setting::new(IdleLimit::Unbounded, section.purge_delay.at),
        retry,
        max_requests: section.max_reuse,
        failure_note: Some(
            "HAProxy closes the client connection without a response (a browser may retry; a proxy or API client fails)"
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxy_times_default_to_milliseconds() {
        assert_eq!(parse_time("500"), Some(Duration::from_millis(500)));
        assert_eq!(parse_time("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_time("5x"), None);
    }
}
