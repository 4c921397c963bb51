//! Which host a request is for (RFC 9112 §3.2 and §3.2.2), checked before anything is forwarded.
//!
//! - more than one `Host` header line: refused (400);
//! - an HTTP/1.1 request without `Host`: refused (400); HTTP/1.0 may omit it;
//! - a `Host` value that is not `host[:port]` (empty, with user info, spaces, a path): refused (400);
//! - an absolute-form target (`GET http://other.example/ HTTP/1.1`): the target's authority wins over the
//!   `Host` header, which is replaced by it (§3.2.2), so the next hop sees one unambiguous host.
//!
//! This module decides and rewrites; the tiers answer. `Connection: Host` cannot remove `Host` either: see
//! [`crate::hop_by_hop::strip`].

use http::header::{HOST, HeaderValue};
use http::{HeaderMap, Uri, Version};

/// Why a request's host is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// More than one `Host` header line.
    #[error("{0} Host header lines (RFC 9112 §3.2: exactly one)")]
    Repeated(usize),
    /// HTTP/1.1 without `Host`.
    #[error("HTTP/1.1 request without Host (RFC 9112 §3.2)")]
    Missing,
    /// A `Host` value that is not `host[:port]`.
    #[error("Host {0:?} is not host[:port]")]
    Invalid(String),
    /// An absolute-form target whose authority carries user info or no host.
    #[error("request target authority {0:?} is not host[:port]")]
    InvalidTarget(String),
}

/// Checks the request's host and rewrites `Host` to the one the request is for: the target's authority for an
/// absolute-form target, else the `Host` header as sent. `Ok(None)`: an HTTP/1.0 request without a host.
pub fn normalise(
    version: Version,
    uri: &Uri,
    headers: &mut HeaderMap,
) -> Result<Option<HeaderValue>, HostError> {
    let lines = headers.get_all(HOST).iter().count();
    if lines > 1 {
        return Err(HostError::Repeated(lines));
    }
    let sent = headers.get(HOST);
    if sent.is_none() && version >= Version::HTTP_11 {
        return Err(HostError::Missing);
    }
    if let Some(value) = sent
        && !is_host_port(value.as_bytes())
    {
        return Err(HostError::Invalid(
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        ));
    }
    let Some(authority) = uri.authority() else {
        return Ok(sent.cloned());
    };
    let target = authority.as_str();
    let value = match HeaderValue::from_str(target) {
        Ok(value) if is_host_port(target.as_bytes()) => value,
        _ => return Err(HostError::InvalidTarget(target.to_owned())),
    };
    headers.insert(HOST, value.clone());
    Ok(Some(value))
}

