//! The origin over real loopback sockets: what it answers, how long it takes, what it counts, keep-alive, stop,
//! and what each fault puts on the wire (seen by a raw client socket).

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use origin::{
    Origin, OriginConfig, OriginError, OriginFault, PROBE_USER_AGENT, REQUEST_NUMBER_HEADER,
};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use support::start;

/// One client connection; the returned task ends when the connection does.
async fn connect<B>(origin: &Origin) -> (SendRequest<B>, JoinHandle<Result<(), hyper::Error>>)
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(origin.local_addr()).await.unwrap();
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    (sender, tokio::spawn(connection))
}

fn get() -> Request<Empty<Bytes>> {
    Request::get("/")
        .header("host", "origin")
        .body(Empty::new())
        .unwrap()
}

#[tokio::test]
async fn answers_with_the_configured_status_and_body_size() {
    let origin = start(OriginConfig {
        status: 503,
        body_bytes: 1000,
        ..OriginConfig::default()
    })
    .await;
    let (mut sender, _connection) = connect(&origin).await;
    let response = sender.send_request(get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["content-length"], "1000");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), 1000);
    origin.stop().await;
}

/// Sends `count` GETs on one keep-alive connection and returns their statuses.
async fn statuses_of(origin: &Origin, count: usize) -> Vec<StatusCode> {
    let (mut sender, _connection) = connect(origin).await;
    let mut statuses = Vec::with_capacity(count);
    for _ in 0..count {
        sender.ready().await.unwrap();
        let response = sender.send_request(get()).await.unwrap();
        statuses.push(response.status());
        response.into_body().collect().await.unwrap();
    }
    statuses
}

#[tokio::test]
async fn fails_a_seeded_fraction_of_requests_with_the_error_status_and_keeps_the_connection() {
    let config = OriginConfig {
        error_probability: 0.2,
        error_status: 503,
        seed: 11,
        ..OriginConfig::default()
    };
    let origin = start(config.clone()).await;
    let statuses = statuses_of(&origin, 300).await;
    let failed = statuses
        .iter()
        .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
        .count() as u64;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count() as u64;
    assert_eq!(failed + ok, 300, "only 200 and 503: {statuses:?}");
    assert_eq!(origin.errors_injected(), failed);
    assert_eq!(origin.requests_served(), 300);
    // 300 draws at 0.2: mean 60, standard deviation about 7.
    assert!((25..=95).contains(&failed), "{failed} errors");
    origin.stop().await;
    // The same seed fails the same requests.
    let again = start(config).await;
    assert_eq!(statuses_of(&again, 300).await, statuses);
    again.stop().await;
}

#[tokio::test]
async fn rejects_an_error_probability_outside_zero_to_one() {
    let error = Origin::start(
        "127.0.0.1:0".parse().unwrap(),
        OriginConfig {
            error_probability: 1.5,
            ..OriginConfig::default()
        },
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(error, OriginError::ErrorProbability(_)));
    assert!(
        error.to_string().contains("error_probability 1.5"),
        "{error}"
    );
}

#[tokio::test]
async fn waits_the_latency_before_answering() {
    let latency = Duration::from_millis(150);
    let origin = start(OriginConfig {
        latency,
        ..OriginConfig::default()
    })
    .await;
    let (mut sender, _connection) = connect(&origin).await;
    let started = Instant::now();
    let response = sender.send_request(get()).await.unwrap();
    assert!(
        started.elapsed() >= latency,
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(response.status(), StatusCode::OK);
    origin.stop().await;
}

#[tokio::test]
async fn keeps_one_connection_alive_and_counts_every_request() {
    let origin = start(OriginConfig::default()).await;
    assert_eq!(origin.requests_served(), 0);
    let (mut sender, _connection) = connect(&origin).await;
    for expected in 1..=3u64 {
        sender.ready().await.unwrap();
        let response = sender.send_request(get()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[REQUEST_NUMBER_HEADER],
            expected.to_string().as_str()
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body.len(), 64);
    }
    assert_eq!(origin.requests_served(), 3);
    origin.stop().await;
}

#[tokio::test]
async fn drains_a_request_body_and_keeps_the_connection_usable() {
    let origin = start(OriginConfig::default()).await;
    let (mut sender, _connection) = connect(&origin).await;
    for _ in 0..2 {
        sender.ready().await.unwrap();
        let request = Request::post("/upload")
            .header("host", "origin")
            .body(Full::new(Bytes::from(vec![b'y'; 100_000])))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.into_body().collect().await.unwrap();
    }
    assert_eq!(origin.requests_served(), 2);
    origin.stop().await;
}

#[tokio::test]
async fn stop_closes_idle_connections_and_the_listener() {
    let origin = start(OriginConfig::default()).await;
    let addr = origin.local_addr();
    let (mut sender, connection) = connect(&origin).await;
    sender
        .send_request(get())
        .await
        .unwrap()
        .into_body()
        .collect()
        .await
        .unwrap();
    origin.stop().await;
    let ended = tokio::time::timeout(Duration::from_secs(5), connection).await;
    assert!(
        ended.is_ok(),
        "the idle keep-alive connection outlived stop"
    );
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn rejects_an_invalid_status_naming_it() {
    let config = OriginConfig {
        status: 1000,
        ..OriginConfig::default()
    };
    let error = Origin::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .err()
        .unwrap();
    assert!(matches!(error, OriginError::Status(1000)));
    assert!(error.to_string().contains("1000"), "{error}");
}

/// Generous bound on anything that should happen "soon".
const BOUND: Duration = Duration::from_secs(5);

const RAW_GET: &[u8] = b"GET / HTTP/1.1\r\nhost: origin\r\nuser-agent: test\r\n\r\n";

fn with_fault(fault: OriginFault) -> OriginConfig {
    OriginConfig {
        fault,
        ..OriginConfig::default()
    }
}

/// Sends `request` on a fresh raw connection and reads until EOF or an error: the bytes, and how it ended.
async fn raw_exchange(origin: &Origin, request: &[u8]) -> (Vec<u8>, std::io::Result<()>) {
    let mut stream = TcpStream::connect(origin.local_addr()).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = timeout(BOUND, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) => return Ok(()),
                Ok(read) => received.extend_from_slice(&chunk[..read]),
                Err(error) => return Err(error),
            }
        }
    })
    .await
    .expect("the origin neither answered nor closed");
    (received, end)
}

