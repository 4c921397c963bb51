//! Test support for every test binary of the gateway: a raw-TCP fake backend driven by a per-connection
//! script (and one switched between down and up), a one-shot HTTP client, a raw client, a gateway config with
//! short limits, bounded waits and the process's open descriptors.
//!
//! The fake backend is raw TCP on purpose: the race tests need to close or reset a kept-alive connection at an
//! exact point (after reading the next request, before answering), which no HTTP server library exposes.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use gateway::{FrontConfig, Gateway};

/// What the fake backend does with one request on a connection.
#[derive(Debug, Clone)]
pub enum Step {
    /// Write these bytes and keep the connection for the next step.
    Respond(Vec<u8>),
    /// Write these bytes, then close.
    RespondThenClose(Vec<u8>),
    /// Write these bytes, send a FIN (shutdown write), and wait for the gateway to close its side too.
    RespondThenFin(Vec<u8>),
    /// Write these bytes, wait until the test notifies, then send a FIN and wait for the gateway to close.
    RespondThenFinOn(Vec<u8>, Arc<tokio::sync::Notify>),
    /// Close (FIN) without answering: the keep-alive race as the front sees it.
    Close,
    /// Reset (SO_LINGER 0, then close → RST) without answering.
    Reset,
    /// Never answer; keep the connection until the gateway closes it.
    Hang,
}

/// What the fake backend saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Connection `n` (0-based, in accept order) was accepted.
    Accepted(usize),
    /// Connection `conn` carried a request with this head (lower-cased header names as sent) and body.
    Request {
        conn: usize,
        head: String,
        body: Vec<u8>,
    },
    /// The gateway closed connection `n`.
    Eof(usize),
}

/// A running fake backend.
pub struct FakeBackend {
    pub addr: SocketAddr,
    pub events: mpsc::UnboundedReceiver<Event>,
}

impl FakeBackend {
    /// The backend address as a gateway member.
    pub fn member(&self) -> Vec<String> {
        vec![self.addr.to_string()]
    }

    /// Waits for the next event matching `want`, skipping others.
    pub async fn wait_for(&mut self, want: impl Fn(&Event) -> bool) -> Event {
        loop {
            let event = self.events.recv().await.expect("fake backend ended");
            if want(&event) {
                return event;
            }
        }
    }

    /// Waits for the next request: its connection, head and body.
    pub async fn wait_for_request(&mut self) -> (usize, String, Vec<u8>) {
        match within(self.wait_for(|event| matches!(event, Event::Request { .. }))).await {
            Event::Request { conn, head, body } => (conn, head, body),
            _ => unreachable!(),
        }
    }

    /// Every request head seen so far (drains the pending events).
    pub fn requests(&mut self) -> Vec<(usize, String, Vec<u8>)> {
        let mut seen = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            if let Event::Request { conn, head, body } = event {
                seen.push((conn, head, body));
            }
        }
        seen
    }
}

/// Starts a fake backend; connection `n` follows `scripts[n]` (an empty script after the last one).
pub async fn fake_backend(scripts: Vec<Vec<Step>>) -> FakeBackend {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (events, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        for conn in 0.. {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let _ = events.send(Event::Accepted(conn));
            let script = scripts.get(conn).cloned().unwrap_or_default();
            tokio::spawn(run_script(conn, stream, script, events.clone()));
        }
    });
    FakeBackend {
        addr,
        events: receiver,
    }
}

