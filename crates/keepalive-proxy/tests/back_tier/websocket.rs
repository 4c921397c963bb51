//! WebSocket pass-through on the back: a real client handshake gets the origin's `101`, frames cross both
//! ways (the origin echoes them), a close ends the tunnel, and an idle tunnel is closed at `request_timeout`
//! (Apache's `Timeout`).

use std::time::Duration;

use keepalive_proxy::{BackConfig, KeepAliveProxy};
use origin::{Origin, OriginConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{
    RawClient, WEBSOCKET_ACCEPT, bounded, client_frame, loopback, server_frame, wait_until,
    websocket_handshake,
};

async fn chain(config: BackConfig) -> (KeepAliveProxy, Origin) {
    let origin = Origin::start(loopback(), OriginConfig::default())
        .await
        .expect("origin binds");
    let back = KeepAliveProxy::start(loopback(), origin.local_addr(), config)
        .await
        .expect("back tier binds");
    (back, origin)
}

/// Writes the handshake (and `early` in the same write) and checks the `101`.
async fn open(client: &mut RawClient, early: &[u8]) {
    let mut bytes = websocket_handshake("/ws");
    bytes.extend_from_slice(early);
    client.send(&bytes).await;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        bounded("101 head", client.stream.read_exact(&mut byte))
            .await
            .expect("101 head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("ASCII").to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    assert!(head.contains("connection: upgrade"), "{head}");
    let accept = format!(
        "sec-websocket-accept: {}",
        WEBSOCKET_ACCEPT.to_ascii_lowercase()
    );
    assert!(head.contains(&accept), "{head}");
}

#[tokio::test]
async fn frames_cross_both_ways_and_a_close_ends_the_tunnel() {
    let (back, origin) = chain(BackConfig::default()).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    open(&mut client, &client_frame(0x1, b"early")).await;
    assert_eq!(
        server_frame(&mut client.stream).await,
        (0x81, b"early".to_vec())
    );
    client.send(&client_frame(0x1, b"hello")).await;
    assert_eq!(
        server_frame(&mut client.stream).await,
        (0x81, b"hello".to_vec())
    );
    client.send(&client_frame(0x2, &[9, 8, 7])).await;
    assert_eq!(
        server_frame(&mut client.stream).await,
        (0x82, vec![9, 8, 7])
    );
    client.send(&client_frame(0x8, b"")).await;
    assert_eq!(server_frame(&mut client.stream).await, (0x88, Vec::new()));
    let mut rest = Vec::new();
    bounded("EOF after the close", client.stream.read_to_end(&mut rest))
        .await
        .expect("EOF");
    assert!(rest.is_empty());
    client.stream.shutdown().await.expect("close");
    wait_until("the tunnel's end is counted", || {
        back.stats().tunnels_closed == 1
    })
    .await;
    let stats = back.stats();
    assert_eq!(
        (
            stats.tunnels,
            stats.tunnel_idle_timeouts,
            stats.bad_gateways
        ),
        (1, 0, 0)
    );
    assert_eq!(origin.requests_served(), 1);
    back.stop().await;
}

#[tokio::test]
async fn an_idle_tunnel_is_closed_at_the_request_timeout() {
    let idle = Duration::from_millis(300);
    let (back, _origin) = chain(BackConfig {
        request_timeout: idle,
        // The keep-alive timeout is not the tunnel's: a shorter one must not cut it.
        keepalive_timeout: Duration::from_millis(50),
        ..BackConfig::default()
    })
    .await;
    let mut client = RawClient::connect(back.local_addr()).await;
    open(&mut client, b"").await;
    client.send(&client_frame(0x1, b"once")).await;
    assert_eq!(
        server_frame(&mut client.stream).await,
        (0x81, b"once".to_vec())
    );
    // The close itself is the signal; the counters say which timer closed it.
    let mut rest = Vec::new();
    bounded(
        "EOF at the idle timeout",
        client.stream.read_to_end(&mut rest),
    )
    .await
    .expect("EOF");
    assert!(rest.is_empty());
    wait_until("the idle end is counted", || {
        back.stats().tunnel_idle_timeouts == 1
    })
    .await;
    assert_eq!(back.stats().keepalive_timeouts, 0);
    back.stop().await;
}

/// The whole chain, gateway → back → origin: the upgrade crosses both tiers and the frames both tunnels.
#[tokio::test]
async fn a_websocket_crosses_the_whole_chain() {
    let (back, origin) = chain(BackConfig::default()).await;
    let gateway = gateway::Gateway::start(
        loopback(),
        vec![back.local_addr().to_string()],
        gateway::FrontConfig::default(),
    )
    .await
    .expect("gateway binds");
    let mut client = RawClient::connect(gateway.local_addr()).await;
    open(&mut client, b"").await;
    client.send(&client_frame(0x1, b"through")).await;
    assert_eq!(
        server_frame(&mut client.stream).await,
        (0x81, b"through".to_vec())
    );
    client.send(&client_frame(0x8, b"")).await;
    assert_eq!(server_frame(&mut client.stream).await, (0x88, Vec::new()));
    client.stream.shutdown().await.expect("close");
    wait_until("both tunnels ended", || {
        back.stats().tunnels_closed == 1 && gateway.stats().tunnels_closed == 1
    })
    .await;
    assert_eq!((back.stats().tunnels, gateway.stats().tunnels), (1, 1));
    assert_eq!(origin.requests_served(), 1);
    gateway.stop().await;
    back.stop().await;
}
