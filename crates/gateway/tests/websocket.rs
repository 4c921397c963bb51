//! WebSocket pass-through: a real client handshake gets the origin's `101`, then frames cross both ways
//! through the gateway (the origin echoes them), a close ends the tunnel, an idle tunnel is closed at the
//! client idle timeout, and an upgrade request on a reused connection that fails before the `101` is
//! classified like any request.

mod support;

use std::time::Duration;

use gateway::{Cause, FrontConfig};
use support::{
    Answer, RawConn, Step, WEBSOCKET_ACCEPT, client_frame, config, fake_backend, gateway,
    gateway_before_origin, ok, server_frame, wait_until, websocket_handshake, within,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Writes the handshake (and `early`, in the same write) and checks the `101`.
async fn open(conn: &mut RawConn, early: &[u8]) {
    let mut bytes = websocket_handshake("/ws");
    bytes.extend_from_slice(early);
    conn.send(&bytes).await;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        within(conn.stream.read_exact(&mut byte)).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    assert!(head.contains("connection: upgrade"), "{head}");
    assert!(
        head.contains(&format!(
            "sec-websocket-accept: {}",
            WEBSOCKET_ACCEPT.to_ascii_lowercase()
        )),
        "{head}"
    );
}

#[tokio::test]
async fn frames_cross_both_ways_and_a_close_ends_the_tunnel() {
    let (gateway, origin) = gateway_before_origin(config()).await;
    let mut conn = RawConn::connect(gateway.local_addr()).await;
    // A frame sent with the handshake, before the 101, is not lost.
    open(&mut conn, &client_frame(0x1, b"early")).await;
    assert_eq!(
        server_frame(&mut conn.stream).await,
        (0x81, b"early".to_vec())
    );
    conn.send(&client_frame(0x1, b"hello")).await;
    assert_eq!(
        server_frame(&mut conn.stream).await,
        (0x81, b"hello".to_vec())
    );
    conn.send(&client_frame(0x2, &[0, 1, 2, 255])).await;
    assert_eq!(
        server_frame(&mut conn.stream).await,
        (0x82, vec![0, 1, 2, 255])
    );
    conn.send(&client_frame(0x9, b"ping")).await;
    assert_eq!(
        server_frame(&mut conn.stream).await,
        (0x8a, b"ping".to_vec())
    );
    conn.send(&client_frame(0x8, b"")).await;
    assert_eq!(server_frame(&mut conn.stream).await, (0x88, Vec::new()));
    let mut rest = Vec::new();
    within(conn.stream.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty(), "nothing after the close");
    // The client closes its side too, as after any WebSocket close handshake: then the tunnel is done.
    conn.stream.shutdown().await.unwrap();
    wait_until("the tunnel's end is counted", || async {
        gateway.stats().tunnels_closed == 1
    })
    .await;
    let stats = gateway.stats();
    assert_eq!((stats.tunnels, stats.tunnel_idle_timeouts), (1, 0));
    assert_eq!(stats.responses.get(&101), Some(&1));
    assert_eq!(origin.requests_served(), 1);
    gateway.stop().await;
}

#[tokio::test]
async fn an_idle_tunnel_is_closed_at_the_client_idle_timeout() {
    let idle = Duration::from_millis(300);
    let (gateway, _origin) = gateway_before_origin(FrontConfig {
        client_idle_timeout: idle,
        ..config()
    })
    .await;
    let mut conn = RawConn::connect(gateway.local_addr()).await;
    open(&mut conn, b"").await;
    conn.send(&client_frame(0x1, b"once")).await;
    assert_eq!(
        server_frame(&mut conn.stream).await,
        (0x81, b"once".to_vec())
    );
    // No signal to wait for but the close itself; the counter says why it closed.
    let mut rest = Vec::new();
    within(conn.stream.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty());
    wait_until("the idle end is counted", || async {
        gateway.stats().tunnel_idle_timeouts == 1
    })
    .await;
    assert_eq!(gateway.stats().tunnels, 1);
    gateway.stop().await;
}

#[tokio::test]
async fn an_upgrade_on_a_reused_connection_that_closes_before_the_101_is_reused_closed() {
    let backend = fake_backend(vec![vec![Step::Respond(ok("first")), Step::Close]]).await;
    let gateway = gateway(vec![backend.addr.to_string()], config()).await;
    let mut conn = RawConn::connect(gateway.local_addr()).await;
    conn.send(b"GET / HTTP/1.1\r\nhost: gateway.test\r\n\r\n")
        .await;
    assert_eq!(conn.answer().await.code(), 200);
    conn.send(&websocket_handshake("/ws")).await;
    let answer = conn.answer().await;
    assert_eq!(answer.code(), 502, "{answer:?}");
    assert!(matches!(&answer, Answer::Response { .. }));
    assert_eq!(
        answer.header(gateway::CAUSE_HEADER),
        Some(Cause::ReusedClosed.name())
    );
    assert_eq!(gateway.stats().tunnels, 0);
    conn.stream.shutdown().await.unwrap();
    gateway.stop().await;
}
