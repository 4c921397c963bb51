//! Caddyfile as a front: every `reverse_proxy` (in any site block, `handle` or `route`), with its
//! `transport http { keepalive ...; keepalive_idle_conns ...; }` and `lb_retries`/`lb_try_duration`.
//!
//! Owns the Caddyfile's syntax (one directive per line, `{ }` blocks, quotes and backticks, `#` comments) and
//! Caddy 2.6's defaults: `keepalive 2m`, and Go's transport, which retries a GET/HEAD/OPTIONS/TRACE whose
//! reused connection died before the first response byte. `import` is not followed (reported); snippets are
//! skipped.

use std::path::Path;
use std::time::Duration;

use gateway::RetryPolicy;

use super::model::{Front, FrontKind, Parsed, Setting, Where};
use crate::preset::{IdleLimit, RequestLimit};

#[derive(Debug, Clone)]
struct Directive {
    name: String,
    args: Vec<String>,
    at: Where,
    block: Vec<Directive>,
}

const TRANSPORT_HTTP: [&str; 24] = [
    "read_buffer",
    "write_buffer",
    "max_response_header",
    "dial_timeout",
    "dial_fallback_delay",
    "response_header_timeout",
    "expect_continue_timeout",
    "resolvers",
    "tls",
    "tls_client_auth",
    "tls_insecure_skip_verify",
    "tls_timeout",
    "tls_trusted_ca_certs",
    "tls_server_name",
    "tls_renegotiation",
    "tls_except_ports",
    "keepalive",
    "keepalive_interval",
    "keepalive_idle_conns",
    "keepalive_idle_conns_per_host",
    "versions",
    "compression",
    "max_conns_per_host",
    "proxy_protocol",
];

/// Go's duration syntax (as Caddy reads it, plus `d` for days): `2m`, `1m30s`, `1.5s`, `500ms`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text;
    let mut total = 0.0_f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest.get(..number_len)?.parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Reads `path` and returns its fronts and diagnostics.
pub fn read(path: &Path) -> Result<Parsed, std::io::Error> {
    let text = std::fs::read_to_string(path)?;
    let mut parsed = Parsed::default();
    let lines = tokenize(&text);
    let mut position = 0;
    let (tree, _) = parse_block(&lines, &mut position, path, &mut parsed, false);
    walk(&tree, &mut parsed);
    Ok(parsed)
}

/// The words of each non-empty line, with the line number.
fn tokenize(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let mut words = Vec::new();
        let mut chars = raw.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
                continue;
            }
            if c == '#' {
                break;
            }
            let mut word = String::new();
            if c == '"' || c == '`' {
                chars.next();
                while let Some(next) = chars.next() {
                    if next == c {
                        break;
                    }
                    if next == '\\' && c == '"' {
                        if let Some(escaped) = chars.next() {
                            word.push(escaped);
                        }
                        continue;
                    }
                    word.push(next);
                }
            } else {
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
            }
            words.push(word);
        }
        if !words.is_empty() {
            lines.push((index + 1, words));
        }
    }
    lines
}

/// The directives up to the `}` that closes this block (`nested`) or the end of the file; whether a `}`
/// closed it.
fn parse_block(
    lines: &[(usize, Vec<String>)],
    position: &mut usize,
    file: &Path,
    parsed: &mut Parsed,
    nested: bool,
) -> (Vec<Directive>, bool) {
    let mut directives = Vec::new();
    while let Some((line, words)) = lines.get(*position) {
        let at = Where::line(file, *line);
        *position += 1;
        if words.len() == 1 && words[0] == "}" {
            if nested {
                return (directives, true);
            }
            parsed.error(at, "\"}\" without an open block");
            continue;
        }
        let mut words = words.clone();
        let opens = words.last().is_some_and(|w| w == "{");
        if opens {
            words.pop();
        }
        let block = if opens {
            let (inner, closed) = parse_block(lines, position, file, parsed, true);
            if !closed {
                parsed.error(at.clone(), "block is not closed");
            }
            inner
        } else {
            Vec::new()
        };
        let (name, args) = match words.split_first() {
            Some((name, args)) => (name.clone(), args.to_vec()),
            None => (String::new(), Vec::new()),
        };
        directives.push(Directive {
            name,
            args,
            at,
            block,
        });
    }
    (directives, false)
}

