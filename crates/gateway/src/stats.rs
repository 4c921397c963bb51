//! The gateway's counters: lock-free atomics on the request path, turned into a [`GatewayStats`] snapshot on
//! demand.
//!
//! This module owns counting only; what counts as a request, a retry or a truncation is decided by the proxy
//! path and the response body.

use std::sync::atomic::{AtomicU64, Ordering};

use http::StatusCode;
use wire::tunnel::TunnelEnd;

use crate::{Cause, GatewayStats};

/// Status codes are three digits, 100 to 999 ([`StatusCode`] refuses others).
const STATUS_CODES: usize = 900;

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

    pub(crate) fn record_reused_request(&self) {
        self.reused_requests.fetch_add(1, Ordering::Relaxed);
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

    /// A consistent-enough copy: each counter is read once, without stopping the gateway.
    pub(crate) fn snapshot(&self) -> GatewayStats {
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
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.requests, 1);
        assert_eq!(
            snapshot.responses,
            BTreeMap::from([(100, 1), (502, 1), (999, 1)])
        );
        assert_eq!(snapshot.causes, BTreeMap::from([(Cause::ReusedReset, 2)]));
    }
}
