//! apache2.conf as a back: the main server and every `<VirtualHost>`, each with its `KeepAlive`,
//! `KeepAliveTimeout` and `MaxKeepAliveRequests` (a virtual host inherits what it does not set).
//!
//! Owns Apache's syntax: one directive per line, `\` continuations, `#` comments, `<Section>` nesting,
//! `Include`/`IncludeOptional` with globs resolved against `ServerRoot` (the main file's directory until a
//! `ServerRoot` line says otherwise; a relative one from the file that sets it), a directory include reading every file in it. `<IfModule>`, `<IfDefine>`
//! and the like are read as if their condition held. Defaults are httpd 2.4's: KeepAlive On,
//! KeepAliveTimeout 5, MaxKeepAliveRequests 100. Apache takes a name-based virtual host's KeepAliveTimeout
//! from the first virtual host on its address; each is reported with its own value here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::include::{expand, has_wildcard};
use super::model::{Back, BackKind, Parsed, Setting, Where};
use crate::preset::{IdleLimit, RequestLimit};

const MAX_INCLUDE_DEPTH: usize = 16;

/// One logical line: a directive or a section boundary.
#[derive(Debug, Clone)]
struct Line {
    text: String,
    at: Where,
}

/// The keep-alive settings of one context.
#[derive(Debug, Clone)]
struct Context {
    label: String,
    at: Where,
    keepalive: Setting<bool>,
    timeout: Setting<IdleLimit>,
    requests: Setting<RequestLimit>,
}

/// Reads `path` (following its includes) and returns its backs and diagnostics.
pub fn read(path: &Path) -> Result<Parsed, std::io::Error> {
    let text = std::fs::read_to_string(path)?;
    let mut parsed = Parsed::default();
    let mut root = path.parent().unwrap_or(Path::new(".")).to_owned();
    let mut lines = Vec::new();
    collect(&text, path, &mut root, 0, &mut lines, &mut parsed);
    analyse(&lines, path, &mut parsed);
    Ok(parsed)
}

fn collect(
    text: &str,
    file: &Path,
    root: &mut PathBuf,
    depth: usize,
    out: &mut Vec<Line>,
    parsed: &mut Parsed,
) {
    let mut pending = String::new();
    let mut pending_line = 0;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = raw.trim();
        if pending.is_empty() {
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            pending_line = number;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let line = Line {
            text: std::mem::take(&mut pending),
            at: Where::line(file, pending_line),
        };
        let words = split_words(&line.text);
        let name = words
            .first()
            .map(|w| w.to_ascii_lowercase())
            .unwrap_or_default();
        match name.as_str() {
            "serverroot" => {
                if let Some(dir) = words.get(1) {
                    // A relative ServerRoot is taken from the file that sets it (httpd would take it from
                    // its working directory, which the audit cannot know).
                    let base = file.parent().unwrap_or(Path::new("."));
                    *root = base.join(dir);
                }
                out.push(line);
            }
            "include" | "includeoptional" => {
                include(
                    &words,
                    &line.at,
                    name == "includeoptional",
                    root,
                    depth,
                    out,
                    parsed,
                );
            }
            _ => out.push(line),
        }
    }
}

fn include(
    words: &[String],
    at: &Where,
    optional: bool,
    root: &mut PathBuf,
    depth: usize,
    out: &mut Vec<Line>,
    parsed: &mut Parsed,
) {
    let Some(pattern) = words.get(1) else {
        parsed.error(at.clone(), format!("{} needs a file or pattern", words[0]));
        return;
    };
    if depth >= MAX_INCLUDE_DEPTH {
        parsed.error(
            at.clone(),
            format!("Include {pattern}: nested more than {MAX_INCLUDE_DEPTH} deep"),
        );
        return;
    }
    let mut files = match expand(pattern, root) {
        Ok(files) => files,
        Err(error) => {
            parsed.error(at.clone(), format!("Include {pattern}: {error}"));
            return;
        }
    };
    if let [single] = files.as_slice()
        && single.is_dir()
    {
        let mut inside: Vec<PathBuf> = std::fs::read_dir(single)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        inside.sort();
        files = inside;
    }
    if files.is_empty() && has_wildcard(pattern) && !optional {
        parsed.error(at.clone(), format!("Include {pattern}: no file matches (httpd refuses to start; IncludeOptional allows it)"));
    }
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => collect(&text, &file, root, depth + 1, out, parsed),
            Err(_) if optional && !file.exists() => {}
            Err(error) => parsed.error(at.clone(), format!("Include {}: {error}", file.display())),
        }
    }
}

/// Words of a line, with double-quoted words unquoted.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                word.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    words
}

/// `KeepAliveTimeout` syntax: whole seconds, or milliseconds with `ms`.
pub fn parse_timeout(text: &str) -> Option<Duration> {
    if let Some(millis) = text.strip_suffix("ms") {
        return millis.parse().ok().map(Duration::from_millis);
    }
    text.parse().ok().map(Duration::from_secs)
}

const SECTIONS_WITHOUT_KEEPALIVE: [&str; 8] = [
    "directory",
    "directorymatch",
    "location",
    "locationmatch",
    "files",
    "filesmatch",
    "if",
    "proxy",
];

