//! Naming the cause of a failed upstream exchange: a send error, plus two facts about the attempt, become one
//! [`Cause`].
//!
//! The two facts are whether the connection was reused (it had served a request before this one) and whether
//! any response byte arrived for this request (from the connection's byte counter). The error decides between
//! "closed" (EOF) and "reset" (RST) by walking its source chain for an [`io::Error`]. Connect failures are
//! classified where they happen (`balancer`, `upstream_conn`); this module only sees failures after a
//! connection was in hand.
//!
//! What hyper 1.12 reports (observed with `tests/race.rs` and `tests/causes.rs`):
//! - the backend read the request and closed (FIN): `is_incomplete_message()`, no io source;
//! - the backend reset (RST): `Kind::Io`, whose source is an `io::Error` of kind `ConnectionReset`;
//! - bytes that are not an HTTP response head: `is_parse()` (`Parse(Version)` for `garbage`);
//! - part of a head, then FIN: `is_incomplete_message()` too, not a parse error: only the byte counter tells
//!   it from the race, which is why "any response byte" is checked first;
//! - the connection closed after the request was queued but before it was written: `is_canceled()` with the
//!   request handed back (hyper's dispatcher source; the proxy skips such a connection, no 502).

use std::error::Error;
use std::io;

use crate::Cause;
use crate::upstream_conn::is_reset;

/// Why one exchange (request written → response head read) failed.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No response head within `request_timeout`.
    Timeout,
    /// hyper gave up on the exchange.
    Hyper(hyper::Error),
    /// The connection was parked and its socket had closed when it was woken: nothing was written.
    Closed,
}

/// What the proxy knew about the attempt when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttemptFacts {
    /// The connection had served at least one request before this one.
    pub(crate) reused: bool,
    /// At least one byte arrived on the connection after the request was handed to hyper.
    pub(crate) response_bytes: bool,
    /// A read or write on the connection's socket failed with a reset, whatever error hyper passed on.
    pub(crate) socket_reset: bool,
}

/// The cause of a failed exchange.
pub(crate) fn classify(error: &SendError, facts: AttemptFacts) -> Cause {
    match error {
        SendError::Timeout => Cause::ResponseTimeout,
        SendError::Hyper(error) => classify_hyper(error, facts),
        SendError::Closed => classify_error(&io::Error::from(io::ErrorKind::UnexpectedEof), facts),
    }
}

/// The cause of a failed exchange that hyper reported.
pub(crate) fn classify_hyper(error: &hyper::Error, facts: AttemptFacts) -> Cause {
    if error.is_timeout() {
        Cause::ResponseTimeout
    } else if error.is_parse() {
        Cause::InvalidResponse
    } else {
        classify_error(error, facts)
    }
}

/// The cause of any error once hyper-specific kinds are ruled out: bytes arrived → the head was unusable;
/// otherwise an RST in the source chain or seen by the socket → reset, anything else (EOF, canceled, closed) →
/// closed.
pub(crate) fn classify_error(error: &(dyn Error + 'static), facts: AttemptFacts) -> Cause {
    if facts.response_bytes {
        return Cause::InvalidResponse;
    }
    let reset = facts.socket_reset || io_error_kind(error).is_some_and(is_reset);
    match (facts.reused, reset) {
        (true, true) => Cause::ReusedReset,
        (true, false) => Cause::ReusedClosed,
        (false, true) => Cause::FreshReset,
        (false, false) => Cause::FreshClosed,
    }
}

/// The kind of the first [`io::Error`] in `error`'s source chain, `error` itself included.
fn io_error_kind(error: &(dyn Error + 'static)) -> Option<io::ErrorKind> {
    wire::error_chain::find::<io::Error>(error).map(io::Error::kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    /// An error that wraps another, as hyper wraps the io error it read.
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

    const REUSED: AttemptFacts = AttemptFacts {
        reused: true,
        response_bytes: false,
        socket_reset: false,
    };
    const FRESH: AttemptFacts = AttemptFacts {
        reused: false,
        response_bytes: false,
        socket_reset: false,
    };

    #[test]
    fn rst_in_the_source_chain_is_a_reset() {
        for kind in [
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::ConnectionAborted,
            io::ErrorKind::BrokenPipe,
        ] {
            let error = Wrapper(io::Error::from(kind));
            assert_eq!(classify_error(&error, REUSED), Cause::ReusedReset);
            assert_eq!(classify_error(&error, FRESH), Cause::FreshReset);
        }
    }

    #[test]
    fn eof_and_unknown_errors_are_closed() {
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(classify_error(&eof, REUSED), Cause::ReusedClosed);
        assert_eq!(classify_error(&Wrapper(eof), FRESH), Cause::FreshClosed);
        let other = io::Error::other("connection closed before message completed");
        assert_eq!(classify_error(&other, REUSED), Cause::ReusedClosed);
    }

    #[test]
    fn any_response_byte_makes_it_an_invalid_response() {
        let facts = AttemptFacts {
            reused: true,
            response_bytes: true,
            socket_reset: false,
        };
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classify_error(&reset, facts), Cause::InvalidResponse);
    }

    #[test]
    fn timeout_is_a_response_timeout_whatever_the_facts() {
        assert_eq!(
            classify(&SendError::Timeout, REUSED),
            Cause::ResponseTimeout
        );
    }

    #[test]
    fn a_reset_the_socket_saw_wins_over_an_error_without_its_source() {
        // hyper's "connection closed before message completed" after the write met the RST.
        let closed = io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed before message completed",
        );
        let facts = AttemptFacts {
            socket_reset: true,
            ..REUSED
        };
        assert_eq!(classify_error(&closed, facts), Cause::ReusedReset);
        assert_eq!(classify_error(&closed, REUSED), Cause::ReusedClosed);
    }
}
