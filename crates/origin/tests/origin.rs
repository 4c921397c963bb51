//! The origin over real loopback sockets: what it answers, how long it takes, what it counts, keep-alive, stop.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use origin::{Origin, OriginConfig, OriginError, REQUEST_NUMBER_HEADER};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

async fn start(config: OriginConfig) -> Origin {
    Origin::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}

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
