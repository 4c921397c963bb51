//! Requests through the gateway over loopback: client → gateway → origin (256-byte body), measured per request
//! with hyper client connections. The origin alone is measured too, so the gateway's own cost is the
//! difference.
//!
//! - `keepalive-on`: one client connection carries every request; the gateway reuses pooled upstream
//!   connections.
//! - `keepalive-on-x16`: sixteen such client connections in flight at once (throughput on both cores).
//! - `keepalive-off`: a new client connection per request (`Connection: close`) and a gateway that pools
//!   nothing (`max_idle_per_backend = 0`): two TCP connections opened per request, as with `KeepAlive Off`.
//!
//! Loopback only; the server runtime has two worker threads and the client runs on the bench's thread, so on a
//! two-core machine client and servers compete for the same CPUs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gateway::{FrontConfig, Gateway};
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use origin::{Origin, OriginConfig};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

const BODY_BYTES: usize = 256;
const CONCURRENT: usize = 16;

type Sender = http1::SendRequest<Empty<Bytes>>;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The servers under test, on their own multi-threaded runtime.
struct Chain {
    runtime: Runtime,
    origin: Origin,
    pooled: Gateway,
    unpooled: Gateway,
}

impl Chain {
    fn start() -> Chain {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        let (origin, pooled, unpooled) = runtime.block_on(async {
            let origin = Origin::start(
                loopback(),
                OriginConfig {
                    body_bytes: BODY_BYTES,
                    ..OriginConfig::default()
                },
            )
            .await
            .expect("origin starts");
            let backends = vec![origin.local_addr().to_string()];
            let pooled = Gateway::start(
                loopback(),
                backends.clone(),
                FrontConfig {
                    max_idle_per_backend: 1024,
                    max_requests_per_conn: 0,
                    ..FrontConfig::default()
                },
            )
            .await
            .expect("gateway starts");
            let unpooled = Gateway::start(
                loopback(),
                backends,
                FrontConfig {
                    max_idle_per_backend: 0,
                    ..FrontConfig::default()
                },
            )
            .await
            .expect("gateway starts");
            (origin, pooled, unpooled)
        });
        Chain {
            runtime,
            origin,
            pooled,
            unpooled,
        }
    }

    fn stop(self) {
        self.runtime.block_on(async {
            self.pooled.stop().await;
            self.unpooled.stop().await;
            self.origin.stop().await;
        });
    }
}

async fn connect(addr: SocketAddr) -> Sender {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender
}

/// One GET, body read to its end; panics on anything but 200 so a broken bench cannot look fast.
async fn get(sender: &mut Sender, close: bool) {
    sender.ready().await.expect("connection ready");
    let mut request = Request::get("/").header(http::header::HOST, "bench");
    if close {
        request = request.header(http::header::CONNECTION, "close");
    }
    let response = sender
        .send_request(request.body(Empty::new()).expect("request"))
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.expect("body");
    assert_eq!(body.to_bytes().len(), BODY_BYTES);
}

fn proxying(c: &mut Criterion) {
    let chain = Chain::start();
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");

    let mut group = c.benchmark_group("proxy");
    group.throughput(Throughput::Elements(1));
    for (name, addr) in [
        ("origin-direct/keepalive-on", chain.origin.local_addr()),
        ("gateway/keepalive-on", chain.pooled.local_addr()),
    ] {
        let mut sender = client.block_on(connect(addr));
        group.bench_function(name, |b| {
            b.iter(|| client.block_on(get(&mut sender, false)));
        });
    }

    // A fresh client connection per request and no upstream pool. Fewer samples: every request leaves sockets
    // in TIME_WAIT.
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    let unpooled = chain.unpooled.local_addr();
    group.bench_function("gateway/keepalive-off", |b| {
        b.iter(|| {
            client.block_on(async {
                let mut sender = connect(unpooled).await;
                get(&mut sender, true).await;
            })
        });
    });
    group.finish();

    let mut group = c.benchmark_group("proxy-concurrent");
    group.throughput(Throughput::Elements(CONCURRENT as u64));
    for (name, addr) in [
        ("origin-direct/keepalive-on-x16", chain.origin.local_addr()),
        ("gateway/keepalive-on-x16", chain.pooled.local_addr()),
    ] {
        let mut senders: Vec<Sender> = client.block_on(connect_many(addr));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                client.block_on(async {
                    let began = Instant::now();
                    for _ in 0..iters {
                        let requests = senders.iter_mut().map(|sender| get(sender, false));
                        join_all(requests).await;
                    }
                    began.elapsed()
                })
            });
        });
    }
    group.finish();

    drop(client);
    chain.stop();
}

async fn connect_many(addr: SocketAddr) -> Vec<Sender> {
    let mut senders = Vec::with_capacity(CONCURRENT);
    for _ in 0..CONCURRENT {
        senders.push(connect(addr).await);
    }
    senders
}

/// Polls every future on the current task until all are done (no extra dependency for `join_all`).
async fn join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut set: Vec<_> = futures.map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        set.retain_mut(|future| future.as_mut().poll(cx).is_pending());
        if set.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

criterion_group!(benches, proxying);
criterion_main!(benches);
