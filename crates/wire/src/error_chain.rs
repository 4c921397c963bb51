//! Walking an error's `source()` chain: the one place the tiers look through the layers hyper and
//! hyper-util wrap around the error that happened (an `io::Error`, a body limit).

use std::error::Error;

/// `error` and every error it was caused by, outermost first.
pub fn sources<'a>(
    error: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> + 'a {
    std::iter::successors(Some(error), |error: &&'a (dyn Error + 'static)| {
        (*error).source()
    })
}

/// The first error of type `T` in `error`'s chain, `error` itself included.
pub fn find<'a, T: Error + 'static>(error: &'a (dyn Error + 'static)) -> Option<&'a T> {
    sources(error).find_map(|error| error.downcast_ref::<T>())
}

/// The chain on one line, `outer: inner: innermost`, for a log event.
pub fn one_line(error: &(dyn Error + 'static)) -> String {
    let mut text = String::new();
    for (index, error) in sources(error).enumerate() {
        if index > 0 {
            text.push_str(": ");
        }
        text.push_str(&error.to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{fmt, io};

    #[derive(Debug)]
    struct Wrapper(io::Error);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("wrapped")
        }
    }

    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn finds_an_inner_error_and_prints_every_layer() {
        let error = Wrapper(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(
            find::<io::Error>(&error).map(io::Error::kind),
            Some(io::ErrorKind::ConnectionReset)
        );
        assert_eq!(sources(&error).count(), 2);
        assert!(one_line(&error).starts_with("wrapped: "));
        let plain = io::Error::other("alone");
        assert_eq!(one_line(&plain), "alone");
        assert!(find::<Wrapper>(&plain).is_none());
    }
}
