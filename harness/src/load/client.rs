//! One client keep-alive connection to the front, and the mapping of client-side failures to [`ClientError`].

use std::error::Error as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Sleep;

use crate::record::{ClientError, Outcome, Record};

/// Where and what the clients send.
#[derive(Debug, Clone)]
pub struct Target {
    /// The front's address.
    pub addr: SocketAddr,
    /// `Host` header value.
    pub host: String,
    /// Request method.
    pub method: http::Method,
    /// Request path.
    pub path: String,
    /// Whole-response timeout.
    pub timeout: Duration,
}

/// How long [`ClientConnection::close`] waits for the connection task to end once the sender is gone.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The gateway's cause header, as a name: looking it up by `&str` would parse and check the name for each
/// response.
static CAUSE_HEADER: HeaderName = HeaderName::from_static(gateway::CAUSE_HEADER);

/// A response deadline for timeouts too long to add to an instant (tokio's own "far future").
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// A client connection to one target that reconnects after any failure.
pub struct ClientConnection {
    target: Target,
    /// The target's request, parsed once; `None` when its path or host cannot be sent (every request then
    /// fails as a connect error).
    request_head: Option<RequestHead>,
    connection: OpenConnection,
    /// The whole-response timeout: one timer for all the requests, moved later for each. Moving a pending timer
    /// later is an atomic update; a timer per request would be registered with and removed from the runtime's
    /// timer wheel every time.
    response_deadline: Pin<Box<Sleep>>,
}

/// The keep-alive connection in use, if any.
#[derive(Default)]
struct OpenConnection {
    sender: Option<http1::SendRequest<Empty<Bytes>>>,
    /// The task driving the connection; it ends (and closes the socket) once `sender` is dropped.
    task: Option<tokio::task::JoinHandle<()>>,
    requests: u64,
}

/// The method, URI and `Host` of every request of a client: parsed once, then cloned (reference counts) for
/// each request.
struct RequestHead {
    method: http::Method,
    uri: http::Uri,
    host: HeaderValue,
}

impl RequestHead {
    /// `None` when the target's path is not a URI or its host not a header value.
    fn new(target: &Target) -> Option<Self> {
        Some(Self {
            method: target.method.clone(),
            uri: http::Uri::try_from(target.path.as_str()).ok()?,
            host: HeaderValue::from_str(&target.host).ok()?,
        })
    }

    fn request(&self) -> http::Request<Empty<Bytes>> {
        let mut request = http::Request::new(Empty::new());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        request
            .headers_mut()
            .insert(http::header::HOST, self.host.clone());
        request
    }
}

impl ClientConnection {
    /// No connection yet; the first request connects. Must be called on the runtime that sends the requests
    /// (its timer keeps the response deadline).
    pub fn new(target: Target) -> Self {
        Self {
            request_head: RequestHead::new(&target),
            target,
            connection: OpenConnection::default(),
            response_deadline: unarmed_deadline(),
        }
    }

    /// Sends one request and returns its record. `intended` is when the request should have left, so latency
    /// includes any delay of ours.
    pub async fn send(&mut self, intended: Instant) -> Record {
        let reused_connection = self.connection.sender.is_some() && self.connection.requests > 0;
        arm_deadline(&mut self.response_deadline, self.target.timeout);
        let exchanged = tokio::select! {
            biased;
            exchanged = self.connection.exchange(&self.target, self.request_head.as_ref()) => Some(exchanged),
            () = self.response_deadline.as_mut() => None,
        };
        let outcome = match exchanged {
            Some(Ok(outcome)) => outcome,
            Some(Err(error)) => {
                self.connection.drop_connection();
                Outcome::Failed(error)
            }
            None => {
                self.connection.drop_connection();
                Outcome::Failed(ClientError::Timeout)
            }
        };
        Record {
            outcome,
            latency: intended.elapsed(),
            reused_connection,
            idle_gap: None,
        }
    }

    /// Closes the connection and waits (bounded) until its socket is closed, so a run ends without client
    /// sockets still open.
    pub async fn close(mut self) {
        self.connection.sender = None;
        if let Some(task) = self.connection.task.take()
            && tokio::time::timeout(CLOSE_GRACE, task).await.is_err()
        {
            tracing::debug!("client connection still open after its close grace");
        }
    }
}

impl OpenConnection {
    fn drop_connection(&mut self) {
        self.sender = None;
        // The task ends by itself now that its sender is gone (or it already failed).
        self.task = None;
        self.requests = 0;
    }

    async fn exchange(
        &mut self,
        target: &Target,
        head: Option<&RequestHead>,
    ) -> Result<Outcome, ClientError> {
        let Some(head) = head else {
            return Err(ClientError::Connect);
        };
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let (sender, task) = connect(target.addr).await?;
            self.sender = Some(sender);
            self.task = Some(task);
            self.requests = 0;
        }
        let Some(sender) = self.sender.as_mut() else {
            return Err(ClientError::Connect);
        };
        sender.ready().await.map_err(|e| classify(&e))?;
        self.requests += 1;
        let response = sender
            .send_request(head.request())
            .await
            .map_err(|e| classify(&e))?;
        let status = response.status().as_u16();
        let cause = response
            .headers()
            .get(&CAUSE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let closes = response
            .headers()
            .get(http::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        // Read to the end without keeping the body: `collect` would buffer it.
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            frame.map_err(|e| classify(&e))?;
        }
        if closes {
            self.drop_connection();
        }
        Ok(Outcome::Response { status, cause })
    }
}

/// A response deadline not armed yet (far in the future), for [`arm_deadline`] to move.
pub(super) fn unarmed_deadline() -> Pin<Box<Sleep>> {
    Box::pin(tokio::time::sleep(FAR_FUTURE))
}

/// Moves a client's one response timer to `timeout` from now (far in the future when that overflows).
pub(super) fn arm_deadline(deadline: &mut Pin<Box<Sleep>>, timeout: Duration) {
    let now = tokio::time::Instant::now();
    deadline
        .as_mut()
        .reset(now.checked_add(timeout).unwrap_or(now + FAR_FUTURE));
}

/// A new connection's sender and the task that drives it.
async fn connect(
    addr: SocketAddr,
) -> Result<
    (
        http1::SendRequest<Empty<Bytes>>,
        tokio::task::JoinHandle<()>,
    ),
    ClientError,
> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|_| ClientError::Connect)?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| ClientError::Connect)?;
    let task = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "client connection ended");
        }
    });
    Ok((sender, task))
}

/// A reset anywhere in the error chain is a reset; any other failure without a response is a close.
fn classify(error: &hyper::Error) -> ClientError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = error.source();
    while let Some(inner) = source {
        if let Some(io_error) = inner.downcast_ref::<io::Error>()
            && matches!(
                io_error.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            )
        {
            return ClientError::Reset;
        }
        source = inner.source();
    }
    ClientError::Closed
}
