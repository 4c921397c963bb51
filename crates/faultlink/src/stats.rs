//! The link's counters: updated lock-free by connection tasks, read as one [`LinkStats`] snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of what the link did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Client connections accepted.
    pub connections: u64,
    /// Connections the link reset on purpose.
    pub resets_injected: u64,
    /// Connections swallowed by the blackhole.
    pub blackholed: u64,
}

impl std::ops::Add for LinkStats {
    type Output = LinkStats;

    /// Field by field: the counters of several links (one per pool member) as one.
    fn add(self, more: LinkStats) -> LinkStats {
        LinkStats {
            connections: self.connections + more.connections,
            resets_injected: self.resets_injected + more.resets_injected,
            blackholed: self.blackholed + more.blackholed,
        }
    }
}

/// The live counters behind [`LinkStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    connections: AtomicU64,
    resets_injected: AtomicU64,
    blackholed: AtomicU64,
}

impl Counters {
    pub(crate) fn connection_accepted(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reset_injected(&self) {
        self.resets_injected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn blackholed(&self) {
        self.blackholed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> LinkStats {
        LinkStats {
            connections: self.connections.load(Ordering::Relaxed),
            resets_injected: self.resets_injected.load(Ordering::Relaxed),
            blackholed: self.blackholed.load(Ordering::Relaxed),
        }
    }
}
