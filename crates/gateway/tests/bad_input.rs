//! Bad HTTP input on a raw client connection to the gateway, with a real origin behind it: every case gets a
//! clear answer (or a clean close), no panic, and nothing of a rejected request reaches the origin: its
//! request counter and the gateway's upstream connection count stay where they were.

mod support;

use std::net::SocketAddr;

use gateway::{FrontConfig, Gateway};
use origin::Origin;
use support::{Answer, RawConn, config, gateway_before_origin, raw_exchange, within};

/// The limits the cases are written against.
const MAX_BODY: u64 = 1024;
const MAX_HEAD: usize = 2048;

/// A gateway with small body and head limits in front of a counting origin.
async fn chain() -> (Gateway, Origin) {
    gateway_before_origin(FrontConfig {
        max_body_bytes: MAX_BODY,
        max_header_bytes: MAX_HEAD,
        ..config()
    })
    .await
}

/// One bad input and what the gateway must do with it.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    /// The status of the answer, 0 for EOF without one.
    status: i32,
}

fn cases() -> Vec<Case> {
    let big_header = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(MAX_HEAD * 2)
    );
    let chunk = "b".repeat(usize::try_from(MAX_BODY).unwrap() * 2);
    let over_chunked = format!(
        "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n",
        chunk.len()
    );
    vec![
        Case {
            name: "malformed request line",
            bytes: b"GET/HTTP/1.1 nonsense\r\nhost: x\r\n\r\n".to_vec(),
            status: 400,
        },
        Case {
            name: "header name with a space",
            bytes: b"GET / HTTP/1.1\r\nhost: x\r\nbad header: 1\r\n\r\n".to_vec(),
            status: 400,
        },
        Case {
            name: "header name with a 0x01 byte",
            bytes: b"GET / HTTP/1.1\r\nhost: x\r\nbad\x01header: 1\r\n\r\n".to_vec(),
            status: 400,
        },
        Case {
            name: "conflicting content-lengths",
            bytes:
                b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello"
                    .to_vec(),
            status: 400,
        },
        Case {
            name: "transfer-encoding that is not chunked",
            bytes: b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip\r\n\r\n".to_vec(),
            status: 400,
        },
        Case {
            name: "oversize head",
            bytes: big_header.into_bytes(),
            status: 431,
        },
        Case {
            name: "content-length over max_body_bytes",
            bytes: format!(
                "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
                MAX_BODY * 4
            )
            .into_bytes(),
            status: 413,
        },
        Case {
            name: "chunked body growing past max_body_bytes",
            bytes: over_chunked.into_bytes(),
            status: 413,
        },
    ]
}

#[tokio::test]
async fn bad_requests_are_answered_closed_and_never_forwarded() {
    let (gateway, origin) = chain().await;
    let addr = gateway.local_addr();
    let mut seen = Vec::new();
    for case in cases() {
        let (answer, mut conn) = raw_exchange(addr, &case.bytes).await;
        let closed = conn.is_closed().await;
        eprintln!("{:45} -> {} closed={closed}", case.name, answer.code());
        seen.push((case.name, answer.code(), closed));
    }
    let expected: Vec<_> = cases().iter().map(|c| (c.name, c.status, true)).collect();
    assert_eq!(seen, expected);
    assert_eq!(
        origin.requests_served(),
        0,
        "a rejected request reached the origin"
    );
    assert_eq!(gateway.stats().upstream_connections, 0);
    // The gateway still serves, and the next request is the origin's first.
    let (answer, _) = raw_exchange(addr, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(answer.code(), 200);
    assert_eq!(answer.header("x-origin-request"), Some("1"));
    gateway.stop().await;
}

/// RFC 9112 §6.1: a request with both Content-Length and Transfer-Encoding. hyper alone would frame it by
/// Transfer-Encoding; the gateway refuses it, in either header order and behind a pipelined request, and the
/// bytes after it are never read as a request.
#[tokio::test]
async fn content_length_with_transfer_encoding_is_refused_400_and_never_forwarded() {
    let (gateway, origin) = chain().await;
    for smuggle in [
        &b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n\
            5\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 40\r\n\r\n\
            0\r\n\r\nGET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n",
    ] {
        let (answer, mut conn) = raw_exchange(gateway.local_addr(), smuggle).await;
        assert_eq!(answer.code(), 400, "{answer:?}");
        assert_eq!(answer.header("connection"), Some("close"));
        assert!(conn.is_closed().await);
    }
    // Behind a plain request on the same connection: the first is served, the second refused.
    let mut conn = RawConn::connect(gateway.local_addr()).await;
    conn.send(
        b"POST /first HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello\
          POST /second HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n\
          0\r\n\r\n",
    )
    .await;
    assert_eq!(conn.answer().await.code(), 200);
    assert_eq!(conn.answer().await.code(), 400);
    assert!(conn.is_closed().await);
    assert_eq!(
        origin.requests_served(),
        1,
        "only the plain request reached the origin"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let (gateway, origin) = chain().await;
    let mut conn = RawConn::connect(gateway.local_addr()).await;
    conn.send(b"GET /one HTTP/1.1\r\nhost: x\r\n\r\nGET /two HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let first = conn.answer().await;
    let second = conn.answer().await;
    assert_eq!((first.code(), second.code()), (200, 200));
    assert_eq!(first.header("x-origin-request"), Some("1"));
    assert_eq!(second.header("x-origin-request"), Some("2"));
    // Still usable.
    conn.send(b"GET /three HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(conn.answer().await.header("x-origin-request"), Some("3"));
    assert_eq!(origin.requests_served(), 3);
    gateway.stop().await;
}

#[tokio::test]
async fn http_1_0_is_answered_and_closed_unless_keep_alive_is_asked() {
    let (gateway, _origin) = chain().await;
    let addr: SocketAddr = gateway.local_addr();
    let (answer, mut conn) = raw_exchange(addr, b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(answer.code(), 200);
    assert!(
        conn.is_closed().await,
        "HTTP/1.0 without keep-alive stays open"
    );

    let mut conn = RawConn::connect(addr).await;
    for _ in 0..2 {
        conn.send(b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
            .await;
        let answer = conn.answer().await;
        assert_eq!(answer.code(), 200);
        assert_eq!(answer.header("connection"), Some("keep-alive"));
    }
    drop(conn);
    within(gateway.stop()).await;
}

#[tokio::test]
async fn a_body_at_the_limit_is_forwarded() {
    let (gateway, origin) = chain().await;
    let body = "c".repeat(usize::try_from(MAX_BODY).unwrap());
    let request = format!(
        "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (answer, _) = raw_exchange(gateway.local_addr(), request.as_bytes()).await;
    assert!(
        matches!(answer, Answer::Response { status: 200, .. }),
        "{answer:?}"
    );
    assert_eq!(origin.requests_served(), 1);
    gateway.stop().await;
}
