//! Test support for every test binary of the back tier: a tiny hyper origin that records what it was sent, a
//! back tier in front of it, a raw HTTP/1.1 client that reads exactly one response and then leaves the socket
//! alone (as a pooled front connection does), bounded waits, and the process's open descriptors.

#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use keepalive_proxy::{BackConfig, KeepAliveProxy};
use listener::ServerHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every test step is bounded by this, so a hang fails instead of blocking CI.
pub const BOUND: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test if it takes longer than [`BOUND`].
pub async fn bounded<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(BOUND, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: still pending after {BOUND:?}"),
    }
}

/// Polls `check` every 10 ms until it holds, failing the test after [`BOUND`]: for states with no signal to
/// wait on (the kernel releasing descriptors, a connection task ending).
pub async fn wait_until(what: &str, check: impl Fn() -> bool) {
    let waited = tokio::time::timeout(BOUND, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "waited {BOUND:?} for: {what}");
}

/// The number of open file descriptors of this process (entries of `/proc/self/fd`).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |entries| entries.count())
}

/// A minimal origin: answers `hello from origin <path?query>` with a hop-by-hop header of its own, and
/// records the headers of every request.
pub struct Origin {
    server: ServerHandle,
    pub seen: Arc<Mutex<Vec<HeaderMap>>>,
}

impl Origin {
    pub async fn start() -> Origin {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        let server = listener::serve(
            loopback(),
            listener::ConnectionLimit::UNLIMITED,
            move |stream, _, _| {
                let recorded = recorded.clone();
                async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let recorded = recorded.clone();
                        async move {
                            recorded
                                .lock()
                                .expect("lock")
                                .push(request.headers().clone());
                            let body = format!("hello from origin {}", request.uri());
                            let response = Response::builder()
                                .header("connection", "x-origin-hop")
                                .header("x-origin-hop", "1")
                                .header("x-origin", "yes")
                                .body(Full::new(Bytes::from(body)))
                                .expect("response");
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
            },
        )
        .await
        .expect("origin binds");
        Origin { server, seen }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A back tier with `config` in front of a fresh [`Origin`].
pub async fn back_with(config: BackConfig) -> (KeepAliveProxy, Origin) {
    let origin = Origin::start().await;
    let back = KeepAliveProxy::start(loopback(), origin.addr(), config)
        .await
        .expect("back tier binds");
    (back, origin)
}

/// One response as read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn status(&self) -> u16 {
        self.head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("a status line")
    }

    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// What a raw client read: a response, or the connection ending without one.
#[derive(Debug)]
pub enum Answer {
    Response(RawResponse),
    /// EOF (the peer's FIN) before a full response head.
    Eof,
    /// ECONNRESET before a full response head.
    Reset,
}

impl Answer {
    /// The status, 0 for EOF, -1 for a reset: a table of outcomes compares in one `assert_eq!`.
    pub fn code(&self) -> i32 {
        match self {
            Answer::Response(response) => i32::from(response.status()),
            Answer::Eof => 0,
            Answer::Reset => -1,
        }
    }
}

/// A raw HTTP/1.1 client on one TCP connection.
pub struct RawClient {
    pub stream: TcpStream,
    /// Bytes read past the last answer (a pipelined response).
    pending: Vec<u8>,
}

pub const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = bounded("connect", TcpStream::connect(addr))
            .await
            .expect("connect");
        RawClient {
            stream,
            pending: Vec::new(),
        }
    }

    /// Writes `request` and reads its response (which must carry a Content-Length).
    pub async fn exchange(&mut self, request: &[u8]) -> RawResponse {
        self.stream.write_all(request).await.expect("write request");
        bounded("response", self.read_response()).await
    }

    async fn read_response(&mut self) -> RawResponse {
        let response = match self.read_answer().await {
            Answer::Response(response) => response,
            closed => panic!("{closed:?} before a full response head"),
        };
        assert!(self.pending.is_empty(), "nothing beyond the response");
        response
    }

    /// Writes `bytes` as they are.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Writes `request` and reads what comes back: a response, or the connection closing without one.
    pub async fn try_exchange(&mut self, request: &[u8]) -> Answer {
        // The peer may already have closed: then the answer is read from what it sent before.
        let _ = self.stream.write_all(request).await;
        bounded("answer", self.read_answer()).await
    }

    /// The next response, or EOF / reset before a full response head; bytes past it are kept for the next.
    pub async fn read_answer(&mut self) -> Answer {
        let mut buf = std::mem::take(&mut self.pending);
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 1024];
            match self.stream.read(&mut chunk).await {
                Ok(0) => return Answer::Eof,
                Ok(read) => buf.extend_from_slice(&chunk[..read]),
                Err(_) => return Answer::Reset,
            }
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).expect("ASCII head");
        let mut response = RawResponse {
            head,
            body: Vec::new(),
        };
        let length: usize = response
            .header("content-length")
            .and_then(|value| value.parse().ok())
            .expect("a Content-Length");
        response.body = buf[head_end..].to_vec();
        while response.body.len() < length {
            let mut chunk = [0u8; 1024];
            let read = self.stream.read(&mut chunk).await.expect("read body");
            assert!(read > 0, "EOF inside the body");
            response.body.extend_from_slice(&chunk[..read]);
        }
        self.pending = response.body.split_off(length);
        Answer::Response(response)
    }

    /// The next read: `Ok(0)` is EOF (FIN), `Err` is typically a reset.
    pub async fn next_read(&mut self) -> std::io::Result<usize> {
        let mut chunk = [0u8; 1024];
        bounded("next read", self.stream.read(&mut chunk)).await
    }
}

/// RFC 6455 §1.3's example key, and its `Sec-WebSocket-Accept`.
pub const WEBSOCKET_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const WEBSOCKET_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A WebSocket opening handshake for `path`.
pub fn websocket_handshake(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-key: {WEBSOCKET_KEY}\r\nsec-websocket-version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// A masked client frame with FIN set and a short payload.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let length = u8::try_from(payload.len()).expect("short payload");
    let mut frame = vec![0x80 | opcode, 0x80 | length];
    frame.extend_from_slice(&mask);
    frame.extend(
        payload
            .iter()
            .enumerate()
            .map(|(i, byte)| byte ^ mask[i % 4]),
    );
    frame
}

/// Reads one unmasked server frame with a short payload: (first byte, payload).
pub async fn server_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    bounded("frame head", stream.read_exact(&mut head))
        .await
        .expect("frame head");
    assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
    let mut payload = vec![0u8; usize::from(head[1] & 0x7f)];
    bounded("frame payload", stream.read_exact(&mut payload))
        .await
        .expect("frame payload");
    (head[0], payload)
}
