//! Whether a failed request is sent again: the retry policy as one pure decision.
//!
//! This module decides; it does not open the fresh connection nor count the retry (the proxy path does both).
//! Only the keep-alive race is retryable ([`Cause::is_retryable`]): a reused connection that failed before any
//! response byte. Anything else may have reached the backend's application, or will fail the same way again.

use http::Method;

use crate::{Cause, RetryPolicy};

/// True when `policy` allows sending a request with `method` once more, on a fresh connection, after `cause`.
pub(crate) fn should_retry(policy: RetryPolicy, method: &Method, cause: Cause) -> bool {
    cause.is_retryable() && may_retry(policy, method)
}

/// True when `policy` may retry a request with `method` after some cause: the proxy keeps a copy of the
/// request only then.
pub(crate) fn may_retry(policy: RetryPolicy, method: &Method) -> bool {
    match policy {
        RetryPolicy::None => false,
        RetryPolicy::Idempotent => is_idempotent(method),
        RetryPolicy::Always => true,
    }
}

/// The idempotent methods of RFC 9110 §9.2.2.
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotent_policy_retries_the_race_for_get_but_not_post() {
        assert!(should_retry(
            RetryPolicy::Idempotent,
            &Method::GET,
            Cause::ReusedClosed
        ));
        assert!(should_retry(
            RetryPolicy::Idempotent,
            &Method::DELETE,
            Cause::ReusedReset
        ));
        assert!(!should_retry(
            RetryPolicy::Idempotent,
            &Method::POST,
            Cause::ReusedClosed
        ));
        assert!(!should_retry(
            RetryPolicy::Idempotent,
            &Method::PATCH,
            Cause::ReusedClosed
        ));
    }

    #[test]
    fn always_retries_post_and_none_retries_nothing() {
        assert!(should_retry(
            RetryPolicy::Always,
            &Method::POST,
            Cause::ReusedClosed
        ));
        assert!(!should_retry(
            RetryPolicy::None,
            &Method::GET,
            Cause::ReusedClosed
        ));
    }

    #[test]
    fn only_the_race_is_retried() {
        for cause in Cause::ALL.into_iter().filter(|cause| !cause.is_retryable()) {
            assert!(
                !should_retry(RetryPolicy::Always, &Method::GET, cause),
                "{cause}"
            );
        }
    }
}
