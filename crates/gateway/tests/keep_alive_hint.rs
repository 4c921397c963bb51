//! `front.honor_keep_alive_hint`: a connection whose last response announced `Keep-Alive: timeout=N` is not
//! handed out past N − `keep_alive_hint_margin`; `timeout=0` means "do not reuse". The fake backend answers
//! request 1 with a hint, then closes the connection when request 2 arrives on it (the race).

mod support;

use std::time::Duration;

use gateway::FrontConfig;
use support::{Step, config, fake_backend, gateway, get, ok, within};

/// A keep-alive 200 with Apache's hint.
fn hinted(hint: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nkeep-alive: {hint}\r\nconnection: Keep-Alive\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn scripts(hint: &str) -> Vec<Vec<Step>> {
    vec![
        vec![Step::Respond(hinted(hint, "one")), Step::Close],
        vec![Step::Respond(ok("fresh"))],
    ]
}

fn honouring(margin: Duration) -> FrontConfig {
    FrontConfig {
        honor_keep_alive_hint: true,
        keep_alive_hint_margin: margin,
        ..config()
    }
}

#[tokio::test]
async fn timeout_0_is_never_reused_and_the_race_is_not_met() {
    let mut backend = fake_backend(scripts("timeout=0, max=100")).await;
    let gateway = gateway(backend.member(), honouring(Duration::from_secs(1))).await;
    let addr = gateway.local_addr();
    assert_eq!(within(get(addr, "/1")).await.status, 200);
    let second = within(get(addr, "/2")).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body.as_deref().ok(), Some(&b"fresh"[..]));
    let stats = gateway.stats();
    assert_eq!(stats.upstream_connections, 2);
    assert_eq!(stats.reused_requests, 0);
    assert_eq!(gateway.pool_stats().refused_by_hint, 1);
    let heads = backend.requests();
    assert_eq!(heads.len(), 2);
    assert!(
        heads
            .iter()
            .all(|(_, head, _)| head.to_ascii_lowercase().contains("connection: keep-alive")),
        "{heads:?}"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn without_the_setting_the_hint_is_ignored_and_the_race_is_met() {
    let backend = fake_backend(scripts("timeout=0, max=100")).await;
    let gateway = gateway(backend.member(), config()).await;
    let addr = gateway.local_addr();
    assert_eq!(within(get(addr, "/1")).await.status, 200);
    let second = within(get(addr, "/2")).await;
    assert_eq!(second.status, 502);
    assert_eq!(second.cause(), Some("reused-closed"));
    assert_eq!(gateway.pool_stats().refused_by_hint, 0);
    gateway.stop().await;
}

#[tokio::test]
async fn a_connection_is_not_handed_out_past_the_hinted_timeout_minus_the_margin() {
    // timeout=1 − margin 950 ms: a 50 ms reuse window. The second request comes 150 ms later.
    let backend = fake_backend(scripts("timeout=1")).await;
    let gateway = gateway(backend.member(), honouring(Duration::from_millis(950))).await;
    let addr = gateway.local_addr();
    assert_eq!(within(get(addr, "/1")).await.status, 200);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let second = within(get(addr, "/2")).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body.as_deref().ok(), Some(&b"fresh"[..]));
    assert_eq!(gateway.pool_stats().discarded_expired, 1);
    assert_eq!(gateway.stats().reused_requests, 0);
    gateway.stop().await;
}

#[tokio::test]
async fn within_the_window_the_connection_is_reused() {
    let backend = fake_backend(vec![vec![
        Step::Respond(hinted("timeout=5", "one")),
        Step::Respond(ok("two")),
    ]])
    .await;
    let gateway = gateway(backend.member(), honouring(Duration::from_secs(1))).await;
    let addr = gateway.local_addr();
    assert_eq!(within(get(addr, "/1")).await.status, 200);
    let second = within(get(addr, "/2")).await;
    assert_eq!(second.status, 200);
    assert_eq!(gateway.stats().reused_requests, 1);
    assert_eq!(gateway.pool_stats().discarded_expired, 0);
    gateway.stop().await;
}
