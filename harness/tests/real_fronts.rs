//! Real fronts beyond nginx and HAProxy over loopback: Caddy and Varnish start from generated configs, serve
//! through a link to our back, race (the keep-alive race of the default scenario, GET and POST), show what
//! their own retries hide, and stop with no process left. A missing package is a failure in CI (`CI=true`)
//! and a skip that names it elsewhere.

mod support;

use harness::chain::{BackKind, Chain, FrontKind};
use harness::real::run_real;
use harness::scenario::Scenario;
use listener::Shutdown;
use support::quiet;
use support::{assert_gone, get, real_servers_installed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_and_varnish_serve_in_front_of_apache_and_our_back_and_stop_completely() {
    if !real_servers_installed("real-front tests") {
        return;
    }
    // Neither has a limit of requests per upstream connection (the default is 1000).
    let scenario = Scenario::default_race()
        .unwrap()
        .with_override("front.max_requests_per_conn=0")
        .unwrap();
    for front in [FrontKind::Caddy, FrontKind::Varnish] {
        for back in [BackKind::Apache, BackKind::Ours] {
            let chain = Chain::start(&scenario, front, back)
                .await
                .unwrap_or_else(|e| panic!("{front}→{back}: {e}"));
            let pids = chain.server_pids();
            for _ in 0..2 {
                assert_eq!(get(chain.front_addr()).await, 200, "{front}→{back}");
            }
            let account = chain.stop().await.unwrap();
            assert_eq!(account.origin_requests, 2, "{front}→{back}");
            for pid in pids {
                assert_gone(pid);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_and_varnish_race_and_their_own_retries_hide_only_the_get() {
    if !real_servers_installed("real-front tests") {
        return;
    }
    let (_shutdown, stop) = Shutdown::new();
    let race = Scenario::default_race()
        .unwrap()
        .with_override("load.requests=100")
        .and_then(|s| s.with_override("front.max_requests_per_conn=0"))
        .unwrap();
    for front in [FrontKind::Caddy, FrontKind::Varnish] {
        for method in ["GET", "POST"] {
            let scenario = race
                .with_override(&format!("load.method={method}"))
                .unwrap();
            let run = run_real(
                &scenario,
                front,
                BackKind::Ours,
                &format!("{front} {method}"),
                &quiet(),
                stop.clone(),
            )
            .await
            .unwrap_or_else(|e| panic!("{front}: {e}"));
            let r = &run.result;
            eprintln!(
                "{front}→ours {method}: responses {:?}, client errors {:?}, front {:?}, back keep-alive closes {}",
                r.responses, r.client_errors, run.front_causes, r.back_keepalive_timeouts
            );
            assert_eq!(r.unaccounted, 0);
            // The race was on: the back closed idle connections the front had pooled.
            assert!(r.back_keepalive_timeouts >= 10, "{front} {method}");
            let failed = r.bad_gateways() + r.responses.get("503").copied().unwrap_or(0);
            // Measured (100 requests): caddy GET 0 502 (Go's transport replays the GET on a fresh
            // connection, unlogged), caddy POST 32 502 (each logged as a failed round trip); varnish GET 0 and
            // POST 1 503, with 45 silent retries counted by MAIN.backend_retry.
            match (front, method) {
                (FrontKind::Caddy, "GET") => assert!(failed <= 1, "{:?}", r.responses),
                (FrontKind::Caddy, _) => {
                    assert!(r.bad_gateways() >= 5, "{:?}", r.responses);
                    // Every 502 is in Caddy's log as the back's close or reset of a reused connection
                    // (Go's transport words it "EOF", "http: server closed idle connection" or a reset).
                    let cause = |name: &str| run.front_causes.get(name).copied().unwrap_or(0);
                    assert_eq!(
                        cause("upstream-closed") + cause("upstream-reset"),
                        r.bad_gateways(),
                        "{:?}",
                        run.front_causes
                    );
                }
                _ => {
                    assert!(failed <= 3, "{:?}", r.responses);
                    assert!(
                        run.front_causes.get("retried").copied().unwrap_or(0) >= 5,
                        "{:?}",
                        run.front_causes
                    );
                }
            }
        }
    }
}
