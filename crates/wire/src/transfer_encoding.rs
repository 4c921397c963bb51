//! `Transfer-Encoding` on a request: the only coding a proxy tier accepts is one `chunked` (RFC 9112 §6.1,
//! §7). A repeated coding (`chunked, chunked`, or two header lines), an unknown one, or a list that is not
//! just `chunked` (`gzip, chunked`: neither tier decodes gzip) is refused 400, as nginx and HAProxy do: the
//! next hop might read such a list differently, which is how requests get smuggled.
//!
//! This module decides; the tiers answer. Content-Length together with Transfer-Encoding is the gateway's
//! framing guard's and hyper's business, not this module's.

use http::HeaderMap;
use http::header::TRANSFER_ENCODING;

/// A `Transfer-Encoding` the tiers refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Transfer-Encoding {0:?} is not a single \"chunked\"")]
pub struct UnsupportedCoding(pub String);

/// Refuses any `Transfer-Encoding` but a single `chunked`; no header at all is fine.
pub fn check(headers: &HeaderMap) -> Result<(), UnsupportedCoding> {
    let mut codings = 0usize;
    let mut only_chunked = true;
    for value in headers.get_all(TRANSFER_ENCODING) {
        for coding in value.as_bytes().split(|byte| *byte == b',') {
            let coding = coding.trim_ascii();
            codings += 1;
            only_chunked &= coding.eq_ignore_ascii_case(b"chunked");
        }
    }
    if codings == 0 || (codings == 1 && only_chunked) {
        return Ok(());
    }
    let sent: Vec<String> = headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect();
    Err(UnsupportedCoding(sent.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    fn with(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(TRANSFER_ENCODING, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn one_chunked_passes_and_anything_else_is_refused() {
        assert_eq!(check(&HeaderMap::new()), Ok(()));
        assert_eq!(check(&with(&["chunked"])), Ok(()));
        assert_eq!(check(&with(&[" Chunked "])), Ok(()));
        for refused in [
            &["chunked, chunked"][..],
            &["chunked", "chunked"],
            &["gzip, chunked"],
            &["identity"],
            &["chunked, gzip"],
            &[""],
            &["chunked,"],
        ] {
            assert!(check(&with(refused)).is_err(), "{refused:?}");
        }
    }

    proptest! {
        #[test]
        fn accepted_exactly_when_the_codings_are_one_chunked(
            codings in proptest::collection::vec(prop_oneof!["chunked", "CHUNKED", "gzip", "identity", "x"], 1..4),
        ) {
            let headers = with(&[codings.join(", ").as_str()]);
            let single_chunked = codings.len() == 1 && codings[0].eq_ignore_ascii_case("chunked");
            prop_assert_eq!(check(&headers).is_ok(), single_chunked);
        }
    }
}
