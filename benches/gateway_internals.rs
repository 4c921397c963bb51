//! The gateway's per-request bookkeeping, without the network: upstream pool checkout/return, cause
//! classification of real hyper errors, the upstream header rewrite, and the counters.
//!
//! These go through `gateway::bench_api`, thin wrappers over the private code the proxy path runs.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gateway::Cause;
use gateway::bench_api::{
    BenchPool, BenchStats, classify_chain, classify_send_error, prepare_upstream_headers,
};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::Empty;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A backend that accepts and holds connections open, for the pool's real connections.
async fn holding_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

fn pool(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("pool");
    group.throughput(Throughput::Elements(1));
    for idle in [1usize, 64, 1024] {
        let pool = runtime.block_on(async {
            let backend = holding_backend().await;
            let pool = BenchPool::new(idle, Duration::from_secs(3600));
            pool.fill(backend, idle).await;
            pool
        });
        assert_eq!(pool.idle(), idle);
        group.bench_function(format!("checkout-checkin/{idle}-idle"), |b| {
            // Inside the runtime, yielding after each cycle: a checkin that wakes the reaper task pays for
            // the reaper's run too, as it would on the request path.
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let began = Instant::now();
                    for _ in 0..iters {
                        assert!(pool.checkout_checkin());
                        tokio::task::yield_now().await;
                    }
                    began.elapsed()
                })
            });
        });
        pool.close();
    }
    group.finish();
}

/// A real hyper client error: the backend reads the request, then closes (FIN) or resets (RST) without a byte.
async fn hyper_error(reset: bool) -> hyper::Error {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let backend = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf).await;
        if reset {
            stream.set_zero_linger().expect("SO_LINGER 0");
        }
        drop(stream);
    });
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let request = Request::get("/")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let error = sender
        .send_request(request)
        .await
        .expect_err("the backend never answers");
    let _ = backend.await;
    error
}

/// An io error wrapped twice, as hyper wraps what it read.
#[derive(Debug)]
struct Wrapped(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("wrapped")
    }
}

impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

fn classification(c: &mut Criterion) {
    let runtime = runtime();
    let closed = runtime.block_on(hyper_error(false));
    let reset = runtime.block_on(hyper_error(true));
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(1));
    group.bench_function("hyper-eof-reused", |b| {
        b.iter(|| {
            let cause = classify_send_error(std::hint::black_box(&closed), true, false);
            assert_eq!(cause, Cause::ReusedClosed);
        })
    });
    let reset_cause = classify_send_error(&reset, true, false);
    group.bench_function("hyper-rst-reused", |b| {
        b.iter(|| classify_send_error(std::hint::black_box(&reset), true, false))
    });
    let chain = Wrapped(Box::new(Wrapped(Box::new(io::Error::from(
        io::ErrorKind::ConnectionReset,
    )))));
    group.bench_function("io-chain-rst-fresh", |b| {
        b.iter(|| {
            let cause = classify_chain(std::hint::black_box(&chain), false, false);
            assert_eq!(cause, Cause::FreshReset);
        })
    });
    group.finish();
    // Not asserted inside the loop: hyper may report an RST during the write as a closed connection.
    assert!(matches!(
        reset_cause,
        Cause::ReusedReset | Cause::ReusedClosed
    ));
}

fn request_bookkeeping(c: &mut Criterion) {
    let mut group = c.benchmark_group("request");
    group.throughput(Throughput::Elements(1));
    let client: IpAddr = "127.0.0.1".parse().expect("ip");
    // What wrk and browsers send, plus one hop-by-hop header.
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
    headers.insert("user-agent", HeaderValue::from_static("bench/1.0"));
    headers.insert("accept", HeaderValue::from_static("*/*"));
    group.bench_function("upstream-headers", |b| {
        b.iter_batched_ref(
            || headers.clone(),
            |headers| prepare_upstream_headers(headers, client),
            BatchSize::SmallInput,
        )
    });
    let mut with_connection = headers.clone();
    with_connection.insert("connection", HeaderValue::from_static("keep-alive"));
    with_connection.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
    group.bench_function("upstream-headers/connection-and-xff", |b| {
        b.iter_batched_ref(
            || with_connection.clone(),
            |headers| prepare_upstream_headers(headers, client),
            BatchSize::SmallInput,
        )
    });
    let stats = BenchStats::default();
    group.bench_function("stats", |b| {
        b.iter(|| stats.record_request_and_response(StatusCode::OK))
    });
    group.finish();
}

criterion_group!(benches, pool, classification, request_bookkeeping);
criterion_main!(benches);
