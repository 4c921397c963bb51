//! nginx.conf as a front: every `location` whose `proxy_pass` names an `upstream` block becomes a front with
//! that upstream's `keepalive`, `keepalive_timeout` and `keepalive_requests`, and the location's (inherited)
//! `proxy_http_version`, `proxy_set_header Connection` and `proxy_next_upstream`.
//!
//! Owns nginx's syntax (blocks, quotes, comments, `include` globs relative to the main file's directory, as
//! nginx resolves them against its conf prefix) and its 1.22 defaults. It does not read nginx as a back, and
//! gives no verdict. Defaults are those of the installed nginx 1.22: no upstream keep-alive without
//! `keepalive N;`, `proxy_http_version 1.0`, `Connection: close` sent upstream, `proxy_next_upstream error
//! timeout`, `keepalive_timeout 60s`, `keepalive_requests 1000` (since 1.19.10).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use gateway::RetryPolicy;

use super::include::expand;
use super::model::{Front, FrontKind, Parsed, Setting, Where};
use crate::preset::{IdleLimit, RequestLimit};

const MAX_INCLUDE_DEPTH: usize = 16;
const VERSION: &str = "nginx 1.22";

/// One directive, with its block when it has one.
#[derive(Debug, Clone)]
struct Directive {
    name: String,
    args: Vec<String>,
    at: Where,
    block: Option<Vec<Directive>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Semicolon,
    Open,
    Close,
}

/// Reads `path` (and what it includes) and returns its fronts and diagnostics.
pub fn read(path: &Path) -> Result<Parsed, std::io::Error> {
    let text = std::fs::read_to_string(path)?;
    let base = path.parent().unwrap_or(Path::new(".")).to_owned();
    let mut parsed = Parsed::default();
    let tree = parse_file(&text, path, &base, 0, &mut parsed);
    analyse(&tree, &mut parsed);
    Ok(parsed)
}

fn tokenize(text: &str) -> Vec<(Token, usize)> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            ';' => tokens.push((Token::Semicolon, line)),
            '{' => tokens.push((Token::Open, line)),
            '}' => tokens.push((Token::Close, line)),
            '"' | '\'' => {
                let start = line;
                let mut word = String::new();
                while let Some(next) = chars.next() {
                    if next == c {
                        break;
                    }
                    if next == '\n' {
                        line += 1;
                    }
                    if next == '\\' {
                        if let Some(escaped) = chars.next() {
                            word.push(escaped);
                        }
                    } else {
                        word.push(next);
                    }
                }
                tokens.push((Token::Word(word), start));
            }
            _ => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || matches!(next, ';' | '{' | '}') {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                tokens.push((Token::Word(word), line));
            }
        }
    }
    tokens
}

fn parse_file(
    text: &str,
    file: &Path,
    base: &Path,
    depth: usize,
    parsed: &mut Parsed,
) -> Vec<Directive> {
    let tokens = tokenize(text);
    let mut position = 0;
    let tree = parse_block(&tokens, &mut position, file, base, depth, parsed);
    if let Some((_, line)) = tokens.get(position) {
        parsed.error(Where::line(file, *line), "unexpected \"}\"");
    }
    tree
}

fn parse_block(
    tokens: &[(Token, usize)],
    position: &mut usize,
    file: &Path,
    base: &Path,
    depth: usize,
    parsed: &mut Parsed,
) -> Vec<Directive> {
    let mut directives = Vec::new();
    while let Some((token, line)) = tokens.get(*position) {
        let at = Where::line(file, *line);
        match token {
            Token::Close => return directives,
            Token::Semicolon | Token::Open => {
                parsed.error(at, "unexpected \";\" or \"{\" without a directive name");
                *position += 1;
                continue;
            }
            Token::Word(name) => {
                *position += 1;
                let mut args = Vec::new();
                let mut block = None;
                loop {
                    match tokens.get(*position) {
                        Some((Token::Word(arg), _)) => {
                            args.push(arg.clone());
                            *position += 1;
                        }
                        Some((Token::Semicolon, _)) => {
                            *position += 1;
                            break;
                        }
                        Some((Token::Open, _)) => {
                            *position += 1;
                            let children = parse_block(tokens, position, file, base, depth, parsed);
                            match tokens.get(*position) {
                                Some((Token::Close, _)) => *position += 1,
                                _ => parsed
                                    .error(at.clone(), format!("block \"{name}\" is not closed")),
                            }
                            block = Some(children);
                            break;
                        }
                        Some((Token::Close, _)) | None => {
                            parsed.error(at.clone(), format!("directive \"{name}\" has no \";\""));
                            break;
                        }
                    }
                }
                if name == "include" && block.is_none() {
                    directives.extend(include(&args, &at, base, depth, parsed));
                } else {
                    directives.push(Directive {
                        name: name.clone(),
                        args,
                        at,
                        block,
                    });
                }
            }
        }
    }
    directives
}

