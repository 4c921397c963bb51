//! Bad HTTP input and hostile clients on a raw front connection to the back tier, with a counting origin
//! behind it: every case gets a clear answer (or a clean close), no panic, and nothing of a rejected request
//! is completed at the origin.

use std::time::Duration;

use keepalive_proxy::{BackConfig, KeepAliveProxy};
use origin::{Origin, OriginConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Answer, GET, RawClient, bounded, loopback, wait_until};

/// The limits the cases are written against.
const MAX_BODY: u64 = 1024;
const MAX_HEAD: usize = 2048;

/// A back tier with `config` in front of a counting origin.
async fn chain(config: BackConfig) -> (KeepAliveProxy, Origin) {
    let origin = Origin::start(loopback(), OriginConfig::default())
        .await
        .expect("origin binds");
    let back = KeepAliveProxy::start(loopback(), origin.local_addr(), config)
        .await
        .expect("back tier binds");
    (back, origin)
}

fn limits() -> BackConfig {
    BackConfig {
        limit_request_body: MAX_BODY,
        max_header_bytes: MAX_HEAD,
        ..BackConfig::default()
    }
}

/// (case, bytes, expected status; 0 = EOF without an answer).
fn cases() -> Vec<(&'static str, Vec<u8>, i32)> {
    let big_header = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(MAX_HEAD * 2)
    );
    let chunk = "b".repeat(usize::try_from(MAX_BODY).expect("small") * 2);
    let over_chunked = format!(
        "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n",
        chunk.len()
    );
    let over_length = format!(
        "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
        MAX_BODY * 4
    );
    vec![
        (
            "malformed request line",
            b"GET/HTTP/1.1 nonsense\r\nhost: x\r\n\r\n".to_vec(),
            400,
        ),
        (
            "header name with a space",
            b"GET / HTTP/1.1\r\nhost: x\r\nbad header: 1\r\n\r\n".to_vec(),
            400,
        ),
        (
            "header name with a 0x01 byte",
            b"GET / HTTP/1.1\r\nhost: x\r\nbad\x01header: 1\r\n\r\n".to_vec(),
            400,
        ),
        (
            "conflicting content-lengths",
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello"
                .to_vec(),
            400,
        ),
        (
            "transfer-encoding that is not chunked",
            b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip\r\n\r\n".to_vec(),
            400,
        ),
        ("oversize head", big_header.into_bytes(), 431),
        (
            "content-length over max_body_bytes",
            over_length.into_bytes(),
            413,
        ),
        (
            "chunked body growing past max_body_bytes",
            over_chunked.into_bytes(),
            413,
        ),
    ]
}

#[tokio::test]
async fn bad_requests_are_answered_closed_and_never_completed_at_the_origin() {
    let (back, origin) = chain(limits()).await;
    let mut seen = Vec::new();
    for (name, bytes, _) in cases() {
        let mut client = RawClient::connect(back.local_addr()).await;
        let answer = client.try_exchange(&bytes).await;
        let after = client.read_answer().await;
        let closed = matches!(after, Answer::Eof | Answer::Reset);
        eprintln!("{name:45} -> {} then {after:?}", answer.code());
        seen.push((name, answer.code(), closed));
    }
    let expected: Vec<_> = cases()
        .into_iter()
        .map(|(name, _, status)| (name, status, true))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(
        origin.requests_served(),
        0,
        "a rejected request was completed at the origin"
    );
    let mut client = RawClient::connect(back.local_addr()).await;
    let response = client.exchange(GET).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("x-origin-request"), Some("1"));
    back.stop().await;
}

