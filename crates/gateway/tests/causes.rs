//! One test per 502 cause the gateway can make without a race, plus the cause header switch, truncation and
//! start-up validation.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use gateway::{Cause, FrontConfig, Gateway, GatewayError};
use support::{Step, config, fake_backend, gateway, get, within};

#[tokio::test]
async fn no_backends_is_answered_at_once() {
    let gateway = gateway(Vec::new(), config()).await;

    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.cause(), Some("no-backends"));
    let stats = gateway.stats();
    assert_eq!(stats.causes, BTreeMap::from([(Cause::NoBackends, 1)]));
    assert_eq!(stats.responses, BTreeMap::from([(502, 1)]));
    gateway.stop().await;
}

#[tokio::test]
async fn cause_header_can_be_turned_off() {
    let config = FrontConfig {
        cause_header: false,
        ..config()
    };
    let gateway = gateway(Vec::new(), config).await;

    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.cause(), None);
    assert_eq!(
        gateway.stats().causes,
        BTreeMap::from([(Cause::NoBackends, 1)])
    );
    gateway.stop().await;
}

#[tokio::test]
async fn a_closed_port_is_connect_refused() {
    let (_closed, addr) = support::closed_port();
    let gateway = gateway(vec![addr.to_string()], config()).await;

    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.cause(), Some("connect-refused"));
    assert_eq!(gateway.stats().upstream_connections, 0);
    gateway.stop().await;
}

#[tokio::test]
async fn an_unresolvable_name_is_dns_failure() {
    // RFC 6761: .invalid never resolves. connect_timeout also bounds the lookup if the resolver is slow.
    let config = FrontConfig {
        connect_timeout: Duration::from_secs(3),
        ..config()
    };
    let gateway = gateway(vec!["name.invalid:80".to_owned()], config).await;

    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.cause(), Some("dns-failure"));
    gateway.stop().await;
}

#[tokio::test]
async fn garbage_is_invalid_response() {
    let backend = fake_backend(vec![vec![Step::RespondThenClose(
        b"garbage\r\n\r\n".to_vec(),
    )]])
    .await;
    let gateway = gateway(backend.member(), config()).await;

    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.cause(), Some("invalid-response"));
    gateway.stop().await;
}

#[tokio::test]
async fn a_partial_head_then_close_is_invalid_response() {
    let backend = fake_backend(vec![vec![Step::RespondThenClose(
        b"HTTP/1.1 200 OK\r\ncontent-le".to_vec(),
    )]])
    .await;
    let gateway = gateway(backend.member(), config()).await;

    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.cause(), Some("invalid-response"));
    gateway.stop().await;
}

#[tokio::test]
async fn no_answer_within_request_timeout_is_response_timeout() {
    let mut backend = fake_backend(vec![vec![Step::Hang]]).await;
    let config = FrontConfig {
        request_timeout: Duration::from_millis(200),
        ..config()
    };
    let gateway = gateway(backend.member(), config).await;

    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.cause(), Some("response-timeout"));
    // The timed-out connection is closed, never pooled.
    within(backend.wait_for(|event| *event == support::Event::Eof(0))).await;
    assert_eq!(gateway.pool_stats().idle, 0);
    gateway.stop().await;
}

#[tokio::test]
async fn a_body_failing_after_the_head_aborts_the_client_not_a_502() {
    let truncated = b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789".to_vec();
    let backend = fake_backend(vec![vec![Step::RespondThenClose(truncated)]]).await;
    let gateway = gateway(backend.member(), config()).await;

    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.status, 200);
    assert!(
        reply.body.is_err(),
        "the client must see an incomplete body"
    );
    let stats = gateway.stats();
    assert_eq!(stats.truncated_responses, 1);
    assert!(stats.causes.is_empty());
    assert_eq!(gateway.pool_stats().idle, 0);
    gateway.stop().await;
}

#[tokio::test]
async fn malformed_backends_are_refused_at_start() {
    for bad in ["backend", "backend:http", "http://backend:80"] {
        let result = Gateway::start(
            "127.0.0.1:0".parse().unwrap(),
            vec![bad.to_owned()],
            config(),
        )
        .await;
        assert!(
            matches!(result, Err(GatewayError::BadBackend(ref s)) if s == bad),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn stop_closes_the_listener_and_the_pool() {
    let mut backend = fake_backend(vec![vec![Step::Respond(support::ok("x"))]]).await;
    let gateway = gateway(backend.member(), config()).await;
    let addr = gateway.local_addr();
    assert_eq!(within(get(addr, "/")).await.status, 200);

    gateway.stop().await;

    within(backend.wait_for(|event| *event == support::Event::Eof(0))).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
