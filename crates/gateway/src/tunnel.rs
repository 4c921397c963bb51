//! WebSocket and other `Upgrade` pass-through: after the backend's `101`, the client connection and the
//! upstream connection become one byte tunnel (`wire::tunnel`) with the client idle timeout applied to it.
//!
//! `proxy.rs` attaches a [`PendingTunnel`] (where the upstream socket arrives when hyper lets go of it, and
//! the connection it came from, kept alive until the socket is handed over) to the `101` it passes on; `server.rs` takes it off the
//! response, lets hyper write the `101`, takes the client socket back from hyper and calls [`run`]. The
//! keep-alive race applies before the `101` like to any request: that part is `proxy.rs`'s as always.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use wire::tunnel::{self, TunnelEnd};

use crate::pool::PooledConn;
use crate::stats::Stats;
use crate::upstream_conn::UpgradedIo;

/// The upstream side of a tunnel, until the client side is ready. Cloneable (response extensions must be):
/// the first to [`PendingTunnel::take`] it gets it.
#[derive(Debug, Clone)]
pub(crate) struct PendingTunnel(Arc<Mutex<Option<Upstream>>>);

/// Where the upstream socket arrives once hyper let go of it, and the connection it belongs to (dropping that
/// connection would abort its driver before the socket is handed over). No receiver: the backend answered
/// `101` to a request that asked for no upgrade, and the tunnel fails.
#[derive(Debug)]
pub(crate) struct Upstream {
    upgrade: Option<oneshot::Receiver<UpgradedIo>>,
    conn: PooledConn,
}

impl PendingTunnel {
    pub(crate) fn new(
        upgrade: Option<oneshot::Receiver<UpgradedIo>>,
        conn: PooledConn,
    ) -> PendingTunnel {
        PendingTunnel(Arc::new(Mutex::new(Some(Upstream { upgrade, conn }))))
    }

    /// The upstream side, once.
    pub(crate) fn take(&self) -> Option<Upstream> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Runs the tunnel between `client` (with `early`, the bytes it sent past its request head) and `upstream`,
/// closing both when it ends; counted in `stats`.
pub(crate) async fn run(
    client: TcpStream,
    early: &[u8],
    upstream: Upstream,
    idle: Duration,
    stats: &Stats,
) {
    let connection = upstream.conn.conn.id;
    let upgraded = match upstream.upgrade {
        Some(upgrade) => upgrade.await.ok(),
        None => None,
    };
    let Some(UpgradedIo {
        io,
        early: upstream_early,
    }) = upgraded
    else {
        tracing::debug!(connection, "upstream upgrade failed; closing the client");
        stats.record_tunnel_end(TunnelEnd::Failed);
        return;
    };
    drop(upstream.conn);
    stats.record_tunnel_opened();
    let mut client = client;
    // What the backend sent right behind its `101` goes to the client before anything else.
    if !upstream_early.is_empty() && client.write_all(&upstream_early).await.is_err() {
        stats.record_tunnel_end(TunnelEnd::Failed);
        return;
    }
    let report = tunnel::run(client, io, early, idle).await;
    tracing::debug!(connection, ?report, "tunnel ended");
    stats.record_tunnel_end(report.end);
}
