//! The gateway's counters: lock-free atomics on the request path, turned into a [`GatewayStats`] snapshot on
//! demand.
//!
//! This module owns counting only; what counts as a request, a retry or a truncation is decided by the proxy
//! path and the response body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::StatusCode;
use wire::tunnel::TunnelEnd;

use crate::{Cause, GatewayStats};

/// Status codes are three digits, 100 to 999 ([`StatusCode`] refuses others).
const STATUS_CODES: usize = 900;

/// Upper bounds (seconds) of the idle-age buckets of reused upstream connections: around the usual
/// KeepAliveTimeouts (Apache 5 s, nginx 60-75 s, ALB 60 s), where the race lives. A last bucket takes the rest.
pub(crate) const IDLE_AGE_BOUNDS_S: [f64; 12] = [
    0.001, 0.01, 0.1, 0.5, 1.0, 2.0, 4.0, 5.0, 10.0, 30.0, 60.0, 75.0,
];

/// How long reused upstream connections had been idle, in fixed buckets (lock-free, like the counters).
#[derive(Debug, Default)]
struct IdleAges {
    /// One per bound, plus the last one for everything above.
    buckets: [AtomicU64; IDLE_AGE_BOUNDS_S.len() + 1],
    sum_us: AtomicU64,
}

/// The idle ages so far: per-bucket (not cumulative) counts with their upper bounds, the last one
/// `f64::MAX` (+Inf), and the sum in seconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IdleAgeSnapshot {
    pub(crate) buckets: Vec<(f64, u64)>,
    pub(crate) count: u64,
    pub(crate) sum_s: f64,
}

/// Shared, updated by every connection task.
#[derive(Debug)]
pub(crate) struct Stats {
    requests: AtomicU64,
    /// Per status code, indexed by `code - 100`: one atomic add per response, no lock shared by connections.
    responses: Box<[AtomicU64; STATUS_CODES]>,
    /// Indexed by the position of the cause in [`Cause::ALL`].
    causes: [AtomicU64; Cause::ALL.len()],
    upstream_connections: AtomicU64,
    reused_requests: AtomicU64,
    retries: AtomicU64,
    truncated_responses: AtomicU64,
    parked_connections: AtomicU64,
    client_errors: AtomicU64,
    tunnels: AtomicU64,
    tunnel_idle_timeouts: AtomicU64,
    tunnels_closed: AtomicU64,
    idle_ages: IdleAges,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            requests: AtomicU64::new(0),
            responses: Box::new(std::array::from_fn(|_| AtomicU64::new(0))),
            causes: Default::default(),
            upstream_connections: AtomicU64::new(0),
            reused_requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            truncated_responses: AtomicU64::new(0),
            parked_connections: AtomicU64::new(0),
            client_errors: AtomicU64::new(0),
            tunnels: AtomicU64::new(0),
            tunnel_idle_timeouts: AtomicU64::new(0),
            tunnels_closed: AtomicU64::new(0),
            idle_ages: IdleAges::default(),
        }
    }
}