#[test]
fn fault_names_are_kebab_case_and_default_to_none() {
    assert_eq!(OriginConfig::default().fault, OriginFault::None);
    for (name, fault) in [
        ("none", OriginFault::None),
        ("close", OriginFault::Close),
        ("reset", OriginFault::Reset),
        ("garbage", OriginFault::Garbage),
        ("close-mid-body", OriginFault::CloseMidBody),
    ] {
        let parsed = OriginFault::deserialize(serde::de::value::StrDeserializer::<
            serde::de::value::Error,
        >::new(name));
        assert_eq!(parsed.unwrap(), fault, "{name}");
    }
}

#[tokio::test]
async fn close_fault_sends_a_fin_before_any_byte() {
    let origin = start(with_fault(OriginFault::Close)).await;
    let (received, end) = raw_exchange(&origin, RAW_GET).await;
    assert!(received.is_empty(), "got {received:?}");
    assert!(end.is_ok(), "expected EOF, got {end:?}");
    assert_eq!(origin.requests_served(), 1);
    origin.stop().await;
}

#[tokio::test]
async fn close_fault_sends_a_fin_even_with_an_unread_request_body() {
    let origin = start(with_fault(OriginFault::Close)).await;
    let mut request = b"POST / HTTP/1.1\r\nhost: origin\r\ncontent-length: 100000\r\n\r\n".to_vec();
    request.extend_from_slice(&[b'y'; 100_000]);
    let (received, end) = raw_exchange(&origin, &request).await;
    assert!(received.is_empty(), "got {received:?}");
    assert!(end.is_ok(), "expected EOF, got {end:?}");
    origin.stop().await;
}

#[tokio::test]
async fn reset_fault_resets_before_any_byte() {
    let origin = start(with_fault(OriginFault::Reset)).await;
    let (received, end) = raw_exchange(&origin, RAW_GET).await;
    assert!(received.is_empty(), "got {received:?}");
    assert_eq!(
        end.expect_err("expected a reset, got EOF").kind(),
        std::io::ErrorKind::ConnectionReset
    );
    assert_eq!(origin.requests_served(), 1);
    origin.stop().await;
}

#[tokio::test]
async fn garbage_fault_writes_bytes_that_are_not_http() {
    let origin = start(with_fault(OriginFault::Garbage)).await;
    let (received, end) = raw_exchange(&origin, RAW_GET).await;
    assert_eq!(received, b"garbage, not HTTP\r\n\r\n");
    assert!(end.is_ok(), "expected EOF after the garbage, got {end:?}");
    assert_eq!(origin.requests_served(), 1);
    origin.stop().await;
}