fn include(
    args: &[String],
    at: &Where,
    base: &Path,
    depth: usize,
    parsed: &mut Parsed,
) -> Vec<Directive> {
    let [pattern] = args else {
        parsed.error(at.clone(), "include takes one file or pattern");
        return Vec::new();
    };
    if depth >= MAX_INCLUDE_DEPTH {
        parsed.error(
            at.clone(),
            format!("include {pattern}: nested more than {MAX_INCLUDE_DEPTH} deep"),
        );
        return Vec::new();
    }
    let files = match expand(pattern, base) {
        Ok(files) => files,
        Err(error) => {
            parsed.error(at.clone(), format!("include {pattern}: {error}"));
            return Vec::new();
        }
    };
    let mut directives = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => directives.extend(parse_file(&text, &file, base, depth + 1, parsed)),
            Err(error) => parsed.error(at.clone(), format!("include {}: {error}", file.display())),
        }
    }
    directives
}

/// nginx's time syntax: `60s`, `1m30s`, `500ms`, a bare number of seconds.
pub fn parse_time(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let millis: u64 = match unit {
            "ms" => 1,
            "" | "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "M" => 2_592_000_000,
            "y" => 31_536_000_000,
            _ => return None,
        };
        total += Duration::from_millis(number.checked_mul(millis)?);
    }
    Some(total)
}

/// An upstream block's keep-alive settings.
struct Upstream {
    at: Where,
    keepalive: Option<Setting<u64>>,
    timeout: Setting<IdleLimit>,
    requests: Setting<RequestLimit>,
}

/// The proxy directives in force at a level (inherited downwards; a level that sets any
/// `proxy_set_header` replaces the whole inherited set, as nginx does).
#[derive(Clone, Default)]
struct ProxyLevel {
    http_version: Option<Setting<String>>,
    connection_header: Option<Setting<String>>,
    sets_headers: bool,
    next_upstream: Option<Setting<RetryPolicy>>,
}

fn analyse(tree: &[Directive], parsed: &mut Parsed) {
    let Some(http) = tree.iter().find(|d| d.name == "http") else {
        let at = tree
            .first()
            .map_or(Where::Default("empty file".to_owned()), |d| d.at.clone());
        parsed.warn(at, "no http block: nothing proxies HTTP");
        return;
    };
    let body = http.block.as_deref().unwrap_or_default();
    let mut upstreams = BTreeMap::new();
    for directive in body.iter().filter(|d| d.name == "upstream") {
        if let Some(name) = directive.args.first() {
            let upstream = read_upstream(directive, parsed);
            upstreams.insert(name.clone(), upstream);
        }
    }
    let http_level = proxy_level(body, &ProxyLevel::default(), parsed);
    for server in body.iter().filter(|d| d.name == "server") {
        let server_body = server.block.as_deref().unwrap_or_default();
        let level = proxy_level(server_body, &http_level, parsed);
        locations(server_body, &level, &upstreams, parsed);
    }
}

