//! Front connections that vanish mid-request and mid-response leave nothing behind in the back tier: its live
//! connections go back to 0 and the process's open file descriptors back to where they were. One test in its
//! own binary, so no other test opens descriptors meanwhile.

mod support;

use std::net::SocketAddr;

use keepalive_proxy::{BackConfig, KeepAliveProxy};
use origin::{Origin, OriginConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{bounded, open_fds, wait_until};

/// Clients of each kind.
const CLIENTS: usize = 200;
/// Clients at once.
const BATCH: usize = 20;
/// Descriptors the process may hold above its starting count afterwards (the runtime's own, lazily made).
const FD_MARGIN: usize = 8;

/// Runs `CLIENTS` clients, `BATCH` at a time, each writing `request` and reading `read` bytes before leaving.
async fn vanish(addr: SocketAddr, request: &'static [u8], read: usize) {
    for _ in 0..CLIENTS / BATCH {
        let batch: Vec<_> = (0..BATCH)
            .map(|_| {
                tokio::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.expect("connect");
                    stream.write_all(request).await.expect("write");
                    let mut some = vec![0u8; read];
                    if read > 0 {
                        assert!(stream.read(&mut some).await.expect("read") > 0);
                    }
                })
            })
            .collect();
        for client in batch {
            bounded("client", client).await.expect("client task");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanished_front_connections_leave_no_connection_and_no_descriptor_behind() {
    let origin = Origin::start(
        "127.0.0.1:0".parse().expect("addr"),
        OriginConfig {
            body_bytes: 8 * 1024 * 1024,
            ..OriginConfig::default()
        },
    )
    .await
    .expect("origin binds");
    let back = KeepAliveProxy::start(
        "127.0.0.1:0".parse().expect("addr"),
        origin.local_addr(),
        BackConfig::default(),
    )
    .await
    .expect("back binds");
    let addr = back.local_addr();
    let before = open_fds();

    vanish(
        addr,
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n0123456789",
        0,
    )
    .await;
    wait_until("mid-request connections are gone", || {
        back.live_connections() == 0
    })
    .await;
    assert_eq!(
        origin.requests_served(),
        0,
        "a partial request was completed"
    );

    vanish(addr, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n", 4096).await;
    wait_until("mid-response connections are gone", || {
        back.live_connections() == 0
    })
    .await;
    wait_until("descriptors are released", || {
        open_fds() <= before + FD_MARGIN
    })
    .await;
    eprintln!("open fds: before {before}, after {}", open_fds());
    assert_eq!(back.stats().requests, 2 * CLIENTS as u64);
    back.stop().await;
}