/// Splits a raw response into its head (without the blank line) and what followed it.
fn split_response(received: &[u8]) -> (String, &[u8]) {
    let end = received
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("no complete response head");
    (
        String::from_utf8(received[..end].to_vec()).unwrap(),
        &received[end + 4..],
    )
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .expect("no content-length")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn close_mid_body_fault_truncates_the_body() {
    let origin = start(OriginConfig {
        body_bytes: 10_000,
        status: 201,
        fault: OriginFault::CloseMidBody,
        ..OriginConfig::default()
    })
    .await;
    let (received, end) = raw_exchange(&origin, RAW_GET).await;
    assert!(
        end.is_ok() || end.as_ref().unwrap_err().kind() == std::io::ErrorKind::ConnectionReset,
        "{end:?}"
    );
    let (head, body) = split_response(&received);
    assert!(head.starts_with("HTTP/1.1 201 "), "{head}");
    assert!(head.contains("x-origin-request: 1"), "{head}");
    assert_eq!(content_length(&head), 10_000);
    assert_eq!(body.len(), 5_000);
    assert_eq!(origin.requests_served(), 1);
    origin.stop().await;
}

#[tokio::test]
async fn close_mid_body_fault_sends_at_least_one_byte_and_misses_one() {
    for body_bytes in [0, 1, 3] {
        let origin = start(OriginConfig {
            body_bytes,
            fault: OriginFault::CloseMidBody,
            ..OriginConfig::default()
        })
        .await;
        let (received, _) = raw_exchange(&origin, RAW_GET).await;
        let (head, body) = split_response(&received);
        let length = content_length(&head);
        assert!(length >= 2, "{body_bytes}: {head}");
        assert!(
            !body.is_empty() && body.len() < length,
            "{body_bytes}: {} of {length}",
            body.len()
        );
        origin.stop().await;
    }
}

#[tokio::test]
async fn a_fault_waits_the_latency_first() {
    let latency = Duration::from_millis(150);
    let origin = start(OriginConfig {
        latency,
        fault: OriginFault::Close,
        ..OriginConfig::default()
    })
    .await;
    let started = Instant::now();
    let (received, _) = raw_exchange(&origin, RAW_GET).await;
    assert!(received.is_empty());
    assert!(
        started.elapsed() >= latency,
        "closed after {:?}",
        started.elapsed()
    );
    origin.stop().await;
}

#[tokio::test]
async fn a_client_leaving_before_its_head_is_complete_is_not_counted() {
    let origin = start(with_fault(OriginFault::Reset)).await;
    let mut stream = TcpStream::connect(origin.local_addr()).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: o")
        .await
        .unwrap();
    drop(stream);
    // A complete request on another connection proves the first one was handled before it is counted.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (_, end) = raw_exchange(&origin, RAW_GET).await;
    assert!(end.is_err());
    assert_eq!(origin.requests_served(), 1);
    origin.stop().await;
}

fn probe_get() -> Request<Empty<Bytes>> {
    Request::get("/")
        .header("host", "origin")
        .header("user-agent", "badgateway-probe")
        .body(Empty::new())
        .unwrap()
}

#[tokio::test]
async fn probe_requests_count_only_the_probe_agent() {
    assert_eq!(PROBE_USER_AGENT, "badgateway-probe");
    let origin = start(OriginConfig::default()).await;
    let (mut sender, _connection) = connect(&origin).await;
    for request in [probe_get(), get(), probe_get()] {
        sender.ready().await.unwrap();
        let response = sender.send_request(request).await.unwrap();
        response.into_body().collect().await.unwrap();
    }
    let agent = Request::get("/")
        .header("host", "origin")
        .header("user-agent", "curl/8 badgateway-probe")
        .body(Empty::new())
        .unwrap();
    sender.ready().await.unwrap();
    sender.send_request(agent).await.unwrap();
    assert_eq!(origin.requests_served(), 4);
    assert_eq!(origin.probe_requests(), 2);
    origin.stop().await;
}

#[tokio::test]
async fn probe_requests_are_counted_under_every_fault() {
    let probe = b"GET / HTTP/1.1\r\nhost: origin\r\nUser-Agent: badgateway-probe\r\n\r\n";
    for fault in [
        OriginFault::Close,
        OriginFault::Reset,
        OriginFault::Garbage,
        OriginFault::CloseMidBody,
    ] {
        let origin = start(with_fault(fault)).await;
        let _ = raw_exchange(&origin, probe).await;
        let _ = raw_exchange(&origin, RAW_GET).await;
        let _ = raw_exchange(&origin, probe).await;
        assert_eq!(origin.requests_served(), 3, "{fault:?}");
        assert_eq!(origin.probe_requests(), 2, "{fault:?}");
        assert_eq!(
            origin.requests_served() - origin.probe_requests(),
            1,
            "{fault:?}"
        );
        origin.stop().await;
    }
}

#[tokio::test]
async fn stop_ends_a_faulty_connection_waiting_for_its_head() {
    let origin = start(with_fault(OriginFault::Garbage)).await;
    let mut stream = TcpStream::connect(origin.local_addr()).await.unwrap();
    stream.write_all(b"GET / HT").await.unwrap();
    origin.stop().await;
    let mut buffer = [0u8; 64];
    let read = timeout(BOUND, stream.read(&mut buffer)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}