fn read_upstream(directive: &Directive, parsed: &mut Parsed) -> Upstream {
    let mut upstream = Upstream {
        at: directive.at.clone(),
        keepalive: None,
        timeout: Setting::default_of(
            IdleLimit::After(Duration::from_secs(60)),
            "nginx keepalive_timeout 60s",
        ),
        requests: Setting::default_of(RequestLimit::At(1000), "nginx keepalive_requests 1000"),
    };
    for inner in directive.block.as_deref().unwrap_or_default() {
        let value = inner.args.first().map(String::as_str).unwrap_or_default();
        match inner.name.as_str() {
            "keepalive" => match value.parse::<u64>() {
                Ok(count) if count > 0 && inner.args.len() == 1 => {
                    upstream.keepalive = Some(Setting::new(count, inner.at.clone()));
                }
                _ => parsed.error(inner.at.clone(), format!("keepalive {value:?}: expected a positive number")),
            },
            "keepalive_timeout" => match parse_time(value) {
                Some(duration) if inner.args.len() == 1 => {
                    upstream.timeout = Setting::new(IdleLimit::After(duration), inner.at.clone());
                }
                _ => parsed.error(inner.at.clone(), format!("keepalive_timeout {value:?}: not an nginx time")),
            },
            "keepalive_requests" => match value.parse::<u64>() {
                Ok(count) if inner.args.len() == 1 => {
                    upstream.requests = Setting::new(RequestLimit::At(count), inner.at.clone());
                }
                _ => parsed.error(inner.at.clone(), format!("keepalive_requests {value:?}: not a number")),
            },
            "keepalive_time" => parsed.warn(
                inner.at.clone(),
                format!("keepalive_time {value}: limits a connection's whole life, not its idle time (not modelled)"),
            ),
            _ => {}
        }
    }
    upstream
}

fn proxy_level(body: &[Directive], inherited: &ProxyLevel, parsed: &mut Parsed) -> ProxyLevel {
    let mut level = inherited.clone();
    if body.iter().any(|d| d.name == "proxy_set_header") {
        level.sets_headers = true;
        level.connection_header = None;
    }
    for directive in body {
        let value = directive.args.first().cloned().unwrap_or_default();
        match directive.name.as_str() {
            "proxy_http_version" => {
                if value == "1.0" || value == "1.1" {
                    level.http_version = Some(Setting::new(value, directive.at.clone()));
                } else {
                    parsed.error(
                        directive.at.clone(),
                        format!("proxy_http_version {value:?}: expected 1.0 or 1.1"),
                    );
                }
            }
            "proxy_set_header" if value.eq_ignore_ascii_case("connection") => {
                let header = directive.args.get(1).cloned().unwrap_or_default();
                level.connection_header = Some(Setting::new(header, directive.at.clone()));
            }
            "proxy_next_upstream" => {
                if let Some(policy) = next_upstream(&directive.args, &directive.at, parsed) {
                    level.next_upstream = Some(Setting::new(policy, directive.at.clone()));
                }
            }
            _ => {}
        }
    }
    level
}

fn next_upstream(args: &[String], at: &Where, parsed: &mut Parsed) -> Option<RetryPolicy> {
    const KNOWN: [&str; 12] = [
        "error",
        "timeout",
        "invalid_header",
        "http_500",
        "http_502",
        "http_503",
        "http_504",
        "http_403",
        "http_404",
        "http_429",
        "non_idempotent",
        "off",
    ];
    if let Some(unknown) = args.iter().find(|a| !KNOWN.contains(&a.as_str())) {
        parsed.error(
            at.clone(),
            format!(
                "proxy_next_upstream {unknown:?}: not one of {}",
                KNOWN.join(", ")
            ),
        );
        return None;
    }
    let has = |word: &str| args.iter().any(|a| a == word);
    Some(if has("off") || !has("error") {
        RetryPolicy::None
    } else if has("non_idempotent") {
        RetryPolicy::Always
    } else {
        RetryPolicy::Idempotent
    })
}

fn locations(
    body: &[Directive],
    level: &ProxyLevel,
    upstreams: &BTreeMap<String, Upstream>,
    parsed: &mut Parsed,
) {
    for location in body
        .iter()
        .filter(|d| d.name == "location" || d.name == "if")
    {
        let inner = location.block.as_deref().unwrap_or_default();
        let here = proxy_level(inner, level, parsed);
        if let Some(pass) = inner.iter().find(|d| d.name == "proxy_pass") {
            front_for(location, pass, &here, upstreams, parsed);
        }
        locations(inner, &here, upstreams, parsed);
    }
}