fn analyse(lines: &[Line], main: &Path, parsed: &mut Parsed) {
    let mut server = Context {
        label: "Apache main server".to_owned(),
        at: Where::line(main, 1),
        keepalive: Setting::default_of(true, "httpd KeepAlive On"),
        timeout: Setting::default_of(
            IdleLimit::After(Duration::from_secs(5)),
            "httpd KeepAliveTimeout 5",
        ),
        requests: Setting::default_of(RequestLimit::At(100), "httpd MaxKeepAliveRequests 100"),
    };
    let mut hosts: Vec<(Context, Vec<(String, Line)>)> = Vec::new();
    let mut stack: Vec<(String, Where)> = Vec::new();
    for line in lines {
        let words = split_words(&line.text);
        let Some(first) = words.first() else { continue };
        if let Some(closing) = first.strip_prefix("</") {
            let name = closing.trim_end_matches('>').to_ascii_lowercase();
            match stack.pop() {
                Some((open, _)) if open == name => {}
                Some((open, opened)) => {
                    parsed.error(
                        line.at.clone(),
                        format!("</{name}> closes <{open}> opened at {opened}"),
                    );
                }
                None => parsed.error(
                    line.at.clone(),
                    format!("</{name}> without an opening section"),
                ),
            }
            continue;
        }
        if let Some(opening) = first.strip_prefix('<') {
            let name = opening.trim_end_matches('>').to_ascii_lowercase();
            if name == "virtualhost" {
                let address = line
                    .text
                    .trim_start_matches(|c| c != ' ')
                    .trim()
                    .trim_end_matches('>')
                    .trim();
                let context = Context {
                    label: format!("Apache <VirtualHost {address}>"),
                    at: line.at.clone(),
                    ..server.clone()
                };
                hosts.push((context, Vec::new()));
            }
            stack.push((name, line.at.clone()));
            continue;
        }
        let in_host = stack.iter().any(|(name, _)| name == "virtualhost");
        let name = first.to_ascii_lowercase();
        if !matches!(
            name.as_str(),
            "keepalive" | "keepalivetimeout" | "maxkeepaliverequests" | "servername"
        ) {
            continue;
        }
        if let Some((section, _)) = stack
            .iter()
            .find(|(n, _)| SECTIONS_WITHOUT_KEEPALIVE.contains(&n.as_str()))
        {
            if name != "servername" {
                parsed.error(
                    line.at.clone(),
                    format!("{first} is not allowed inside <{section}> (httpd refuses to start)"),
                );
            }
            continue;
        }
        match hosts.last_mut() {
            Some((_, host_lines)) if in_host => host_lines.push((name, line.clone())),
            _ => apply(&mut server, &name, &words, &line.at, parsed),
        }
    }
    if let Some((open, at)) = stack.last() {
        parsed.error(at.clone(), format!("<{open}> is not closed"));
    }
    if hosts.is_empty() {
        parsed.backs.push(back_of(server));
        return;
    }
    // A virtual host inherits the main server's values as they stand at the end of the file.
    for (host, host_lines) in hosts {
        let mut context = Context {
            keepalive: server.keepalive.clone(),
            timeout: server.timeout.clone(),
            requests: server.requests.clone(),
            ..host
        };
        for (name, line) in host_lines {
            apply(
                &mut context,
                &name,
                &split_words(&line.text),
                &line.at,
                parsed,
            );
        }
        parsed.backs.push(back_of(context));
    }
}

fn apply(context: &mut Context, name: &str, words: &[String], at: &Where, parsed: &mut Parsed) {
    let value = words.get(1).map(String::as_str).unwrap_or_default();
    let extra = words.len() != 2;
    match name {
        "keepalive" => match value.to_ascii_lowercase().as_str() {
            "on" if !extra => context.keepalive = Setting::new(true, at.clone()),
            "off" if !extra => context.keepalive = Setting::new(false, at.clone()),
            _ => parsed.error(
                at.clone(),
                format!("KeepAlive {value:?}: expected On or Off"),
            ),
        },
        "keepalivetimeout" => match parse_timeout(value) {
            Some(duration) if !extra && !duration.is_zero() => {
                context.timeout = Setting::new(IdleLimit::After(duration), at.clone());
            }
            _ => parsed.error(
                at.clone(),
                format!("KeepAliveTimeout {value:?}: expected seconds or NNNms"),
            ),
        },
        "maxkeepaliverequests" => match value.parse::<u64>() {
            Ok(0) if !extra => context.requests = Setting::new(RequestLimit::Unlimited, at.clone()),
            Ok(count) if !extra => {
                context.requests = Setting::new(RequestLimit::At(count), at.clone())
            }
            _ => parsed.error(
                at.clone(),
                format!("MaxKeepAliveRequests {value:?}: expected a number"),
            ),
        },
        "servername" => context.label = format!("{} {value}", context.label),
        _ => {}
    }
}

fn back_of(context: Context) -> Back {
    Back {
        label: context.label,
        kind: BackKind::Apache {
            context: context.at,
        },
        keepalive: context.keepalive,
        keepalive_timeout: context.timeout,
        max_requests: context.requests,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_timeout_reads_seconds_and_milliseconds() {
        assert_eq!(parse_timeout("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_timeout("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_timeout("5s"), None);
    }
}
