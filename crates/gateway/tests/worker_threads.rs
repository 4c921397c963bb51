//! `worker_threads`: client connections served on threads of their own, each with its own idle upstream pool.

mod support;

use std::net::SocketAddr;

use bytes::Bytes;
use gateway::{FrontConfig, Gateway, GatewayError};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use support::{config, gateway_before_origin, request, within};
use tokio::net::TcpStream;

/// A kept-alive client connection to the gateway.
async fn client(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

/// One GET on `client`, its status, the body read to the end.
async fn get(client: &mut SendRequest<Full<Bytes>>) -> u16 {
    let response = client.send_request(request("GET", "/", "")).await.unwrap();
    let status = response.status().as_u16();
    response.into_body().collect().await.unwrap();
    status
}

/// Two kept-alive clients, strictly alternating: ten requests each, every one answered 200.
async fn alternate_ten_requests_each(addr: SocketAddr) {
    let mut first = within(client(addr)).await;
    let mut second = within(client(addr)).await;
    for _ in 0..10 {
        assert_eq!(within(get(&mut first)).await, 200);
        assert_eq!(within(get(&mut second)).await, 200);
    }
}

fn workers(count: usize) -> FrontConfig {
    FrontConfig {
        worker_threads: count,
        ..config()
    }
}

#[tokio::test]
async fn each_worker_thread_reuses_its_own_upstream_connections() {
    let (gateway, origin) = gateway_before_origin(workers(2)).await;
    // Connections are dealt round robin: the two clients land on different worker threads.
    alternate_ten_requests_each(gateway.local_addr()).await;
    let stats = gateway.stats();
    assert_eq!(stats.requests, 20);
    assert_eq!(stats.responses.get(&200), Some(&20));
    assert_eq!(origin.requests_served(), 20);
    // Strictly alternating requests would share one connection in a single pool; each thread keeps its own.
    assert_eq!(stats.upstream_connections, 2);
    assert_eq!(stats.reused_requests, 18);
    assert_eq!(gateway.pool_stats().idle, 2);
    gateway.stop().await;
}

#[tokio::test]
async fn without_worker_threads_alternating_clients_share_one_connection() {
    let (gateway, _origin) = gateway_before_origin(workers(0)).await;
    alternate_ten_requests_each(gateway.local_addr()).await;
    assert_eq!(gateway.stats().upstream_connections, 1);
    gateway.stop().await;
}

#[tokio::test]
async fn too_many_worker_threads_is_refused_with_the_value() {
    let started = Gateway::start(
        "127.0.0.1:0".parse().unwrap(),
        vec!["127.0.0.1:9".to_owned()],
        workers(100_000),
    )
    .await;
    let Err(error) = started else {
        panic!("100000 worker threads accepted");
    };
    assert!(matches!(error, GatewayError::TooManyWorkerThreads(100_000)));
    assert!(error.to_string().contains("100000"), "{error}");
}
