//! Requests go to the origin and back without their hop-by-hop headers; the back's `Connection: close`
//! decisions (MaxKeepAliveRequests, KeepAlive Off) reach the wire and end the connection.

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use keepalive_proxy::{BackConfig, KeepAliveProxy};
use tokio::net::TcpStream;

use crate::support::{GET, RawClient, back_with, bounded, loopback};

#[tokio::test]
async fn proxies_a_get_without_hop_by_hop_headers() {
    let (back, origin) = back_with(BackConfig::default()).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    let response = client
        .exchange(
            b"GET /hello?x=1 HTTP/1.1\r\nHost: front\r\nConnection: x-foo\r\nX-Foo: bar\r\n\
              Keep-Alive: timeout=5\r\nX-Kept: yes\r\n\r\n",
        )
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.body, b"hello from origin /hello?x=1");
    assert_eq!(response.header("x-origin"), Some("yes"));
    assert_eq!(
        response.header("x-origin-hop"),
        None,
        "named by the origin's Connection header"
    );

    let seen = origin.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    let headers = &seen[0];
    for hop in ["connection", "keep-alive", "x-foo"] {
        assert!(
            !headers.contains_key(hop),
            "{hop} reached the origin: {headers:?}"
        );
    }
    assert_eq!(headers["x-kept"], "yes");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-host"], "front");

    assert_eq!(back.stats().requests, 1);
    assert_eq!(back.stats().connections, 1);
    back.stop().await;
    origin.stop().await;
}

#[tokio::test]
async fn an_unreachable_origin_gives_a_502() {
    // A port that was just bound and released: connecting to it is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let origin = closed.local_addr().expect("addr");
    drop(closed);
    let back = KeepAliveProxy::start(loopback(), origin, BackConfig::default())
        .await
        .expect("back binds");
    let mut client = RawClient::connect(back.local_addr()).await;
    assert_eq!(client.exchange(GET).await.status(), 502);
    // The 502 is an ordinary response: the connection stays usable.
    assert_eq!(client.exchange(GET).await.status(), 502);
    back.stop().await;
}

#[tokio::test]
async fn the_nth_response_closes_the_connection() {
    let config = BackConfig {
        max_keepalive_requests: 3,
        ..BackConfig::default()
    };
    let (back, origin) = back_with(config).await;
    let stream = TcpStream::connect(back.local_addr())
        .await
        .expect("connect");
    let (mut sender, conn) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
        .await
        .expect("handshake");
    let conn = tokio::spawn(conn);

    for number in 1..=3 {
        let request = Request::get("/")
            .header("host", "x")
            .body(Empty::new())
            .expect("request");
        let response = bounded("response", sender.send_request(request))
            .await
            .expect("a response");
        let connection = response.headers().get("connection").cloned();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(body, "hello from origin /");
        if number < 3 {
            assert_eq!(connection, None, "response {number} keeps the connection");
        } else {
            assert_eq!(
                connection.as_ref().map(|v| v.as_bytes()),
                Some(&b"close"[..])
            );
        }
    }
    bounded("client connection ends", conn)
        .await
        .expect("join")
        .expect("a clean end");
    let request = Request::get("/").body(Empty::new()).expect("request");
    assert!(
        sender.send_request(request).await.is_err(),
        "the connection is gone"
    );

    assert_eq!(back.stats().max_requests_closes, 1);
    assert_eq!(back.stats().requests, 3);
    back.stop().await;
    origin.stop().await;
}

#[tokio::test]
async fn the_server_closes_after_the_nth_response_even_if_the_client_does_not() {
    let config = BackConfig {
        max_keepalive_requests: 2,
        ..BackConfig::default()
    };
    let (back, origin) = back_with(config).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    assert_eq!(client.exchange(GET).await.header("connection"), None);
    assert_eq!(
        client.exchange(GET).await.header("connection"),
        Some("close")
    );
    assert_eq!(client.next_read().await.expect("a FIN, not a reset"), 0);
    assert_eq!(back.stats().max_requests_closes, 1);
    assert_eq!(back.stats().keepalive_timeouts, 0);
    back.stop().await;
    origin.stop().await;
}

#[tokio::test]
async fn keepalive_off_closes_after_every_response() {
    let config = BackConfig {
        keepalive: false,
        ..BackConfig::default()
    };
    let (back, origin) = back_with(config).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    let response = client.exchange(GET).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(client.next_read().await.expect("a FIN"), 0);
    assert_eq!(back.stats().max_requests_closes, 1);
    back.stop().await;
    origin.stop().await;
}
