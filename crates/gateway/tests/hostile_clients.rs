//! Hostile clients on raw sockets: slowloris heads cut off by the header-read timer, and the client connection
//! limit refusing the connection over it with the listener's 503.

mod support;

use std::time::Duration;

use gateway::FrontConfig;
use listener::HTTP_503_REFUSAL;
use support::{
    Answer, RawConn, config, gateway_before_origin, live_connections, raw_exchange, within,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// hyper's header-read timer (the gateway's `client_idle_timeout`) closes a connection whose head stops or
/// trickles: no response, a plain EOF.
#[tokio::test]
async fn slowloris_heads_are_closed_without_an_answer_at_the_header_read_timeout() {
    let (gateway, origin) = gateway_before_origin(FrontConfig {
        client_idle_timeout: Duration::from_millis(200),
        ..config()
    })
    .await;
    let mut stalled = RawConn::connect(gateway.local_addr()).await;
    stalled.send(b"GET / HTTP/1.1\r\nhost: x\r\n").await;

    let mut trickler = RawConn::connect(gateway.local_addr()).await;
    trickler.send(b"GET / HTTP/1.1\r\nx-slow: ").await;
    let mut heard = Vec::new();
    let mut trickled = 0;
    within(async {
        let mut chunk = [0u8; 256];
        loop {
            tokio::select! {
                read = trickler.stream.read(&mut chunk) => {
                    heard.extend_from_slice(&chunk[..read.unwrap_or(0)]);
                    break;
                }
                () = tokio::time::sleep(Duration::from_millis(20)) => {
                    if trickler.stream.write_all(b"x").await.is_err() {
                        break;
                    }
                    trickled += 1;
                }
            }
        }
    })
    .await;

    assert!(
        matches!(stalled.answer().await, Answer::Eof),
        "stalled head"
    );
    assert_eq!(heard, b"", "the trickler got an answer");
    assert!(trickled >= 2, "the trickler was cut off before it trickled");
    live_connections(&gateway, 0).await;
    assert_eq!(origin.requests_served(), 0);
    assert_eq!(gateway.stats().requests, 0);
    gateway.stop().await;
}

/// `max_client_connections = 4`: four idle connections are held, the fifth is told 503 and closed; once one
/// of the four leaves, a new connection is served.
#[tokio::test]
async fn the_connection_over_max_client_connections_gets_the_503_refusal() {
    let (gateway, _origin) = gateway_before_origin(FrontConfig {
        max_client_connections: 4,
        ..config()
    })
    .await;
    let addr = gateway.local_addr();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(RawConn::connect(addr).await);
    }
    live_connections(&gateway, 4).await;

    let mut over = RawConn::connect(addr).await;
    over.send(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let mut refusal = Vec::new();
    within(over.stream.read_to_end(&mut refusal)).await.unwrap();
    assert_eq!(refusal, HTTP_503_REFUSAL);
    assert_eq!(gateway.refused_connections(), 1);

    drop(held.pop());
    live_connections(&gateway, 3).await;
    let (answer, _) = raw_exchange(addr, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(answer.code(), 200);
    // The held ones are still served too.
    let first = &mut held[0];
    first.send(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(first.answer().await.code(), 200);
    gateway.stop().await;
}
