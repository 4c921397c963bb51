//! The whole chain, gateway → back → origin: no hop-by-hop header crosses a tier, in either direction. The
//! origin is the recording one of `support`, so what it was sent is checked header by header.

use gateway::{FrontConfig, Gateway};
use keepalive_proxy::BackConfig;

use crate::support::{RawClient, back_with, loopback};

/// Every hop-by-hop header of RFC 9110 §7.6.1, plus one named in `Connection`, on a chunked request.
const HOSTILE: &[u8] = b"POST /chain HTTP/1.1\r\nhost: front.test\r\n\
    connection: keep-alive, x-client-hop, te\r\n\
    x-client-hop: 1\r\n\
    keep-alive: timeout=5\r\n\
    proxy-connection: keep-alive\r\n\
    te: trailers\r\n\
    trailer: x-sum\r\n\
    upgrade: websocket\r\n\
    x-end-to-end: kept\r\n\
    transfer-encoding: chunked\r\n\r\n\
    5\r\nhello\r\n0\r\n\r\n";

#[tokio::test]
async fn hop_by_hop_headers_never_cross_a_tier() {
    let (back, origin) = back_with(BackConfig::default()).await;
    let gateway = Gateway::start(
        loopback(),
        vec![back.local_addr().to_string()],
        FrontConfig::default(),
    )
    .await
    .expect("gateway binds");
    let mut client = RawClient::connect(gateway.local_addr()).await;

    let response = client.exchange(HOSTILE).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.body, b"hello from origin /chain");
    assert_eq!(response.header("x-origin"), Some("yes"));
    assert_eq!(
        response.header("x-origin-hop"),
        None,
        "named in the origin's Connection"
    );
    let seen = origin.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    let headers = &seen[0];
    for hop in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "x-client-hop",
    ] {
        assert!(
            !headers.contains_key(hop),
            "{hop} reached the origin: {headers:?}"
        );
    }
    assert_eq!(headers["x-end-to-end"], "kept");
    assert_eq!(
        headers["content-length"], "5",
        "re-framed by length, not by chunks"
    );
    gateway.stop().await;
    back.stop().await;
    origin.stop().await;
}