fn walk(directives: &[Directive], parsed: &mut Parsed) {
    for directive in directives {
        if directive.name.starts_with('(') {
            continue;
        }
        match directive.name.as_str() {
            "reverse_proxy" => reverse_proxy(directive, parsed),
            "import" => parsed.warn(
                directive.at.clone(),
                format!(
                    "import {}: not followed; audit the imported file on its own",
                    directive.args.join(" ")
                ),
            ),
            _ => walk(&directive.block, parsed),
        }
    }
}

fn reverse_proxy(directive: &Directive, parsed: &mut Parsed) {
    let mut idle = Setting::default_of(
        IdleLimit::After(Duration::from_secs(120)),
        "Caddy keepalive 2m",
    );
    let mut reuse = Setting::new(Ok(()), directive.at.clone());
    let retry = Setting::default_of(
        RetryPolicy::Idempotent,
        "Go transport retries replayable requests",
    );
    let mut upstreams: Vec<String> = directive.args.clone();
    for inner in &directive.block {
        let value = inner.args.first().map(String::as_str).unwrap_or_default();
        match inner.name.as_str() {
            "to" => upstreams.extend(inner.args.iter().cloned()),
            "transport" if value == "http" => {
                for option in &inner.block {
                    let value = option.args.first().map(String::as_str).unwrap_or_default();
                    match option.name.as_str() {
                        "keepalive" if value == "off" => {
                            reuse = Setting::new(Err("keepalive off: Caddy opens a connection per request".to_owned()), option.at.clone());
                        }
                        "keepalive" => match parse_duration(value) {
                            Some(duration) if option.args.len() == 1 => {
                                idle = Setting::new(IdleLimit::After(duration), option.at.clone());
                            }
                            _ => parsed.error(option.at.clone(), format!("keepalive {value:?}: expected off or a duration")),
                        },
                        "keepalive_idle_conns" | "keepalive_idle_conns_per_host" => match value.parse::<u64>() {
                            Ok(_) => {}
                            Err(_) => parsed.error(option.at.clone(), format!("{} {value:?}: expected a number", option.name)),
                        },
                        known if TRANSPORT_HTTP.contains(&known) => {}
                        unknown => parsed.warn(option.at.clone(), format!("transport http option {unknown:?} is not known to the audit")),
                    }
                }
            }
            "transport" => {
                parsed.warn(inner.at.clone(), format!("transport {value}: not HTTP, not audited"));
                return;
            }
            "lb_retries" if value.parse::<u64>().is_err() => {
                parsed.error(inner.at.clone(), format!("lb_retries {value:?}: expected a number"));
            }
            "lb_try_duration" if parse_duration(value).is_none() => {
                parsed.error(inner.at.clone(), format!("lb_try_duration {value:?}: expected a duration"));
            }
            "lb_retry_match" => parsed.warn(
                inner.at.clone(),
                "lb_retry_match: not modelled; the audit counts only Go's own retry of GET/HEAD/OPTIONS/TRACE",
            ),
            _ => {}
        }
    }
    parsed.fronts.push(Front {
        label: format!("Caddy reverse_proxy {}", upstreams.join(" ")),
        kind: FrontKind::Caddy {
            directive: directive.at.clone(),
        },
        reuse,
        idle_timeout: idle,
        retry,
        max_requests: Setting::default_of(RequestLimit::Unlimited, "Go transport: no limit"),
        failure_note: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("5"), None);
    }
}
