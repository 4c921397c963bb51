//! Property: whatever broken chunked body a client sends, the back answers it as the client's mistake (400,
//! or a close) and never counts it as a 502; nothing of it is completed at the origin.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use keepalive_proxy::{BackConfig, KeepAliveProxy};
use origin::{Origin, OriginConfig};
use proptest::prelude::*;
use tokio::io::AsyncWriteExt;

use crate::support::{RawClient, bounded, loopback};

/// A chunked body broken in one of the ways a client gets it wrong, after `good` valid chunks.
fn broken_body() -> impl Strategy<Value = Vec<u8>> {
    let breakage = prop_oneof![
        // Not hex, or too long for any size.
        "[g-zG-Z!#]{1,6}".prop_map(|size| format!("{size}\r\nabc\r\n0\r\n\r\n")),
        "[1-9a-f][0-9a-f]{16,24}".prop_map(|size| format!("{size}\r\nabc\r\n0\r\n\r\n")),
        // A bare LF ends the size line.
        (1u8..16)
            .prop_map(|size| format!("{size:x}\n{}\r\n0\r\n\r\n", "x".repeat(usize::from(size)))),
        // Data without its CRLF.
        (1u8..16, "[a-zA-Z]{2}").prop_map(|(size, junk)| {
            format!(
                "{size:x}\r\n{}{junk}0\r\n\r\n",
                "x".repeat(usize::from(size))
            )
        }),
    ];
    (proptest::collection::vec(1u8..32, 0..3), breakage).prop_map(|(good, broken)| {
        let mut body = String::new();
        for size in good {
            body.push_str(&format!(
                "{size:x}\r\n{}\r\n",
                "g".repeat(usize::from(size))
            ));
        }
        body.push_str(&broken);
        format!("POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n{body}")
            .into_bytes()
    })
}

#[test]
fn the_back_never_counts_a_client_framing_error_as_a_502() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (back, origin) = runtime.block_on(async {
        let origin = Origin::start(loopback(), OriginConfig::default())
            .await
            .expect("origin");
        let back = KeepAliveProxy::start(loopback(), origin.local_addr(), BackConfig::default())
            .await
            .expect("back");
        (back, origin)
    });
    let config = ProptestConfig {
        cases: 64,
        timeout: Duration::from_secs(20).as_millis() as u32,
        ..ProptestConfig::default()
    };
    let sent = AtomicU64::new(0);
    proptest!(config, |(request in broken_body(), half_close in any::<bool>())| {
        sent.fetch_add(1, Ordering::Relaxed);
        let code = runtime.block_on(bounded("answer", async {
            let mut client = RawClient::connect(back.local_addr()).await;
            client.send(&request).await;
            if half_close {
                let _ = client.stream.shutdown().await;
            }
            client.read_answer().await.code()
        }));
        prop_assert!(code == 400 || code == 0 || code == -1, "{code} for {:?}", String::from_utf8_lossy(&request));
        prop_assert_eq!(back.stats().bad_gateways, 0);
    });
    runtime.block_on(bounded("every case counted", async {
        while back.stats().client_errors < sent.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }));
    assert_eq!(back.stats().bad_gateways, 0);
    assert_eq!(origin.requests_served(), 0);
    runtime.block_on(back.stop());
}
