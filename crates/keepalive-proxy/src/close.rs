//! How the back tier lets go of a front connection's socket: the three [`CloseMode`]s, plus the plain close
//! used when HTTP itself ended the connection. This is what decides what the front tier sees when it writes a
//! request on a connection the back just gave up, so each mode is described by what it puts on the wire:
//!
//! - **lingering** (Apache's `ap_lingering_close`, the default): `shutdown(SHUT_WR)` sends a FIN at once; then
//!   the socket keeps reading and discarding whatever the peer sends until the peer's FIN or
//!   `lingering_timeout`, and only then is closed. Because the receive side stays open, a request the front
//!   writes after our FIN is acknowledged and thrown away, never answered: the front reads EOF (nginx's
//!   "upstream prematurely closed connection"), not a reset. Apache lingers so that its last response is not
//!   destroyed by an RST; see <https://httpd.apache.org/docs/2.4/misc/perf-tuning.html#lingering>.
//! - **immediate**: `close()` straight away. With an empty receive buffer the kernel sends a FIN; with unread
//!   request bytes in it, Linux sends an RST instead (RFC 2525 §2.17, `tcp_close` in `net/ipv4/tcp.c`) and the
//!   front reads `ECONNRESET`. Data the front sends after the close reaches a socket that no longer exists and
//!   is answered with an RST too.
//! - **reset**: `SO_LINGER` with a zero timeout, then `close()`: an RST always, no FIN, no `TIME_WAIT`. The
//!   front reads `ECONNRESET` whatever it had sent.
//!
//! The plain close (after `Connection: close` was written, or after the peer's EOF) is `shutdown(SHUT_WR)`
//! then `close()`. This module owns only the socket calls; which mode applies when is `connection.rs`'s job.

use std::time::Duration;

use timeline::{ConnLog, EventKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::config::CloseMode;

/// Closes `stream` the way `mode` says. A lingering close returns once the peer closed its side or
/// `lingering_timeout` passed, whichever comes first; what it discards is recorded in `log`.
pub(crate) async fn close(
    stream: TcpStream,
    mode: CloseMode,
    lingering_timeout: Duration,
    log: &mut ConnLog,
) {
    match mode {
        CloseMode::Lingering => linger(stream, lingering_timeout, log).await,
        CloseMode::Immediate => drop(stream),
        CloseMode::Reset => reset(stream),
    }
}

/// The close after HTTP ended the connection: FIN, then release the socket.
pub(crate) async fn close_gracefully(mut stream: TcpStream) {
    if let Err(error) = stream.shutdown().await {
        tracing::trace!(%error, "shutdown(SHUT_WR) failed; closing anyway");
    }
}

async fn linger(mut stream: TcpStream, lingering_timeout: Duration, log: &mut ConnLog) {
    let until = Instant::now() + lingering_timeout;
    if let Err(error) = stream.shutdown().await {
        // The peer may have reset the connection already: nothing left to linger for.
        tracing::trace!(%error, "shutdown(SHUT_WR) failed; closing");
        return;
    }
    let mut discard = [0u8; 2048];
    loop {
        match tokio::time::timeout_at(until, stream.read(&mut discard)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(read)) => {
                tracing::trace!(read, "lingering close discarded bytes");
                log.record(EventKind::Discarded {
                    bytes: u32::try_from(read).unwrap_or(u32::MAX),
                });
            }
        }
    }
}

fn reset(stream: TcpStream) {
    if let Err(error) = stream.set_zero_linger() {
        // Without SO_LINGER 0 the drop below still closes, with a FIN: say so, since the wire differs.
        tracing::debug!(%error, "cannot set SO_LINGER 0; closing with a FIN instead of an RST");
    }
    drop(stream);
}

#[cfg(test)]
mod tests {
    //! Each mode on a raw loopback pair, observed from the peer's side: these are kernel behaviours (Linux),
    //! checked here so the proxy-level tests can rely on them.

    use std::io::ErrorKind;

    use tokio::net::TcpListener;

    use super::*;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (client.expect("connect"), accepted.expect("accept").0)
    }

    /// Waits until `server` has `len` unread bytes queued, without reading them.
    async fn queued(server: &TcpStream, len: usize) {
        let mut peek = vec![0u8; len];
        loop {
            server.readable().await.expect("readable");
            if server.peek(&mut peek).await.expect("peek") >= len {
                return;
            }
        }
    }

    #[tokio::test]
    async fn lingering_sends_a_fin_and_swallows_later_requests() {
        let (mut client, server) = pair().await;
        let closing = tokio::spawn(async move {
            let mut log = ConnLog::OFF;
            close(
                server,
                CloseMode::Lingering,
                Duration::from_secs(5),
                &mut log,
            )
            .await;
        });
        let mut buf = [0u8; 64];
        assert_eq!(client.read(&mut buf).await.expect("EOF, not an error"), 0);
        // The keep-alive race from the front's side: a request written after the FIN is read and discarded.
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write after FIN");
        assert_eq!(client.read(&mut buf).await.expect("still EOF"), 0);
        // Our FIN ends the linger at once.
        client.shutdown().await.expect("client FIN");
        tokio::time::timeout(Duration::from_secs(5), closing)
            .await
            .expect("linger ends on the peer's FIN")
            .expect("close task");
    }

    #[tokio::test]
    async fn lingering_gives_up_after_its_timeout() {
        let (_client, server) = pair().await;
        let started = Instant::now();
        close(
            server,
            CloseMode::Lingering,
            Duration::from_millis(50),
            &mut ConnLog::default(),
        )
        .await;
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[tokio::test]
    async fn immediate_with_nothing_unread_sends_a_fin() {
        let (mut client, server) = pair().await;
        close(
            server,
            CloseMode::Immediate,
            Duration::ZERO,
            &mut ConnLog::default(),
        )
        .await;
        let mut buf = [0u8; 64];
        assert_eq!(client.read(&mut buf).await.expect("EOF"), 0);
    }

    #[tokio::test]
    async fn immediate_with_unread_bytes_sends_an_rst() {
        let (mut client, server) = pair().await;
        client
            .write_all(b"GET / HTTP/1.1\r\n")
            .await
            .expect("write");
        queued(&server, 16).await;
        close(
            server,
            CloseMode::Immediate,
            Duration::ZERO,
            &mut ConnLog::default(),
        )
        .await;
        let mut buf = [0u8; 64];
        let error = client
            .read(&mut buf)
            .await
            .expect_err("unread data turns close() into an RST");
        assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    }

    #[tokio::test]
    async fn reset_sends_an_rst_even_with_nothing_unread() {
        let (mut client, server) = pair().await;
        close(
            server,
            CloseMode::Reset,
            Duration::ZERO,
            &mut ConnLog::default(),
        )
        .await;
        let mut buf = [0u8; 64];
        let error = client.read(&mut buf).await.expect_err("SO_LINGER 0 resets");
        assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    }

    #[tokio::test]
    async fn graceful_close_sends_a_fin() {
        let (mut client, server) = pair().await;
        close_gracefully(server).await;
        let mut buf = [0u8; 64];
        assert_eq!(client.read(&mut buf).await.expect("EOF"), 0);
    }
}
