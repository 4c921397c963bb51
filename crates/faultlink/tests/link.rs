//! The link over real loopback sockets: bytes, latency on data, FIN and RST, reset injection, blackhole,
//! unreachable upstream, shutdown. Every wait is bounded; lower time bounds cannot pass by accident.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

mod support;

use faultlink::{Link, LinkConfig, LinkError, LinkStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::{Instant, timeout};

use support::{start_link, with_latency};

/// Generous bound on anything that should happen "soon".
const BOUND: Duration = Duration::from_secs(5);

/// A server that hands its first accepted connection to `handler`.
async fn upstream_once<F, Fut>(handler: F) -> SocketAddr
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        handler(stream).await;
    });
    addr
}

/// An echo server for any number of connections; also counts what it accepted.
async fn echo_server() -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
                let _ = write.shutdown().await;
            });
        }
    });
    (addr, accepted)
}

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ salt).collect()
}

#[tokio::test]
async fn relays_bytes_both_ways_unchanged() {
    let request = pattern(1_000_000, 0x5a);
    let response = pattern(300_000, 0xa5);
    let (expected_request, reply) = (request.clone(), response.clone());
    let upstream = upstream_once(move |mut stream| async move {
        let mut received = Vec::new();
        stream.read_to_end(&mut received).await.unwrap();
        assert!(
            received == expected_request,
            "the upstream got different bytes"
        );
        stream.write_all(&reply).await.unwrap();
        stream.shutdown().await.unwrap();
    })
    .await;
    let link = start_link(upstream, LinkConfig::default()).await;
    let mut client = TcpStream::connect(link.local_addr()).await.unwrap();
    let exchange = async {
        client.write_all(&request).await.unwrap();
        client.shutdown().await.unwrap();
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        received
    };
    let received = timeout(BOUND, exchange).await.unwrap();
    assert!(received == response, "the client got different bytes");
    assert_eq!(
        link.stats(),
        LinkStats {
            connections: 1,
            ..LinkStats::default()
        }
    );
    link.stop().await;
}

#[tokio::test]
async fn delays_data_by_its_latency_each_way() {
    let latency = Duration::from_millis(50);
    let (upstream, _) = echo_server().await;
    let link = start_link(upstream, with_latency(latency)).await;
    let mut client = TcpStream::connect(link.local_addr()).await.unwrap();
    let started = Instant::now();
    client.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    timeout(BOUND, client.read_exact(&mut echo))
        .await
        .unwrap()
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(&echo, b"ping");
    assert!(elapsed >= 2 * latency, "round trip took {elapsed:?}");
    assert!(
        elapsed < 2 * latency + Duration::from_secs(1),
        "round trip took {elapsed:?}"
    );
    link.stop().await;
}

#[tokio::test]
async fn a_new_connection_pays_the_handshake_round_trip_once() {
    let latency = Duration::from_millis(50);
    let (upstream, _) = echo_server().await;
    let link = start_link(upstream, with_latency(latency)).await;
    let started = Instant::now();
    let mut client = TcpStream::connect(link.local_addr()).await.unwrap();
    let mut echo = [0u8; 4];
    client.write_all(b"ping").await.unwrap();
    timeout(BOUND, client.read_exact(&mut echo))
        .await
        .unwrap()
        .unwrap();
    // Handshake round trip (2 latencies) + request (1) + answer (1).
    let first = started.elapsed();
    assert!(first >= 4 * latency, "first exchange took {first:?}");
    let again = Instant::now();
    client.write_all(b"pong").await.unwrap();
    timeout(BOUND, client.read_exact(&mut echo))
        .await
        .unwrap()
        .unwrap();
    let second = again.elapsed();
    assert!(second >= 2 * latency, "second exchange took {second:?}");
    // The second exchange skips the handshake: shorter by about 2 latencies. Judged as a difference of the
    // two measurements on the same connection, with half a latency of slack.
    assert!(
        first > second + latency + latency / 2,
        "first {first:?}, second {second:?}"
    );
    link.stop().await;
}

