//! Plain proxying and the upstream pool: headers both ways, reuse, request limits, `Connection: close`, and
//! idle expiry by the reaper.

mod support;

use std::time::Duration;

use bytes::Bytes;
use gateway::FrontConfig;
use http::Request;
use http_body_util::Full;
use support::{Event, Step, config, fake_backend, gateway, get, ok, send, within};

#[tokio::test]
async fn proxies_status_and_body_and_strips_hop_by_hop_headers_both_ways() {
    let response = b"HTTP/1.1 203 Non-Authoritative Information\r\n\
        content-length: 5\r\n\
        connection: keep-alive, x-back-hop\r\n\
        keep-alive: timeout=5\r\n\
        x-back-hop: 1\r\n\
        x-kept: yes\r\n\r\nhello"
        .to_vec();
    let mut backend = fake_backend(vec![vec![Step::Respond(response)]]).await;
    let gateway = gateway(backend.member(), config()).await;
    let request = Request::get("/path?q=1")
        .header("host", "gateway.test")
        .header("connection", "x-client-hop")
        .header("x-client-hop", "1")
        .header("proxy-connection", "keep-alive")
        .header("te", "trailers")
        .header("x-forwarded-for", "10.0.0.1")
        .header("x-end-to-end", "kept")
        .body(Full::new(Bytes::new()))
        .unwrap();

    let reply = within(send(gateway.local_addr(), request)).await;

    assert_eq!(reply.status, 203);
    assert_eq!(reply.body.as_ref().unwrap(), "hello");
    assert_eq!(reply.headers["x-kept"], "yes");
    for hop in ["x-back-hop", "keep-alive"] {
        assert!(!reply.headers.contains_key(hop), "{hop} reached the client");
    }
    let (_, head, _) = backend.wait_for_request().await;
    assert!(head.starts_with("get /path?q=1 http/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nhost: gateway.test\r\n"), "{head}");
    assert!(head.contains("\r\nx-end-to-end: kept\r\n"), "{head}");
    assert!(
        head.contains("\r\nx-forwarded-for: 10.0.0.1, 127.0.0.1\r\n"),
        "{head}"
    );
    for hop in [
        "x-client-hop",
        "proxy-connection",
        "\r\nte:",
        "\r\nconnection: x-client-hop",
    ] {
        assert!(!head.contains(hop), "{hop} reached the backend: {head}");
    }
    gateway.stop().await;
}