fn front_for(
    location: &Directive,
    pass: &Directive,
    level: &ProxyLevel,
    upstreams: &BTreeMap<String, Upstream>,
    parsed: &mut Parsed,
) {
    let url = pass.args.first().cloned().unwrap_or_default();
    let host = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .map(|rest| rest.split(['/', '?']).next().unwrap_or_default().to_owned());
    let Some(host) = host else {
        parsed.warn(
            pass.at.clone(),
            format!("proxy_pass {url:?}: not an http:// or https:// URL (not audited)"),
        );
        return;
    };
    if host.contains('$') {
        parsed.warn(
            pass.at.clone(),
            format!("proxy_pass {url}: a variable host is not resolved (not audited)"),
        );
        return;
    }
    let label = format!("nginx location {} -> {}", location.args.join(" "), url);
    let retry = level.next_upstream.clone().unwrap_or_else(|| {
        Setting::default_of(
            RetryPolicy::Idempotent,
            "nginx proxy_next_upstream error timeout",
        )
    });
    let Some(upstream) = upstreams.get(&host) else {
        parsed.fronts.push(Front {
            label,
            kind: FrontKind::Nginx {
                upstream: pass.at.clone(),
                location: location.at.clone(),
            },
            reuse: Setting::new(
                Err(format!(
                    "{host} is not an upstream block: {VERSION} opens a connection per request"
                )),
                pass.at.clone(),
            ),
            idle_timeout: Setting::default_of(IdleLimit::After(Duration::ZERO), "no keep-alive"),
            retry,
            max_requests: Setting::default_of(RequestLimit::At(1), "no keep-alive"),
            failure_note: None,
        });
        return;
    };
    if let Some(header) = &level.connection_header
        && header.value.contains('$')
    {
        parsed.warn(
            header.at.clone(),
            format!(
                "proxy_set_header Connection {}: a variable is not resolved (a $connection_upgrade map sends \
                 `close` to plain requests); the audit assumes reuse",
                header.value
            ),
        );
    }
    let reuse = reuse_of(upstream, &host, level);
    parsed.fronts.push(Front {
        label,
        kind: FrontKind::Nginx {
            upstream: upstream.at.clone(),
            location: location.at.clone(),
        },
        reuse,
        idle_timeout: upstream.timeout.clone(),
        retry,
        max_requests: upstream.requests.clone(),
        failure_note: None,
    });
}

fn reuse_of(upstream: &Upstream, name: &str, level: &ProxyLevel) -> Setting<Result<(), String>> {
    let Some(keepalive) = &upstream.keepalive else {
        return Setting::new(
            Err(format!(
                "upstream {name} has no `keepalive N;`: {VERSION} closes each upstream connection"
            )),
            upstream.at.clone(),
        );
    };
    match &level.http_version {
        Some(version) if version.value == "1.1" => {}
        Some(version) => {
            return Setting::new(
                Err("proxy_http_version 1.0: nginx asks the back to close".to_owned()),
                version.at.clone(),
            );
        }
        None => {
            return Setting::new(
                Err(format!(
                    "proxy_http_version is not set: {VERSION} sends HTTP/1.0 and the back closes"
                )),
                Where::Default(format!("{VERSION} proxy_http_version 1.0")),
            );
        }
    }
    match &level.connection_header {
        Some(header) if header.value.eq_ignore_ascii_case("close") => Setting::new(
            Err("proxy_set_header Connection close: nginx asks the back to close".to_owned()),
            header.at.clone(),
        ),
        Some(_) => Setting::new(Ok(()), keepalive.at.clone()),
        None => Setting::new(
            Err(format!(
                "Connection is not cleared: {VERSION} sends `Connection: close` (add proxy_set_header Connection \"\";)"
            )),
            Where::Default(format!("{VERSION} proxy_set_header Connection close")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_times_parse_as_nginx_reads_them() {
        assert_eq!(parse_time("60"), Some(Duration::from_secs(60)));
        assert_eq!(parse_time("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_time("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_time("5x"), None);
        assert_eq!(parse_time("s"), None);
    }
}
