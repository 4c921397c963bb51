//! The back's admin endpoint (`admin_listen`): `/metrics` counts each kind of keep-alive close as it happens
//! on raw front connections (the request limit, the front's close, the KeepAliveTimeout), reused requests,
//! responses by status and origin connections; other paths are 404, other methods 405; no endpoint without
//! the key.

use std::time::Duration;

use keepalive_proxy::BackConfig;

use crate::support::{GET, RawClient, back_with, bounded, loopback};

/// `GET path` on the admin endpoint: the status and the body.
async fn admin_get(back: &keepalive_proxy::KeepAliveProxy, request: &[u8]) -> (u16, String) {
    let admin = back.admin_addr().expect("admin_listen was set");
    let mut client = RawClient::connect(admin).await;
    let response = client.exchange(request).await;
    (
        response.status(),
        String::from_utf8(response.body).expect("text"),
    )
}

async fn scrape(back: &keepalive_proxy::KeepAliveProxy) -> String {
    let (status, body) = admin_get(back, b"GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n").await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The value of `series` in a scrape; 0 when absent.
fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |value| value.trim().parse().expect("a count"))
}

#[tokio::test]
async fn each_close_kind_is_counted_as_it_happens() {
    let (back, origin) = back_with(BackConfig {
        keepalive_timeout: Duration::from_millis(150),
        max_keepalive_requests: 2,
        admin_listen: Some(loopback()),
        ..BackConfig::default()
    })
    .await;
    // The request limit: the second response says `Connection: close`, then the back closes.
    let mut limited = RawClient::connect(back.local_addr()).await;
    assert_eq!(limited.exchange(GET).await.status(), 200);
    let last = limited.exchange(GET).await;
    assert_eq!(last.header("connection"), Some("close"));
    assert_eq!(limited.next_read().await.ok(), Some(0), "the back closed");
    // The KeepAliveTimeout: one request, then idle until the back's FIN.
    let mut idle = RawClient::connect(back.local_addr()).await;
    assert_eq!(idle.exchange(GET).await.status(), 200);
    assert_eq!(
        idle.next_read().await.ok(),
        Some(0),
        "closed on its timeout"
    );
    // The front's close: one request, then the front goes.
    let mut leaving = RawClient::connect(back.local_addr()).await;
    assert_eq!(leaving.exchange(GET).await.status(), 200);
    drop(leaving);
    let closes = bounded("the front's close is counted", async {
        loop {
            let text = scrape(&back).await;
            if sample(
                &text,
                "badgateway_back_keepalive_closes_total{kind=\"client-close\"}",
            ) > 0
            {
                break text;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let stats = back.stats();
    for (series, expected) in [
        ("badgateway_back_requests_total", 4),
        ("badgateway_back_responses_total{status=\"200\"}", 4),
        ("badgateway_back_connections_accepted_total", 3),
        ("badgateway_back_requests_reused_total", 1),
        (
            "badgateway_back_keepalive_closes_total{kind=\"max-requests\"}",
            1,
        ),
        (
            "badgateway_back_keepalive_closes_total{kind=\"timeout\"}",
            1,
        ),
        (
            "badgateway_back_keepalive_closes_total{kind=\"client-close\"}",
            1,
        ),
        ("badgateway_back_bad_gateway_total", 0),
        ("badgateway_back_client_errors_total", 0),
    ] {
        assert_eq!(sample(&closes, series), expected, "{series}: {closes}");
    }
    let opened = sample(&closes, "badgateway_back_origin_connections_opened_total");
    assert!((1..=4).contains(&opened), "{closes}");
    assert_eq!(opened, stats.origin_connections);
    assert_eq!(stats.client_closes, 1);
    assert_eq!(back.responses().get(&200), Some(&4));
    back.stop().await;
    origin.stop().await;
}

#[tokio::test]
async fn the_endpoint_serves_metrics_only_and_only_when_asked() {
    let (back, origin) = back_with(BackConfig {
        admin_listen: Some(loopback()),
        ..BackConfig::default()
    })
    .await;
    let (status, _) = admin_get(
        &back,
        b"GET /_badgateway/stats HTTP/1.1\r\nHost: admin\r\n\r\n",
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = admin_get(
        &back,
        b"POST /metrics HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(status, 405);
    assert!(
        scrape(&back)
            .await
            .contains("# TYPE badgateway_back_requests counter")
    );
    back.stop().await;
    origin.stop().await;
    let (back, origin) = back_with(BackConfig::default()).await;
    assert_eq!(back.admin_addr(), None);
    back.stop().await;
    origin.stop().await;
}
