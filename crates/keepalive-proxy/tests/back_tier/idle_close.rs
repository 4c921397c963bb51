//! KeepAliveTimeout as a pooled front connection sees it: a raw client reads one response, then waits.
//! Each close mode is asserted by what arrives on the wire (EOF or reset), and the idle close never comes
//! before the timeout (lower bounds only: they measure from the request's write, which precedes the server's
//! idle start, so they cannot fail on a correct server nor pass on one that closes early).

use std::io::ErrorKind;
use std::time::Duration;

use keepalive_proxy::{BackConfig, CloseMode};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::time::Instant;

use crate::support::{GET, RawClient, back_with, bounded};

const T: Duration = Duration::from_millis(100);

fn config(close: CloseMode) -> BackConfig {
    BackConfig {
        keepalive_timeout: T,
        close,
        ..BackConfig::default()
    }
}

#[tokio::test]
async fn lingering_close_is_an_eof_and_swallows_a_late_request() {
    let (back, origin) = back_with(config(CloseMode::Lingering)).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    let sent = Instant::now();
    assert_eq!(client.exchange(GET).await.status(), 200);

    assert_eq!(client.next_read().await.expect("a FIN, not a reset"), 0);
    assert!(
        sent.elapsed() >= T,
        "closed {:?} after the request, before the timeout",
        sent.elapsed()
    );
    assert_eq!(back.stats().keepalive_timeouts, 1);

    // The front, unaware, writes its next request: the lingering socket accepts and discards it.
    client
        .stream
        .write_all(GET)
        .await
        .expect("a write after the FIN succeeds");
    match client.next_read().await {
        Ok(0) => {}
        other => panic!("expected EOF and never a response, got {other:?}"),
    }
    assert_eq!(
        back.stats().requests,
        1,
        "the late request never reached HTTP"
    );
    back.stop().await;
    origin.stop().await;
}

#[tokio::test]
async fn a_request_written_just_after_the_fin_gets_eof_not_a_response() {
    let (back, origin) = back_with(config(CloseMode::Lingering)).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    assert_eq!(client.exchange(GET).await.status(), 200);
    // Like a pool that does not check for a FIN before reuse: wait until the FIN arrived (without reading it),
    // then write. This is the keep-alive race, lost by the front.
    client.stream.readable().await.expect("readable");
    client
        .stream
        .write_all(GET)
        .await
        .expect("the write itself succeeds");
    assert_eq!(client.next_read().await.expect("EOF, not a reset"), 0);
    assert_eq!(back.stats().requests, 1);
    assert_eq!(back.stats().keepalive_timeouts, 1);
    back.stop().await;
    origin.stop().await;
}

#[tokio::test]
async fn reset_close_is_a_connection_reset() {
    let (back, origin) = back_with(config(CloseMode::Reset)).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    let sent = Instant::now();
    assert_eq!(client.exchange(GET).await.status(), 200);
    let error = client.next_read().await.expect_err("an RST");
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    assert!(sent.elapsed() >= T);
    assert_eq!(back.stats().keepalive_timeouts, 1);
    back.stop().await;
    origin.stop().await;
}

#[tokio::test]
async fn immediate_close_is_an_eof_then_data_is_answered_with_an_rst() {
    let (back, origin) = back_with(config(CloseMode::Immediate)).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    let sent = Instant::now();
    assert_eq!(client.exchange(GET).await.status(), 200);
    // Nothing unread on the server side: close() sends a FIN.
    assert_eq!(client.next_read().await.expect("a FIN"), 0);
    assert!(sent.elapsed() >= T);
    assert_eq!(back.stats().keepalive_timeouts, 1);

    // The server's socket is gone. A request written now is accepted by the client's kernel, and the server's
    // kernel answers it with an RST. The front still reads EOF: the FIN came first and Linux keeps reporting
    // EOF on a socket whose FIN was received. The RST shows as EPOLLERR with a pending EPIPE (Linux reports a
    // reset received in CLOSE_WAIT as EPIPE, `tcp_reset` in net/ipv4/tcp_input.c), and every later write fails.
    client
        .stream
        .write_all(GET)
        .await
        .expect("the write is buffered");
    assert_eq!(client.next_read().await.expect("still EOF"), 0);
    bounded("the RST arrives", client.stream.ready(Interest::ERROR))
        .await
        .expect("readiness");
    let pending = client
        .stream
        .take_error()
        .expect("SO_ERROR")
        .map(|e| e.kind());
    assert_eq!(pending, Some(ErrorKind::BrokenPipe));
    let error = client
        .stream
        .write_all(GET)
        .await
        .expect_err("writes after the RST fail");
    assert_eq!(error.kind(), ErrorKind::BrokenPipe);
    assert_eq!(back.stats().requests, 1);
    back.stop().await;
    origin.stop().await;
}

#[tokio::test]
async fn a_request_before_the_timeout_keeps_the_connection() {
    let (back, origin) = back_with(config(CloseMode::Lingering)).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    assert_eq!(client.exchange(GET).await.status(), 200);
    tokio::time::sleep(T / 2).await;
    let sent = Instant::now();
    assert_eq!(
        client.exchange(GET).await.status(),
        200,
        "still open at T/2"
    );
    assert_eq!(back.stats().keepalive_timeouts, 0);

    // The timer restarted at the second response's end.
    assert_eq!(client.next_read().await.expect("a FIN"), 0);
    assert!(sent.elapsed() >= T);
    assert_eq!(back.stats().keepalive_timeouts, 1);
    assert_eq!(back.stats().requests, 2);
    assert_eq!(back.stats().connections, 1);
    back.stop().await;
    origin.stop().await;
}

#[tokio::test]
async fn a_connection_that_never_sends_a_request_closes_after_the_request_timeout() {
    let request_timeout = Duration::from_millis(100);
    let (back, origin) = back_with(BackConfig {
        request_timeout,
        ..BackConfig::default()
    })
    .await;
    let connected = Instant::now();
    let mut client = RawClient::connect(back.local_addr()).await;
    assert_eq!(client.next_read().await.expect("a FIN"), 0);
    assert!(connected.elapsed() >= request_timeout);
    assert_eq!(
        back.stats().keepalive_timeouts,
        0,
        "not a keep-alive timeout"
    );
    assert_eq!(back.stats().connections, 1);
    back.stop().await;
    origin.stop().await;
}

#[tokio::test]
async fn stop_closes_idle_connections() {
    let (back, origin) = back_with(BackConfig::default()).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    assert_eq!(client.exchange(GET).await.status(), 200);
    back.stop().await;
    assert_eq!(client.next_read().await.expect("a FIN"), 0);
    origin.stop().await;
}
