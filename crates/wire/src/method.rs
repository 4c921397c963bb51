//! The methods a reverse proxy does not forward blindly. `CONNECT` asks for a tunnel to the authority it
//! names: a reverse proxy is not a forward proxy, and forwarding it as `CONNECT / HTTP/1.1` is malformed, so it
//! is refused 405 without touching the upstream (nginx and HAProxy answer 400 or 405). `TRACE` echoes the
//! request back, headers and cookies included (cross-site tracing): refused 405 by default, as nginx does,
//! and forwarded when the tier's `allow_trace` is set (Apache's `TraceEnable`).

use http::Method;

/// What the tier lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MethodPolicy {
    /// Forward `TRACE` (refused 405 when false).
    pub allow_trace: bool,
}

/// A method the tier refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MethodRefused {
    /// `CONNECT`, always.
    #[error("CONNECT is not proxied (a reverse proxy opens no tunnels)")]
    Connect,
    /// `TRACE`, unless `allow_trace`.
    #[error("TRACE is refused (allow_trace = false)")]
    Trace,
}

/// The `Allow` header of the 405: what the tier forwards.
pub const ALLOWED: &str = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH";

impl MethodPolicy {
    /// Refuses `CONNECT`, and `TRACE` unless allowed.
    pub fn check(&self, method: &Method) -> Result<(), MethodRefused> {
        if method == Method::CONNECT {
            Err(MethodRefused::Connect)
        } else if method == Method::TRACE && !self.allow_trace {
            Err(MethodRefused::Trace)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_always_and_trace_by_default_are_refused() {
        let strict = MethodPolicy::default();
        let open = MethodPolicy { allow_trace: true };
        assert_eq!(strict.check(&Method::CONNECT), Err(MethodRefused::Connect));
        assert_eq!(open.check(&Method::CONNECT), Err(MethodRefused::Connect));
        assert_eq!(strict.check(&Method::TRACE), Err(MethodRefused::Trace));
        assert_eq!(open.check(&Method::TRACE), Ok(()));
        for method in [
            Method::GET,
            Method::POST,
            Method::OPTIONS,
            Method::from_bytes(b"PURGE").unwrap(),
        ] {
            assert_eq!(strict.check(&method), Ok(()));
        }
    }
}
