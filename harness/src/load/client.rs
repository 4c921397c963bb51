//! One client keep-alive connection to the front, and the mapping of client-side failures to [`ClientError`].

use std::error::Error as _;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

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

/// A client connection that reconnects after any failure.
pub struct ClientConnection {
    sender: Option<http1::SendRequest<Empty<Bytes>>>,
    /// The task driving the current connection; it ends (and closes the socket) once `sender` is dropped.
    task: Option<tokio::task::JoinHandle<()>>,
    requests_on_connection: u64,
}

impl Default for ClientConnection {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientConnection {
    /// No connection yet; the first request connects.
    pub fn new() -> Self {
        Self {
            sender: None,
            task: None,
            requests_on_connection: 0,
        }
    }

    /// Sends one request and returns its record. `intended` is when the request should have left, so latency
    /// includes any delay of ours.
    pub async fn send(&mut self, target: &Target, intended: Instant) -> Record {
        let reused_connection = self.sender.is_some() && self.requests_on_connection > 0;
        let outcome = match tokio::time::timeout(target.timeout, self.exchange(target)).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => {
                self.drop_connection();
                Outcome::Failed(error)
            }
            Err(_) => {
                self.drop_connection();
                Outcome::Failed(ClientError::Timeout)
            }
        };
        Record {
            outcome,
            latency: intended.elapsed(),
            reused_connection,
        }
    }

    fn drop_connection(&mut self) {
        self.sender = None;
        // The task ends by itself now that its sender is gone (or it already failed).
        self.task = None;
        self.requests_on_connection = 0;
    }

    /// Closes the connection and waits (bounded) until its socket is closed, so a run ends without client
    /// sockets still open.
    pub async fn close(mut self) {
        self.sender = None;
        if let Some(task) = self.task.take()
            && tokio::time::timeout(CLOSE_GRACE, task).await.is_err()
        {
            tracing::debug!("client connection still open after its close grace");
        }
    }

    async fn exchange(&mut self, target: &Target) -> Result<Outcome, ClientError> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let (sender, task) = connect(target.addr).await?;
            self.sender = Some(sender);
            self.task = Some(task);
            self.requests_on_connection = 0;
        }
        let Some(sender) = self.sender.as_mut() else {
            return Err(ClientError::Connect);
        };
        sender.ready().await.map_err(|e| classify(&e))?;
        let request = http::Request::builder()
            .method(target.method.clone())
            .uri(target.path.as_str())
            .header(http::header::HOST, target.host.as_str())
            .body(Empty::<Bytes>::new())
            .map_err(|_| ClientError::Connect)?;
        self.requests_on_connection += 1;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| classify(&e))?;
        let status = response.status().as_u16();
        let cause = response
            .headers()
            .get(gateway::CAUSE_HEADER)
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
