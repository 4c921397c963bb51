//! Health probes over real sockets: a member failing its probe leaves the rotation, the gateway answers
//! `all-unhealthy` without touching the network, a member comes back after one success, and the probe's
//! request, timeout and body match. The state machine and the probe loop's timing are tested with paused time
//! in `src/health.rs` and `src/probe.rs`.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use gateway::{Cause, FrontConfig, Gateway, HealthState, ProbeConfig};
use support::{
    Event, Step, SwitchableBackend, answers, config, fake_backend, gateway, get, ok, request_lines,
    status, wait_until, within,
};

/// Probes of `/healthz` every 50 ms, unhealthy after 2 failures.
fn probing() -> FrontConfig {
    FrontConfig {
        probe: ProbeConfig {
            enabled: true,
            path: "/healthz".to_owned(),
            interval: Duration::from_millis(50),
            timeout: Duration::from_secs(2),
            unhealthy_threshold: 2,
            ..ProbeConfig::default()
        },
        ..config()
    }
}

/// Waits until member `index` is in `state`.
async fn wait_for_state(gateway: &Gateway, index: usize, state: HealthState) {
    wait_until(&format!("member {index} {state}"), || async {
        gateway.health().members[index].state == state
    })
    .await;
}

#[tokio::test]
async fn a_member_answering_500_to_its_probe_is_unhealthy_and_the_gateway_answers_all_unhealthy_without_a_request()
 {
    let mut backend = fake_backend(answers(1000, status(500, "down"))).await;
    let gateway = gateway(backend.member(), probing()).await;

    wait_for_state(&gateway, 0, HealthState::Unhealthy).await;
    let reply = within(get(gateway.local_addr(), "/app")).await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.cause(), Some("all-unhealthy"));
    let stats = gateway.stats();
    assert_eq!(stats.causes, BTreeMap::from([(Cause::AllUnhealthy, 1)]));
    assert_eq!(stats.upstream_connections, 0);
    gateway.stop().await;
    let lines = request_lines(&mut backend);
    assert!(lines.len() >= 2, "{lines:?}");
    assert!(
        lines.iter().all(|line| line == "get /healthz http/1.1"),
        "the backend saw more than probes: {lines:?}"
    );
}

#[tokio::test]
async fn the_probe_is_a_get_with_the_members_host_on_a_new_connection_each_time() {
    let mut backend = fake_backend(answers(1000, status(200, "up"))).await;
    let gateway = gateway(backend.member(), probing()).await;

    let (first, head, _) = backend.wait_for_request().await;
    let (second, _, _) = backend.wait_for_request().await;

    assert!(head.starts_with("get /healthz http/1.1\r\n"), "{head}");
    assert!(
        head.contains(&format!("\r\nhost: {}\r\n", backend.addr)),
        "{head}"
    );
    assert_ne!(first, second, "a probe reused a connection");
    let member = &gateway.health().members[0];
    assert_eq!(member.state, HealthState::Healthy);
    gateway.stop().await;
}

#[tokio::test]
async fn a_configured_probe_host_is_sent() {
    let mut backend = fake_backend(answers(1000, status(200, "up"))).await;
    let mut config = probing();
    config.probe.host = Some("probe.test".to_owned());
    let gateway = gateway(backend.member(), config).await;

    let (_, head, _) = backend.wait_for_request().await;

    assert!(head.contains("\r\nhost: probe.test\r\n"), "{head}");
    gateway.stop().await;
}

#[tokio::test]
async fn an_unhealthy_member_comes_back_after_one_successful_probe() {
    let backend = SwitchableBackend::start().await;
    let gateway = gateway(vec![backend.addr.to_string()], probing()).await;

    wait_for_state(&gateway, 0, HealthState::Unhealthy).await;
    assert_eq!(
        within(get(gateway.local_addr(), "/app")).await.cause(),
        Some("all-unhealthy")
    );
    backend.up.store(true, Ordering::SeqCst);
    wait_for_state(&gateway, 0, HealthState::Healthy).await;
    let reply = within(get(gateway.local_addr(), "/app")).await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.unwrap(), "up");
    assert_eq!(gateway.health().members[0].consecutive_failures, 0);
    gateway.stop().await;
}

