//! The exposure probe against a real chain over loopback: origin → back (KeepAliveTimeout 50 ms) → link
//! (2 ms) → one gateway per stream. A front that keeps idle upstream connections past the back's timeout is
//! exposed; one that closes them first is not, with the zero-failure bound reported.

use std::net::SocketAddr;
use std::time::Duration;

use faultlink::{Link, LinkConfig};
use gateway::{FrontConfig, Gateway};
use harness::load::Target;
use harness::probe::{CloseKind, ProbeSettings, ProbeTargets, measure_close, run_probe};
use keepalive_proxy::{BackConfig, KeepAliveProxy};
use listener::Shutdown;
use origin::{Origin, OriginConfig};

const KEEPALIVE: Duration = Duration::from_millis(50);
const LINK: Duration = Duration::from_millis(2);

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

struct Bench {
    origin: Origin,
    back: KeepAliveProxy,
    link: Link,
    fronts: Vec<Gateway>,
}

async fn bench(front_idle: Duration, streams: usize) -> Bench {
    let origin = Origin::start(loopback(), OriginConfig::default())
        .await
        .expect("origin");
    let back_config = BackConfig {
        keepalive_timeout: KEEPALIVE,
        ..BackConfig::default()
    };
    let back = KeepAliveProxy::start(loopback(), origin.local_addr(), back_config)
        .await
        .expect("back");
    let link_config = LinkConfig {
        latency: LINK,
        ..LinkConfig::default()
    };
    let link = Link::start(loopback(), back.local_addr(), link_config)
        .await
        .expect("link");
    let mut fronts = Vec::new();
    for _ in 0..streams {
        let config = FrontConfig {
            idle_timeout: front_idle,
            ..FrontConfig::default()
        };
        let member = link.local_addr().to_string();
        fronts.push(
            Gateway::start(loopback(), vec![member], config)
                .await
                .expect("gateway"),
        );
    }
    Bench {
        origin,
        back,
        link,
        fronts,
    }
}

impl Bench {
    fn targets(&self, front_idle: Duration) -> ProbeTargets {
        ProbeTargets {
            fronts: self.fronts.iter().map(Gateway::local_addr).collect(),
            back: self.back.local_addr(),
            back_path: self.link.local_addr(),
            request: Target {
                addr: loopback(),
                host: "badgateway.test".to_owned(),
                method: http::Method::GET,
                path: "/".to_owned(),
                timeout: Duration::from_secs(5),
            },
            front_idle: Some(front_idle),
            close_limit: Duration::from_secs(2),
        }
    }

    async fn stop(self) {
        for front in self.fronts {
            front.stop().await;
        }
        self.link.stop().await;
        self.back.stop().await;
        self.origin.stop().await;
    }
}

fn settings() -> ProbeSettings {
    ProbeSettings {
        streams: 8,
        probes: 64,
        bins: 8,
        ..ProbeSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_back_s_idle_close_is_measured_within_a_millisecond_of_its_timeout() {
    let bench = bench(Duration::from_secs(1), 1).await;
    let close = measure_close(
        bench.back.local_addr(),
        "badgateway.test",
        "/",
        10,
        Duration::from_secs(2),
    )
    .await
    .expect("close measured");
    assert_eq!(close.samples.len(), 10);
    let within = close
        .samples
        .iter()
        .filter(|s| (50.0..52.0).contains(&s.after_ms))
        .count();
    assert!(within >= 8, "closes: {:?}", close.samples);
    assert_eq!(close.kind(), CloseKind::Fin);
    bench.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_idling_past_the_back_s_timeout_is_exposed() {
    let front_idle = Duration::from_millis(600);
    let bench = bench(front_idle, 8).await;
    let (_shutdown, signal) = Shutdown::new();
    let measured = run_probe(&bench.targets(front_idle), &settings(), signal)
        .await
        .expect("probe");
    bench.stop().await;
    let findings = &measured.findings;
    assert!(findings.exposed, "{measured:#?}");
    assert!(findings.failures >= 5, "{measured:#?}");
    assert!(findings.sent >= 64);
    // The race lives in the last round trip before the close: nothing fails two round trips earlier.
    let early: u64 = findings
        .bins
        .iter()
        .filter(|b| b.to_ms <= 50.0 - 3.0 * 2.0 * LINK.as_secs_f64() * 1000.0)
        .map(|b| b.failures)
        .sum();
    assert_eq!(early, 0, "{measured:#?}");
    assert!(findings.largest_safe_idle_ms < 50.0);
    assert!(
        (4.0..7.0).contains(&measured.round_trip_ms),
        "rtt {}",
        measured.round_trip_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_closing_before_the_back_is_not_exposed() {
    let front_idle = Duration::from_millis(40);
    let bench = bench(front_idle, 8).await;
    let (_shutdown, signal) = Shutdown::new();
    let measured = run_probe(&bench.targets(front_idle), &settings(), signal)
        .await
        .expect("probe");
    bench.stop().await;
    let findings = &measured.findings;
    assert!(!findings.exposed, "{measured:#?}");
    // Nothing is sent at or past the front's own idle timeout: there the front closes first.
    assert!(
        findings.bins.iter().all(|b| b.to_ms <= 40.0 - 0.5),
        "{measured:#?}"
    );
    assert!(findings.sent >= 64);
    let bound = findings.failure_rate_upper_bound.unwrap_or(1.0);
    assert!(bound < 0.05, "bound {bound}");
}
