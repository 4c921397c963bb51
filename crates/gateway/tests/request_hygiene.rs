//! Request hygiene (issue 14) on raw client connections: what the gateway refuses before anything goes
//! upstream (Host ambiguity, Transfer-Encoding lists, CONNECT, TRACE, broken chunked bodies), each answered
//! with a client error, the connection closed, nothing reaching the origin and no 502 counted; and what it
//! rewrites on the way up (the absolute-form target's authority wins over `Host`; `Connection: Host` cannot
//! remove `Host`).

mod support;

use gateway::{FrontConfig, Gateway};
use origin::Origin;
use support::{
    RawConn, Step, config, fake_backend, gateway, gateway_before_origin, ok, raw_exchange,
};

/// One refused input, the status it gets (0: the connection closes without an answer).
struct Case {
    name: &'static str,
    bytes: &'static [u8],
    status: i32,
}

const REFUSED: &[Case] = &[
    Case {
        name: "two Host headers",
        bytes: b"GET / HTTP/1.1\r\nhost: a.example\r\nhost: b.example\r\n\r\n",
        status: 400,
    },
    Case {
        name: "the same Host twice",
        bytes: b"GET / HTTP/1.1\r\nhost: a.example\r\nhost: a.example\r\n\r\n",
        status: 400,
    },
    Case {
        name: "HTTP/1.1 without Host",
        bytes: b"GET / HTTP/1.1\r\nx-other: 1\r\n\r\n",
        status: 400,
    },
    Case {
        name: "absolute-form without Host",
        bytes: b"GET http://other.example/ HTTP/1.1\r\n\r\n",
        status: 400,
    },
    Case {
        name: "Host that is not host:port",
        bytes: b"GET / HTTP/1.1\r\nhost: a.example/evil\r\n\r\n",
        status: 400,
    },
    Case {
        name: "Host with user info",
        bytes: b"GET / HTTP/1.1\r\nhost: user@a.example\r\n\r\n",
        status: 400,
    },
    Case {
        name: "Transfer-Encoding: chunked, chunked",
        bytes: b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        status: 400,
    },
    Case {
        name: "two Transfer-Encoding: chunked lines",
        bytes: b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        status: 400,
    },
    Case {
        name: "Transfer-Encoding: gzip, chunked",
        bytes: b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        status: 400,
    },
    Case {
        name: "CONNECT",
        bytes: b"CONNECT other.example:443 HTTP/1.1\r\nhost: other.example:443\r\n\r\n",
        status: 405,
    },
    Case {
        name: "TRACE",
        bytes: b"TRACE / HTTP/1.1\r\nhost: x\r\n\r\n",
        status: 405,
    },
    Case {
        name: "invalid chunk size",
        bytes: b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        status: 400,
    },
    Case {
        name: "overflowing chunk size",
        bytes: b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nfffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
        status: 400,
    },
    Case {
        name: "bare-LF chunk line",
        bytes: b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        status: 400,
    },
    Case {
        name: "chunk without its CRLF",
        bytes: b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        status: 400,
    },
];

async fn chain(front: FrontConfig) -> (Gateway, Origin) {
    gateway_before_origin(front).await
}

#[tokio::test]
async fn refused_requests_are_client_errors_closed_and_never_reach_the_upstream() {
    let (gateway, origin) = chain(config()).await;
    let addr = gateway.local_addr();
    let mut seen = Vec::new();
    for case in REFUSED {
        let (answer, mut conn) = raw_exchange(addr, case.bytes).await;
        if case.status == 405 {
            assert!(
                answer.header("allow").is_some(),
                "{}: a 405 says what is allowed",
                case.name
            );
        }
        seen.push((case.name, answer.code(), conn.is_closed().await));
    }
    let expected: Vec<_> = REFUSED
        .iter()
        .map(|case| (case.name, case.status, true))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(
        origin.requests_served(),
        0,
        "a refused request reached the origin"
    );
    let stats = gateway.stats();
    assert_eq!(stats.upstream_connections, 0);
    assert!(stats.causes.is_empty(), "no 502 cause: {:?}", stats.causes);
    assert_eq!(stats.client_errors, REFUSED.len() as u64);
    assert_eq!(stats.responses.get(&502), None);
    gateway.stop().await;
}

#[tokio::test]
async fn a_body_cut_short_by_eof_is_a_client_error_not_a_502() {
    let (gateway, origin) = chain(config()).await;
    for bytes in [
        &b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nhello"[..],
        b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel",
    ] {
        let mut conn = RawConn::connect(gateway.local_addr()).await;
        conn.send(bytes).await;
        tokio::io::AsyncWriteExt::shutdown(&mut conn.stream)
            .await
            .unwrap();
        let code = conn.answer().await.code();
        assert!(code == 400 || code == 0, "{code}");
    }
    support::wait_until("both counted", || async {
        gateway.stats().client_errors == 2
    })
    .await;
    assert_eq!(origin.requests_served(), 0);
    assert!(gateway.stats().causes.is_empty());
    gateway.stop().await;
}

#[tokio::test]
async fn trace_is_forwarded_when_allowed() {
    let (gateway, origin) = chain(FrontConfig {
        allow_trace: true,
        ..config()
    })
    .await;
    let (answer, _) =
        raw_exchange(gateway.local_addr(), b"TRACE / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(answer.code(), 200);
    assert_eq!(origin.requests_served(), 1);
    // CONNECT stays refused.
    let (answer, _) = raw_exchange(
        gateway.local_addr(),
        b"CONNECT other.example:443 HTTP/1.1\r\nhost: other.example:443\r\n\r\n",
    )
    .await;
    assert_eq!(answer.code(), 405);
    assert_eq!(origin.requests_served(), 1);
    gateway.stop().await;
}

#[tokio::test]
async fn the_upstream_sees_one_host_the_one_the_request_is_for() {
    let mut backend = fake_backend(vec![vec![Step::Respond(ok("a")); 3]]).await;
    let gateway = gateway(vec![backend.addr.to_string()], config()).await;
    let mut conn = RawConn::connect(gateway.local_addr()).await;
    for request in [
        &b"GET http://other.example/p?q HTTP/1.1\r\nhost: a.example\r\n\r\n"[..],
        b"GET /c HTTP/1.1\r\nhost: a.example\r\nconnection: host\r\n\r\n",
        b"GET /old HTTP/1.0\r\nconnection: keep-alive\r\n\r\n",
    ] {
        conn.send(request).await;
        assert_eq!(conn.answer().await.code(), 200);
    }
    let heads: Vec<String> = backend
        .requests()
        .into_iter()
        .map(|(_, head, _)| head)
        .collect();
    let hosts: Vec<Vec<&str>> = heads
        .iter()
        .map(|head| {
            head.lines()
                .filter_map(|line| line.strip_prefix("host: "))
                .collect()
        })
        .collect();
    let lines: Vec<&str> = heads
        .iter()
        .map(|head| head.lines().next().unwrap_or_default())
        .collect();
    assert_eq!(
        lines,
        ["get /p?q http/1.1", "get /c http/1.1", "get /old http/1.1"]
    );
    let member = backend.addr.to_string();
    assert_eq!(
        hosts,
        [
            vec!["other.example"],
            vec!["a.example"],
            vec![member.as_str()]
        ]
    );
    gateway.stop().await;
}