#[tokio::test]
async fn rotation_skips_the_unhealthy_member() {
    let mut down = fake_backend(answers(1000, status(500, "down"))).await;
    let up = fake_backend(answers(1000, status(200, "up"))).await;
    let gateway = gateway(vec![down.addr.to_string(), up.addr.to_string()], probing()).await;

    wait_for_state(&gateway, 0, HealthState::Unhealthy).await;
    let mut bodies = Vec::new();
    for _ in 0..4 {
        let reply = within(get(gateway.local_addr(), "/app")).await;
        assert_eq!(reply.status, 200);
        bodies.push(reply.body.unwrap());
    }

    assert!(bodies.iter().all(|body| body == "up"), "{bodies:?}");
    let report = gateway.health();
    assert_eq!((report.healthy, report.total), (1, 2));
    gateway.stop().await;
    assert!(
        request_lines(&mut down)
            .iter()
            .all(|line| line == "get /healthz http/1.1")
    );
}

#[tokio::test]
async fn a_probe_without_an_answer_within_its_timeout_fails() {
    let backend = fake_backend(vec![vec![Step::Hang]; 1000]).await;
    let mut config = probing();
    config.probe.timeout = Duration::from_millis(100);
    config.probe.unhealthy_threshold = 1;
    let gateway = gateway(backend.member(), config).await;

    wait_for_state(&gateway, 0, HealthState::Unhealthy).await;

    let last = gateway.health().members[0].last_probe.clone().unwrap();
    assert!(!last.ok);
    assert_eq!(last.status, None);
    assert!(
        last.error.as_deref().unwrap().contains("no answer within"),
        "{last:?}"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn a_body_without_the_match_fails_the_probe() {
    let backend = fake_backend(answers(1000, status(200, "warming up"))).await;
    let mut config = probing();
    config.probe.match_body = Some("ready".to_owned());
    config.probe.unhealthy_threshold = 1;
    let gateway = gateway(backend.member(), config).await;

    wait_for_state(&gateway, 0, HealthState::Unhealthy).await;

    let last = gateway.health().members[0].last_probe.clone().unwrap();
    assert_eq!(last.status, Some(200));
    assert!(
        last.error.as_deref().unwrap().contains("does not contain"),
        "{last:?}"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn a_refused_connect_fails_the_probe() {
    let (_closed, addr) = support::closed_port();
    let mut config = probing();
    config.probe.unhealthy_threshold = 1;
    let gateway = gateway(vec![addr.to_string()], config).await;

    wait_for_state(&gateway, 0, HealthState::Unhealthy).await;
    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.cause(), Some("all-unhealthy"));
    let last = gateway.health().members[0].last_probe.clone().unwrap();
    assert!(
        last.error.as_deref().unwrap().starts_with("connect failed"),
        "{last:?}"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn probes_stop_when_the_gateway_stops() {
    let mut backend = fake_backend(answers(1000, status(200, "up"))).await;
    let gateway = gateway(backend.member(), probing()).await;
    backend.wait_for_request().await;

    gateway.stop().await;
    // Let whatever was already on the wire land, then watch several intervals: no new probe connection.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let settled = accepted(&mut backend);
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_eq!(
        accepted(&mut backend),
        0,
        "probes after stop ({settled} settled)"
    );
}

/// Connections accepted since the last call (drains pending events).
fn accepted(backend: &mut support::FakeBackend) -> usize {
    std::iter::from_fn(|| backend.events.try_recv().ok())
        .filter(|event| matches!(event, Event::Accepted(_)))
        .count()
}

#[tokio::test]
async fn without_probes_every_member_stays_healthy_and_is_never_probed() {
    let mut backend = fake_backend(vec![vec![Step::Respond(ok("x"))]]).await;
    let gateway = gateway(backend.member(), config()).await;

    assert_eq!(within(get(gateway.local_addr(), "/app")).await.status, 200);

    let report = gateway.health();
    assert_eq!((report.healthy, report.total), (1, 1));
    assert_eq!(report.members[0].last_probe, None);
    gateway.stop().await;
    assert_eq!(request_lines(&mut backend), ["get /app http/1.1"]);
}
