//! Apache's request-head limits, checked on a parsed head: `LimitRequestLine` (the request line, 414),
//! `LimitRequestFieldSize` (one header field line, `name: value`, 400) and `LimitRequestFields` (the number
//! of header field lines, 400). 0 disables a limit, as in Apache. The back tier applies them (Apache's
//! defaults: 8190, 8190, 100); the gateway limits the whole head instead (`max_header_bytes`, 431, hyper's).

use http::{HeaderMap, Method, Uri};

/// The limits, in bytes and fields; 0 = unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// `LimitRequestLine`.
    pub request_line: usize,
    /// `LimitRequestFieldSize`.
    pub field_size: usize,
    /// `LimitRequestFields`.
    pub fields: usize,
}

/// A head over one of the limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    /// The request line is longer than `LimitRequestLine`.
    #[error("request line of {length} bytes is over LimitRequestLine {limit}")]
    RequestLine {
        /// Its length, without the CRLF.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// A header field line is longer than `LimitRequestFieldSize`.
    #[error("header field {name} of {length} bytes is over LimitRequestFieldSize {limit}")]
    FieldSize {
        /// The field's name.
        name: String,
        /// `name: value`, in bytes.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// More header field lines than `LimitRequestFields`.
    #[error("{count} header fields are over LimitRequestFields {limit}")]
    Fields {
        /// How many were sent.
        count: usize,
        /// The limit.
        limit: usize,
    },
}

impl HeadLimits {
    /// Apache httpd 2.4's defaults.
    pub const APACHE: HeadLimits = HeadLimits {
        request_line: 8190,
        field_size: 8190,
        fields: 100,
    };

    /// Checks a parsed head: `method target HTTP/1.x` and its header fields.
    pub fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), LimitExceeded> {
        // "METHOD SP target SP HTTP/1.1"
        let length = method.as_str().len() + 1 + target_length(uri) + 1 + "HTTP/1.1".len();
        if self.request_line != 0 && length > self.request_line {
            return Err(LimitExceeded::RequestLine {
                length,
                limit: self.request_line,
            });
        }
        if self.fields != 0 && headers.len() > self.fields {
            return Err(LimitExceeded::Fields {
                count: headers.len(),
                limit: self.fields,
            });
        }
        if self.field_size != 0 {
            for (name, value) in headers {
                let length = name.as_str().len() + 2 + value.len();
                if length > self.field_size {
                    return Err(LimitExceeded::FieldSize {
                        name: name.as_str().to_owned(),
                        length,
                        limit: self.field_size,
                    });
                }
            }
        }
        Ok(())
    }
}

/// The request target's length as sent: origin-form `path?query`, or absolute-form `scheme://authority/path`.
fn target_length(uri: &Uri) -> usize {
    let path = uri.path_and_query().map_or(0, |path| path.as_str().len());
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => {
            scheme.len() + "://".len() + authority.as_str().len() + path
        }
        (None, Some(authority)) => authority.as_str().len(),
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn apaches_limits_hold_at_the_boundary_and_refuse_one_past_it() {
        let limits = HeadLimits::APACHE;
        let at = format!("/{}", "a".repeat(8190 - "GET  HTTP/1.1".len() - 1));
        let uri: Uri = at.parse().unwrap();
        assert_eq!(limits.check(&Method::GET, &uri, &HeaderMap::new()), Ok(()));
        let over: Uri = format!("{at}a").parse().unwrap();
        assert!(matches!(
            limits.check(&Method::GET, &over, &HeaderMap::new()),
            Err(LimitExceeded::RequestLine {
                length: 8191,
                limit: 8190
            })
        ));

        let mut headers = HeaderMap::new();
        headers.insert(
            "x-big",
            HeaderValue::from_str(&"v".repeat(8190 - 7)).unwrap(),
        );
        let root: Uri = "/".parse().unwrap();
        assert_eq!(limits.check(&Method::GET, &root, &headers), Ok(()));
        headers.insert(
            "x-big",
            HeaderValue::from_str(&"v".repeat(8190 - 6)).unwrap(),
        );
        assert!(matches!(
            limits.check(&Method::GET, &root, &headers),
            Err(LimitExceeded::FieldSize { length: 8191, .. })
        ));

        let mut many = HeaderMap::new();
        for index in 0..100 {
            many.append("x-n", HeaderValue::from(index));
        }
        assert_eq!(limits.check(&Method::GET, &root, &many), Ok(()));
        many.append("x-n", HeaderValue::from(100));
        assert!(matches!(
            limits.check(&Method::GET, &root, &many),
            Err(LimitExceeded::Fields {
                count: 101,
                limit: 100
            })
        ));
        let unlimited = HeadLimits {
            request_line: 0,
            field_size: 0,
            fields: 0,
        };
        assert_eq!(unlimited.check(&Method::GET, &over, &many), Ok(()));
    }
}