#[tokio::test]
async fn delays_a_fin_by_its_latency() {
    let latency = Duration::from_millis(100);
    let (closed_at, closed_at_rx) = oneshot::channel();
    let upstream = upstream_once(move |mut stream| async move {
        let t0 = Instant::now();
        stream.shutdown().await.unwrap();
        let _ = closed_at.send(t0);
        // Keep the socket open (no RST, no second event) until the client leaves.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
    })
    .await;
    let link = start_link(upstream, with_latency(latency)).await;
    let mut client = TcpStream::connect(link.local_addr()).await.unwrap();
    let mut buffer = [0u8; 16];
    let read = timeout(BOUND, client.read(&mut buffer))
        .await
        .unwrap()
        .unwrap();
    let eof_at = Instant::now();
    assert_eq!(read, 0, "expected EOF");
    let t0 = closed_at_rx.await.unwrap();
    let elapsed = eof_at - t0;
    assert!(elapsed >= latency, "FIN arrived after {elapsed:?}");
    assert!(
        elapsed < latency + Duration::from_millis(900),
        "FIN arrived after {elapsed:?}"
    );
    link.stop().await;
}

/// The upstream resets the connection at t0; returns when the client saw it and how long after t0.
async fn reset_through_link(latency: Duration) -> (std::io::Result<usize>, Duration) {
    let (reset_at, reset_at_rx) = oneshot::channel();
    let upstream = upstream_once(move |stream| async move {
        stream.set_zero_linger().unwrap();
        let t0 = Instant::now();
        drop(stream);
        let _ = reset_at.send(t0);
    })
    .await;
    let link = start_link(upstream, with_latency(latency)).await;
    let mut client = TcpStream::connect(link.local_addr()).await.unwrap();
    let mut buffer = [0u8; 16];
    let read = timeout(BOUND, client.read(&mut buffer)).await.unwrap();
    let seen_at = Instant::now();
    let t0 = reset_at_rx.await.unwrap();
    link.stop().await;
    (read, seen_at - t0)
}

#[tokio::test]
async fn an_rst_arrives_as_an_rst() {
    let (read, _) = reset_through_link(Duration::ZERO).await;
    assert_eq!(
        read.map_err(|error| error.kind()),
        Err(ErrorKind::ConnectionReset)
    );
}

#[tokio::test]
async fn delays_an_rst_by_its_latency() {
    let latency = Duration::from_millis(100);
    let (read, elapsed) = reset_through_link(latency).await;
    assert_eq!(
        read.map_err(|error| error.kind()),
        Err(ErrorKind::ConnectionReset)
    );
    assert!(elapsed >= latency, "RST arrived after {elapsed:?}");
}

#[tokio::test]
async fn reset_probability_one_resets_every_connection_on_first_data() {
    let (upstream, _) = echo_server().await;
    let config = LinkConfig {
        reset_probability: 1.0,
        ..LinkConfig::default()
    };
    let link = start_link(upstream, config).await;
    for _ in 0..3 {
        let mut client = TcpStream::connect(link.local_addr()).await.unwrap();
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut buffer = [0u8; 64];
        let read = timeout(BOUND, client.read(&mut buffer)).await.unwrap();
        assert_eq!(
            read.map_err(|error| error.kind()),
            Err(ErrorKind::ConnectionReset)
        );
    }
    let stats = link.stats();
    assert_eq!(stats.connections, 3);
    assert_eq!(stats.resets_injected, 3);
    link.stop().await;
}

#[tokio::test]
async fn reset_probability_zero_never_resets() {
    let (upstream, _) = echo_server().await;
    let link = start_link(upstream, LinkConfig::default()).await;
    for round in 0..20u8 {
        let mut client = TcpStream::connect(link.local_addr()).await.unwrap();
        client.write_all(&[round; 8]).await.unwrap();
        let mut echo = [0u8; 8];
        timeout(BOUND, client.read_exact(&mut echo))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(echo, [round; 8]);
    }
    assert_eq!(link.stats().resets_injected, 0);
    assert_eq!(link.stats().connections, 20);
    link.stop().await;
}

#[tokio::test]
async fn rejects_a_reset_probability_outside_0_to_1() {
    let config = LinkConfig {
        reset_probability: 1.5,
        ..LinkConfig::default()
    };
    let upstream = "127.0.0.1:9".parse().unwrap();
    let error = Link::start("127.0.0.1:0".parse().unwrap(), upstream, config)
        .await
        .err()
        .unwrap();
    assert!(matches!(error, LinkError::ResetProbability(_)));
    assert!(error.to_string().contains("1.5"), "{error}");
}

