//! `X-Forwarded-For`, the de-facto header naming the clients of a proxy chain, with one behaviour on both
//! tiers: the client's address is appended to the list the request already carries, as nginx's
//! `$proxy_add_x_forwarded_for` does (and Apache's `mod_proxy_http`, and Application Gateway). Several
//! `X-Forwarded-For` headers are joined into one, in order; empty items are dropped; without the header the
//! list is the client's address alone. So behind our gateway and our back the origin sees
//! `client, gateway-address`, whatever earlier proxies wrote.

use std::io::Write as _;
use std::net::IpAddr;

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

/// `X-Forwarded-For`.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The longest text of an IP address (an IPv6 address with an embedded IPv4 one is 45 characters).
const MAX_ADDRESS_TEXT: usize = 64;

/// Appends `client` to `X-Forwarded-For`, joining any values an earlier proxy set into one header.
pub fn append_forwarded_for(headers: &mut HeaderMap, client: IpAddr) {
    if !headers.contains_key(X_FORWARDED_FOR) {
        // The usual case, first proxy of the chain: the address is written on the stack and copied into the
        // header value once (a `String` cost three allocations: two as it grew, one handing it to `Bytes`).
        let mut text = [0u8; MAX_ADDRESS_TEXT];
        let mut cursor = std::io::Cursor::new(&mut text[..]);
        if write!(cursor, "{client}").is_ok() {
            let length = usize::try_from(cursor.position()).unwrap_or(0);
            if let Ok(value) = HeaderValue::from_bytes(&text[..length]) {
                headers.insert(X_FORWARDED_FOR, value);
            }
        }
        return;
    }
    let mut chain: Vec<String> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect();
    chain.push(client.to_string());
    if let Ok(value) = HeaderValue::from_str(&chain.join(", ")) {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_set_then_appended_to_every_earlier_value() {
        let mut headers = HeaderMap::new();
        append_forwarded_for(&mut headers, "127.0.0.1".parse().unwrap());
        assert_eq!(headers[X_FORWARDED_FOR], "127.0.0.1");
        let longest = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        let mut headers = HeaderMap::new();
        append_forwarded_for(&mut headers, longest.parse().unwrap());
        assert_eq!(headers[X_FORWARDED_FOR], longest);

        let mut headers = HeaderMap::new();
        headers.append(X_FORWARDED_FOR, HeaderValue::from_static("10.0.0.1"));
        headers.append(
            X_FORWARDED_FOR,
            HeaderValue::from_static("10.0.0.2, ,10.0.0.3"),
        );
        append_forwarded_for(&mut headers, "::1".parse().unwrap());
        assert_eq!(
            headers[X_FORWARDED_FOR],
            "10.0.0.1, 10.0.0.2, 10.0.0.3, ::1"
        );
        assert_eq!(headers.get_all(X_FORWARDED_FOR).iter().count(), 1);
    }
}
