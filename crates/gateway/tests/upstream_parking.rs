//! Idle pooled upstream connections give hyper's buffers back (`upstream_park_after`): a parked connection
//! carries the next request on the same socket, a backend's close of a parked one is seen at once and costs
//! no 502, and a `101` still hands the socket to the tunnel after a park.

mod support;

use std::sync::Arc;
use std::time::Duration;

use gateway::{FrontConfig, Gateway};
use support::{
    Event, RawConn, Step, client_frame, config, fake_backend, gateway, gateway_before_origin, get,
    ok, server_frame, wait_until, websocket_handshake, within,
};
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

fn parking_upstream_after(park_after: Duration) -> FrontConfig {
    FrontConfig {
        upstream_park_after: park_after,
        ..config()
    }
}

async fn parked(gateway: &Gateway, count: u64) {
    wait_until(&format!("{count} parked upstream connections"), || async {
        gateway.pool_stats().parked >= count
    })
    .await;
}

#[tokio::test]
async fn a_parked_connection_carries_the_next_requests_on_the_same_socket() {
    let (gateway, origin) =
        gateway_before_origin(parking_upstream_after(Duration::from_millis(20))).await;
    for round in 1..=3 {
        let reply = get(gateway.local_addr(), "/").await;
        assert_eq!(reply.status, 200, "request {round}");
        parked(&gateway, round).await;
    }
    assert_eq!(origin.requests_served(), 3);
    let stats = gateway.stats();
    assert_eq!(
        stats.upstream_connections, 1,
        "every request went on the one parked connection"
    );
    assert_eq!(stats.reused_requests, 2);
    assert!(stats.causes.is_empty(), "{:?}", stats.causes);
    assert_eq!(gateway.pool_stats().discarded_closed, 0);
    gateway.stop().await;
}

#[tokio::test]
async fn a_backend_close_of_a_parked_connection_is_skipped_without_a_502() {
    let close_now = Arc::new(Notify::new());
    let mut backend = fake_backend(vec![
        vec![Step::RespondThenFinOn(ok("first"), close_now.clone())],
        vec![Step::Respond(ok("second"))],
    ])
    .await;
    let gateway = gateway(
        backend.member(),
        parking_upstream_after(Duration::from_millis(20)),
    )
    .await;
    let first = get(gateway.local_addr(), "/").await;
    assert_eq!(first.status, 200);
    parked(&gateway, 1).await;
    close_now.notify_one();
    // The parked driver reads the FIN and closes its side: the backend sees the gateway's close.
    within(backend.wait_for(|event| *event == Event::Eof(0))).await;

    let second = get(gateway.local_addr(), "/").await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body.as_deref().ok(), Some(&b"second"[..]));
    let stats = gateway.stats();
    assert!(stats.causes.is_empty(), "{:?}", stats.causes);
    assert_eq!(stats.upstream_connections, 2);
    assert_eq!(gateway.pool_stats().discarded_closed, 1);
    gateway.stop().await;
}

#[tokio::test]
async fn parking_off_never_parks() {
    // A pool idle timeout the reaper acts on: once it closed the connection, every pass it made is done.
    let front = |park_after| FrontConfig {
        idle_timeout: Duration::from_millis(150),
        ..parking_upstream_after(park_after)
    };
    for (park_after, parks) in [(Duration::from_millis(20), 1), (Duration::ZERO, 0)] {
        let (gateway, _origin) = gateway_before_origin(front(park_after)).await;
        assert_eq!(get(gateway.local_addr(), "/").await.status, 200);
        wait_until("the reaper closed the idle connection", || async {
            gateway.pool_stats().reaped == 1
        })
        .await;
        assert_eq!(
            gateway.pool_stats().parked,
            parks,
            "upstream_park_after {park_after:?}"
        );
        gateway.stop().await;
    }
}

#[tokio::test]
async fn an_upgrade_on_a_parked_connection_still_becomes_a_tunnel() {
    let (gateway, origin) =
        gateway_before_origin(parking_upstream_after(Duration::from_millis(20))).await;
    assert_eq!(get(gateway.local_addr(), "/").await.status, 200);
    parked(&gateway, 1).await;
    let mut conn = RawConn::connect(gateway.local_addr()).await;
    conn.send(&websocket_handshake("/ws")).await;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        within(conn.stream.read_exact(&mut byte)).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    conn.send(&client_frame(0x1, b"after a park")).await;
    assert_eq!(
        server_frame(&mut conn.stream).await,
        (0x81, b"after a park".to_vec())
    );
    assert_eq!(
        gateway.stats().upstream_connections,
        1,
        "the parked connection carried the upgrade"
    );
    assert_eq!(origin.requests_served(), 2);
    gateway.stop().await;
}
