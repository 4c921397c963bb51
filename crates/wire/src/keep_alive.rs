//! The `Keep-Alive` response header (RFC 2068 §19.7.1, kept by Apache httpd and Node): how long the server
//! will keep an idle connection open (`timeout=N`, whole seconds) and how many more requests it will take on
//! it (`max=M`). This module parses it (for the front, which may honour it), writes it as Apache 2.4 does
//! (for the back), and reads whether a request asked for keep-alive. It decides nothing about a pool.

use std::fmt;
use std::time::Duration;

use http::HeaderMap;
use http::header::{CONNECTION, HeaderName};

/// The `Keep-Alive` header's name.
pub const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// What a `Keep-Alive` header announces. Parameters other than `timeout` and `max` are ignored, as undici
/// ignores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAliveHint {
    /// `timeout=N`: the server closes the connection once it sat idle N seconds.
    pub timeout: Option<Duration>,
    /// `max=M`: requests the server still takes on this connection.
    pub max: Option<u64>,
}

impl KeepAliveHint {
    /// The hint Apache 2.4 sends for `KeepAliveTimeout keepalive_timeout`: whole seconds rounded down, so
    /// 100 ms announces `timeout=0`; `max` is left out when `MaxKeepAliveRequests` is unlimited.
    pub fn apache(keepalive_timeout: Duration, remaining: Option<u64>) -> KeepAliveHint {
        KeepAliveHint {
            timeout: Some(Duration::from_secs(keepalive_timeout.as_secs())),
            max: remaining,
        }
    }

    /// The hint of the `Keep-Alive` headers in `headers`, or `None` when there is none or it names no
    /// `timeout` and no `max` that parse. A junk value of one parameter leaves that parameter out; the first
    /// valid value of each parameter counts.
    pub fn from_headers(headers: &HeaderMap) -> Option<KeepAliveHint> {
        let mut hint = KeepAliveHint {
            timeout: None,
            max: None,
        };
        for value in headers.get_all(KEEP_ALIVE) {
            for parameter in value.as_bytes().split(|&byte| byte == b',') {
                let Ok(parameter) = std::str::from_utf8(parameter) else {
                    continue;
                };
                let Some((name, number)) = parameter.split_once('=') else {
                    continue;
                };
                let number = number.trim().trim_matches('"');
                let Ok(number) = number.parse::<u64>() else {
                    continue;
                };
                match name.trim() {
                    name if name.eq_ignore_ascii_case("timeout") && hint.timeout.is_none() => {
                        hint.timeout = Some(Duration::from_secs(number));
                    }
                    name if name.eq_ignore_ascii_case("max") && hint.max.is_none() => {
                        hint.max = Some(number);
                    }
                    _ => {}
                }
            }
        }
        (hint.timeout.is_some() || hint.max.is_some()).then_some(hint)
    }
}

impl fmt::Display for KeepAliveHint {
    /// Apache's spelling: `timeout=5, max=100`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        if let Some(timeout) = self.timeout {
            write!(out, "timeout={}", timeout.as_secs())?;
            separator = ", ";
        }
        if let Some(max) = self.max {
            write!(out, "{separator}max={max}")?;
        }
        Ok(())
    }
}

/// True when one of the comma-separated tokens of `value` is `token` (ignoring case and spaces).
pub fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&byte| byte == b',')
        .any(|part| part.trim_ascii().eq_ignore_ascii_case(token))
}

/// True when a request's `Connection` header says `keep-alive`: the only requests Apache answers with a
/// `Keep-Alive` hint.
pub fn asks_keep_alive(headers: &HeaderMap) -> bool {
    headers
        .get_all(CONNECTION)
        .iter()
        .any(|value| has_token(value.as_bytes(), b"keep-alive"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    fn hint(value: &'static str) -> Option<KeepAliveHint> {
        let mut headers = HeaderMap::new();
        headers.insert(KEEP_ALIVE, HeaderValue::from_static(value));
        KeepAliveHint::from_headers(&headers)
    }

    #[test]
    fn apaches_and_nodes_hints_parse() {
        assert_eq!(
            hint("timeout=0, max=100"),
            Some(KeepAliveHint {
                timeout: Some(Duration::ZERO),
                max: Some(100)
            })
        );
        assert_eq!(
            hint("timeout=5"),
            Some(KeepAliveHint {
                timeout: Some(Duration::from_secs(5)),
                max: None
            })
        );
        assert_eq!(
            hint("Max=3 ,TIMEOUT=\"7\""),
            Some(KeepAliveHint {
                timeout: Some(Duration::from_secs(7)),
                max: Some(3)
            })
        );
    }

    #[test]
    fn junk_values_are_left_out() {
        assert_eq!(hint("timeout=-1, max=x"), None);
        assert_eq!(hint("timeout=1.5"), None);
        assert_eq!(hint("nonsense"), None);
        assert_eq!(
            hint("timeout=abc, max=2"),
            Some(KeepAliveHint {
                timeout: None,
                max: Some(2)
            })
        );
        assert_eq!(KeepAliveHint::from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn written_as_apache_writes_it() {
        let hint = KeepAliveHint::apache(Duration::from_millis(100), Some(100));
        assert_eq!(hint.to_string(), "timeout=0, max=100");
        let hint = KeepAliveHint::apache(Duration::from_millis(2500), None);
        assert_eq!(hint.to_string(), "timeout=2");
    }

    #[test]
    fn a_request_asks_keep_alive_by_its_connection_token() {
        let mut headers = HeaderMap::new();
        assert!(!asks_keep_alive(&headers));
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade, Keep-Alive"));
        assert!(asks_keep_alive(&headers));
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
        assert!(!asks_keep_alive(&headers));
    }

    proptest! {
        #[test]
        fn junk_never_panics_and_a_parsed_hint_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                headers.insert(KEEP_ALIVE, value);
            }
            if let Some(parsed) = KeepAliveHint::from_headers(&headers) {
                let mut again = HeaderMap::new();
                again.insert(KEEP_ALIVE, HeaderValue::from_str(&parsed.to_string()).unwrap());
                prop_assert_eq!(KeepAliveHint::from_headers(&again), Some(parsed));
            }
        }

        #[test]
        fn any_timeout_and_max_round_trip(timeout in any::<u32>(), max in any::<u64>()) {
            let hint = KeepAliveHint { timeout: Some(Duration::from_secs(u64::from(timeout))), max: Some(max) };
            let mut headers = HeaderMap::new();
            headers.insert(KEEP_ALIVE, HeaderValue::from_str(&hint.to_string()).unwrap());
            prop_assert_eq!(KeepAliveHint::from_headers(&headers), Some(hint));
        }
    }
}
