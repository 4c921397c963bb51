//! WebSocket and other `Upgrade` pass-through on the back, as Apache's `mod_proxy_wstunnel` (or
//! `mod_proxy_http`'s upgrade support) does it: after the origin's `101`, the front connection and the origin
//! connection become one byte tunnel (`wire::tunnel`), idle-limited by `Timeout` (the back's
//! `request_timeout`, which Apache applies to a tunnel without `ProxyWebsocketIdleTimeout`).
//!
//! `forward.rs` gets the origin side's hyper upgrade with the `101`; `service.rs` puts it in the connection's
//! [`TunnelSlot`]; `connection.rs`, once hyper has written the `101` and handed the socket back, calls [`run`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use wire::tunnel::{self, TunnelEnd};

use crate::stats::Counters;

/// The origin side of a tunnel, between the service passing the `101` on and the connection task opening
/// the tunnel.
#[derive(Debug, Clone, Default)]
pub(crate) struct TunnelSlot(Arc<Mutex<Option<OnUpgrade>>>);

impl TunnelSlot {
    pub(crate) fn put(&self, upgrade: OnUpgrade) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(upgrade);
        }
    }

    /// True while an upgrade waits for its tunnel: the connection is not idle.
    pub(crate) fn is_pending(&self) -> bool {
        self.0.lock().is_ok_and(|slot| slot.is_some())
    }

    pub(crate) fn take(&self) -> Option<OnUpgrade> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Runs the tunnel between the front's `client` socket (with `early`, the bytes read past the request head)
/// and the origin's upgraded connection; counted in `stats`.
pub(crate) async fn run(
    client: TcpStream,
    early: &[u8],
    upgrade: OnUpgrade,
    idle: Duration,
    stats: &Counters,
) {
    let upgraded = match upgrade.await {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::debug!(%error, "origin upgrade failed; closing the front connection");
            stats.tunnel_end(TunnelEnd::Failed);
            return;
        }
    };
    stats.tunnel_opened();
    let report = tunnel::run(client, TokioIo::new(upgraded), early, idle).await;
    tracing::debug!(?report, "tunnel ended");
    stats.tunnel_end(report.end);
}
