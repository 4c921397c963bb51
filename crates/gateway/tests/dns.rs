//! Name resolution through the resolver: the `[front.dns]` table (hits, injected failures, unknown names,
//! delays beyond `connect_timeout`), a resolver handed to `start_with_resolver`, and probes resolving through
//! the same resolver. Nothing here touches real DNS.

mod support;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gateway::{
    Cause, DnsConfig, DnsMode, FrontConfig, Gateway, HealthState, ProbeConfig, Resolve,
    ResolveFuture,
};
use support::{Step, config, fake_backend, get, ok, wait_until, within};

/// Table mode: `backend.test` is the loopback, `broken.test` fails.
fn table(delay: Duration) -> DnsConfig {
    DnsConfig {
        mode: DnsMode::Table,
        hosts: BTreeMap::from([(
            "backend.test".to_owned(),
            vec!["127.0.0.1".parse::<IpAddr>().unwrap()],
        )]),
        fail: vec!["broken.test".to_owned()],
        delay,
    }
}

async fn start(backends: Vec<String>, config: FrontConfig) -> Gateway {
    Gateway::start("127.0.0.1:0".parse().unwrap(), backends, config)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_name_in_the_table_is_proxied_to_its_address() {
    let mut backend = fake_backend(vec![vec![Step::Respond(ok("by name"))]]).await;
    let member = format!("backend.test:{}", backend.addr.port());
    let config = FrontConfig {
        dns: table(Duration::ZERO),
        ..config()
    };
    let gateway = start(vec![member], config).await;

    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.unwrap(), "by name");
    backend.wait_for_request().await;
    gateway.stop().await;
}

#[tokio::test]
async fn a_name_set_to_fail_is_dns_failure() {
    let config = FrontConfig {
        dns: table(Duration::ZERO),
        ..config()
    };
    let gateway = start(vec!["broken.test:80".to_owned()], config).await;

    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.status, 502);
    assert_eq!(reply.cause(), Some("dns-failure"));
    let stats = gateway.stats();
    assert_eq!(stats.causes, BTreeMap::from([(Cause::DnsFailure, 1)]));
    assert_eq!(stats.upstream_connections, 0);
    gateway.stop().await;
}

#[tokio::test]
async fn a_name_missing_from_the_table_is_dns_failure() {
    let config = FrontConfig {
        dns: table(Duration::ZERO),
        ..config()
    };
    // Even a name the system resolver knows: table mode never asks it.
    let gateway = start(vec!["localhost:80".to_owned()], config).await;

    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.cause(), Some("dns-failure"));
    gateway.stop().await;
}

#[tokio::test]
async fn a_lookup_slower_than_connect_timeout_is_dns_failure() {
    let backend = fake_backend(vec![vec![Step::Respond(ok("too late"))]]).await;
    let member = format!("backend.test:{}", backend.addr.port());
    let config = FrontConfig {
        dns: table(Duration::from_secs(5)),
        connect_timeout: Duration::from_millis(200),
        ..config()
    };
    let gateway = start(vec![member], config).await;

    let started = Instant::now();
    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.cause(), Some("dns-failure"));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    assert_eq!(gateway.stats().upstream_connections, 0);
    gateway.stop().await;
}

#[tokio::test]
async fn a_delay_within_connect_timeout_only_slows_the_request() {
    let backend = fake_backend(vec![vec![Step::Respond(ok("slow dns"))]]).await;
    let member = format!("backend.test:{}", backend.addr.port());
    let config = FrontConfig {
        dns: table(Duration::from_millis(100)),
        connect_timeout: Duration::from_secs(2),
        ..config()
    };
    let gateway = start(vec![member], config).await;

    let started = Instant::now();
    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(100));
    gateway.stop().await;
}

/// Sends every name to one address and counts the lookups.
struct Counting {
    to: SocketAddr,
    lookups: AtomicUsize,
}

impl Resolve for Counting {
    fn resolve<'a>(&'a self, _host: &'a str, port: u16) -> ResolveFuture<'a> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { Ok(vec![SocketAddr::new(self.to.ip(), port)]) })
    }
}

#[tokio::test]
async fn start_with_resolver_uses_the_given_resolver_per_new_connection() {
    let backend = fake_backend(vec![vec![
        Step::Respond(ok("one")),
        Step::Respond(ok("two")),
    ]])
    .await;
    let resolver = Arc::new(Counting {
        to: backend.addr,
        lookups: AtomicUsize::new(0),
    });
    // config.dns says "fail everything": the resolver given wins.
    let config = FrontConfig {
        dns: DnsConfig {
            mode: DnsMode::Table,
            ..DnsConfig::default()
        },
        ..config()
    };
    let gateway = Gateway::start_with_resolver(
        "127.0.0.1:0".parse().unwrap(),
        vec![format!("anything.test:{}", backend.addr.port())],
        config,
        resolver.clone(),
    )
    .await
    .unwrap();

    assert_eq!(within(get(gateway.local_addr(), "/")).await.status, 200);
    assert_eq!(within(get(gateway.local_addr(), "/")).await.status, 200);

    // The second request reused the pooled connection: no second lookup.
    assert_eq!(resolver.lookups.load(Ordering::SeqCst), 1);
    assert_eq!(gateway.stats().reused_requests, 1);
    gateway.stop().await;
}

#[tokio::test]
async fn probes_resolve_through_the_same_resolver() {
    let config = FrontConfig {
        dns: table(Duration::ZERO),
        probe: ProbeConfig {
            enabled: true,
            interval: Duration::from_millis(50),
            unhealthy_threshold: 1,
            ..ProbeConfig::default()
        },
        ..config()
    };
    let gateway = start(vec!["broken.test:80".to_owned()], config).await;

    wait_until("broken.test unhealthy", || async {
        gateway.health().members[0].state == HealthState::Unhealthy
    })
    .await;
    let reply = within(get(gateway.local_addr(), "/")).await;

    assert_eq!(reply.cause(), Some("all-unhealthy"));
    let last = gateway.health().members[0].last_probe.clone().unwrap();
    assert_eq!(last.status, None);
    assert!(
        last.error.as_deref().unwrap().contains("broken.test"),
        "{last:?}"
    );
    gateway.stop().await;
}
