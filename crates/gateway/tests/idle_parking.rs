//! Idle client connections give their HTTP buffers back (`client_park_after`) and still serve their next
//! requests; half-sent requests are never parked; parked connections still honour the idle timeout and shutdown.

mod support;

use std::time::Duration;

use gateway::{FrontConfig, Gateway};
use support::{RawConn, config, gateway_before_origin, wait_until, within};

const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: gateway.test\r\n\r\n";

fn parking_after(park_after: Duration) -> FrontConfig {
    FrontConfig {
        client_park_after: park_after,
        ..config()
    }
}

async fn parked(gateway: &Gateway, count: u64) {
    wait_until(&format!("{count} parked connections"), || async {
        gateway.stats().parked_connections >= count
    })
    .await;
}

#[tokio::test]
async fn an_idle_connection_is_parked_and_serves_its_next_requests_on_the_same_socket() {
    let (gateway, origin) = gateway_before_origin(parking_after(Duration::from_millis(30))).await;
    let mut client = RawConn::connect(gateway.local_addr()).await;
    client.send(GET).await;
    assert_eq!(client.answer().await.code(), 200);
    parked(&gateway, 1).await;
    assert_eq!(gateway.live_connections(), 1);

    client.send(GET).await;
    assert_eq!(client.answer().await.code(), 200);
    parked(&gateway, 2).await;
    // Two pipelined requests wake a parked connection: both answered, in order.
    client.send(&[GET, GET].concat()).await;
    assert_eq!(client.answer().await.code(), 200);
    assert_eq!(client.answer().await.code(), 200);

    assert_eq!(origin.requests_served(), 4);
    let stats = gateway.stats();
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.upstream_connections, 1);
    gateway.stop().await;
}

#[tokio::test]
async fn a_half_sent_request_is_never_parked() {
    let (gateway, origin) = gateway_before_origin(parking_after(Duration::from_millis(20))).await;
    let addr = gateway.local_addr();
    // One half-sent first request, and one half-sent request after a complete exchange.
    let mut half_first = RawConn::connect(addr).await;
    half_first.send(b"GET / HTTP/1.1\r\nhost: gat").await;
    let mut half_second = RawConn::connect(addr).await;
    half_second.send(GET).await;
    assert_eq!(half_second.answer().await.code(), 200);
    half_second.send(b"GET / HTTP/1.1\r\nhost: gat").await;
    // Two connections opened after them park, each after `park_after` of silence: the half-sent ones have been
    // checked at least twice with their heads incomplete by then.
    let _first_idle = RawConn::connect(addr).await;
    parked(&gateway, 1).await;
    let _second_idle = RawConn::connect(addr).await;
    parked(&gateway, 2).await;
    assert_eq!(gateway.stats().parked_connections, 2);

    for client in [&mut half_first, &mut half_second] {
        client.send(b"eway.test\r\n\r\n").await;
        let answer = client.answer().await;
        assert_eq!(answer.code(), 200);
        // Not even marked for closing: the connection goes on.
        assert_eq!(answer.header("connection"), None);
        client.send(GET).await;
        assert_eq!(client.answer().await.code(), 200);
    }
    assert_eq!(origin.requests_served(), 5);
    gateway.stop().await;
}

#[tokio::test]
async fn a_parked_connection_is_closed_at_the_client_idle_timeout() {
    let front = FrontConfig {
        client_idle_timeout: Duration::from_millis(300),
        ..parking_after(Duration::from_millis(30))
    };
    let (gateway, _origin) = gateway_before_origin(front).await;
    let mut client = RawConn::connect(gateway.local_addr()).await;
    client.send(GET).await;
    assert_eq!(client.answer().await.code(), 200);
    parked(&gateway, 1).await;
    assert!(client.is_closed().await);
    wait_until("no live connection", || async {
        gateway.live_connections() == 0
    })
    .await;
    gateway.stop().await;
}

#[tokio::test]
async fn a_drain_closes_parked_connections_at_once() {
    let (gateway, _origin) = gateway_before_origin(parking_after(Duration::from_millis(30))).await;
    let mut client = RawConn::connect(gateway.local_addr()).await;
    client.send(GET).await;
    assert_eq!(client.answer().await.code(), 200);
    parked(&gateway, 1).await;
    assert_eq!(within(gateway.drain(Duration::from_secs(5))).await, 0);
    assert!(client.is_closed().await);
}

#[tokio::test]
async fn zero_never_parks() {
    let (gateway, _origin) = gateway_before_origin(parking_after(Duration::ZERO)).await;
    let mut client = RawConn::connect(gateway.local_addr()).await;
    client.send(GET).await;
    assert_eq!(client.answer().await.code(), 200);
    // A connection that parks does so within `park_after` of idleness; one with parking on, opened later and
    // idle, shows that time passed.
    let (other, _other_origin) =
        gateway_before_origin(parking_after(Duration::from_millis(30))).await;
    let mut clock = RawConn::connect(other.local_addr()).await;
    clock.send(GET).await;
    assert_eq!(clock.answer().await.code(), 200);
    parked(&other, 1).await;
    assert_eq!(gateway.stats().parked_connections, 0);
    client.send(GET).await;
    assert_eq!(client.answer().await.code(), 200);
    gateway.stop().await;
    other.stop().await;
}
