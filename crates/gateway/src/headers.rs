//! Header rewriting between the two hops: hop-by-hop stripping (RFC 9110 §7.6.1), `X-Forwarded-For`, and
//! reading whether an upstream response allows its connection to be reused.
//!
//! This module only edits header maps; framing (`Content-Length`, chunking) is left to hyper on each side.

use std::net::IpAddr;

use http::header::{CONNECTION, HeaderName, HeaderValue, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, Version};

/// `X-Forwarded-For`, the de-facto header naming the client of a proxy chain.
const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The hop-by-hop headers every proxy removes, besides the ones named in `Connection`.
fn fixed_hop_by_hop() -> [HeaderName; 7] {
    [
        CONNECTION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        TE,
        TRAILER,
        TRANSFER_ENCODING,
        UPGRADE,
    ]
}

/// Removes the hop-by-hop headers: the fixed list and every header the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // `from_bytes` lower-cases the token.
    let named: Vec<HeaderName> = connection_tokens(headers)
        .filter_map(|token| HeaderName::from_bytes(token.as_bytes()).ok())
        .collect();
    for name in named.iter().chain(fixed_hop_by_hop().iter()) {
        headers.remove(name);
    }
}

/// Appends `client` to `X-Forwarded-For`, joining any values an earlier proxy set into one header.
pub(crate) fn append_forwarded_for(headers: &mut HeaderMap, client: IpAddr) {
    if !headers.contains_key(X_FORWARDED_FOR) {
        // The usual case, first proxy of the chain: one allocation, handed to the header value as it is.
        if let Ok(value) = HeaderValue::try_from(client.to_string()) {
            headers.insert(X_FORWARDED_FOR, value);
        }
        return;
    }
    let mut chain: Vec<String> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .collect();
    chain.push(client.to_string());
    if let Ok(value) = HeaderValue::from_str(&chain.join(", ")) {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

/// True when the response lets the connection carry another request: HTTP/1.1 without `Connection: close`, or
/// HTTP/1.0 with `Connection: keep-alive`. Read before [`strip_hop_by_hop`].
pub(crate) fn keeps_alive(version: Version, headers: &HeaderMap) -> bool {
    let mut tokens = connection_tokens(headers);
    match version {
        Version::HTTP_09 | Version::HTTP_10 => {
            tokens.any(|token| token.eq_ignore_ascii_case("keep-alive"))
        }
        _ => !tokens.any(|token| token.eq_ignore_ascii_case("close")),
    }
}

/// The comma-separated tokens of every `Connection` header, as sent (compare them ignoring case).
fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> + '_ {
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
            ("connection", "keep-alive, X-Secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-sum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-kept", "yes"),
        ]);
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers, map(&[("x-kept", "yes")]));
    }

    #[test]
    fn forwarded_for_is_set_then_appended() {
        let mut headers = HeaderMap::new();
        append_forwarded_for(&mut headers, "127.0.0.1".parse().unwrap());
        assert_eq!(headers[X_FORWARDED_FOR], "127.0.0.1");

        let mut headers = map(&[
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-for", "10.0.0.2"),
        ]);
        append_forwarded_for(&mut headers, "::1".parse().unwrap());
        assert_eq!(headers[X_FORWARDED_FOR], "10.0.0.1, 10.0.0.2, ::1");
        assert_eq!(headers.get_all(X_FORWARDED_FOR).iter().count(), 1);
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
