//! Hop-by-hop headers (RFC 9110 §7.6.1): the fixed list every proxy removes, plus every header the
//! `Connection` header names, and what `Connection` says about reusing the connection.
//!
//! This module only edits and reads header maps; framing (`Content-Length`, chunking) is left to hyper.

use http::header::{CONNECTION, HOST, HeaderName, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderValue, Version};

/// The hop-by-hop headers removed whatever `Connection` says.
pub const HOP_BY_HOP: [HeaderName; 7] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
];

/// Headers a `Connection` option cannot remove: `Connection: Host` would leave the next hop without the
/// host the request is for (nginx and HAProxy keep it too).
pub const END_TO_END: [HeaderName; 1] = [HOST];

/// Removes the hop-by-hop headers: [`HOP_BY_HOP`] and every header the `Connection` header names, except
/// [`END_TO_END`] ones.
pub fn strip(headers: &mut HeaderMap) {
    // Most messages carry none of them (HTTP/1.1 keep-alive needs no `Connection`): one pass over the few
    // names present instead of a hashed removal per listed name. Without `Connection` (one of the list), no
    // other header is named for removal.
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    // `from_bytes` refuses upper case: the tokens are lower-cased first.
    let named: Vec<HeaderName> = connection_tokens(headers)
        .filter_map(|token| HeaderName::from_bytes(token.to_ascii_lowercase().as_bytes()).ok())
        .filter(|name| !END_TO_END.contains(name))
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

/// The protocol a message asks to switch to (RFC 9110 §7.8): its `Upgrade` value when `Connection` names
/// `upgrade`. Read before [`strip`], which removes both; [`restore_upgrade`] puts them back on the next hop.
pub fn upgrade_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    connection_tokens(headers)
        .any(|token| token.eq_ignore_ascii_case("upgrade"))
        .then(|| headers.get(UPGRADE).cloned())
        .flatten()
}

/// Asks the next hop for `protocol`: `Connection: upgrade` and `Upgrade: protocol`, after [`strip`].
pub fn restore_upgrade(headers: &mut HeaderMap, protocol: HeaderValue) {
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, protocol);
}

/// True when a message lets its connection carry another one: HTTP/1.1 without `Connection: close`, or
/// HTTP/1.0 with `Connection: keep-alive`. Read before [`strip`].
pub fn keeps_alive(version: Version, headers: &HeaderMap) -> bool {
    let mut tokens = connection_tokens(headers);
    match version {
        Version::HTTP_09 | Version::HTTP_10 => {
            tokens.any(|token| token.eq_ignore_ascii_case("keep-alive"))
        }
        _ => !tokens.any(|token| token.eq_ignore_ascii_case("close")),
    }
}

/// The comma-separated tokens of every `Connection` header, as sent (compare them ignoring case).
pub fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> + '_ {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn strips_fixed_and_connection_named_headers() {
        let mut headers = map(&[
            ("connection", "keep-alive, X-Secret, Host"),
            ("host", "a.example"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-sum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-kept", "yes"),
            ("content-length", "3"),
        ]);
        strip(&mut headers);
        assert_eq!(
            headers,
            map(&[
                ("host", "a.example"),
                ("x-kept", "yes"),
                ("content-length", "3")
            ])
        );
    }

    #[test]
    fn an_upgrade_is_read_before_stripping_and_restored_after() {
        let mut headers = map(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
        ]);
        let protocol = upgrade_protocol(&headers);
        assert_eq!(
            protocol.as_ref().map(HeaderValue::as_bytes),
            Some(&b"websocket"[..])
        );
        strip(&mut headers);
        assert!(headers.is_empty());
        restore_upgrade(&mut headers, protocol.unwrap());
        assert_eq!(
            headers,
            map(&[("connection", "upgrade"), ("upgrade", "websocket")])
        );
        // An Upgrade header that Connection does not name is not an upgrade.
        assert_eq!(upgrade_protocol(&map(&[("upgrade", "websocket")])), None);
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        assert!(keeps_alive(Version::HTTP_11, &HeaderMap::new()));
        assert!(!keeps_alive(
            Version::HTTP_11,
            &map(&[("connection", "Close")])
        ));
        assert!(!keeps_alive(Version::HTTP_10, &HeaderMap::new()));
        assert!(keeps_alive(
            Version::HTTP_10,
            &map(&[("connection", "Keep-Alive")])
        ));
    }
}
