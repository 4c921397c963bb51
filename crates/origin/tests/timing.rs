//! The origin's latency is what it is set to: of 200 requests answered with `latency = 5ms`, at least 95 %
//! arrive within 0.3 ms of it (timed by a raw client from its request's last byte to the response's first),
//! and none sooner. The same holds for a faulty origin, which waits the latency before it misbehaves.

mod support;

use std::time::{Duration, Instant};

use origin::{Origin, OriginConfig, OriginFault};
use precise_timer::TimingErrors;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use support::start;

const LATENCY: Duration = Duration::from_millis(5);
/// How far from the setting an answer may come, for 95 % of them.
const WITHIN: Duration = Duration::from_micros(300);
const BOUND: Duration = Duration::from_secs(5);
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: origin\r\n\r\n";

/// Sends `count` requests on one keep-alive connection and times each until its answer's first byte.
async fn answer_times(origin: &Origin, count: usize) -> Vec<Duration> {
    let mut stream = TcpStream::connect(origin.local_addr()).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut buffer = vec![0u8; 4096];
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let sent = Instant::now();
        stream.write_all(REQUEST).await.unwrap();
        let mut received = Vec::new();
        // The whole response (head and the 0-byte body) fits one read; read until the head's end anyway.
        let mut first = None;
        while !received.windows(4).any(|window| window == b"\r\n\r\n") {
            let read = timeout(BOUND, stream.read(&mut buffer))
                .await
                .unwrap()
                .unwrap();
            assert!(read > 0, "the origin closed a keep-alive connection");
            first.get_or_insert_with(Instant::now);
            received.extend_from_slice(&buffer[..read]);
        }
        times.push(first.unwrap_or_else(Instant::now) - sent);
    }
    times
}

/// Times `count` faulty answers (`close`: a FIN after the latency), one connection each.
async fn fault_times(origin: &Origin, count: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let mut stream = TcpStream::connect(origin.local_addr()).await.unwrap();
        let sent = Instant::now();
        stream.write_all(REQUEST).await.unwrap();
        let mut buffer = [0u8; 64];
        let read = timeout(BOUND, stream.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read, 0, "the close fault sent bytes");
        times.push(sent.elapsed());
    }
    times
}

fn assert_on_time(what: &str, times: Vec<Duration>) {
    let errors = TimingErrors::new(LATENCY, times);
    eprintln!("origin {LATENCY:?}, {what}: {errors}");
    assert_eq!(
        errors.early(),
        0,
        "{what}: answered sooner than {LATENCY:?}: {errors}"
    );
    let within = errors.within(WITHIN);
    assert!(
        within * 100 >= errors.len() * 95,
        "{what}: only {within} of {} answers within {WITHIN:?} of {LATENCY:?} ({errors})",
        errors.len()
    );
}

#[tokio::test]
async fn answers_come_within_a_third_of_a_millisecond_of_the_latency() {
    let origin = start(OriginConfig {
        latency: LATENCY,
        ..OriginConfig::default()
    })
    .await;
    let times = answer_times(&origin, 200).await;
    origin.stop().await;
    assert_on_time("answers", times);
}

#[tokio::test]
async fn a_fault_comes_within_a_third_of_a_millisecond_of_the_latency() {
    let origin = start(OriginConfig {
        latency: LATENCY,
        fault: OriginFault::Close,
        ..OriginConfig::default()
    })
    .await;
    let times = fault_times(&origin, 100).await;
    origin.stop().await;
    assert_on_time("close fault", times);
}
