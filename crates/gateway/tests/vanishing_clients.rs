//! Clients that vanish mid-request and mid-response leave nothing behind: the gateway's live connections go
//! back to 0 and the process's open file descriptors back to where they were. One test in its own binary, so
//! no other test opens descriptors meanwhile.

mod support;

use std::time::Duration;

use gateway::FrontConfig;
use origin::{Origin, OriginConfig};
use support::{RawConn, config, gateway, open_fds, wait_until, within};
use tokio::io::AsyncReadExt;

/// Clients of each kind.
const CLIENTS: usize = 200;
/// Clients at once.
const BATCH: usize = 20;
/// Descriptors the process may hold above its starting count afterwards (the runtime's own, lazily made).
const FD_MARGIN: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanished_clients_leave_no_connection_and_no_descriptor_behind() {
    // A body far larger than the socket buffers: the response is still being written when the client leaves.
    let origin = Origin::start(
        "127.0.0.1:0".parse().unwrap(),
        OriginConfig {
            body_bytes: 8 * 1024 * 1024,
            ..OriginConfig::default()
        },
    )
    .await
    .unwrap();
    let gateway = gateway(
        vec![origin.local_addr().to_string()],
        FrontConfig {
            request_timeout: Duration::from_secs(5),
            ..config()
        },
    )
    .await;
    let addr = gateway.local_addr();
    let before = open_fds();

    // Mid-request: a head announcing 1000 bytes, 10 of them, then gone.
    for _ in 0..CLIENTS / BATCH {
        let mut batch = Vec::new();
        for _ in 0..BATCH {
            batch.push(tokio::spawn(async move {
                let mut conn = RawConn::connect(addr).await;
                conn.send(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n0123456789")
                    .await;
            }));
        }
        for client in batch {
            within(client).await.unwrap();
        }
    }
    wait_until("mid-request clients are gone", || async {
        gateway.live_connections() == 0
    })
    .await;
    assert_eq!(
        origin.requests_served(),
        0,
        "a partial request reached the origin"
    );

    // Mid-response: the head and a little of the body, then gone.
    for _ in 0..CLIENTS / BATCH {
        let mut batch = Vec::new();
        for _ in 0..BATCH {
            batch.push(tokio::spawn(async move {
                let mut conn = RawConn::connect(addr).await;
                conn.send(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
                let mut some = [0u8; 4096];
                let read = conn.stream.read(&mut some).await.unwrap();
                assert!(read > 0);
            }));
        }
        for client in batch {
            within(client).await.unwrap();
        }
    }
    wait_until("mid-response clients are gone", || async {
        gateway.live_connections() == 0
    })
    .await;
    // The origin's side of every aborted upstream connection closes too (it is in this process).
    wait_until("descriptors are released", || async {
        open_fds() <= before + FD_MARGIN
    })
    .await;
    let after = open_fds();
    eprintln!("open fds: before {before}, after {after}");
    // Every vanished request was still answered (into a closed socket): 400 for the body that never came,
    // 200 for the response whose body the client left.
    let stats = gateway.stats();
    let clients = CLIENTS as u64;
    assert_eq!(stats.requests, 2 * clients);
    assert_eq!(stats.responses, [(200, clients), (400, clients)].into());
    gateway.stop().await;
}
