//! The real fronts' own account of their upstream failures: nginx error-log lines and HAProxy `httplog`
//! lines mapped to cause names. A log line cannot tell a *reused* connection from a fresh one, so the names
//! are not our gateway's `reused-*`/`fresh-*` but:
//!
//! | cause | nginx error log | HAProxy termination state |
//! |---|---|---|
//! | `upstream-closed` | `upstream prematurely closed connection` (EOF before a complete header) | `SH`: the server aborted before sending complete headers (FIN or RST: HAProxy does not say which) |
//! | `upstream-reset` | `(104: Connection reset by peer)`, `(32: Broken pipe)` | `SD`: the server connection died with an error during the data phase |
//! | `upstream-timeout` | `upstream timed out` | `sH`, `sD`, `sC`: a server-side timeout |
//! | `connect-refused` | `connect() failed (111` | `SC`: the server refused the TCP connection |
//! | `other` | any other `[error]`/`[crit]` line about the upstream | any other `S…` state |
//!
//! nginx logs a line for every failed upstream attempt, retried or not, so with `proxy_next_upstream error`
//! these counts show races that the retry hid from the clients. HAProxy logs one line per request with its
//! final status and termination state; only server-side states (`S`/`s` first) are counted, and its retries
//! (the last connection count) are summed as `retried`. This module
//! only parses text; reading the files belongs to the chain.

use std::collections::BTreeMap;
use std::fmt;

/// One failure cause read from a real front's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogCause {
    /// EOF from the upstream before a complete response header.
    UpstreamClosed,
    /// ECONNRESET/EPIPE on the upstream connection.
    UpstreamReset,
    /// No upstream response in time.
    UpstreamTimeout,
    /// The upstream refused the connection.
    ConnectRefused,
    /// An upstream error line this table does not name.
    Other,
}

impl LogCause {
    /// The kebab-case name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            LogCause::UpstreamClosed => "upstream-closed",
            LogCause::UpstreamReset => "upstream-reset",
            LogCause::UpstreamTimeout => "upstream-timeout",
            LogCause::ConnectRefused => "connect-refused",
            LogCause::Other => "other",
        }
    }
}

impl fmt::Display for LogCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which log format a front writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// nginx's error log.
    NginxError,
    /// HAProxy's `option httplog` lines.
    HaproxyHttp,
}

/// The cause an nginx error-log line reports, if it is an upstream failure.
pub fn nginx_cause(line: &str) -> Option<LogCause> {
    if line.contains("upstream prematurely closed connection") {
        Some(LogCause::UpstreamClosed)
    } else if line.contains("Connection reset by peer")
        || line.contains("(104:")
        || line.contains("(32: Broken pipe)")
    {
        Some(LogCause::UpstreamReset)
    } else if line.contains("upstream timed out") {
        Some(LogCause::UpstreamTimeout)
    } else if line.contains("connect() failed (111") {
        Some(LogCause::ConnectRefused)
    } else if (line.contains("[error]") || line.contains("[crit]")) && line.contains("upstream") {
        Some(LogCause::Other)
    } else {
        None
    }
}

/// The cause an HAProxy `httplog` line reports, if its termination state blames the server side.
pub fn haproxy_cause(line: &str) -> Option<LogCause> {
    let state = haproxy_termination_state(line)?;
    let mut chars = state.chars();
    let (who, phase) = (chars.next()?, chars.next()?);
    match (who, phase) {
        ('S', 'H') => Some(LogCause::UpstreamClosed),
        ('S', 'D') => Some(LogCause::UpstreamReset),
        ('S', 'C') => Some(LogCause::ConnectRefused),
        ('s', _) => Some(LogCause::UpstreamTimeout),
        ('S', _) => Some(LogCause::Other),
        _ => None,
    }
}

/// The 4-character termination state of an `httplog` line: the first field after the status and byte count
/// that is four characters of letters and dashes (captured cookies, `-` when absent, come in between).
fn haproxy_termination_state(line: &str) -> Option<&str> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    // client [date] frontend backend/server timers status bytes ...
    let status_at = fields
        .iter()
        .position(|field| field.contains('/') && field.split('/').count() == 5)?
        + 1;
    fields
        .iter()
        .skip(status_at + 2)
        .find(|field| {
            field.len() == 4 && field.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
        })
        .copied()
}

/// The retries an `httplog` line reports: the last of the five connection counts after the termination
/// state (`actconn/feconn/beconn/srv_conn/retries`, `+` first when the request was redispatched).
pub fn haproxy_retries(line: &str) -> u64 {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let Some(state) = haproxy_termination_state(line) else {
        return 0;
    };
    fields
        .iter()
        .position(|field| *field == state)
        .and_then(|at| fields.get(at + 1))
        .and_then(|counts| counts.split('/').nth(4))
        .and_then(|retries| retries.trim_start_matches('+').parse().ok())
        .unwrap_or(0)
}

