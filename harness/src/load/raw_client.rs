//! The closed and rate patterns' client: one keep-alive connection spoken by hand, as wrk does. The request's
//! bytes are built once per client; a response head is parsed with `httparse` from one buffer the connection
//! reuses; the body is skipped by its Content-Length or chunk sizes without being kept. It keeps the accounting
//! of the hyper client (`client.rs`, still used by the idle-gap pattern): one [`Record`] per request, the
//! status, the cause header of a 502, and the same client error kinds (connect, reset, closed, timeout).
//!
//! It owns the bytes on one client socket and nothing else: pacing and budgets are the workers'.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::client::{Target, arm_deadline, unarmed_deadline};
use crate::record::{ClientError, Outcome, Record};

/// The buffer a connection starts with: a response head and a small body fit in one read.
const INITIAL_BUFFER: usize = 8 * 1024;

/// The largest response head accepted (hyper's client accepts about as much); a longer one fails the request
/// as `closed`, the kind hyper's parse errors get.
const MAX_HEAD: usize = 256 * 1024;

/// Response header fields parsed per head (hyper's client default is 100).
const MAX_HEADERS: usize = 100;

/// A connection that waited longer than this since its last response is checked for a close that arrived
/// meanwhile before it is reused (without a system call otherwise).
const IDLE_CHECK_AFTER: Duration = Duration::from_millis(1);

/// A client connection to one target, spoken by hand; it reconnects after any failure.
pub struct RawConnection {
    target: Target,
    /// The request's bytes, built once; `None` when the target's path or host cannot be sent (every request
    /// then fails as a connect error, as with the hyper client).
    request: Option<Box<[u8]>>,
    /// Whether the responses have no body whatever their headers say (HEAD).
    head_only: bool,
    wire: Option<Wire>,
    /// The buffer of the last connection, kept for the next one.
    spare: Vec<u8>,
    /// The whole-response timeout: one timer for all the requests, moved later for each.
    response_deadline: Pin<Box<Sleep>>,
}

/// An open connection: the socket, the read buffer and what it carried.
struct Wire {
    stream: TcpStream,
    /// Bytes read are `buffer[start..end]`; the buffer is never shrunk.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    requests: u64,
    /// When its last response ended.
    idle_since: Instant,
}

/// What one response head says about the exchange.
struct Head {
    status: u16,
    cause: Option<String>,
    body: Body,
    /// Whether the connection may carry another request afterwards.
    keep_alive: bool,
}

/// How the body is delimited.
enum Body {
    None,
    Length(u64),
    Chunked,
    /// Until the server closes (no length, no chunked coding): the connection ends with it.
    UntilClose,
}

impl RawConnection {
    /// No connection yet; the first request connects. Must be called on the runtime that sends the requests
    /// (its timer keeps the response deadline).
    pub fn new(target: Target) -> Self {
        Self {
            request: request_bytes(&target),
            head_only: target.method == http::Method::HEAD,
            target,
            wire: None,
            spare: Vec::new(),
            response_deadline: unarmed_deadline(),
        }
    }

    /// Sends one request and returns its record. `intended` is when the request should have left, so latency
    /// includes any delay of ours.
    pub async fn send(&mut self, intended: Instant) -> Record {
        self.drop_if_closed_while_idle(intended);
        let reused_connection = self.wire.as_ref().is_some_and(|w| w.requests > 0);
        arm_deadline(&mut self.response_deadline, self.target.timeout);
        let exchanged = tokio::select! {
            biased;
            exchanged = exchange(&mut self.wire, &mut self.spare, &self.target, self.request.as_deref(), self.head_only) => Some(exchanged),
            () = self.response_deadline.as_mut() => None,
        };
        let outcome = match exchanged {
            Some(Ok(outcome)) => outcome,
            Some(Err(error)) => {
                self.drop_connection();
                Outcome::Failed(error)
            }
            None => {
                self.drop_connection();
                Outcome::Failed(ClientError::Timeout)
            }
        };
        let ended = Instant::now();
        if let Some(wire) = self.wire.as_mut() {
            wire.idle_since = ended;
        }
        Record {
            outcome,
            latency: ended.saturating_duration_since(intended),
            reused_connection,
            idle_gap: None,
        }
    }

    /// Closes the connection (its socket is closed when this returns).
    pub async fn close(mut self) {
        self.wire = None;
    }

    fn drop_connection(&mut self) {
        if let Some(wire) = self.wire.take() {
            self.spare = wire.buffer;
        }
    }