/// True for `host[:port]`: a reg-name or IPv4 host (RFC 3986 §3.2.2 characters) or a bracketed IP literal,
/// no user info, a numeric port if any. Checked without allocating: it runs on every request.
fn is_host_port(value: &[u8]) -> bool {
    let (host_ok, rest) = if let Some(literal) = value.strip_prefix(b"[") {
        match literal.iter().position(|byte| *byte == b']') {
            Some(end) => (
                end > 0
                    && literal[..end]
                        .iter()
                        .all(|byte| byte.is_ascii_hexdigit() || b":.".contains(byte)),
                &literal[end + 1..],
            ),
            None => return false,
        }
    } else {
        let end = value
            .iter()
            .position(|byte| *byte == b':')
            .unwrap_or(value.len());
        let host = &value[..end];
        (
            !host.is_empty()
                && host
                    .iter()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(byte)),
            &value[end..],
        )
    };
    let port_ok = match rest.strip_prefix(b":") {
        None => rest.is_empty(),
        Some(digits) => digits.iter().all(u8::is_ascii_digit),
    };
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn headers(hosts: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for host in hosts {
            headers.append(HOST, HeaderValue::from_static(host));
        }
        headers
    }

    fn check(
        version: Version,
        target: &str,
        hosts: &[&'static str],
    ) -> Result<Option<String>, HostError> {
        let uri: Uri = target.parse().unwrap();
        let mut headers = headers(hosts);
        let host = normalise(version, &uri, &mut headers)?;
        assert_eq!(
            host.as_ref(),
            headers.get(HOST),
            "Host is rewritten to the answer"
        );
        Ok(host.map(|value| value.to_str().unwrap().to_owned()))
    }

    #[test]
    fn one_host_is_kept_and_the_absolute_target_wins() {
        assert_eq!(
            check(Version::HTTP_11, "/", &["a.example:8080"]),
            Ok(Some("a.example:8080".into()))
        );
        assert_eq!(
            check(Version::HTTP_11, "http://other.example/x", &["a.example"]),
            Ok(Some("other.example".into()))
        );
        assert_eq!(
            check(Version::HTTP_11, "/", &["[::1]:80"]),
            Ok(Some("[::1]:80".into()))
        );
        assert_eq!(check(Version::HTTP_10, "/", &[]), Ok(None));
    }

    #[test]
    fn ambiguous_missing_and_malformed_hosts_are_refused() {
        assert_eq!(
            check(Version::HTTP_11, "/", &["a", "b"]),
            Err(HostError::Repeated(2))
        );
        assert_eq!(
            check(Version::HTTP_11, "/", &["a", "a"]),
            Err(HostError::Repeated(2))
        );
        assert_eq!(check(Version::HTTP_11, "/", &[]), Err(HostError::Missing));
        assert_eq!(
            check(Version::HTTP_11, "http://a.example/", &[]),
            Err(HostError::Missing)
        );
        for bad in ["", "a b", "user@a", "a/b", "a:x", "a:80:80", "[::1"] {
            let mut map = HeaderMap::new();
            map.insert(HOST, HeaderValue::from_str(bad).unwrap());
            let uri: Uri = "/".parse().unwrap();
            assert!(
                matches!(
                    normalise(Version::HTTP_11, &uri, &mut map),
                    Err(HostError::Invalid(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            check(Version::HTTP_11, "http://u@other.example/", &["a"]),
            Err(HostError::InvalidTarget(_))
        ));
    }

    proptest! {
        #[test]
        fn any_host_values_never_panic_and_repeats_are_always_refused(
            values in proptest::collection::vec("[ -~]{0,24}", 0..4),
            absolute in any::<bool>(),
        ) {
            let mut map = HeaderMap::new();
            for value in &values {
                if let Ok(value) = HeaderValue::from_str(value) {
                    map.append(HOST, value);
                }
            }
            let lines = map.get_all(HOST).iter().count();
            let uri: Uri = if absolute { "http://t.example/".parse().unwrap() } else { "/".parse().unwrap() };
            let result = normalise(Version::HTTP_11, &uri, &mut map);
            if lines > 1 {
                prop_assert_eq!(result, Err(HostError::Repeated(lines)));
            } else if lines == 0 {
                prop_assert_eq!(result, Err(HostError::Missing));
            } else if let Ok(host) = result {
                prop_assert_eq!(map.get_all(HOST).iter().count(), 1);
                if absolute {
                    prop_assert_eq!(host.unwrap(), "t.example");
                }
            }
        }

        #[test]
        fn reg_names_with_ports_are_accepted_as_sent(
            name in "[a-z][a-z0-9-]{0,15}(\\.[a-z][a-z0-9-]{0,15}){0,3}",
            port in proptest::option::of(0u16..),
        ) {
            let host = match port {
                Some(port) => format!("{name}:{port}"),
                None => name,
            };
            let mut map = HeaderMap::new();
            map.insert(HOST, HeaderValue::from_str(&host).unwrap());
            let uri: Uri = "/".parse().unwrap();
            let accepted = normalise(Version::HTTP_11, &uri, &mut map);
            prop_assert_eq!(accepted, Ok(Some(HeaderValue::from_str(&host).unwrap())));
        }
    }
}
