//! The byte tunnel of an upgraded connection (a WebSocket after its `101 Switching Protocols`): bytes copied
//! both ways until both sides have closed, or until nothing moved either way for the tier's idle timeout.
//! A side's EOF is passed on as a write shutdown to the other, so a half-closed tunnel still drains.
//!
//! This is the one piece of I/O both tiers share; when to open a tunnel and how to count its end is each
//! tier's.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How a tunnel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelEnd {
    /// Both sides closed (EOF), in either order.
    Closed,
    /// Nothing moved either way for the idle timeout: both sides are closed by the tier.
    IdleTimeout,
    /// A read or write failed (a reset): the tunnel is torn down.
    Failed,
}

/// Bytes moved by a tunnel, and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelReport {
    /// From the client side to the upstream side.
    pub upstream_bytes: u64,
    /// From the upstream side to the client side.
    pub client_bytes: u64,
    /// How it ended.
    pub end: TunnelEnd,
}

/// Copies between `client` and `upstream` until both closed or `idle` passed without a byte either way
/// (`Duration::ZERO`: no idle limit). `early` is what the client sent after its request head, before the
/// tunnel opened: it goes upstream first.
pub async fn run<C, U>(client: C, upstream: U, early: &[u8], idle: Duration) -> TunnelReport
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut upstream_read, mut upstream_write) = tokio::io::split(upstream);
    let mut report = TunnelReport {
        upstream_bytes: 0,
        client_bytes: 0,
        end: TunnelEnd::Closed,
    };
    if !early.is_empty() {
        if upstream_write.write_all(early).await.is_err() {
            report.end = TunnelEnd::Failed;
            return report;
        }
        report.upstream_bytes += early.len() as u64;
    }
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_upstream = vec![0u8; 16 * 1024];
    let mut client_open = true;
    let mut upstream_open = true;
    while client_open || upstream_open {
        let idle_limit = async {
            if idle.is_zero() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(idle).await;
        };
        tokio::select! {
            read = client_read.read(&mut from_client), if client_open => match read {
                Ok(0) => {
                    client_open = false;
                    let _ = upstream_write.shutdown().await;
                }
                Ok(count) => {
                    if upstream_write.write_all(&from_client[..count]).await.is_err() {
                        report.end = TunnelEnd::Failed;
                        break;
                    }
                    report.upstream_bytes += count as u64;
                }
                Err(_) => {
                    report.end = TunnelEnd::Failed;
                    break;
                }
            },
            read = upstream_read.read(&mut from_upstream), if upstream_open => match read {
                Ok(0) => {
                    upstream_open = false;
                    let _ = client_write.shutdown().await;
                }
                Ok(count) => {
                    if client_write.write_all(&from_upstream[..count]).await.is_err() {
                        report.end = TunnelEnd::Failed;
                        break;
                    }
                    report.client_bytes += count as u64;
                }
                Err(_) => {
                    report.end = TunnelEnd::Failed;
                    break;
                }
            },
            () = idle_limit => {
                report.end = TunnelEnd::IdleTimeout;
                break;
            }
        }
    }
    if report.end != TunnelEnd::Closed {
        let _ = client_write.shutdown().await;
        let _ = upstream_write.shutdown().await;
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    #[tokio::test]
    async fn bytes_cross_both_ways_and_both_closes_end_it() {
        let (client_near, mut client_far) = duplex(1024);
        let (upstream_near, mut upstream_far) = duplex(1024);
        let tunnel = tokio::spawn(async move {
            run(
                client_near,
                upstream_near,
                b"early",
                Duration::from_secs(10),
            )
            .await
        });
        let mut got = [0u8; 10];
        upstream_far.read_exact(&mut got[..5]).await.unwrap();
        assert_eq!(&got[..5], b"early");
        client_far.write_all(b"up").await.unwrap();
        upstream_far.read_exact(&mut got[..2]).await.unwrap();
        assert_eq!(&got[..2], b"up");
        upstream_far.write_all(b"down").await.unwrap();
        client_far.read_exact(&mut got[..4]).await.unwrap();
        assert_eq!(&got[..4], b"down");
        client_far.shutdown().await.unwrap();
        assert_eq!(
            upstream_far.read(&mut got).await.unwrap(),
            0,
            "the client's EOF is passed on"
        );
        upstream_far.shutdown().await.unwrap();
        let report = tunnel.await.unwrap();
        assert_eq!(
            report,
            TunnelReport {
                upstream_bytes: 7,
                client_bytes: 4,
                end: TunnelEnd::Closed
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_tunnel_is_closed_at_the_idle_timeout() {
        let (client_near, mut client_far) = duplex(1024);
        let (upstream_near, mut upstream_far) = duplex(1024);
        let started = tokio::time::Instant::now();
        let tunnel = tokio::spawn(async move {
            run(client_near, upstream_near, b"", Duration::from_millis(500)).await
        });
        client_far.write_all(b"x").await.unwrap();
        let mut got = [0u8; 4];
        upstream_far.read_exact(&mut got[..1]).await.unwrap();
        let report = tunnel.await.unwrap();
        assert_eq!(report.end, TunnelEnd::IdleTimeout);
        assert!(started.elapsed() >= Duration::from_millis(500));
        assert_eq!(client_far.read(&mut got).await.unwrap(), 0);
        assert_eq!(upstream_far.read(&mut got).await.unwrap(), 0);
    }
}
