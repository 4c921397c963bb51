//! The back tier's counters: lock-free, bumped by connection tasks, read as a [`BackStats`] snapshot.

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
        }
    }
}
