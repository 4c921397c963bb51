//! The `Keep-Alive` hint as Apache 2.4.71 sends it (measured on the installed Apache with
//! `KeepAliveTimeout 100ms`, `MaxKeepAliveRequests 100`): only to a request with `Connection: keep-alive`,
//! `timeout` in whole seconds rounded down, `max` counting down per request, with `Connection: Keep-Alive`.

use std::time::Duration;

use keepalive_proxy::BackConfig;

use crate::support::{GET, RawClient, back_with};

const GET_KEEP_ALIVE: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n";

#[tokio::test]
async fn a_keep_alive_request_gets_apaches_hint_counting_down() {
    let config = BackConfig {
        keepalive_timeout: Duration::from_millis(100),
        max_keepalive_requests: 100,
        ..BackConfig::default()
    };
    let (back, origin) = back_with(config).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    for max in [100, 99, 98] {
        let response = client.exchange(GET_KEEP_ALIVE).await;
        assert_eq!(response.status(), 200);
        let expected = format!("timeout=0, max={max}");
        assert_eq!(response.header("keep-alive"), Some(expected.as_str()));
        assert_eq!(response.header("connection"), Some("Keep-Alive"));
    }
    back.stop().await;
    origin.stop().await;
}

#[tokio::test]
async fn a_plain_http_11_request_gets_no_hint() {
    let config = BackConfig {
        keepalive_timeout: Duration::from_millis(2500),
        ..BackConfig::default()
    };
    let (back, origin) = back_with(config).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    let response = client.exchange(GET).await;
    assert_eq!(response.header("keep-alive"), None);
    assert_eq!(response.header("connection"), None);
    let response = client.exchange(GET_KEEP_ALIVE).await;
    assert_eq!(response.header("keep-alive"), Some("timeout=2, max=99"));
    back.stop().await;
    origin.stop().await;
}

#[tokio::test]
async fn the_last_response_closes_instead_of_hinting() {
    let config = BackConfig {
        max_keepalive_requests: 2,
        ..BackConfig::default()
    };
    let (back, origin) = back_with(config).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    assert_eq!(
        client.exchange(GET_KEEP_ALIVE).await.header("keep-alive"),
        Some("timeout=5, max=2")
    );
    let last = client.exchange(GET_KEEP_ALIVE).await;
    assert_eq!(last.header("keep-alive"), None);
    assert_eq!(last.header("connection"), Some("close"));
    back.stop().await;
    origin.stop().await;
}
