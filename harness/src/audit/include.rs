//! Include patterns (`include conf.d/*.conf;`, `IncludeOptional sites-enabled/*.conf`): expanded to the files
//! they name, sorted as nginx and Apache sort them.
//!
//! Owns the wildcard matching (`*`, `?`, `[abc]`, in any path component) and nothing about either format's
//! syntax.

use std::io;
use std::path::{Component, Path, PathBuf};

/// Whether `text` has a wildcard.
pub fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// The files `pattern` names, relative to `base` when it is relative, in byte order per directory. Without a
/// wildcard it is the one path, whether or not it exists; with one, only the matches that exist (possibly
/// none). Hidden entries match only a pattern component that starts with a dot.
pub fn expand(pattern: &str, base: &Path) -> io::Result<Vec<PathBuf>> {
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        base.join(pattern)
    };
    if !has_wildcard(pattern) {
        return Ok(vec![full]);
    }
    let mut candidates = vec![PathBuf::new()];
    let components: Vec<Component<'_>> = full.components().collect();
    for (index, component) in components.iter().enumerate() {
        let last = index + 1 == components.len();
        let text = component.as_os_str().to_string_lossy();
        if !has_wildcard(&text) {
            candidates = candidates
                .into_iter()
                .map(|c| c.join(component.as_os_str()))
                .collect();
            continue;
        }
        let mut next = Vec::new();
        for dir in &candidates {
            let entries = match std::fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error),
            };
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| wildcard_match(&text, name))
                .filter(|name| !name.starts_with('.') || text.starts_with('.'))
                .collect();
            names.sort();
            for name in names {
                let path = dir.join(&name);
                if last || path.is_dir() {
                    next.push(path);
                }
            }
        }
        candidates = next;
    }
    Ok(candidates.into_iter().filter(|p| p.is_file()).collect())
}

/// Shell-style matching of one name: `*` any run, `?` one character, `[abc]`/`[a-z]`/`[!a]` a class.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    matches_from(&pattern, &name)
}

fn matches_from(pattern: &[char], name: &[char]) -> bool {
    match pattern.first() {
        None => name.is_empty(),
        Some('*') => (0..=name.len()).any(|skip| matches_from(&pattern[1..], &name[skip..])),
        Some('?') => !name.is_empty() && matches_from(&pattern[1..], &name[1..]),
        Some('[') => match (class_end(pattern), name.first()) {
            (Some(end), Some(&c)) => {
                class_contains(&pattern[1..end], c) && matches_from(&pattern[end + 1..], &name[1..])
            }
            (None, Some(&c)) => c == '[' && matches_from(&pattern[1..], &name[1..]),
            (_, None) => false,
        },
        Some(&literal) => name.first() == Some(&literal) && matches_from(&pattern[1..], &name[1..]),
    }
}

fn class_end(pattern: &[char]) -> Option<usize> {
    pattern
        .iter()
        .enumerate()
        .skip(2)
        .find(|(_, c)| **c == ']')
        .map(|(i, _)| i)
}

fn class_contains(class: &[char], c: char) -> bool {
    let (negated, class) = match class.first() {
        Some('!' | '^') => (true, &class[1..]),
        _ => (false, class),
    };
    let mut found = false;
    let mut i = 0;
    while i < class.len() {
        if i + 2 < class.len() && class[i + 1] == '-' {
            found |= (class[i]..=class[i + 2]).contains(&c);
            i += 3;
        } else {
            found |= class[i] == c;
            i += 1;
        }
    }
    found != negated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_the_shell_does() {
        assert!(wildcard_match("*.conf", "app.conf"));
        assert!(!wildcard_match("*.conf", "app.conf.bak"));
        assert!(wildcard_match("site-?.conf", "site-a.conf"));
        assert!(wildcard_match("[a-c]*", "beta"));
        assert!(!wildcard_match("[!a-c]*", "beta"));
        assert!(wildcard_match("*", ""));
    }
}
