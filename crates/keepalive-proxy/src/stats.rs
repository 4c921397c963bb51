//! The back tier's counters: lock-free, bumped by connection tasks, read as a [`BackStats`] snapshot (and the
//! responses by status, which `BackStats` does not hold).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wire::tunnel::TunnelEnd;

use crate::BackStats;

/// Live counters behind [`BackStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    connections: AtomicU64,
    requests: AtomicU64,
    keepalive_timeouts: AtomicU64,
    max_requests_closes: AtomicU64,
    header_read_timeouts: AtomicU64,
    client_errors: AtomicU64,
    bad_gateways: AtomicU64,
    tunnels: AtomicU64,
    tunnel_idle_timeouts: AtomicU64,
    tunnels_closed: AtomicU64,
    client_closes: AtomicU64,
    reused_requests: AtomicU64,
    /// Shared with the origin connector, which counts into it.
    origin_connections: Arc<AtomicU64>,
    responses: StatusCounts,
}

/// Responses by status: one counter per code hyper can send (100 to 999), so counting takes no lock.
#[derive(Debug)]
struct StatusCounts(Box<[AtomicU64]>);

/// The smallest status code.
const FIRST_STATUS: u16 = 100;

impl Default for StatusCounts {
    fn default() -> Self {
        Self((FIRST_STATUS..1000).map(|_| AtomicU64::new(0)).collect())
    }
}

impl Counters {
    pub(crate) fn connection_accepted(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn request_received(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn keepalive_timeout(&self) {
        self.keepalive_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn max_requests_close(&self) {
        self.max_requests_closes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn header_read_timeout(&self) {
        self.header_read_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn client_error(&self) {
        self.client_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn bad_gateway(&self) {
        self.bad_gateways.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn tunnel_opened(&self) {
        self.tunnels.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn tunnel_end(&self, end: TunnelEnd) {
        let counter = match end {
            TunnelEnd::IdleTimeout => &self.tunnel_idle_timeouts,
            TunnelEnd::Closed | TunnelEnd::Failed => &self.tunnels_closed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A front connection ended by the front (its close, its reset or a broken request), not by the back.
    pub(crate) fn client_close(&self) {
        self.client_closes.fetch_add(1, Ordering::Relaxed);
    }

    /// A request on a connection that had carried one before.
    pub(crate) fn reused_request(&self) {
        self.reused_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// The counter of origin connections, for the origin connector to count into.
    pub(crate) fn origin_connections(&self) -> Arc<AtomicU64> {
        self.origin_connections.clone()
    }

    /// A response sent with `status`.
    pub(crate) fn response(&self, status: http::StatusCode) {
        let index = usize::from(status.as_u16().saturating_sub(FIRST_STATUS));
        if let Some(counter) = self.responses.0.get(index) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Responses sent so far, by status (the statuses sent at least once).
    pub(crate) fn responses(&self) -> BTreeMap<u16, u64> {
        self.responses
            .0
            .iter()
            .zip(FIRST_STATUS..)
            .filter_map(|(counter, status)| {
                let count = counter.load(Ordering::Relaxed);
                (count > 0).then_some((status, count))
            })
            .collect()
    }

    /// What was counted so far.
    pub(crate) fn snapshot(&self) -> BackStats {
        BackStats {
            connections: self.connections.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            keepalive_timeouts: self.keepalive_timeouts.load(Ordering::Relaxed),
            max_requests_closes: self.max_requests_closes.load(Ordering::Relaxed),
            header_read_timeouts: self.header_read_timeouts.load(Ordering::Relaxed),
            client_errors: self.client_errors.load(Ordering::Relaxed),
            bad_gateways: self.bad_gateways.load(Ordering::Relaxed),
            tunnels: self.tunnels.load(Ordering::Relaxed),
            tunnel_idle_timeouts: self.tunnel_idle_timeouts.load(Ordering::Relaxed),
            tunnels_closed: self.tunnels_closed.load(Ordering::Relaxed),
            client_closes: self.client_closes.load(Ordering::Relaxed),
            reused_requests: self.reused_requests.load(Ordering::Relaxed),
            origin_connections: self.origin_connections.load(Ordering::Relaxed),
        }
    }
}