#[tokio::test]
async fn blackhole_swallows_and_never_connects_upstream() {
    let (upstream, accepted) = echo_server().await;
    let config = LinkConfig {
        blackhole: true,
        ..LinkConfig::default()
    };
    let link = start_link(upstream, config).await;
    let mut client = TcpStream::connect(link.local_addr()).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 64];
    let read = timeout(Duration::from_millis(300), client.read(&mut buffer)).await;
    assert!(read.is_err(), "the blackhole answered: {read:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
    assert_eq!(link.stats().blackholed, 1);
    assert_eq!(link.stats().connections, 1);
    link.stop().await;
}

#[tokio::test]
async fn an_unreachable_upstream_resets_the_client() {
    let refused = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let link = start_link(refused, LinkConfig::default()).await;
    let mut client = TcpStream::connect(link.local_addr()).await.unwrap();
    // The write may already fail if the reset came first; the read is what is checked.
    let _ = client.write_all(b"GET / HTTP/1.1\r\n\r\n").await;
    let mut buffer = [0u8; 64];
    let read = timeout(BOUND, client.read(&mut buffer)).await.unwrap();
    match read {
        Ok(0) => {}
        Err(error) if error.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("expected reset or EOF, got {other:?}"),
    }
    link.stop().await;
}

#[tokio::test]
async fn stop_tears_down_relayed_connections() {
    let (upstream, _) = echo_server().await;
    let link = start_link(upstream, LinkConfig::default()).await;
    let mut client = TcpStream::connect(link.local_addr()).await.unwrap();
    client.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    timeout(BOUND, client.read_exact(&mut echo))
        .await
        .unwrap()
        .unwrap();
    link.stop().await;
    let mut buffer = [0u8; 16];
    let read = timeout(BOUND, client.read(&mut buffer)).await.unwrap();
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the connection survived stop: {read:?}"
    );
}

fn drop_syn() -> LinkConfig {
    LinkConfig {
        drop_syn: true,
        ..LinkConfig::default()
    }
}

/// `TcpExtListenOverflows` from `/proc/net/netstat`: SYNs (and handshake ACKs) dropped for a full accept queue.
fn listen_overflows() -> Option<u64> {
    let netstat = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = netstat.lines().filter(|line| line.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let index = names
        .split_whitespace()
        .position(|name| name == "ListenOverflows")?;
    values.split_whitespace().nth(index)?.parse().ok()
}

#[tokio::test]
async fn drop_syn_makes_connects_time_out_and_relays_nothing() {
    let (upstream, accepted) = echo_server().await;
    let link = start_link(upstream, drop_syn()).await;
    let overflows_before = listen_overflows();
    for _ in 0..2 {
        let connect = timeout(
            Duration::from_millis(300),
            TcpStream::connect(link.local_addr()),
        )
        .await;
        assert!(connect.is_err(), "the connect finished: {connect:?}");
    }
    if let (Some(before), Some(after)) = (overflows_before, listen_overflows()) {
        assert!(
            after > before,
            "the kernel counted no listen overflow ({before} -> {after})"
        );
    }
    assert_eq!(link.stats(), LinkStats::default());
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
    link.stop().await;
}

#[tokio::test]
async fn drop_syn_wins_over_blackhole_and_reset() {
    let (upstream, accepted) = echo_server().await;
    let config = LinkConfig {
        blackhole: true,
        reset_probability: 1.0,
        ..drop_syn()
    };
    let link = start_link(upstream, config).await;
    let connect = timeout(
        Duration::from_millis(300),
        TcpStream::connect(link.local_addr()),
    )
    .await;
    assert!(connect.is_err(), "the connect finished: {connect:?}");
    assert_eq!(link.stats(), LinkStats::default());
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
    link.stop().await;
}

#[tokio::test]
async fn without_drop_syn_connects_succeed() {
    let (upstream, _) = echo_server().await;
    let link = start_link(upstream, LinkConfig::default()).await;
    let connect = timeout(
        Duration::from_millis(300),
        TcpStream::connect(link.local_addr()),
    )
    .await;
    assert!(matches!(connect, Ok(Ok(_))), "{connect:?}");
    link.stop().await;
}

#[tokio::test]
async fn stop_with_drop_syn_frees_the_port() {
    let (upstream, _) = echo_server().await;
    let link = start_link(upstream, drop_syn()).await;
    let addr = link.local_addr();
    assert_ne!(addr.port(), 0);
    link.stop().await;
    let connect = timeout(BOUND, TcpStream::connect(addr)).await.unwrap();
    assert_eq!(
        connect.unwrap_err().kind(),
        ErrorKind::ConnectionRefused,
        "the port outlived stop"
    );
    // The port can be bound again.
    TcpListener::bind(addr).await.unwrap();
}
