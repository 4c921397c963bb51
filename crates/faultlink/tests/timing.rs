//! The link's latency is what it is set to, on data, on the FIN and on the RST: at 1, 4 and 10 ms, at least
//! 95 % of the measured crossings land within 0.3 ms of the setting, and none before it. Every crossing is
//! timed on the same clock at both ends (the test's sockets on either side of the link).

mod support;

use std::time::{Duration, Instant};

use faultlink::LinkConfig;
use precise_timer::TimingErrors;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

use support::{start_link, with_latency};

/// How far from the setting a crossing may land, for 95 % of them.
const WITHIN: Duration = Duration::from_micros(300);
/// Bound on any single wait.
const BOUND: Duration = Duration::from_secs(5);
/// Round trips of one byte each way on one connection: twice as many data crossings.
const ROUND_TRIPS: usize = 100;
/// Connections closed with a FIN, and as many with an RST.
const CLOSES: usize = 100;

/// What the upstream side saw, with when.
#[derive(Debug)]
enum Seen {
    Accepted,
    /// A byte arrived at the first instant, its echo was written at the second.
    Data(Instant, Instant),
    Fin(Instant),
    Reset(Instant),
}

/// An upstream that accepts any number of connections, echoes every byte at once and reports what it saw.
async fn reporting_upstream() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            stream.set_nodelay(true).unwrap();
            let report = report.clone();
            tokio::spawn(async move {
                let _ = report.send(Seen::Accepted);
                let mut buffer = [0u8; 64];
                loop {
                    match stream.read(&mut buffer).await {
                        Ok(0) => {
                            let _ = report.send(Seen::Fin(Instant::now()));
                            return;
                        }
                        Ok(read) => {
                            let arrived = Instant::now();
                            if stream.write_all(&buffer[..read]).await.is_err() {
                                return;
                            }
                            let _ = report.send(Seen::Data(arrived, Instant::now()));
                        }
                        Err(_) => {
                            let _ = report.send(Seen::Reset(Instant::now()));
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, seen)
}

async fn next(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    timeout(BOUND, seen.recv()).await.unwrap().unwrap()
}

/// One-way times of `ROUND_TRIPS` bytes there and back: 2 × `ROUND_TRIPS` data crossings.
async fn data_crossings(
    link: std::net::SocketAddr,
    seen: &mut mpsc::UnboundedReceiver<Seen>,
) -> Vec<Duration> {
    let mut client = TcpStream::connect(link).await.unwrap();
    client.set_nodelay(true).unwrap();
    assert!(matches!(next(seen).await, Seen::Accepted));
    let mut crossings = Vec::with_capacity(2 * ROUND_TRIPS);
    let mut byte = [0u8; 1];
    for _ in 0..ROUND_TRIPS {
        let sent = Instant::now();
        client.write_all(b"x").await.unwrap();
        timeout(BOUND, client.read_exact(&mut byte))
            .await
            .unwrap()
            .unwrap();
        let back = Instant::now();
        let Seen::Data(arrived, echoed) = next(seen).await else {
            panic!("the upstream saw something other than the byte");
        };
        crossings.push(arrived - sent);
        crossings.push(back - echoed);
    }
    drop(client);
    assert!(matches!(next(seen).await, Seen::Fin(_)));
    crossings
}

/// One-way times of `CLOSES` FINs, or (with `reset`) RSTs, each on a connection of its own.
async fn close_crossings(
    link: std::net::SocketAddr,
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    reset: bool,
) -> Vec<Duration> {
    let mut crossings = Vec::with_capacity(CLOSES);
    for _ in 0..CLOSES {
        let mut client = TcpStream::connect(link).await.unwrap();
        assert!(matches!(next(seen).await, Seen::Accepted));
        let closed = if reset {
            client.set_zero_linger().unwrap();
            let closed = Instant::now();
            drop(client);
            closed
        } else {
            let closed = Instant::now();
            client.shutdown().await.unwrap();
            closed
        };
        let arrived = match (next(seen).await, reset) {
            (Seen::Fin(at), false) | (Seen::Reset(at), true) => at,
            (other, _) => panic!(
                "expected the {} to cross, saw {other:?}",
                if reset { "RST" } else { "FIN" }
            ),
        };
        crossings.push(arrived - closed);
    }
    crossings
}

/// Prints the errors of every measured set, then fails on the first set short of 95 % within [`WITHIN`].
fn assert_on_time(measured: Vec<(String, Duration, Vec<Duration>)>) {
    let summaries: Vec<(String, Duration, TimingErrors)> = measured
        .into_iter()
        .map(|(what, latency, crossings)| {
            let errors = TimingErrors::new(latency, crossings);
            eprintln!("link {latency:?}, {what}: {errors}");
            (what, latency, errors)
        })
        .collect();
    for (what, latency, errors) in summaries {
        assert_eq!(
            errors.early(),
            0,
            "{what} crossed faster than {latency:?}: {errors}"
        );
        let within = errors.within(WITHIN);
        assert!(
            within * 100 >= errors.len() * 95,
            "{what} at {latency:?}: only {within} of {} crossings within {WITHIN:?} ({errors})",
            errors.len()
        );
    }
}

#[ignore = "timing precision on a loaded 2-core machine: fails while other builds saturate the cores; run with --ignored on an idle one"]
#[tokio::test]
async fn data_fin_and_rst_cross_in_their_latency_to_a_third_of_a_millisecond() {
    let mut measured = Vec::new();
    for latency_ms in [1, 4, 10] {
        let latency = Duration::from_millis(latency_ms);
        let (upstream, mut seen) = reporting_upstream().await;
        let config = LinkConfig {
            model_handshake: false,
            ..with_latency(latency)
        };
        let link = start_link(upstream, config).await;
        let data = data_crossings(link.local_addr(), &mut seen).await;
        let fins = close_crossings(link.local_addr(), &mut seen, false).await;
        let resets = close_crossings(link.local_addr(), &mut seen, true).await;
        link.stop().await;
        measured.push(("data".to_owned(), latency, data));
        measured.push(("FIN".to_owned(), latency, fins));
        measured.push(("RST".to_owned(), latency, resets));
    }
    assert_on_time(measured);
}