    /// A connection that sat idle may have been closed by the server meanwhile (its idle timeout): it is
    /// dropped before the send, as hyper's client drops a connection it saw close, so the request goes on a new
    /// one instead of failing. Checked only after a wait: a closed loop sends at once and never pays for it.
    fn drop_if_closed_while_idle(&mut self, intended: Instant) {
        let Some(wire) = self.wire.as_ref() else {
            return;
        };
        if intended.saturating_duration_since(wire.idle_since) < IDLE_CHECK_AFTER {
            return;
        }
        let mut probe = [0u8; 1];
        match wire.stream.try_read(&mut probe) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            // EOF, an error, or bytes nobody asked for: this connection cannot carry the next request.
            _ => self.drop_connection(),
        }
    }
}

/// `METHOD PATH HTTP/1.1`, `Host`, and `content-length: 0` for the methods whose requests carry a body (as
/// hyper's client sends an empty body); `None` when the path is not a request target or the host not a
/// header value.
fn request_bytes(target: &Target) -> Option<Box<[u8]>> {
    let uri = http::Uri::try_from(target.path.as_str()).ok()?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    http::HeaderValue::from_str(&target.host).ok()?;
    let mut bytes = format!(
        "{} {path} HTTP/1.1\r\nhost: {}\r\n",
        target.method, target.host
    );
    if matches!(
        target.method,
        http::Method::POST | http::Method::PUT | http::Method::PATCH
    ) {
        bytes.push_str("content-length: 0\r\n");
    }
    bytes.push_str("\r\n");
    Some(bytes.into_bytes().into_boxed_slice())
}

/// One request and its response on `wire` (opened first when there is none).
async fn exchange(
    wire: &mut Option<Wire>,
    spare: &mut Vec<u8>,
    target: &Target,
    request: Option<&[u8]>,
    head_only: bool,
) -> Result<Outcome, ClientError> {
    let Some(request) = request else {
        return Err(ClientError::Connect);
    };
    if wire.is_none() {
        *wire = Some(Wire::connect(target, std::mem::take(spare)).await?);
    }
    let Some(open) = wire.as_mut() else {
        return Err(ClientError::Connect);
    };
    open.requests += 1;
    open.stream
        .write_all(request)
        .await
        .map_err(|e| classify(&e))?;
    let head = open.read_head(head_only).await?;
    let keep_alive = head.keep_alive && open.skip_body(&head.body).await?;
    if !keep_alive && let Some(closed) = wire.take() {
        *spare = closed.buffer;
    }
    Ok(Outcome::Response {
        status: head.status,
        cause: head.cause,
    })
}

impl Wire {
    async fn connect(target: &Target, mut buffer: Vec<u8>) -> Result<Self, ClientError> {
        let stream = TcpStream::connect(target.addr)
            .await
            .map_err(|_| ClientError::Connect)?;
        let _ = stream.set_nodelay(true);
        if buffer.len() < INITIAL_BUFFER {
            buffer = vec![0; INITIAL_BUFFER];
        }
        Ok(Self {
            stream,
            buffer,
            start: 0,
            end: 0,
            requests: 0,
            idle_since: Instant::now(),
        })
    }

