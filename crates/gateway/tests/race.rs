//! The keep-alive reuse race, made deterministic: the fake backend answers request 1 with keep-alive, then
//! closes (or resets) the connection when request 2 arrives on it, without answering.

mod support;

use std::collections::BTreeMap;

use gateway::{Cause, FrontConfig, RetryPolicy};
use support::{Step, config, fake_backend, gateway, get, ok, request, send, within};

/// Request 1 is answered; request 2 on the same connection meets `race`; a fresh connection answers "fresh".
fn race_scripts(race: Step) -> Vec<Vec<Step>> {
    vec![
        vec![Step::Respond(ok("one")), race],
        vec![Step::Respond(ok("fresh"))],
    ]
}

fn with_retry(retry: RetryPolicy) -> FrontConfig {
    FrontConfig { retry, ..config() }
}

#[tokio::test]
async fn close_on_a_reused_connection_is_reused_closed() {
    let backend = fake_backend(race_scripts(Step::Close)).await;
    let gateway = gateway(backend.member(), config()).await;
    let addr = gateway.local_addr();

    assert_eq!(within(get(addr, "/1")).await.status, 200);
    let reply = within(get(addr, "/2")).await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.cause(), Some("reused-closed"));
    let body = reply.body.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("reused-closed"));
    let stats = gateway.stats();
    assert_eq!(stats.causes, BTreeMap::from([(Cause::ReusedClosed, 1)]));
    assert_eq!(stats.upstream_connections, 1);
    assert_eq!(stats.reused_requests, 1);
    assert_eq!(stats.retries, 0);
    assert_eq!(stats.responses, BTreeMap::from([(200, 1), (502, 1)]));
    gateway.stop().await;
}

#[tokio::test]
async fn reset_on_a_reused_connection_is_reused_reset() {
    let backend = fake_backend(race_scripts(Step::Reset)).await;
    let gateway = gateway(backend.member(), config()).await;
    let addr = gateway.local_addr();

    assert_eq!(within(get(addr, "/1")).await.status, 200);
    let reply = within(get(addr, "/2")).await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.cause(), Some("reused-reset"));
    assert_eq!(
        gateway.stats().causes,
        BTreeMap::from([(Cause::ReusedReset, 1)])
    );
    gateway.stop().await;
}

#[tokio::test]
async fn idempotent_retry_hides_the_race_for_get() {
    let backend = fake_backend(race_scripts(Step::Close)).await;
    let gateway = gateway(backend.member(), with_retry(RetryPolicy::Idempotent)).await;
    let addr = gateway.local_addr();

    assert_eq!(within(get(addr, "/1")).await.status, 200);
    let reply = within(get(addr, "/2")).await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.unwrap(), "fresh");
    let stats = gateway.stats();
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.upstream_connections, 2);
    assert!(stats.causes.is_empty());
    gateway.stop().await;
}

#[tokio::test]
async fn idempotent_retry_does_not_resend_post() {
    let backend = fake_backend(race_scripts(Step::Close)).await;
    let gateway = gateway(backend.member(), with_retry(RetryPolicy::Idempotent)).await;
    let addr = gateway.local_addr();

    assert_eq!(
        within(send(addr, request("POST", "/1", "a"))).await.status,
        200
    );
    let reply = within(send(addr, request("POST", "/2", "b"))).await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.cause(), Some("reused-closed"));
    assert_eq!(gateway.stats().retries, 0);
    gateway.stop().await;
}

#[tokio::test]
async fn always_retry_resends_post_with_its_body() {
    let mut backend = fake_backend(race_scripts(Step::Close)).await;
    let gateway = gateway(backend.member(), with_retry(RetryPolicy::Always)).await;
    let addr = gateway.local_addr();

    assert_eq!(
        within(send(addr, request("POST", "/1", "a"))).await.status,
        200
    );
    let reply = within(send(addr, request("POST", "/2", "second"))).await;

    assert_eq!(reply.status, 200);
    assert_eq!(gateway.stats().retries, 1);
    let bodies: Vec<(usize, Vec<u8>)> = backend
        .requests()
        .into_iter()
        .map(|(conn, _, body)| (conn, body))
        .collect();
    assert_eq!(
        bodies,
        [
            (0, b"a".to_vec()),
            (0, b"second".to_vec()),
            (1, b"second".to_vec())
        ]
    );
    gateway.stop().await;
}

#[tokio::test]
async fn close_on_a_fresh_connection_is_fresh_closed_and_not_retried() {
    let backend = fake_backend(vec![vec![Step::Close], vec![Step::Respond(ok("never"))]]).await;
    let gateway = gateway(backend.member(), with_retry(RetryPolicy::Idempotent)).await;

    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.cause(), Some("fresh-closed"));
    let stats = gateway.stats();
    assert_eq!(stats.retries, 0);
    assert_eq!(stats.upstream_connections, 1);
    gateway.stop().await;
}

#[tokio::test]
async fn reset_on_a_fresh_connection_is_fresh_reset() {
    let backend = fake_backend(vec![vec![Step::Reset]]).await;
    let gateway = gateway(backend.member(), config()).await;

    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.cause(), Some("fresh-reset"));
    gateway.stop().await;
}

#[tokio::test]
async fn a_connection_closed_before_reuse_is_skipped_not_a_502() {
    // The backend sends its FIN right after answering: hyper reads it while the connection is idle in the pool
    // and closes its side, which the backend reports as EOF.
    let mut backend = fake_backend(vec![
        vec![Step::RespondThenFin(ok("one"))],
        vec![Step::Respond(ok("two"))],
    ])
    .await;
    let gateway = gateway(backend.member(), config()).await;
    let addr = gateway.local_addr();

    assert_eq!(within(get(addr, "/1")).await.status, 200);
    within(backend.wait_for(|event| *event == support::Event::Eof(0))).await;
    let reply = within(get(addr, "/2")).await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.unwrap(), "two");
    let stats = gateway.stats();
    assert!(stats.causes.is_empty());
    assert_eq!(stats.upstream_connections, 2);
    assert_eq!(stats.reused_requests, 0);
    // hyper may see the FIN before the body end is handed to the pool (checkin refused) or after (checkout
    // discards it); either way the closed connection never carries request 2.
    let pool = gateway.pool_stats();
    assert_eq!(pool.discarded_closed + pool.refused_checkins, 1);
    gateway.stop().await;
}