async fn run_script(
    conn: usize,
    mut stream: TcpStream,
    script: Vec<Step>,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut buffer = Vec::new();
    for step in script {
        let Some((head, body)) = read_request(&mut stream, &mut buffer).await else {
            let _ = events.send(Event::Eof(conn));
            return;
        };
        let _ = events.send(Event::Request { conn, head, body });
        match step {
            Step::Respond(bytes) => {
                let _ = stream.write_all(&bytes).await;
            }
            Step::RespondThenClose(bytes) => {
                let _ = stream.write_all(&bytes).await;
                return;
            }
            Step::RespondThenFin(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
                break;
            }
            Step::RespondThenFinOn(bytes, signal) => {
                let _ = stream.write_all(&bytes).await;
                signal.notified().await;
                let _ = stream.shutdown().await;
                break;
            }
            Step::Close => return,
            Step::Reset => {
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                return;
            }
            Step::Hang => break,
        }
    }
    // Script done: wait for the gateway to close.
    let mut sink = [0u8; 4096];
    loop {
        match stream.read(&mut sink).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let _ = events.send(Event::Eof(conn));
}

/// Answers every request with 503 until `up` is set, then with 200 `up`; one request per connection.
pub struct SwitchableBackend {
    pub addr: SocketAddr,
    pub up: Arc<AtomicBool>,
}

impl SwitchableBackend {
    pub async fn start() -> SwitchableBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(false));
        let flag = up.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let flag = flag.clone();
                tokio::spawn(async move {
                    if read_request(&mut stream, &mut Vec::new()).await.is_none() {
                        return;
                    }
                    let answer = if flag.load(Ordering::SeqCst) {
                        status(200, "up")
                    } else {
                        status(503, "starting")
                    };
                    let _ = stream.write_all(&answer).await;
                });
            }
        });
        SwitchableBackend { addr, up }
    }
}

/// Reads one request (head and content-length body); `None` on EOF.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Some((head, body))
}

/// A keep-alive 200 with `body`.
pub fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// What the test client got.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body, or the error reading it.
    pub body: Result<Bytes, hyper::Error>,
}

impl Reply {
    /// The `x-badgateway-cause` header.
    pub fn cause(&self) -> Option<&str> {
        self.headers
            .get(gateway::CAUSE_HEADER)
            .and_then(|v| v.to_str().ok())
    }
}

/// Sends `request` to `addr` on a new client connection and reads the whole response.
pub async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map(|collected| collected.to_bytes());
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A GET of `path` to `addr`.
pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, request("GET", path, "")).await
}

/// A request with a `Host` header and `body`.
pub fn request(method: &str, path: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "gateway.test")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

/// Limits short enough for tests.
pub fn config() -> FrontConfig {
    FrontConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ..FrontConfig::default()
    }
}

/// A gateway on a loopback port.
pub async fn gateway(backends: Vec<String>, config: FrontConfig) -> Gateway {
    Gateway::start("127.0.0.1:0".parse().unwrap(), backends, config)
        .await
        .unwrap()
}

/// A gateway configured with `front` in front of a real origin with its defaults (it counts what it serves).
pub async fn gateway_before_origin(front: FrontConfig) -> (Gateway, origin::Origin) {
    let origin = origin::Origin::start(
        "127.0.0.1:0".parse().unwrap(),
        origin::OriginConfig::default(),
    )
    .await
    .unwrap();
    let gateway = gateway(vec![origin.local_addr().to_string()], front).await;
    (gateway, origin)
}

/// Fails the test instead of hanging it.
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .expect("test step took more than 10 s")
}

/// A response with `status` and `body`, with `connection: close` (what a probe gets before the backend hangs
/// up).
pub fn status(status: u16, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `count` connections that each answer one request with `bytes` and close: a backend for probes.
pub fn answers(count: usize, bytes: Vec<u8>) -> Vec<Vec<Step>> {
    vec![vec![Step::RespondThenClose(bytes)]; count]
}

/// Polls `check` every 10 ms until it holds; fails the test after 10 s instead of sleeping blindly.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited 10 s for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (bounded) until the gateway serves exactly `count` client connections.
pub async fn live_connections(gateway: &Gateway, count: usize) {
    wait_until(&format!("{count} live client connections"), || async {
        gateway.live_connections() == count
    })
    .await;
}

/// The request line of every request head seen so far, e.g. `get /app http/1.1` (drains pending events).
pub fn request_lines(backend: &mut FakeBackend) -> Vec<String> {
    backend
        .requests()
        .into_iter()
        .map(|(_, head, _)| head.lines().next().unwrap_or_default().to_owned())
        .collect()
}

/// What a raw client read for one request: a response, or the connection ending without one.
#[derive(Debug)]
pub enum Answer {
    /// A response: its status, its head as sent (lower-cased) and its `Content-Length` body.
    Response {
        status: u16,
        head: String,
        body: Vec<u8>,
    },
    /// EOF (the peer's FIN) before a complete response.
    Eof,
    /// ECONNRESET before a complete response.
    Reset,
}

impl Answer {
    /// The status, or 0 for EOF and -1 for a reset, so a table of outcomes compares in one `assert_eq!`.
    pub fn code(&self) -> i32 {
        match self {
            Answer::Response { status, .. } => i32::from(*status),
            Answer::Eof => 0,
            Answer::Reset => -1,
        }
    }

    /// The value of header `name` (lower-case) of a response.
    pub fn header(&self, name: &str) -> Option<&str> {
        let Answer::Response { head, .. } = self else {
            return None;
        };
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == name).then(|| value.trim())
        })
    }
}