/// RFC 9112 §6.1: hyper frames such a request by Transfer-Encoding alone and closes the connection after it;
/// the back forwards it chunked (Transfer-Encoding is hop-by-hop: the origin hop gets hyper's own framing).
#[tokio::test]
async fn content_length_with_transfer_encoding_is_framed_by_chunks_only_then_closed() {
    let (back, origin) = chain(limits()).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    let answer = client
        .try_exchange(
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n\
              5\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n",
        )
        .await;
    let Answer::Response(response) = answer else {
        panic!("{answer:?}");
    };
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(matches!(
        client.read_answer().await,
        Answer::Eof | Answer::Reset
    ));
    assert_eq!(
        origin.requests_served(),
        1,
        "the smuggled request reached the origin"
    );
    back.stop().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let (back, origin) = chain(limits()).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    client
        .send(b"GET /one HTTP/1.1\r\nhost: x\r\n\r\nGET /two HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let mut numbers = Vec::new();
    for _ in 0..2 {
        match bounded("pipelined answer", client.read_answer()).await {
            Answer::Response(response) => {
                assert_eq!(response.status(), 200);
                numbers.push(response.header("x-origin-request").map(str::to_owned));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(numbers, [Some("1".to_owned()), Some("2".to_owned())]);
    assert_eq!(client.exchange(GET).await.status(), 200, "still usable");
    assert_eq!(origin.requests_served(), 3);
    back.stop().await;
}

#[tokio::test]
async fn http_1_0_is_answered_and_closed_unless_keep_alive_is_asked() {
    let (back, _origin) = chain(limits()).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    let answer = client.try_exchange(b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(answer.code(), 200);
    assert!(matches!(
        client.read_answer().await,
        Answer::Eof | Answer::Reset
    ));

    // Apache 2.4.71 answers an HTTP/1.0 keep-alive request with `Connection: Keep-Alive` and its hint.
    let mut client = RawClient::connect(back.local_addr()).await;
    for _ in 0..2 {
        let response = client
            .exchange(b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.header("connection"), Some("Keep-Alive"));
        assert!(response.header("keep-alive").is_some());
    }
    back.stop().await;
}

/// Slowloris: a head that starts and never ends (or trickles) is answered 408 and closed at
/// `header_read_timeout`, as Apache's mod_reqtimeout does.
#[tokio::test]
async fn a_head_not_finished_within_the_header_read_timeout_gets_408_and_is_closed() {
    let (back, origin) = chain(BackConfig {
        header_read_timeout: Duration::from_millis(200),
        ..limits()
    })
    .await;
    // Stops after a partial head.
    let mut stalled = RawClient::connect(back.local_addr()).await;
    let stalled_answer = stalled.try_exchange(b"GET / HTTP/1.1\r\nhost: x\r\n").await;
    // Trickles one byte every 20 ms, never finishing, until the back answers.
    let mut trickler = RawClient::connect(back.local_addr()).await;
    trickler.send(b"GET / HTTP/1.1\r\nx-slow: ").await;
    let mut heard = Vec::new();
    let trickle = async {
        let mut chunk = [0u8; 256];
        loop {
            tokio::select! {
                read = trickler.stream.read(&mut chunk) => {
                    heard.extend_from_slice(&chunk[..read.unwrap_or(0)]);
                    break;
                }
                () = tokio::time::sleep(Duration::from_millis(20)) => {
                    if trickler.stream.write_all(b"x").await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = trickler.stream.read_to_end(&mut heard).await;
    };
    bounded("trickler cut off", trickle).await;
    let Answer::Response(timeout) = stalled_answer else {
        panic!("{stalled_answer:?}");
    };
    assert_eq!(timeout.status(), 408);
    assert_eq!(timeout.body, b"request head not read in time\r\n");
    assert_eq!(timeout.header("connection"), Some("close"));
    assert!(matches!(
        stalled.read_answer().await,
        Answer::Eof | Answer::Reset
    ));
    let heard = String::from_utf8_lossy(&heard);
    assert!(heard.starts_with("HTTP/1.1 408 "), "{heard}");
    assert_eq!(back.stats().header_read_timeouts, 2);
    assert_eq!(origin.requests_served(), 0);
    back.stop().await;
}

/// The header-read timer only runs while a head is being read: an idle kept-alive connection is closed by
/// its keep-alive timeout, not by the shorter header-read timeout.
#[tokio::test]
async fn an_idle_connection_is_left_to_the_keepalive_timeout() {
    let (back, _origin) = chain(BackConfig {
        header_read_timeout: Duration::from_millis(50),
        keepalive_timeout: Duration::from_millis(300),
        ..limits()
    })
    .await;
    let mut client = RawClient::connect(back.local_addr()).await;
    assert_eq!(client.exchange(GET).await.status(), 200);
    assert_eq!(client.next_read().await.ok(), Some(0), "closed with a FIN");
    let stats = back.stats();
    assert_eq!(
        (stats.keepalive_timeouts, stats.header_read_timeouts),
        (1, 0)
    );
    back.stop().await;
}

/// `max_connections` (MaxRequestWorkers): the connection over the limit gets the 503 refusal.
#[tokio::test]
async fn a_connection_over_max_connections_gets_503() {
    let (back, _origin) = chain(BackConfig {
        max_connections: 2,
        ..limits()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut client = RawClient::connect(back.local_addr()).await;
        assert_eq!(client.exchange(GET).await.status(), 200);
        held.push(client);
    }
    let mut over = RawClient::connect(back.local_addr()).await;
    let answer = over.try_exchange(GET).await;
    assert_eq!(answer.code(), 503, "{answer:?}");
    drop(held.pop());
    wait_until("a slot frees", || back.live_connections() <= 1).await;
    let mut next = RawClient::connect(back.local_addr()).await;
    assert_eq!(next.exchange(GET).await.status(), 200);
    back.stop().await;
}
