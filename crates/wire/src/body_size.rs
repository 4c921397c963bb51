//! The request body limit (`max_body_bytes` on the gateway, `LimitRequestBody` on the back): a body whose
//! `Content-Length` is over the limit is refused before a byte of it is read, and any other body is wrapped
//! so that it fails the moment it grows past the limit ([`is_over_limit`] recognises that failure however
//! deeply hyper wrapped it). A limit of `None` lets every body through (what a tier's config maps its own
//! "unlimited" to, as Apache's `LimitRequestBody 0`). Each tier makes its own 413; this module only decides
//! "too large".

use http_body::Body;
use http_body_util::{LengthLimitError, Limited};

use crate::error_chain;

/// A body announced larger than the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("request body of {announced} bytes is over the limit of {limit} bytes")]
pub struct TooLarge {
    /// The body's `Content-Length`.
    pub announced: u64,
    /// The limit.
    pub limit: u64,
}

/// Refuses `body` when it announced (by its `Content-Length`: hyper's size hint's lower bound; 0 when
/// chunked) more than `limit` bytes.
pub fn check_announced(body: &impl Body, limit: Option<u64>) -> Result<(), TooLarge> {
    let announced = body.size_hint().lower();
    match limit {
        Some(limit) if announced > limit => Err(TooLarge { announced, limit }),
        _ => Ok(()),
    }
}

/// `body`, failing with a [`LengthLimitError`] once more than `limit` bytes came out of it; refused at once
/// when its `Content-Length` is over the limit.
pub fn limited<B: Body>(body: B, limit: Option<u64>) -> Result<Limited<B>, TooLarge> {
    check_announced(&body, limit)?;
    let cap = limit.map_or(usize::MAX, |limit| {
        usize::try_from(limit).unwrap_or(usize::MAX)
    });
    Ok(Limited::new(body, cap))
}

/// True when `error`, or any error it was caused by, is a [`limited`] body growing past its limit.
pub fn is_over_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    error_chain::find::<LengthLimitError>(error).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::Full;

    #[test]
    fn an_announced_length_over_the_limit_is_refused_before_reading() {
        let body = Full::new(Bytes::from_static(b"12345"));
        assert_eq!(
            check_announced(&body, Some(4)),
            Err(TooLarge {
                announced: 5,
                limit: 4
            })
        );
        assert_eq!(check_announced(&body, Some(5)), Ok(()));
        assert_eq!(check_announced(&body, None), Ok(()));
    }

    /// Frames of bytes with no size hint, as a chunked body.
    struct Chunks(Vec<&'static [u8]>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            let next = (!self.0.is_empty()).then(|| self.0.remove(0));
            std::task::Poll::Ready(
                next.map(|bytes| Ok(http_body::Frame::data(Bytes::from_static(bytes)))),
            )
        }
    }

    #[test]
    fn a_body_growing_past_the_limit_fails_with_a_recognisable_error() {
        let mut body = limited(Chunks(vec![b"abc", b"def"]), Some(4)).unwrap();
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let mut frames = 0;
        let error = loop {
            match std::pin::Pin::new(&mut body).poll_frame(&mut context) {
                std::task::Poll::Ready(Some(Ok(_))) => frames += 1,
                std::task::Poll::Ready(Some(Err(error))) => break error,
                other => panic!("expected the limit error, got {other:?}"),
            }
        };
        assert_eq!(frames, 1);
        assert!(is_over_limit(&*error));
        assert!(!is_over_limit(&std::io::Error::other("other")));
        let mut unlimited = limited(Chunks(vec![b"abc", b"def"]), None).unwrap();
        let polled = std::pin::Pin::new(&mut unlimited).poll_frame(&mut context);
        assert!(matches!(polled, std::task::Poll::Ready(Some(Ok(_)))));
    }
}
