//! The load's send times are what the pattern asks for: an idle-gap client's gap between a response and its
//! next request, and a rate client's interval between requests, land within 0.3 ms of the setting for at
//! least 95 % of them (timed by a raw server on the same clock: when it wrote a response, when the next request
//! arrived), not on tokio's next millisecond tick.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use harness::load::{LoadPlan, Pattern, Target, drive};
use listener::Shutdown;
use precise_timer::TimingErrors;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;

const WITHIN: Duration = Duration::from_micros(300);
const BOUND: Duration = Duration::from_secs(10);
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/// One connection's requests: when each arrived and when its response was written.
type Exchanges = Vec<(Instant, Instant)>;

/// A keep-alive HTTP server that answers at once and reports each connection's exchanges when it closes.
async fn timing_server() -> (SocketAddr, mpsc::UnboundedReceiver<Exchanges>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, reports) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            stream.set_nodelay(true).unwrap();
            let report = report.clone();
            tokio::spawn(async move {
                let mut exchanges = Vec::new();
                let mut pending = Vec::new();
                let mut buffer = [0u8; 4096];
                let mut arrived = None;
                while let Ok(read) = stream.read(&mut buffer).await {
                    if read == 0 {
                        break;
                    }
                    arrived.get_or_insert_with(Instant::now);
                    pending.extend_from_slice(&buffer[..read]);
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        if stream.write_all(RESPONSE).await.is_err() {
                            return;
                        }
                        let at = arrived.take().unwrap_or_else(Instant::now);
                        exchanges.push((at, Instant::now()));
                    }
                }
                let _ = report.send(exchanges);
            });
        }
    });
    (addr, reports)
}

/// Drives `plan` against the timing server and returns every connection's exchanges.
async fn run(plan: LoadPlan) -> Vec<Exchanges> {
    let (addr, mut reports) = timing_server().await;
    let target = Target {
        addr,
        host: addr.to_string(),
        method: http::Method::GET,
        path: "/".to_owned(),
        timeout: Duration::from_secs(2),
    };
    let (records, mut received) = mpsc::channel(1024);
    let drain = tokio::spawn(async move { while received.recv().await.is_some() {} });
    let (_never, stop) = Shutdown::new();
    let started = timeout(BOUND, drive(&plan, &target, records, stop))
        .await
        .unwrap();
    assert_eq!(Some(started), plan.requests);
    drain.await.unwrap();
    let mut connections = Vec::new();
    for _ in 0..plan.clients {
        connections.push(timeout(BOUND, reports.recv()).await.unwrap().unwrap());
    }
    connections
}

fn plan(pattern: Pattern, threads: usize) -> LoadPlan {
    LoadPlan {
        pattern,
        clients: 4,
        requests: Some(200),
        duration: None,
        gap: Duration::from_millis(50),
        gap_spread: Duration::ZERO,
        rate: Some(200.0),
        seed: 1,
        threads,
    }
}

fn assert_within(what: &str, errors: &TimingErrors) {
    eprintln!("{what}: {errors}");
    let within = errors.within(WITHIN);
    assert!(
        within * 100 >= errors.len() * 95,
        "{what}: only {within} of {} within {WITHIN:?} ({errors})",
        errors.len()
    );
}

#[ignore = "timing precision on a loaded 2-core machine: fails while other builds saturate the cores; run with --ignored on an idle one"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_gaps_last_what_they_are_set_to_on_client_threads() {
    let plan = plan(Pattern::IdleGap, 2);
    let gap = plan.gap;
    let connections = run(plan).await;
    // From a response written to the next request's arrival: the client's gap plus two loopback hops.
    let gaps: Vec<Duration> = connections
        .iter()
        .flat_map(|exchanges| exchanges.windows(2).map(|pair| pair[1].0 - pair[0].1))
        .collect();
    assert_eq!(gaps.len(), 200 - 4);
    let errors = TimingErrors::new(gap, gaps);
    assert_eq!(
        errors.early(),
        0,
        "a client idled less than {gap:?}: {errors}"
    );
    assert_within("idle-gap 50ms, threads 2", &errors);
}

#[ignore = "timing precision on a loaded 2-core machine: fails while other builds saturate the cores; run with --ignored on an idle one"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_sends_keep_their_interval_on_client_threads() {
    let plan = plan(Pattern::Rate, 2);
    // 200 requests/s over 4 clients: one request per client every 20 ms.
    let interval = Duration::from_millis(20);
    let connections = run(plan).await;
    let intervals: Vec<Duration> = connections
        .iter()
        .flat_map(|exchanges| exchanges.windows(2).map(|pair| pair[1].0 - pair[0].0))
        .collect();
    assert_eq!(intervals.len(), 200 - 4);
    // An interval after a late send is short by as much: both sides count.
    assert_within(
        "rate 200/s, threads 2",
        &TimingErrors::new(interval, intervals),
    );
}
