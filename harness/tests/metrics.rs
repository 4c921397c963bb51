//! The gateway's and the back's `/metrics` (Prometheus text format) scraped during a keep-alive race run.
//!
//! The gateway: origin → back (KeepAliveTimeout 40 ms) → 3 ms link → gateway, clients idling about 40 ms
//! between requests. Scrapes answer while the load runs, and the scrape after it finds the run's own counts:
//! requests, responses by status and 502 by cause as the run's JSON has them; upstream connections, reuse,
//! the idle-age histogram, keep-alive closes and parked connections as the gateway's own stats and pool
//! counters.
//!
//! The back: the default race scenario's chain with `back.admin_listen` set, stood up by the harness; the
//! scrape after the load finds the counts the chain's account reads from the back when it stops, which is
//! what a run writes as its JSON `back_counts` section; `serve back --config` honours the key too.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use harness::chain::{BackKind, Chain, FrontKind};
use harness::scenario::Scenario;
use harness::serve::{Tier, start_tier};

use faultlink::{Link, LinkConfig};
use gateway::{FrontConfig, Gateway};
use harness::load::{LoadConfig, Pattern};
use harness::run::run_external;
use keepalive_proxy::{BackConfig, KeepAliveProxy};
use listener::Shutdown;
use origin::{Origin, OriginConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{quiet, target};

const LOCAL: &str = "127.0.0.1:0";

/// One `GET /metrics` on its own connection; the body.
async fn scrape(admin: SocketAddr) -> String {
    let mut stream = TcpStream::connect(admin)
        .await
        .expect("the admin endpoint accepts");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("the scrape answers in time")
    .unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("a complete response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    body.to_owned()
}

/// The value of the sample `series` (`name` or `name{label="v"}`); 0 when absent.
fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |value| {
            value
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{series}: {value}"))
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_finds_the_counts_of_the_run() {
    let origin = Origin::start(LOCAL.parse().unwrap(), OriginConfig::default())
        .await
        .unwrap();
    let back = KeepAliveProxy::start(
        LOCAL.parse().unwrap(),
        origin.local_addr(),
        BackConfig {
            keepalive_timeout: Duration::from_millis(40),
            ..BackConfig::default()
        },
    )
    .await
    .unwrap();
    let link = Link::start(
        LOCAL.parse().unwrap(),
        back.local_addr(),
        LinkConfig {
            latency: Duration::from_millis(3),
            ..LinkConfig::default()
        },
    )
    .await
    .unwrap();
    let front = Gateway::start(
        LOCAL.parse().unwrap(),
        vec![link.local_addr().to_string()],
        FrontConfig {
            admin_listen: Some(LOCAL.parse().unwrap()),
            // Shorter than the clients' 40 ms gaps, so that both sides park and the counters have counts.
            client_park_after: Duration::from_millis(10),
            upstream_park_after: Duration::from_millis(10),
            ..FrontConfig::default()
        },
    )
    .await
    .unwrap();
    let admin = front.admin_addr().expect("admin_listen was set");

    let load = LoadConfig {
        pattern: Pattern::IdleGap,
        clients: 4,
        requests: Some(120),
        gap: Some(Duration::from_millis(40)),
        gap_spread: Duration::from_millis(4),
        ..LoadConfig::default()
    };
    let (_shutdown, stop) = Shutdown::new();
    let target = target(front.local_addr(), Duration::from_secs(10));
    let options = quiet();
    let run = run_external("metrics-race", &load, &target, &options, stop);
    let during = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        scrape(admin).await
    };
    let (result, during) = tokio::join!(run, during);
    assert!(
        during.contains("badgateway_requests_total"),
        "a scrape answers during the run: {during}"
    );

    let after = scrape(admin).await;
    let stats = front.stats();
    let json = serde_json::to_value(&result).unwrap();
    assert_eq!(
        sample(&after, "badgateway_requests_total"),
        json["requests"].as_u64().unwrap(),
        "{after}"
    );
    for (status, count) in json["responses"].as_object().unwrap() {
        assert_eq!(
            sample(
                &after,
                &format!("badgateway_responses_total{{status=\"{status}\"}}")
            ),
            count.as_u64().unwrap(),
            "status {status}: {after}"
        );
    }
    for cause in gateway::Cause::ALL {
        let name = cause.name();
        assert_eq!(
            sample(
                &after,
                &format!("badgateway_bad_gateway_total{{cause=\"{name}\"}}")
            ),
            json["causes"][name].as_u64().unwrap_or(0),
            "cause {name}: {after}"
        );
    }
    assert!(
        after.contains("badgateway_bad_gateway_total{cause=\"reused-closed\"}"),
        "every cause is exported, zero included: {after}"
    );
    assert_eq!(
        sample(&after, "badgateway_upstream_connections_opened_total"),
        stats.upstream_connections
    );
    assert_eq!(
        sample(&after, "badgateway_upstream_requests_reused_total"),
        stats.reused_requests
    );
    assert_eq!(sample(&after, "badgateway_retries_total"), stats.retries);
    assert_eq!(
        sample(&after, "badgateway_upstream_idle_age_seconds_count"),
        stats.reused_requests,
        "one idle age per reused request: {after}"
    );
    assert!(stats.reused_requests > 0, "the idle gaps reuse connections");
    assert_eq!(
        sample(
            &after,
            "badgateway_upstream_idle_age_seconds_bucket{le=\"+Inf\"}"
        ),
        stats.reused_requests,
        "{after}"
    );
    let pool = front.pool_stats();
    assert_eq!(
        sample(&after, "badgateway_keepalive_closes_total{kind=\"closed\"}"),
        pool.discarded_closed,
        "{after}"
    );
    assert_eq!(
        sample(
            &after,
            "badgateway_keepalive_closes_total{kind=\"refused-checkin\"}"
        ),
        pool.refused_checkins,
        "{after}"
    );
    assert!(
        after.contains("badgateway_pool_idle_connections "),
        "{after}"
    );
    for (side, parked) in [
        ("client", stats.parked_connections),
        ("upstream", pool.parked),
    ] {
        assert!(parked > 0, "{side} connections idle past 10 ms park");
        assert_eq!(
            sample(
                &after,
                &format!("badgateway_connections_parked_total{{side=\"{side}\"}}")
            ),
            parked,
            "{after}"
        );
    }
    assert_eq!(
        sample(
            &after,
            &format!(
                "badgateway_backend_healthy{{member=\"{}\"}}",
                link.local_addr()
            )
        ),
        1,
        "{after}"
    );
    eprintln!(
        "race run: {} requests, {} 502 ({} race), {} upstream connections",
        result.requests,
        result.bad_gateways(),
        result.race_bad_gateways(),
        stats.upstream_connections
    );
    front.stop().await;
    link.stop().await;
    back.stop().await;
    origin.stop().await;
}

/// A loopback port free a moment ago, for an admin endpoint inside a chain the harness stands up (the chain
/// does not hand its back's admin address out); below the ephemeral range, so no port-0 bind takes it meanwhile.
fn free_port() -> SocketAddr {
    harness::ports::free_loopback_port().expect("a free loopback port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_back_s_scrape_finds_the_counts_of_the_run_s_back_counts() {
    let admin = free_port();
    let scenario = Scenario::default_race()
        .and_then(|s| s.with_override(&format!("back.admin_listen={admin}")))
        .and_then(|s| s.with_override("load.requests=80"))
        .and_then(|s| s.with_override("load.gap=50ms"))
        .expect("the overrides apply");
    assert_eq!(scenario.back.admin_listen, Some(admin));
    let chain = Chain::start(&scenario, FrontKind::Ours, BackKind::Ours)
        .await
        .expect("the chain starts");
    let (_shutdown, stop) = Shutdown::new();
    let target = target(chain.front_addr(), Duration::from_secs(10));
    let options = quiet();
    let run = run_external("back-metrics", &scenario.load, &target, &options, stop);
    let during = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        scrape(admin).await
    };
    let (result, during) = tokio::join!(run, during);
    assert!(
        during.contains("badgateway_back_requests_total"),
        "a scrape answers during the run: {during}"
    );
    let after = scrape(admin).await;
    let account = chain.stop().await.expect("the chain stops");
    let back = serde_json::to_value(account.back_stats.expect("our back counted"))
        .expect("the back counts serialize");
    let field = |name: &str| {
        back[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name}: {back}"))
    };
    for (series, name) in [
        ("badgateway_back_requests_total", "requests"),
        ("badgateway_back_connections_accepted_total", "connections"),
        ("badgateway_back_requests_reused_total", "reused_requests"),
        ("badgateway_back_client_errors_total", "client_errors"),
        ("badgateway_back_bad_gateway_total", "bad_gateways"),
        (
            "badgateway_back_header_read_timeouts_total",
            "header_read_timeouts",
        ),
        (
            "badgateway_back_origin_connections_opened_total",
            "origin_connections",
        ),
        (
            "badgateway_back_keepalive_closes_total{kind=\"max-requests\"}",
            "max_requests_closes",
        ),
    ] {
        assert_eq!(sample(&after, series), field(name), "{series}: {after}");
    }
    // Between the scrape and the chain's stop a connection still open may yet end: on its KeepAliveTimeout,
    // or closed by the front as it stops. Every one ended by the scrape is counted in it, and no other.
    let timeouts = sample(
        &after,
        "badgateway_back_keepalive_closes_total{kind=\"timeout\"}",
    );
    let front_closes = sample(
        &after,
        "badgateway_back_keepalive_closes_total{kind=\"client-close\"}",
    );
    let open = field("connections") - timeouts - front_closes - field("max_requests_closes");
    assert!(
        (timeouts..=timeouts + open).contains(&field("keepalive_timeouts")),
        "{timeouts} timeouts scraped, {open} open: {back}"
    );
    assert!(
        (front_closes..=front_closes + open).contains(&field("client_closes")),
        "{front_closes} front closes scraped, {open} open: {back}"
    );
    // Each request the back received was answered; the race's 502s never reached it.
    let requests = field("requests");
    assert_eq!(
        sample(&after, "badgateway_back_responses_total{status=\"200\"}"),
        requests,
        "{after}"
    );
    assert_eq!(
        requests + result.race_bad_gateways(),
        result.requests,
        "a request is either served by the back or met its close: {result:?}"
    );
    assert!(
        field("keepalive_timeouts") > 0,
        "the idle gaps meet the timeout"
    );
    assert!(field("reused_requests") > 0, "connections are reused");
    eprintln!(
        "back: {requests} requests, {} timeouts, {} reused; {} race 502 at the front",
        field("keepalive_timeouts"),
        field("reused_requests"),
        result.race_bad_gateways()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_back_honours_admin_listen() {
    let origin = Origin::start(LOCAL.parse().unwrap(), OriginConfig::default())
        .await
        .unwrap();
    let path = support::scratch_dir("serve-back-admin").join("back.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:0\"\nupstream = \"{}\"\n[back]\nadmin_listen = \"127.0.0.1:0\"\n",
            origin.local_addr()
        ),
    )
    .unwrap();
    let served = start_tier(Tier::Back, &path)
        .await
        .expect("the back starts");
    let admin = served.admin_addr().expect("admin_listen was set");
    assert_eq!(support::get(served.local_addr()).await, 200);
    let text = scrape(admin).await;
    assert_eq!(sample(&text, "badgateway_back_requests_total"), 1, "{text}");
    assert_eq!(
        sample(&text, "badgateway_back_origin_connections_opened_total"),
        1,
        "{text}"
    );
    served.stop().await;
    origin.stop().await;
}