impl Stats {
    pub(crate) fn record_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_response(&self, status: StatusCode) {
        let index = usize::from(status.as_u16()).saturating_sub(100);
        if let Some(count) = self.responses.get(index) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn record_cause(&self, cause: Cause) {
        if let Some(index) = Cause::ALL.iter().position(|c| *c == cause) {
            self.causes[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn record_upstream_connection(&self) {
        self.upstream_connections.fetch_add(1, Ordering::Relaxed);
    }

    /// A request sent on a reused connection that had been idle `idle_age`.
    pub(crate) fn record_reused_request(&self, idle_age: Duration) {
        self.reused_requests.fetch_add(1, Ordering::Relaxed);
        let seconds = idle_age.as_secs_f64();
        let bucket = IDLE_AGE_BOUNDS_S
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(IDLE_AGE_BOUNDS_S.len());
        self.idle_ages.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(idle_age.as_micros()).unwrap_or(u64::MAX);
        self.idle_ages.sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    /// The idle ages of reused connections so far.
    pub(crate) fn idle_ages(&self) -> IdleAgeSnapshot {
        let buckets: Vec<(f64, u64)> = IDLE_AGE_BOUNDS_S
            .iter()
            .copied()
            .chain(std::iter::once(f64::MAX))
            .zip(&self.idle_ages.buckets)
            .map(|(bound, count)| (bound, count.load(Ordering::Relaxed)))
            .collect();
        IdleAgeSnapshot {
            count: buckets.iter().map(|(_, n)| n).sum(),
            buckets,
            sum_s: self.idle_ages.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }

    pub(crate) fn record_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_truncated_response(&self) {
        self.truncated_responses.fetch_add(1, Ordering::Relaxed);
    }

    /// An idle client connection gave its HTTP buffers back.
    pub(crate) fn record_parked_connection(&self) {
        self.parked_connections.fetch_add(1, Ordering::Relaxed);
    }

    /// A request refused as the client's mistake (a 4xx the gateway made itself).
    pub(crate) fn record_client_error(&self) {
        self.client_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A tunnel opened after a `101`.
    pub(crate) fn record_tunnel_opened(&self) {
        self.tunnels.fetch_add(1, Ordering::Relaxed);
    }

    /// A tunnel (or the attempt to open one) ended.
    pub(crate) fn record_tunnel_end(&self, end: TunnelEnd) {
        let counter = match end {
            TunnelEnd::IdleTimeout => &self.tunnel_idle_timeouts,
            TunnelEnd::Closed | TunnelEnd::Failed => &self.tunnels_closed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A consistent-enough copy: each counter is read once, without stopping the gateway. The pool counts its
    /// own parks: `upstream_parked` is its figure.
    pub(crate) fn snapshot(&self, upstream_parked: u64) -> GatewayStats {
        let responses = (100u16..)
            .zip(self.responses.iter())
            .map(|(code, count)| (code, count.load(Ordering::Relaxed)))
            .filter(|(_, count)| *count > 0)
            .collect();
        let causes = Cause::ALL
            .iter()
            .zip(&self.causes)
            .map(|(cause, count)| (*cause, count.load(Ordering::Relaxed)))
            .filter(|(_, count)| *count > 0)
            .collect();
        GatewayStats {
            requests: self.requests.load(Ordering::Relaxed),
            responses,
            causes,
            upstream_connections: self.upstream_connections.load(Ordering::Relaxed),
            reused_requests: self.reused_requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            truncated_responses: self.truncated_responses.load(Ordering::Relaxed),
            parked_connections: self.parked_connections.load(Ordering::Relaxed),
            parked_upstream_connections: upstream_parked,
            client_errors: self.client_errors.load(Ordering::Relaxed),
            tunnels: self.tunnels.load(Ordering::Relaxed),
            tunnel_idle_timeouts: self.tunnel_idle_timeouts.load(Ordering::Relaxed),
            tunnels_closed: self.tunnels_closed.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn snapshot_lists_only_causes_that_happened() {
        let stats = Stats::default();
        stats.record_request();
        stats.record_response(StatusCode::BAD_GATEWAY);
        stats.record_response(StatusCode::CONTINUE);
        stats.record_response(StatusCode::from_u16(999).unwrap());
        stats.record_cause(Cause::ReusedReset);
        stats.record_cause(Cause::ReusedReset);
        let snapshot = stats.snapshot(0);
        assert_eq!(snapshot.requests, 1);
        assert_eq!(
            snapshot.responses,
            BTreeMap::from([(100, 1), (502, 1), (999, 1)])
        );
        assert_eq!(snapshot.causes, BTreeMap::from([(Cause::ReusedReset, 2)]));
    }

    #[test]
    fn idle_ages_land_in_their_bucket() {
        let stats = Stats::default();
        stats.record_reused_request(Duration::from_millis(4900));
        stats.record_reused_request(Duration::from_millis(5000));
        stats.record_reused_request(Duration::from_secs(100));
        let ages = stats.idle_ages();
        assert_eq!(ages.count, 3);
        assert_eq!(stats.snapshot(0).reused_requests, 3);
        let count_at = |bound: f64| {
            ages.buckets
                .iter()
                .find(|(b, _)| *b == bound)
                .map(|(_, n)| *n)
        };
        assert_eq!(
            count_at(5.0),
            Some(2),
            "4.9 s and 5 s are at most 5 s: {ages:?}"
        );
        assert_eq!(count_at(f64::MAX), Some(1), "{ages:?}");
        assert!((ages.sum_s - 109.9).abs() < 1e-6, "{ages:?}");
    }
}
