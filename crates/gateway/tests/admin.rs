//! The admin endpoint: its own listener, the JSON of `/_badgateway/health` and `/_badgateway/stats`, 404
//! elsewhere; and the public listener, which proxies `/_badgateway/*` like any other path.

mod support;

use std::time::Duration;

use gateway::{
    ADMIN_HEALTH_PATH, ADMIN_STATS_PATH, FrontConfig, Gateway, GatewayStats, ProbeConfig,
};
use serde_json::Value;
use support::{Step, answers, config, fake_backend, gateway, get, ok, status, wait_until, within};

/// An admin endpoint on a loopback port.
fn with_admin(config: FrontConfig) -> FrontConfig {
    FrontConfig {
        admin_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..config
    }
}

/// GETs `path` on the admin endpoint and parses the JSON.
async fn admin_json(gateway: &Gateway, path: &str) -> Value {
    let reply = within(get(gateway.admin_addr().unwrap(), path)).await;
    assert_eq!(reply.status, 200, "{path}");
    assert_eq!(reply.headers["content-type"], "application/json");
    serde_json::from_slice(&reply.body.unwrap()).unwrap()
}

#[tokio::test]
async fn health_json_names_each_member_its_state_last_probe_and_failures() {
    let backend = fake_backend(answers(1000, status(500, "down"))).await;
    let config = with_admin(FrontConfig {
        probe: ProbeConfig {
            enabled: true,
            path: "/healthz".to_owned(),
            interval: Duration::from_millis(50),
            unhealthy_threshold: 2,
            ..ProbeConfig::default()
        },
        ..config()
    });
    let gateway = gateway(backend.member(), config).await;

    // Wait on the endpoint itself.
    wait_until(
        "the admin endpoint reports the member unhealthy",
        || async {
            admin_json(&gateway, ADMIN_HEALTH_PATH).await["members"][0]["state"] == "unhealthy"
        },
    )
    .await;
    let json = admin_json(&gateway, ADMIN_HEALTH_PATH).await;

    assert_eq!(json["healthy"], 0);
    assert_eq!(json["total"], 1);
    let members = json["members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    let member = &members[0];
    assert_eq!(member["member"], backend.addr.to_string());
    assert_eq!(member["state"], "unhealthy");
    assert!(member["consecutive_failures"].as_u64().unwrap() >= 2);
    let last = &member["last_probe"];
    assert_eq!(last["ok"], false);
    assert_eq!(last["status"], 500);
    assert!(last["error"].as_str().unwrap().contains("500"), "{last}");
    assert!(last["at_ms_ago"].is_u64(), "{last}");
    let mut keys: Vec<_> = member.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["consecutive_failures", "last_probe", "member", "state"]
    );
    gateway.stop().await;
}

#[tokio::test]
async fn health_json_without_probes_shows_healthy_members_never_probed() {
    let gateway = gateway(
        vec!["127.0.0.1:9".to_owned(), "backend.test:80".to_owned()],
        with_admin(config()),
    )
    .await;

    let json = admin_json(&gateway, ADMIN_HEALTH_PATH).await;

    assert_eq!(json["healthy"], 2);
    assert_eq!(json["total"], 2);
    assert_eq!(json["members"][1]["member"], "backend.test:80");
    assert_eq!(json["members"][1]["state"], "healthy");
    assert!(json["members"][1]["last_probe"].is_null());
    assert_eq!(json["members"][1]["consecutive_failures"], 0);
    gateway.stop().await;
}

#[tokio::test]
async fn stats_json_keys_causes_by_name_and_responses_by_status() {
    let backend = fake_backend(vec![vec![Step::Respond(ok("x"))]]).await;
    let gateway = gateway(backend.member(), with_admin(config())).await;
    assert_eq!(within(get(gateway.local_addr(), "/")).await.status, 200);
    let empty = support::gateway(Vec::new(), with_admin(config())).await;
    assert_eq!(within(get(empty.local_addr(), "/")).await.status, 502);

    let json = admin_json(&gateway, ADMIN_STATS_PATH).await;
    let empty_json = admin_json(&empty, ADMIN_STATS_PATH).await;

    assert_eq!(json["requests"], 1);
    assert_eq!(json["responses"]["200"], 1);
    assert_eq!(json["upstream_connections"], 1);
    assert_eq!(empty_json["causes"]["no-backends"], 1);
    assert_eq!(empty_json["responses"]["502"], 1);
    // The JSON is the GatewayStats, field for field.
    let parsed: GatewayStats = serde_json::from_value(json).unwrap();
    assert_eq!(parsed, gateway.stats());
    let parsed: GatewayStats = serde_json::from_value(empty_json).unwrap();
    assert_eq!(parsed, empty.stats());
    gateway.stop().await;
    empty.stop().await;
}

#[tokio::test]
async fn other_paths_are_404_and_other_methods_405() {
    let gateway = gateway(Vec::new(), with_admin(config())).await;
    let admin = gateway.admin_addr().unwrap();

    assert_eq!(within(get(admin, "/")).await.status, 404);
    assert_eq!(within(get(admin, "/_badgateway/other")).await.status, 404);
    let post = within(support::send(
        admin,
        support::request("POST", ADMIN_STATS_PATH, ""),
    ))
    .await;
    assert_eq!(post.status, 405);
    // The admin listener is not the public one.
    assert_ne!(admin, gateway.local_addr());
    gateway.stop().await;
}

#[tokio::test]
async fn no_admin_endpoint_unless_asked() {
    let gateway = gateway(Vec::new(), config()).await;
    assert_eq!(gateway.admin_addr(), None);
    gateway.stop().await;
}

#[tokio::test]
async fn the_public_listener_proxies_the_admin_paths_to_the_backend() {
    let mut backend =
        fake_backend(vec![vec![Step::Respond(ok("backend's own health page"))]]).await;
    let gateway = gateway(backend.member(), with_admin(config())).await;

    let reply = within(get(gateway.local_addr(), ADMIN_HEALTH_PATH)).await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.unwrap(), "backend's own health page");
    let (_, head, _) = backend.wait_for_request().await;
    assert!(
        head.starts_with("get /_badgateway/health http/1.1\r\n"),
        "{head}"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn the_admin_endpoint_stops_with_the_gateway() {
    let gateway = gateway(Vec::new(), with_admin(config())).await;
    let admin = gateway.admin_addr().unwrap();

    gateway.stop().await;

    assert!(tokio::net::TcpStream::connect(admin).await.is_err());
}
