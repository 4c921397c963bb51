//! The exposure probe on the chain model: origin → back (KeepAliveTimeout 50 ms) → link (2 ms) → one gateway
//! per stream. A front that keeps idle upstream connections past the back's timeout is exposed; one that
//! closes them first is not. The README's CI example (front idle 4 s, back 5 s, replayed at 0.01) gives the
//! same verdict in every one of 10 runs, fixed and regressed.

mod support;

use std::time::Duration;

use harness::chain::{BackKind, FrontKind};
use harness::probe::{CloseKind, ProbeResult, ProbeSettings, measure_close, probe_scenario};
use harness::scenario::Scenario;
use harness::time_scale::{TimeScale, time_scaled};
use listener::Shutdown;

const CI_EXAMPLE: &str = include_str!("../../examples/ci/our-chain.toml");

fn scenario(front_idle: &str) -> Scenario {
    Scenario::from_toml(CI_EXAMPLE, "examples/ci/our-chain.toml")
        .and_then(|s| s.with_override(&format!("front.idle_timeout={front_idle}")))
        .expect("the CI example parses")
}

async fn probe(front_idle: &str, settings: &ProbeSettings) -> ProbeResult {
    let scale: TimeScale = "0.01".parse().expect("a factor");
    let scaled = time_scaled(&scenario(front_idle), scale);
    let (_shutdown, signal) = Shutdown::new();
    probe_scenario(
        &scaled,
        FrontKind::Ours,
        BackKind::Ours,
        settings,
        scale,
        signal,
    )
    .await
    .expect("the probe answers")
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
async fn the_back_s_idle_close_is_measured_near_its_timeout() {
    let back = keepalive_proxy::BackConfig {
        keepalive_timeout: Duration::from_millis(50),
        ..keepalive_proxy::BackConfig::default()
    };
    let origin = origin::Origin::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        origin::OriginConfig::default(),
    )
    .await
    .expect("origin");
    let proxy = keepalive_proxy::KeepAliveProxy::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        origin.local_addr(),
        back,
    )
    .await
    .expect("back");
    let close = measure_close(
        proxy.local_addr(),
        "badgateway.test",
        "/",
        10,
        Duration::from_secs(2),
    )
    .await
    .expect("close measured");
    proxy.stop().await;
    origin.stop().await;
    assert_eq!(close.samples.len(), 10);
    // Measured from the client's read of the response's last byte: a late read on a busy core makes a close
    // look early, a late timer thread makes it late.
    let within = close
        .samples
        .iter()
        .filter(|s| (49.0..52.0).contains(&s.after_ms))
        .count();
    assert!(within >= 8, "closes: {:?}", close.samples);
    assert_eq!(close.kind(), CloseKind::Fin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_idling_past_the_back_s_timeout_is_exposed_in_the_last_round_trip() {
    let result = probe("60s", &settings()).await;
    let measured = &result.probe;
    let findings = &measured.findings;
    assert!(findings.exposed, "{measured:#?}");
    assert!(findings.failures >= 5, "{measured:#?}");
    assert!(findings.sent >= 64);
    // Nothing fails three round trips before the close: the race lives at the close.
    let close = measured.back_close.median_ms();
    let early: u64 = findings
        .bins
        .iter()
        .filter(|b| b.to_ms <= close - 3.0 * measured.round_trip_ms)
        .map(|b| b.failures)
        .sum();
    assert_eq!(early, 0, "{measured:#?}");
    assert!(findings.largest_safe_idle_ms < close);
    assert!(
        (3.5..6.0).contains(&measured.round_trip_ms),
        "a 2 ms link both ways: {}",
        measured.round_trip_ms
    );
    assert_eq!(
        result.violations().len(),
        1,
        "[expect] exposed = false is violated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_closing_before_the_back_is_not_exposed() {
    let result = probe("4s", &settings()).await;
    let findings = &result.probe.findings;
    assert!(!findings.exposed, "{:#?}", result.probe);
    // Nothing is sent at or past the front's own idle timeout (40 ms scaled): there the front closes first.
    assert!(
        findings.bins.iter().all(|b| b.to_ms <= 40.0 - 0.5),
        "{:#?}",
        result.probe
    );
    assert!(findings.sent >= 64);
    let bound = findings.failure_rate_upper_bound.unwrap_or(1.0);
    assert!(bound < 0.05, "bound {bound}");
    assert!(result.violations().is_empty());
}

/// The README's promise: the regressed chain fails every one of 10 runs and the fixed one passes every one,
/// each run bounded to about a second by the time scale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ci_example_gives_the_same_verdict_in_ten_runs_of_ten() {
    let settings = ProbeSettings::default();
    let mut walls = Vec::new();
    for run in 0..10 {
        let regressed = probe("60s", &settings).await;
        assert!(
            regressed.probe.findings.exposed,
            "run {run}: {:#?}",
            regressed.probe
        );
        let fixed = probe("4s", &settings).await;
        assert!(
            !fixed.probe.findings.exposed,
            "run {run}: {:#?}",
            fixed.probe
        );
        walls.push(regressed.probe.wall_s.max(fixed.probe.wall_s));
    }
    let slowest = walls.iter().copied().fold(0.0, f64::max);
    assert!(slowest < 5.0, "a probe took {slowest:.1} s");
}

#[test]
fn the_binary_exits_1_when_exposed_0_when_not_and_2_on_bad_input() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/ci/our-chain.toml");
    let status = |args: &[&str]| {
        let scale: &[&str] = if args.contains(&"--time-scale") {
            &[]
        } else {
            &["--time-scale", "0.01"]
        };
        support::badgateway_command()
            .arg("probe")
            .arg(example)
            .args(scale)
            .args(["--probes", "48"])
            .args(args)
            .output()
            .expect("the binary runs")
    };
    let fixed = status(&[]);
    assert_eq!(
        fixed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fixed.stdout)
    );
    let fixed_text = String::from_utf8_lossy(&fixed.stdout);
    assert!(fixed_text.contains("not exposed"), "{fixed_text}");
    // Probed up to where the front stops reusing, the safe limit is the front's own timeout, not a figure below it.
    assert!(
        fixed_text.contains(
            "largest safe front idle timeout measured: the configured 40.0 ms (4.000 s unscaled)"
        ),
        "{fixed_text}"
    );
    let regressed = status(&["--set", "front.idle_timeout=60s"]);
    assert_eq!(regressed.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&regressed.stderr).contains("expected the chain not to be exposed")
    );
    let bad_scale = status(&["--time-scale", "0"]);
    assert_eq!(bad_scale.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_scale.stderr).contains("time scale 0"));
    let no_back = status(&["--set", "chain.back=false"]);
    assert_eq!(no_back.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_back.stderr).contains("chain.back = false"));
    let unwritable = status(&["--json", "/nonexistent-dir/x.json"]);
    assert_eq!(unwritable.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unwritable.stderr).contains("checked before the run"));
}