/// A client on one raw TCP connection: writes any bytes, reads `Content-Length` framed answers.
pub struct RawConn {
    pub stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawConn {
    pub async fn connect(addr: SocketAddr) -> RawConn {
        let stream = within(TcpStream::connect(addr)).await.unwrap();
        RawConn {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Writes `bytes` in one write.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads more bytes; false on EOF. A reset is returned as the error.
    async fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let read = self.stream.read(&mut chunk).await?;
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(read > 0)
    }

    /// The next answer (bounded by [`within`]).
    pub async fn answer(&mut self) -> Answer {
        within(self.read_answer()).await
    }

    async fn read_answer(&mut self) -> Answer {
        let head_end = loop {
            if let Some(at) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => return Answer::Eof,
                Err(_) => return Answer::Reset,
            }
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).to_ascii_lowercase();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        while self.buffer.len() < head_end + length {
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => return Answer::Eof,
                Err(_) => return Answer::Reset,
            }
        }
        let body = self.buffer[head_end..head_end + length].to_vec();
        self.buffer.drain(..head_end + length);
        Answer::Response { status, head, body }
    }

    /// True when the peer closed the connection (EOF or reset) with nothing more to read.
    pub async fn is_closed(&mut self) -> bool {
        matches!(self.answer().await, Answer::Eof | Answer::Reset)
    }
}

/// Writes `bytes` on a new connection and reads one answer.
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> (Answer, RawConn) {
    let mut conn = RawConn::connect(addr).await;
    conn.send(bytes).await;
    let answer = conn.answer().await;
    (answer, conn)
}

/// The number of open file descriptors of this process (entries of `/proc/self/fd`).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |entries| entries.count())
}

/// A WebSocket opening handshake (RFC 6455 §1.3's example key) for `path`.
pub const WEBSOCKET_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The `Sec-WebSocket-Accept` for [`WEBSOCKET_KEY`].
pub const WEBSOCKET_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

pub fn websocket_handshake(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nhost: gateway.test\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-key: {WEBSOCKET_KEY}\r\nsec-websocket-version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// A masked client frame with FIN set.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode, 0x80 | u8::try_from(payload.len()).unwrap()];
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
    within(stream.read_exact(&mut head)).await.unwrap();
    assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
    let mut payload = vec![0u8; usize::from(head[1] & 0x7f)];
    within(stream.read_exact(&mut payload)).await.unwrap();
    (head[0], payload)
}

/// A loopback port where a connect is refused, for as long as the returned socket lives: bound but not
/// listening, so the kernel answers a SYN with an RST and no other test can take the port meanwhile (a port
/// bound, read and released could be handed to the next port-0 listener of a concurrent test).
pub fn closed_port() -> (socket2::Socket, SocketAddr) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .expect("a TCP socket");
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    socket.bind(&loopback.into()).expect("bind to port 0");
    let addr = socket
        .local_addr()
        .ok()
        .and_then(|addr| addr.as_socket())
        .expect("a bound address");
    (socket, addr)
}