/// Counts the causes in a whole log, by name; for HAProxy also its retries (`retried`), which hide races
/// from the clients.
pub fn count_causes(format: LogFormat, text: &str) -> BTreeMap<String, u64> {
    if format == LogFormat::HaproxyHttp {
        let retries: u64 = text.lines().map(haproxy_retries).sum();
        let mut counts = count_lines(haproxy_cause, text);
        if retries > 0 {
            counts.insert("retried".to_owned(), retries);
        }
        return counts;
    }
    count_lines(nginx_cause, text)
}

fn count_lines(parse: fn(&str) -> Option<LogCause>, text: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for cause in text.lines().filter_map(parse) {
        *counts.entry(cause.name().to_owned()).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines captured from nginx 1.22.1 and HAProxy 2.6.12 on this project's machine (see README, real stacks).
    const NGINX_CLOSED: &str = "2026/11/25 07:51:19 [error] 11956#11956: *2 upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:32847/\", host: \"badgateway.test\"";
    const NGINX_RESET: &str = "2026/11/25 07:53:29 [error] 20727#20727: *2 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:36401/\", host: \"badgateway.test\"";
    const NGINX_REFUSED: &str = "2026/11/25 07:53:43 [error] 21064#21064: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:18081/\", host: \"127.0.0.1:18080\"";
    const NGINX_TIMEOUT: &str = "2026/11/25 07:53:44 [error] 21114#21114: *3 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:18081/\", host: \"127.0.0.1:18080\"";
    const HAPROXY_OK: &str = "127.0.0.1:41996 [25/Nov/2026:07:51:33.948] front back/back 0/0/0/12/12 200 385 - - ---- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"";
    const HAPROXY_PROBE: &str = "127.0.0.1:41988 [25/Nov/2026:07:51:33.945] front front/<NOSRV> -1/-1/-1/-1/0 400 0 - - CR-- 1/1/0/0/0 0/0 \"<BADREQ>\"";
    const HAPROXY_CLOSED: &str = "127.0.0.1:58216 [25/Nov/2026:07:54:00.584] fe be/s1 0/0/0/-1/0 502 209 - - SH-- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"";
    const HAPROXY_REFUSED: &str = "127.0.0.1:55148 [25/Nov/2026:07:53:52.231] fe be/s1 0/0/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"";
    const HAPROXY_TIMEOUT: &str = "127.0.0.1:55144 [25/Nov/2026:07:53:45.187] fe be/s1 0/0/0/-1/501 504 198 - - sH-- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"";

    #[test]
    fn nginx_lines_map_to_their_causes() {
        assert_eq!(nginx_cause(NGINX_CLOSED), Some(LogCause::UpstreamClosed));
        assert_eq!(nginx_cause(NGINX_RESET), Some(LogCause::UpstreamReset));
        assert_eq!(nginx_cause(NGINX_REFUSED), Some(LogCause::ConnectRefused));
        assert_eq!(nginx_cause(NGINX_TIMEOUT), Some(LogCause::UpstreamTimeout));
        assert_eq!(
            nginx_cause("2026/11/25 07:44:52 [notice] 1#1: start worker processes"),
            None
        );
    }

    #[test]
    fn haproxy_termination_states_map_to_their_causes() {
        assert_eq!(
            haproxy_cause(HAPROXY_CLOSED),
            Some(LogCause::UpstreamClosed)
        );
        assert_eq!(
            haproxy_cause(HAPROXY_REFUSED),
            Some(LogCause::ConnectRefused)
        );
        assert_eq!(
            haproxy_cause(HAPROXY_TIMEOUT),
            Some(LogCause::UpstreamTimeout)
        );
        assert_eq!(haproxy_cause(HAPROXY_OK), None);
        // The readiness probe's empty connection is a client-side state, not an upstream failure.
        assert_eq!(haproxy_cause(HAPROXY_PROBE), None);
        assert_eq!(
            haproxy_cause("[NOTICE]   (21216) : haproxy version is 2.6.12"),
            None
        );
    }

    #[test]
    fn a_whole_log_is_counted_by_cause_name() {
        let nginx = [NGINX_CLOSED, NGINX_CLOSED, NGINX_RESET].join("\n");
        let counts = count_causes(LogFormat::NginxError, &nginx);
        assert_eq!(counts.get("upstream-closed"), Some(&2));
        assert_eq!(counts.get("upstream-reset"), Some(&1));
        let haproxy = [HAPROXY_OK, HAPROXY_CLOSED, HAPROXY_PROBE].join("\n");
        let counts = count_causes(LogFormat::HaproxyHttp, &haproxy);
        assert_eq!(counts.len(), 1);
        assert_eq!(counts.get("upstream-closed"), Some(&1));
        let retried = HAPROXY_OK.replace("1/1/0/0/0", "1/1/0/0/1");
        assert_eq!(haproxy_retries(&retried), 1);
        assert_eq!(haproxy_retries(HAPROXY_OK), 0);
        let counts = count_causes(LogFormat::HaproxyHttp, &[HAPROXY_OK, &retried].join("\n"));
        assert_eq!(counts.get("retried"), Some(&1));
    }
}
