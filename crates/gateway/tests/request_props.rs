//! Property test of the gateway's request path: generated requests (method, target, headers, a body sent with
//! `Content-Length` or chunked, under or over the body limit) go through the gateway to a real origin on raw
//! loopback sockets. Every one gets an answer: `200` from the origin when it fits, `413` when its body is over
//! the limit; never a 5xx (nothing in the chain is broken, so a 502 or a panic would be a gateway bug); and the
//! origin counts exactly the requests that were let through.

mod support;

use std::time::Duration;

use gateway::{FrontConfig, Gateway};
use origin::Origin;
use proptest::prelude::*;
use support::{config, gateway_before_origin, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAX_BODY: u64 = 512;

/// Headers the test frames itself, or whose meaning would change the exchange (`expect: 100-continue`).
const RESERVED: [&str; 10] = [
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "expect",
    "te",
    "trailer",
    "upgrade",
    "keep-alive",
    "proxy-connection",
];

#[derive(Debug, Clone)]
struct GeneratedRequest {
    method: &'static str,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    chunked: bool,
}

impl GeneratedRequest {
    fn bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nhost: props.test\r\n",
            self.method, self.target
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("connection: close\r\n");
        let mut bytes = if self.chunked {
            head.push_str("transfer-encoding: chunked\r\n\r\n");
            let mut bytes = head.into_bytes();
            for chunk in self.body.chunks(100) {
                bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                bytes.extend_from_slice(chunk);
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
            bytes
        } else {
            head.push_str(&format!("content-length: {}\r\n\r\n", self.body.len()));
            head.into_bytes()
        };
        if !self.chunked {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }

    fn fits(&self) -> bool {
        self.body.len() as u64 <= MAX_BODY
    }
}

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH",
    ])
}

fn target() -> impl Strategy<Value = String> {
    let segment = "[a-zA-Z0-9._~%-]{0,8}";
    (
        prop::collection::vec(segment, 0..4),
        prop::option::of("[a-z]{1,5}=[a-zA-Z0-9]{0,6}"),
    )
        .prop_map(|(segments, query)| {
            let mut target = format!("/{}", segments.join("/"));
            if let Some(query) = query {
                target.push('?');
                target.push_str(&query);
            }
            target
        })
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-z][a-z0-9-]{0,12}", "[!-~]([ -~]{0,30}[!-~])?"), 0..6).prop_map(
        |headers| {
            headers
                .into_iter()
                .filter(|(name, _)| !RESERVED.contains(&name.as_str()))
                .collect()
        },
    )
}

fn request() -> impl Strategy<Value = GeneratedRequest> {
    (
        method(),
        target(),
        headers(),
        prop::collection::vec(any::<u8>(), 0..(2 * MAX_BODY as usize)),
        any::<bool>(),
    )
        .prop_map(
            |(method, target, headers, body, chunked)| GeneratedRequest {
                method,
                target,
                headers,
                body,
                chunked,
            },
        )
}

/// Sends `bytes` on a new connection; the status of the answer's head, `None` when the connection ended first.
/// Only the head is read: a `HEAD` answer announces a length it does not send.
async fn status_of(addr: std::net::SocketAddr, bytes: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream.write_all(bytes).await.ok()?;
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        head.extend_from_slice(&chunk[..read]);
    }
    String::from_utf8_lossy(&head)
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
}

async fn chain() -> (Gateway, Origin) {
    gateway_before_origin(FrontConfig {
        max_body_bytes: MAX_BODY,
        ..config()
    })
    .await
}

#[test]
fn every_generated_request_is_answered_and_only_accepted_ones_reach_the_origin() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (gateway, origin) = runtime.block_on(chain());
    let addr = gateway.local_addr();
    let config = ProptestConfig {
        cases: 96,
        timeout: Duration::from_secs(20).as_millis() as u32,
        ..ProptestConfig::default()
    };
    proptest!(config, |(request in request())| {
        let before = origin.requests_served();
        let status = runtime.block_on(within(status_of(addr, &request.bytes())));
        if request.fits() {
            prop_assert_eq!(status, Some(200), "{:?}", request);
            prop_assert_eq!(origin.requests_served(), before + 1, "{:?}", request);
        } else {
            prop_assert_eq!(status, Some(413), "{:?}", request);
            prop_assert_eq!(origin.requests_served(), before, "{:?}", request);
        }
    });
    let stats = gateway.stats();
    assert!(stats.causes.is_empty(), "{:?}", stats.causes);
    runtime.block_on(gateway.stop());
}