    fn data(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start >= self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more bytes after what is buffered: room is made by moving the unread bytes to the front, then by
    /// growing the buffer up to [`MAX_HEAD`]. EOF before the response is complete is `closed`.
    async fn fill(&mut self) -> Result<(), ClientError> {
        if self.end == self.buffer.len() {
            if self.start > 0 {
                self.buffer.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buffer.len() < MAX_HEAD {
                let grown = (self.buffer.len() * 2).min(MAX_HEAD);
                self.buffer.resize(grown, 0);
            } else {
                return Err(ClientError::Closed);
            }
        }
        match self.stream.read(&mut self.buffer[self.end..]).await {
            Ok(0) => Err(ClientError::Closed),
            Ok(n) => {
                self.end += n;
                Ok(())
            }
            Err(error) => Err(classify(&error)),
        }
    }

    /// The final response's head (interim 1xx responses are skipped), consumed from the buffer.
    async fn read_head(&mut self, head_only: bool) -> Result<Head, ClientError> {
        loop {
            let parsed = {
                // Uninitialised: zeroing 100 fields for every response cost more than parsing a short head.
                let mut fields =
                    [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
                let mut response = httparse::Response::new(&mut []);
                match httparse::ParserConfig::default().parse_response_with_uninit_headers(
                    &mut response,
                    self.data(),
                    &mut fields,
                ) {
                    Ok(httparse::Status::Complete(length)) => {
                        Some((length, head_of(&response, head_only)?))
                    }
                    Ok(httparse::Status::Partial) => None,
                    Err(_) => return Err(ClientError::Closed),
                }
            };
            match parsed {
                None => self.fill().await?,
                Some((length, head)) => {
                    self.consume(length);
                    // 101 has no final response after it; the others in 1xx are interim.
                    if (100..200).contains(&head.status) && head.status != 101 {
                        continue;
                    }
                    return Ok(head);
                }
            }
        }
    }

    /// Reads past the body without keeping it; true when the connection is still usable after it.
    async fn skip_body(&mut self, body: &Body) -> Result<bool, ClientError> {
        match body {
            Body::None => Ok(true),
            Body::Length(length) => {
                self.skip(*length).await?;
                Ok(true)
            }
            Body::Chunked => {
                self.skip_chunks().await?;
                Ok(true)
            }
            Body::UntilClose => loop {
                self.consume(self.end - self.start);
                match self.fill().await {
                    Ok(()) => {}
                    Err(ClientError::Closed) => return Ok(false),
                    Err(error) => return Err(error),
                }
            },
        }
    }

    async fn skip(&mut self, mut left: u64) -> Result<(), ClientError> {
        loop {
            let buffered = (self.end - self.start) as u64;
            let taken = buffered.min(left);
            // `taken` is at most the buffered length, a usize.
            self.consume(usize::try_from(taken).unwrap_or(usize::MAX));
            left -= taken;
            if left == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    /// Chunk sizes, chunk data and their CRLFs, the last chunk, then trailer lines up to the empty one.
    async fn skip_chunks(&mut self) -> Result<(), ClientError> {
        loop {
            let size = match httparse::parse_chunk_size(self.data()) {
                Ok(httparse::Status::Complete((length, size))) => {
                    self.consume(length);
                    size
                }
                Ok(httparse::Status::Partial) => {
                    self.fill().await?;
                    continue;
                }
                Err(_) => return Err(ClientError::Closed),
            };
            if size == 0 {
                return self.skip_trailers().await;
            }
            self.skip(size).await?;
            self.expect_crlf().await?;
        }
    }

    async fn expect_crlf(&mut self) -> Result<(), ClientError> {
        while self.end - self.start < 2 {
            self.fill().await?;
        }
        if self.data().starts_with(b"\r\n") {
            self.consume(2);
            Ok(())
        } else {
            Err(ClientError::Closed)
        }
    }

    async fn skip_trailers(&mut self) -> Result<(), ClientError> {
        loop {
            match self.data().windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.consume(2);
                    return Ok(());
                }
                Some(line) => self.consume(line + 2),
                None => self.fill().await?,
            }
        }
    }
}

/// What a parsed head says: status, cause header, body framing, keep-alive. A Content-Length that is not a
/// number fails the request as `closed`, as hyper's parse error does.
fn head_of(response: &httparse::Response<'_, '_>, head_only: bool) -> Result<Head, ClientError> {
    let status = response.code.unwrap_or(0);
    let mut cause = None;
    let mut length = None;
    let mut chunked = false;
    let mut encoded = false;
    let mut close = false;
    let mut keep_alive_token = false;
    for field in response.headers.iter() {
        // By length first: most fields are none of these four, and that test is one comparison.
        let name = field.name;
        match name.len() {
            14 if name.eq_ignore_ascii_case("content-length") => {
                let text = std::str::from_utf8(field.value).map_err(|_| ClientError::Closed)?;
                length = Some(
                    text.trim()
                        .parse::<u64>()
                        .map_err(|_| ClientError::Closed)?,
                );
            }
            17 if name.eq_ignore_ascii_case("transfer-encoding") => {
                encoded = true;
                chunked = last_token(field.value).eq_ignore_ascii_case(b"chunked");
            }
            10 if name.eq_ignore_ascii_case("connection") => {
                for token in field.value.split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    close |= token.eq_ignore_ascii_case(b"close");
                    keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            n if n == gateway::CAUSE_HEADER.len()
                && name.eq_ignore_ascii_case(gateway::CAUSE_HEADER) =>
            {
                cause = std::str::from_utf8(field.value).ok().map(str::to_owned);
            }
            _ => {}
        }
    }
    let bodiless = head_only || (100..200).contains(&status) || status == 204 || status == 304;
    let body = if bodiless {
        Body::None
    } else if chunked {
        Body::Chunked
    } else if encoded {
        Body::UntilClose
    } else if let Some(length) = length {
        Body::Length(length)
    } else {
        Body::UntilClose
    };
    // HTTP/1.0 closes unless it says keep-alive; HTTP/1.1 keeps alive unless it says close.
    let persistent = if response.version == Some(0) {
        keep_alive_token
    } else {
        true
    };
    Ok(Head {
        status,
        cause,
        // After a 101 the connection speaks another protocol: it never carries another request of ours.
        keep_alive: persistent && !close && status != 101 && !matches!(body, Body::UntilClose),
        body,
    })
}

fn last_token(value: &[u8]) -> &[u8] {
    value
        .rsplit(|b| *b == b',')
        .next()
        .unwrap_or_default()
        .trim_ascii()
}

/// A reset (or a write into a closed connection) is a reset; any other failure without a response is a close:
/// the hyper client's kinds.
fn classify(error: &io::Error) -> ClientError {
    match error.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => ClientError::Reset,
        _ => ClientError::Closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut fields);
        assert!(response.parse(text.as_bytes()).unwrap().is_complete());
        head_of(&response, false).unwrap()
    }

    #[test]
    fn heads_give_status_cause_framing_and_keep_alive() {
        let bad = head(
            "HTTP/1.1 502 Bad Gateway\r\nx-badgateway-cause: reused-closed\r\ncontent-length: 3\r\n\r\n",
        );
        assert_eq!(bad.status, 502);
        assert_eq!(bad.cause.as_deref(), Some("reused-closed"));
        assert!(matches!(bad.body, Body::Length(3)) && bad.keep_alive);
        let chunked = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert!(matches!(chunked.body, Body::Chunked) && chunked.keep_alive);
        let closes =
            head("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\ncontent-length: 0\r\n\r\n");
        assert!(!closes.keep_alive);
        let old = head("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n");
        assert!(!old.keep_alive);
        let old_kept =
            head("HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n");
        assert!(old_kept.keep_alive);
        let unbounded = head("HTTP/1.1 200 OK\r\n\r\n");
        assert!(matches!(unbounded.body, Body::UntilClose) && !unbounded.keep_alive);
        let empty = head("HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n");
        assert!(matches!(empty.body, Body::None) && empty.keep_alive);
        let mut fields = [httparse::EMPTY_HEADER; 4];
        let mut response = httparse::Response::new(&mut fields);
        response
            .parse(b"HTTP/1.1 200 OK\r\ncontent-length: ten\r\n\r\n")
            .unwrap();
        assert!(matches!(
            head_of(&response, false),
            Err(ClientError::Closed)
        ));
    }

    /// A server on one connection: an interim 100 then a chunked 200 with a trailer, split across writes, then
    /// a 502 with its cause header and a body; then it closes.
    #[tokio::test]
    async fn chunked_bodies_interim_heads_and_the_cause_header_on_one_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await.unwrap();
            for part in [
                &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel"[..],
                b"lo\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\nx-trailer: 1\r\n\r\n",
            ] {
                stream.write_all(part).await.unwrap();
                stream.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            let _ = stream.read(&mut request).await.unwrap();
            stream
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\nX-Badgateway-Cause: reused-reset\r\ncontent-length: 3\r\n\r\nabc")
                .await
                .unwrap();
            let _ = stream.read(&mut request).await;
        });
        let target = Target {
            addr,
            host: addr.to_string(),
            method: http::Method::GET,
            path: "/".to_owned(),
            timeout: Duration::from_secs(10),
        };
        let mut client = RawConnection::new(target);
        let first = client.send(Instant::now()).await;
        assert_eq!(
            first.outcome,
            Outcome::Response {
                status: 200,
                cause: None
            }
        );
        assert!(!first.reused_connection);
        let second = client.send(Instant::now()).await;
        assert_eq!(
            second.outcome,
            Outcome::Response {
                status: 502,
                cause: Some("reused-reset".to_owned())
            }
        );
        assert!(
            second.reused_connection,
            "the chunked body was skipped to its end"
        );
        client.close().await;
        server.await.unwrap();
    }

    #[test]
    fn the_request_is_built_once_with_its_host() {
        let target = Target {
            addr: "127.0.0.1:9".parse().unwrap(),
            host: "badgateway.test".to_owned(),
            method: http::Method::POST,
            path: "/a?b=c".to_owned(),
            timeout: Duration::from_secs(1),
        };
        let bytes = request_bytes(&target).unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            "POST /a?b=c HTTP/1.1\r\nhost: badgateway.test\r\ncontent-length: 0\r\n\r\n"
        );
        let bad_host = Target {
            host: "a\r\nb".to_owned(),
            ..target
        };
        assert!(request_bytes(&bad_host).is_none());
    }
}