#[tokio::test]
async fn forwarded_for_is_the_client_ip() {
    let mut backend = fake_backend(vec![vec![Step::Respond(ok("x"))]]).await;
    let gateway = gateway(backend.member(), config()).await;

    assert_eq!(within(get(gateway.local_addr(), "/")).await.status, 200);

    let (_, head, _) = backend.wait_for_request().await;
    assert!(
        head.contains("\r\nx-forwarded-for: 127.0.0.1\r\n"),
        "{head}"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn sequential_requests_share_one_upstream_connection() {
    let backend = fake_backend(vec![vec![
        Step::Respond(ok("one")),
        Step::Respond(ok("two")),
    ]])
    .await;
    let gateway = gateway(backend.member(), config()).await;
    let addr = gateway.local_addr();

    assert_eq!(within(get(addr, "/1")).await.body.unwrap(), "one");
    assert_eq!(within(get(addr, "/2")).await.body.unwrap(), "two");

    let stats = gateway.stats();
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.upstream_connections, 1);
    assert_eq!(stats.reused_requests, 1);
    gateway.stop().await;
}

#[tokio::test]
async fn max_requests_per_conn_opens_a_new_connection() {
    let keep_answering = vec![Step::Respond(ok("x")); 5];
    let backend = fake_backend(vec![keep_answering.clone(), keep_answering]).await;
    let config = FrontConfig {
        max_requests_per_conn: 2,
        ..config()
    };
    let gateway = gateway(backend.member(), config).await;
    let addr = gateway.local_addr();

    for path in ["/1", "/2", "/3"] {
        assert_eq!(within(get(addr, path)).await.status, 200);
    }

    let stats = gateway.stats();
    assert_eq!(stats.upstream_connections, 2);
    assert_eq!(stats.reused_requests, 1);
    gateway.stop().await;
}

#[tokio::test]
async fn a_response_with_connection_close_is_never_reused() {
    let close = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\nx".to_vec();
    // The backend keeps the socket open: the gateway, not the backend, must decide not to reuse it.
    let backend = fake_backend(vec![
        vec![Step::Respond(close.clone())],
        vec![Step::Respond(close)],
    ])
    .await;
    let gateway = gateway(backend.member(), config()).await;
    let addr = gateway.local_addr();

    assert_eq!(within(get(addr, "/1")).await.status, 200);
    assert_eq!(within(get(addr, "/2")).await.status, 200);

    let stats = gateway.stats();
    assert_eq!(stats.upstream_connections, 2);
    assert_eq!(stats.reused_requests, 0);
    assert_eq!(gateway.pool_stats().idle, 0);
    gateway.stop().await;
}

#[tokio::test]
async fn zero_max_idle_never_pools() {
    let backend = fake_backend(vec![
        vec![Step::Respond(ok("1"))],
        vec![Step::Respond(ok("2"))],
    ])
    .await;
    let config = FrontConfig {
        max_idle_per_backend: 0,
        ..config()
    };
    let gateway = gateway(backend.member(), config).await;
    let addr = gateway.local_addr();

    assert_eq!(within(get(addr, "/1")).await.status, 200);
    assert_eq!(within(get(addr, "/2")).await.status, 200);

    assert_eq!(gateway.stats().upstream_connections, 2);
    gateway.stop().await;
}

#[tokio::test]
async fn the_reaper_closes_an_idle_connection_after_idle_timeout() {
    let idle_timeout = Duration::from_secs(30);
    let mut backend = fake_backend(vec![
        vec![Step::Respond(ok("1"))],
        vec![Step::Respond(ok("2"))],
    ])
    .await;
    let config = FrontConfig {
        idle_timeout,
        client_idle_timeout: Duration::from_secs(3600),
        ..config()
    };
    let gateway = gateway(backend.member(), config).await;
    let addr = gateway.local_addr();
    assert_eq!(within(get(addr, "/1")).await.status, 200);
    assert_eq!(gateway.pool_stats().idle, 1);

    // Only the reaper's timer is pending now; paused time makes its expiry exact and instant. (Nothing else may
    // run under paused time: tokio would auto-advance to the next timer while loopback I/O is in flight.)
    tokio::time::pause();
    tokio::time::advance(idle_timeout - Duration::from_millis(1)).await;
    assert_eq!(gateway.pool_stats().idle, 1, "reaped before idle_timeout");
    tokio::time::advance(Duration::from_millis(1)).await;
    let eof = backend
        .wait_for(|event| matches!(event, Event::Eof(_)))
        .await;
    tokio::time::resume();

    assert_eq!(eof, Event::Eof(0));
    let pool = gateway.pool_stats();
    assert_eq!((pool.idle, pool.reaped), (0, 1));
    assert_eq!(within(get(addr, "/2")).await.body.unwrap(), "2");
    let stats = gateway.stats();
    assert_eq!(stats.upstream_connections, 2);
    assert_eq!(stats.reused_requests, 0);

    // The reaper found the pool empty and waits without a deadline: the checkin of /2 must wake it.
    assert_eq!(gateway.pool_stats().idle, 1);
    tokio::time::pause();
    tokio::time::advance(idle_timeout).await;
    let eof = backend
        .wait_for(|event| matches!(event, Event::Eof(1)))
        .await;
    tokio::time::resume();
    assert_eq!(eof, Event::Eof(1));
    let pool = gateway.pool_stats();
    assert_eq!((pool.idle, pool.reaped), (0, 2));
    gateway.stop().await;
}

#[tokio::test]
async fn checkout_discards_a_connection_that_expired_before_the_reaper_ran() {
    // idle_timeout zero: every pooled connection is already too old at checkout.
    let backend = fake_backend(vec![
        vec![Step::Respond(ok("1"))],
        vec![Step::Respond(ok("2"))],
    ])
    .await;
    let config = FrontConfig {
        idle_timeout: Duration::ZERO,
        ..config()
    };
    let gateway = gateway(backend.member(), config).await;
    let addr = gateway.local_addr();

    assert_eq!(within(get(addr, "/1")).await.status, 200);
    assert_eq!(within(get(addr, "/2")).await.status, 200);

    let stats = gateway.stats();
    assert_eq!(stats.upstream_connections, 2);
    assert_eq!(stats.reused_requests, 0);
    // The first connection expired at checkout or by the reaper; the second one may be reaped by now too.
    let pool = gateway.pool_stats();
    assert!(pool.discarded_expired + pool.reaped >= 1, "{pool:?}");
    gateway.stop().await;
}
