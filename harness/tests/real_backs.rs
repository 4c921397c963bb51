//! Real backs beyond Apache over loopback: nginx (proxying to our origin), Node.js, gunicorn, uvicorn and
//! Tomcat 10 (applications, their own origin) start from generated configs, serve through our gateway, close
//! an idle connection when their setting says (measured through the harness's probe: FIN, and when), race
//! behind our gateway at their measured close, and stop with no process left. A missing package is a failure
//! in CI (`CI=true`) and a skip that names it elsewhere.

mod support;

use std::time::Duration;

use harness::chain::{BackKind, Chain, FrontKind};
use harness::probe::{CloseKind, measure_close};
use harness::real::{process, run_real};
use harness::scenario::Scenario;
use listener::Shutdown;
use support::quiet;
use support::{assert_gone, get, real_servers_installed};

/// Every back but ours and Apache (which `real_stacks.rs` covers).
const BACKS: [BackKind; 5] = [
    BackKind::Nginx,
    BackKind::Node,
    BackKind::Gunicorn,
    BackKind::Uvicorn,
    BackKind::Tomcat,
];

/// The default race with a keep-alive timeout every back can express (gunicorn takes whole seconds).
fn one_second() -> Scenario {
    Scenario::default_race()
        .unwrap()
        .with_override("back.keepalive_timeout=1s")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_real_back_serves_through_our_gateway_and_stops_completely() {
    if !real_servers_installed("real-back tests") {
        return;
    }
    let scenario = one_second();
    for back in BACKS {
        let chain = Chain::start(&scenario, FrontKind::Ours, back)
            .await
            .unwrap_or_else(|e| panic!("{back}: {e}"));
        let pids = chain.server_pids();
        assert_eq!(pids.len(), 1, "{back}: {pids:?}");
        for _ in 0..2 {
            assert_eq!(get(chain.front_addr()).await, 200, "ours → {back}");
        }
        let account = chain.stop().await.unwrap();
        let proxy = back == BackKind::Nginx;
        assert_eq!(account.origin_counted, proxy, "{back}");
        assert_eq!(account.origin_requests, if proxy { 2 } else { 0 }, "{back}");
        for pid in pids {
            assert_gone(pid);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_real_back_closes_an_idle_connection_with_a_fin_after_its_setting() {
    if !real_servers_installed("real-back tests") {
        return;
    }
    let scenario = one_second();
    for back in BACKS {
        let spec = back.real().unwrap();
        let origin = origin::Origin::start("127.0.0.1:0".parse().unwrap(), Default::default())
            .await
            .unwrap();
        let server = (spec.start)(&scenario.back, Some(origin.local_addr()))
            .await
            .unwrap_or_else(|e| panic!("{back}: {e}"));
        let close = measure_close(
            server.addr(),
            "badgateway.test",
            "/",
            5,
            Duration::from_secs(5),
        )
        .await
        .unwrap_or_else(|e| panic!("{back}: {e}"));
        eprintln!(
            "{back}: keep-alive 1 s closes after {:.1} ms (min {:.1}, max {:.1}), {:?}",
            close.median_ms(),
            close.min_ms(),
            close.max_ms(),
            close.kind()
        );
        assert_eq!(close.kind(), CloseKind::Fin, "{back}");
        // Node 20 adds an internal second to keepAliveTimeout. gunicorn's gthread worker looks for expired
        // keep-alive connections once per round of its `select(1.0)` loop (gthread.py, `murder_keepalived`): a
        // round that began before the response was written finds the connection a few microseconds short of
        // its timeout, so the close comes at the setting or one second later, by the phase of that loop (seen
        // here: 2 of 5 at 1001 ms, 3 at 2001 ms on a loaded machine). Everyone else closes on the setting.
        // The probe reads the response late on a loaded machine, so a count, not one reading: 4 of 5 in the
        // band.
        let (low, high) = match back {
            BackKind::Node => (1_900.0, 2_200.0),
            BackKind::Gunicorn => (990.0, 2_200.0),
            _ => (990.0, 1_200.0),
        };
        let in_band = |low: f64, high: f64| {
            close
                .samples
                .iter()
                .filter(|s| s.after_ms >= low && s.after_ms <= high)
                .count()
        };
        assert!(in_band(low, high) >= 4, "{back}: {close:?}");
        let pid = server.pid();
        let (stopped, _) = server.stop().await;
        assert_ne!(stopped, process::Stopped::AlreadyExited, "{back}");
        assert_gone(pid);
        if back == BackKind::Gunicorn {
            origin.stop().await;
            continue;
        }
        // 50 ms, where the server takes sub-second settings: printed for README's table.
        let short = scenario
            .with_override("back.keepalive_timeout=50ms")
            .unwrap();
        let server = (spec.start)(&short.back, Some(origin.local_addr()))
            .await
            .unwrap_or_else(|e| panic!("{back}: {e}"));
        let close = measure_close(
            server.addr(),
            "badgateway.test",
            "/",
            5,
            Duration::from_secs(5),
        )
        .await
        .unwrap_or_else(|e| panic!("{back}: {e}"));
        eprintln!(
            "{back}: keep-alive 50 ms closes after {:.1} ms (min {:.1}, max {:.1}), {:?}",
            close.median_ms(),
            close.min_ms(),
            close.max_ms(),
            close.kind()
        );
        assert_eq!(close.kind(), CloseKind::Fin, "{back}");
        let not_early = close.samples.iter().filter(|s| s.after_ms >= 40.0).count();
        assert!(not_early >= 4, "{back}: {close:?}");
        let pid = server.pid();
        let (stopped, _) = server.stop().await;
        assert_ne!(stopped, process::Stopped::AlreadyExited, "{back}");
        assert_gone(pid);
        origin.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_real_back_races_behind_our_gateway_at_its_measured_close() {
    if !real_servers_installed("real-back tests") {
        return;
    }
    let (_shutdown, stop) = Shutdown::new();
    // The client's gap 6 ms short of the back's real close, plus two 4 ms link crossings, puts the pooled
    // connection's idle age at the close (as in real_stacks.rs' window test): about half the requests race.
    // 50 ms where the server takes it (Node closes ~1 s later), 1 s for gunicorn (whole seconds).
    for (back, timeout, close_ms, requests) in [
        (BackKind::Nginx, "50ms", 50, 30),
        (BackKind::Uvicorn, "50ms", 50, 30),
        // Tomcat's NIO poller checks idle timeouts about once a second, so 50 ms closes late (see the test above).
        (BackKind::Tomcat, "1s", 1_003, 12),
        (BackKind::Node, "50ms", 1_050, 12),
        (BackKind::Gunicorn, "1s", 1_000, 12),
    ] {
        let scenario = Scenario::default_race()
            .unwrap()
            .with_override(&format!("back.keepalive_timeout={timeout}"))
            .and_then(|s| s.with_override(&format!("load.gap={}ms", close_ms - 6)))
            .and_then(|s| s.with_override("load.gap_spread=4ms"))
            .and_then(|s| s.with_override(&format!("load.requests={requests}")))
            .unwrap();
        let run = run_real(
            &scenario,
            FrontKind::Ours,
            back,
            &format!("ours→{back}"),
            &quiet(),
            stop.clone(),
        )
        .await
        .unwrap_or_else(|e| panic!("{back}: {e}"));
        let r = &run.result;
        eprintln!(
            "ours→{back} ({timeout}): {} of {} races, causes {:?}",
            r.race_bad_gateways(),
            r.requests,
            r.causes
        );
        assert_eq!(r.unaccounted, 0, "{back}");
        assert!(
            r.race_bad_gateways() >= 2,
            "{back}: {:?} {:?}",
            r.responses,
            r.causes
        );
    }
}
