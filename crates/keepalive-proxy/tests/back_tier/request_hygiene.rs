//! Request hygiene (issue 14) on raw front connections to the back tier, with a counting origin behind it:
//! client framing errors are 400 (or a close), never the back's 502; Host ambiguity, repeated or unknown
//! Transfer-Encoding, CONNECT and TRACE are refused; Apache's LimitRequestLine, LimitRequestFieldSize,
//! LimitRequestFields and LimitRequestBody hold. Each case asserts the answer, that the connection is closed
//! after it, that nothing was completed at the origin and that the back counted a client error, not a 502.

use keepalive_proxy::{BackConfig, KeepAliveProxy};
use origin::{Origin, OriginConfig};
use tokio::io::AsyncWriteExt;

use crate::support::{Answer, GET, RawClient, back_with, loopback, wait_until};

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

/// (case, bytes, expected status).
fn refused() -> Vec<(&'static str, Vec<u8>, i32)> {
    let long_line = format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "u".repeat(20_000));
    let long_field = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "v".repeat(20_000)
    );
    let many_fields = format!(
        "GET / HTTP/1.1\r\nhost: x\r\n{}\r\n",
        (0..120)
            .map(|n| format!("x-n{n}: 1\r\n"))
            .collect::<String>()
    );
    let chunked = |body: &str| {
        format!("POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n{body}")
            .into_bytes()
    };
    vec![
        (
            "invalid chunk size",
            chunked("zz\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        (
            "overflowing chunk size",
            chunked("fffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        ("bare-LF chunk line", chunked("5\nhello\r\n0\r\n\r\n"), 400),
        (
            "chunk without its CRLF",
            chunked("5\r\nhelloXX0\r\n\r\n"),
            400,
        ),
        (
            "two Host headers",
            b"GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n".to_vec(),
            400,
        ),
        (
            "HTTP/1.1 without Host",
            b"GET / HTTP/1.1\r\nx-other: 1\r\n\r\n".to_vec(),
            400,
        ),
        (
            "Host that is not host:port",
            b"GET / HTTP/1.1\r\nhost: a/b\r\n\r\n".to_vec(),
            400,
        ),
        (
            "Transfer-Encoding: chunked, chunked",
            b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked, chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            400,
        ),
        (
            "Transfer-Encoding: gzip, chunked",
            b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            400,
        ),
        (
            "CONNECT",
            b"CONNECT other.example:443 HTTP/1.1\r\nhost: other.example:443\r\n\r\n".to_vec(),
            405,
        ),
        (
            "TRACE",
            b"TRACE / HTTP/1.1\r\nhost: x\r\n\r\n".to_vec(),
            405,
        ),
        (
            "20 KB request line (LimitRequestLine)",
            long_line.into_bytes(),
            414,
        ),
        (
            "20 KB header (LimitRequestFieldSize)",
            long_field.into_bytes(),
            400,
        ),
        (
            "120 header fields (LimitRequestFields)",
            many_fields.into_bytes(),
            400,
        ),
    ]
}

#[tokio::test]
async fn client_mistakes_are_client_errors_closed_and_never_a_502() {
    let (back, origin) = chain(BackConfig::default()).await;
    let mut seen = Vec::new();
    for (name, bytes, _) in refused() {
        let mut client = RawClient::connect(back.local_addr()).await;
        let answer = client.try_exchange(&bytes).await;
        if let Answer::Response(response) = &answer
            && response.status() == 405
        {
            assert!(
                response.header("allow").is_some(),
                "{name}: a 405 says what is allowed"
            );
        }
        let closed = matches!(client.read_answer().await, Answer::Eof | Answer::Reset);
        seen.push((name, answer.code(), closed));
    }
    let expected: Vec<_> = refused()
        .into_iter()
        .map(|(name, _, status)| (name, status, true))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(
        origin.requests_served(),
        0,
        "a refused request was completed at the origin"
    );
    let stats = back.stats();
    assert_eq!(stats.bad_gateways, 0);
    assert_eq!(stats.client_errors, refused().len() as u64);
    back.stop().await;
}

#[tokio::test]
async fn a_body_cut_short_by_eof_is_a_client_error_not_a_502() {
    let (back, origin) = chain(BackConfig::default()).await;
    for bytes in [
        &b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nhello"[..],
        b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel",
    ] {
        let mut client = RawClient::connect(back.local_addr()).await;
        client.send(bytes).await;
        client.stream.shutdown().await.expect("half-close");
        let code = client.read_answer().await.code();
        assert!(code == 400 || code == 0 || code == -1, "{code}");
    }
    wait_until("both counted", || back.stats().client_errors == 2).await;
    assert_eq!(back.stats().bad_gateways, 0);
    assert_eq!(origin.requests_served(), 0);
    back.stop().await;
}

#[tokio::test]
async fn limits_hold_at_their_value_and_zero_lifts_them() {
    let at_limit = format!(
        "GET /{} HTTP/1.1\r\nhost: x\r\n\r\n",
        "u".repeat(8190 - "GET / HTTP/1.1".len())
    );
    let over = format!(
        "GET /{} HTTP/1.1\r\nhost: x\r\n\r\n",
        "u".repeat(8191 - "GET / HTTP/1.1".len())
    );
    let body = format!(
        "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 64\r\n\r\n{}",
        "b".repeat(64)
    );
    let (back, origin) = chain(BackConfig {
        limit_request_body: 63,
        ..BackConfig::default()
    })
    .await;
    let mut client = RawClient::connect(back.local_addr()).await;
    assert_eq!(client.try_exchange(at_limit.as_bytes()).await.code(), 200);
    assert_eq!(client.try_exchange(over.as_bytes()).await.code(), 414);
    let mut client = RawClient::connect(back.local_addr()).await;
    assert_eq!(client.try_exchange(body.as_bytes()).await.code(), 413);
    assert_eq!(origin.requests_served(), 1);
    back.stop().await;

    let (back, origin) = chain(BackConfig {
        limit_request_line: 0,
        limit_request_field_size: 0,
        limit_request_body: 0,
        allow_trace: true,
        ..BackConfig::default()
    })
    .await;
    let long_field = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "v".repeat(20_000)
    );
    for request in [
        over.as_bytes(),
        long_field.as_bytes(),
        body.as_bytes(),
        b"TRACE / HTTP/1.1\r\nhost: x\r\n\r\n",
    ] {
        let mut client = RawClient::connect(back.local_addr()).await;
        assert_eq!(client.try_exchange(request).await.code(), 200);
    }
    assert_eq!(origin.requests_served(), 4);
    assert_eq!(back.stats().client_errors, 0);
    back.stop().await;
}

#[tokio::test]
async fn the_origin_sees_the_host_the_request_is_for() {
    let (back, origin) = back_with(BackConfig::default()).await;
    let mut client = RawClient::connect(back.local_addr()).await;
    for request in [
        &b"GET http://other.example/p HTTP/1.1\r\nhost: a.example\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nhost: a.example\r\nconnection: host\r\n\r\n",
        GET,
    ] {
        assert_eq!(client.exchange(request).await.status(), 200);
    }
    let seen = origin.seen.lock().expect("lock").clone();
    let forwarded: Vec<Vec<&str>> = seen
        .iter()
        .map(|headers| {
            headers
                .get_all("x-forwarded-host")
                .iter()
                .map(|value| value.to_str().expect("ASCII"))
                .collect()
        })
        .collect();
    assert_eq!(
        forwarded,
        [vec!["other.example"], vec!["a.example"], vec!["x"]]
    );
    back.stop().await;
    origin.stop().await;
}
