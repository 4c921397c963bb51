//! The request path, readable top to bottom in [`Proxy::forward`]: buffer the request → pick a healthy member →
//! check out a pooled connection (or open one) → send → classify the failure → maybe retry once on a fresh
//! connection → stream the response back, or answer 502 with its cause.
//!
//! Each step is a call into the module that owns it: `balancer`, `pool`, `upstream_conn`, `classify`, `retry`,
//! `request_body`, `response_body`, `stats`, and the `wire` crate for hop-by-hop headers and
//! `X-Forwarded-For`. This module only sequences them and makes the 502 and the framing guard's 400.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{Entry, HOST, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::Full;
use hyper::body::Incoming;

use crate::balancer::{Balancer, Member};
use crate::classify::{AttemptFacts, SendError, classify};
use crate::health::Health;
use crate::pool::{PooledConn, UpstreamPool, Usage};
use crate::recording::{self, FailedRequest, Received};
use crate::request_body::{self, BodyError};
use crate::response_body::{ResponseBody, UpstreamBody, local_response};
use crate::stats::Stats;
use crate::tunnel::PendingTunnel;
use crate::upstream_conn::{self, SendFailure, UpstreamRequest};
use crate::{CAUSE_HEADER, Cause, FrontConfig, retry};
use wire::hop_by_hop;
use wire::local::{LocalResponse, Style};
use wire::method::MethodPolicy;
use wire::refusal::{Refusal, RequestRules};

/// Everything a request needs on its way through the gateway; shared by every client connection.
#[derive(Debug)]
pub(crate) struct Proxy {
    /// What is refused before anything goes upstream (see `wire::refusal`).
    rules: RequestRules,
    balancer: Arc<Balancer>,
    health: Arc<Health>,
    pool: UpstreamPool,
    stats: Arc<Stats>,
    config: FrontConfig,
    /// The timelines' recorder (off unless the harness enables it).
    recorder: Arc<timeline::Recorder>,
}

/// A 502 in the making: its cause and what is known about where it happened.
#[derive(Debug)]
struct Failure {
    cause: Cause,
    /// The member the request was for, once one was picked.
    backend: Option<String>,
    /// The connection the request was sent on, once one was.
    usage: Option<Usage>,
    /// The underlying error, for the log.
    detail: Option<String>,
    /// The rings of the connections it failed on, when recording (see `recording.rs`).
    attempts: Vec<timeline::ConnRecord>,
    /// When the failed retry was decided, when recording.
    retried_at: Option<std::time::Instant>,
}

impl Failure {
    fn new(cause: Cause, member: Option<&Member>) -> Failure {
        Failure {
            cause,
            backend: member.map(|member| member.label.clone()),
            usage: None,
            detail: None,
            attempts: Vec::new(),
            retried_at: None,
        }
    }
}

/// A response head from the backend, and the connection its body is still to be read from.
struct Answer {
    response: Response<Incoming>,
    conn: PooledConn,
}

/// A failed attempt: its 502 in the making, and the request back when hyper never wrote it (it knew the
/// connection was closed: not a race, not a 502 yet, the request goes on another connection).
struct FailedAttempt {
    failure: Failure,
    unsent: Option<UpstreamRequest>,
}

/// The client's request, hop-by-hop headers removed and the body buffered.
struct BufferedRequest {
    method: Method,
    /// Origin-form: path and query.
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Proxy {
    pub(crate) fn new(
        balancer: Arc<Balancer>,
        health: Arc<Health>,
        pool: UpstreamPool,
        stats: Arc<Stats>,
        config: FrontConfig,
        recorder: Arc<timeline::Recorder>,
    ) -> Proxy {
        Proxy {
            rules: RequestRules {
                methods: MethodPolicy {
                    allow_trace: config.allow_trace,
                },
                head_limits: None,
            },
            balancer,
            health,
            pool,
            stats,
            config,
            recorder,
        }
    }

    /// The gateway's counters.
    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Serves one client request: always a response, a 502 with its cause when the backend could not answer.
    pub(crate) async fn handle(
        &self,
        mut request: Request<Incoming>,
        client: SocketAddr,
    ) -> Result<Response<ResponseBody>, Infallible> {
        self.stats.record_request();
        let received = Received::now(&self.recorder);
        let response = if let Err(refusal) = self.rules.apply(&mut request) {
            self.refuse(&refusal, client)
        } else {
            match self.forward(request, client, received).await {
                Ok(response) => response,
                Err(mut failure) => {
                    FailedRequest {
                        received,
                        client,
                        attempts: std::mem::take(&mut failure.attempts),
                        retried_at: failure.retried_at,
                        answered: None,
                        status: StatusCode::BAD_GATEWAY.as_u16(),
                        cause: failure.cause,
                    }
                    .keep(&self.recorder);
                    self.bad_gateway(failure)
                }
            }
        };
        self.stats.record_response(response.status());
        Ok(response)
    }

    /// The answer to a request the rules refuse (Host, Transfer-Encoding, CONNECT, TRACE): a client error,
    /// closing the connection, nothing sent upstream.
    fn refuse(&self, refusal: &Refusal, client: SocketAddr) -> Response<ResponseBody> {
        self.stats.record_client_error();
        tracing::info!(%client, %refusal, status = refusal.status().as_u16(), "request refused");
        local_response(refusal.answer(Style::Text))
    }

    /// The answer to a request that carried both `Content-Length` and `Transfer-Encoding` (RFC 9112 §6.1):
    /// `400`, closing the connection, nothing sent upstream. Counted like any other request.
    pub(crate) fn refuse_ambiguous_framing(&self, client: SocketAddr) -> Response<ResponseBody> {
        self.stats.record_request();
        self.stats.record_client_error();
        tracing::info!(%client, "request with both Content-Length and Transfer-Encoding: 400");
        let response = local_response(
            LocalResponse::text(
                StatusCode::BAD_REQUEST,
                "400 Bad Request: both Content-Length and Transfer-Encoding\n",
            )
            .closing(),
        );
        self.stats.record_response(response.status());
        response
    }

    /// The request path, top to bottom.
    async fn forward(
        &self,
        request: Request<Incoming>,
        client: SocketAddr,
        received: Received,
    ) -> Result<Response<ResponseBody>, Failure> {
        let request =
            match BufferedRequest::read(request, client.ip(), self.config.max_body_bytes).await {
                Ok(request) => request,
                Err(error) => {
                    tracing::debug!(%error, "cannot read the client's request body");
                    self.stats.record_client_error();
                    return Ok(error.response());
                }
            };
        // No member, or none healthy: answered at once, nothing is resolved or connected.
        let member = self
            .balancer
            .next(|index| self.health.is_healthy(index))
            .map_err(|cause| Failure::new(cause, None))?;
        let method = request.method.clone();
        let may_retry = retry::may_retry(self.config.retry, &method);
        let (failure, spare) = match self
            .send_pooled_or_fresh(
                member,
                request.into_upstream(member, self.config.honor_keep_alive_hint),
                may_retry,
            )
            .await
        {
            Ok(answer) => return Ok(self.respond(answer)),
            Err(failed) => failed,
        };
        let retry = match spare {
            Some(spare) if retry::should_retry(self.config.retry, &method, failure.cause) => spare,
            _ => return Err(failure),
        };
        self.stats.record_retry();
        let retried_at = self.recorder.is_on().then(std::time::Instant::now);
        tracing::info!(cause = %failure.cause, backend = %member.label, "retrying once on a fresh connection");
        let mut attempts = failure.attempts;
        let conn = self.connect(member).await.map_err(|mut again| {
            attempts.append(&mut again.attempts);
            again.attempts = std::mem::take(&mut attempts);
            again.retried_at = retried_at;
            again
        })?;
        let answer = match self.exchange(member, conn, retry).await {
            Ok(answer) => answer,
            Err(FailedAttempt {
                failure: mut again, ..
            }) => {
                attempts.append(&mut again.attempts);
                again.attempts = attempts;
                again.retried_at = retried_at;
                return Err(again);
            }
        };
        FailedRequest {
            received,
            client,
            attempts,
            retried_at,
            answered: Some(&answer.conn.conn.log),
            status: answer.response.status().as_u16(),
            cause: failure.cause,
        }
        .keep(&self.recorder);
        Ok(self.respond(answer))
    }

    /// Sends on the most recently pooled connection, or on a fresh one when none is left. A pooled connection
    /// that hyper already knows is closed (the backend's FIN arrived before we wrote) is skipped, not a 502.
    ///
    /// The request is moved, not copied, onto the connection. Only a send on a reused connection can fail in
    /// a way that is retried (the keep-alive race), so only then, and only when the policy may retry this
    /// method (`may_retry`), is a copy kept: it comes back with the failure.
    async fn send_pooled_or_fresh(
        &self,
        member: &Member,
        mut request: UpstreamRequest,
        may_retry: bool,
    ) -> Result<Answer, (Failure, Option<UpstreamRequest>)> {
        while let Some(mut conn) = self.pool.checkout(member.index) {
            if conn.conn.ready().await.is_err() {
                self.pool.record_closed_discard();
                continue;
            }
            let spare = may_retry.then(|| copy_request(&request));
            match self.exchange(member, conn, request).await {
                Ok(answer) => return Ok(answer),
                Err(FailedAttempt {
                    unsent: Some(unsent),
                    ..
                }) => {
                    self.pool.record_closed_discard();
                    request = unsent;
                }
                Err(failed) => return Err((failed.failure, spare)),
            }
        }
        let conn = self
            .connect(member)
            .await
            .map_err(|failure| (failure, None))?;
        self.exchange(member, conn, request)
            .await
            .map_err(|failed| (failed.failure, None))
    }

    /// Resolves the member's host (within `connect_timeout`; a failure or a slower lookup is `dns-failure`) and
    /// opens a connection to it (within another `connect_timeout`).
    async fn connect(&self, member: &Member) -> Result<PooledConn, Failure> {
        let limit = self.config.connect_timeout;
        let addrs = self
            .balancer
            .resolve(member, limit)
            .await
            .map_err(|error| Failure {
                detail: Some(error.to_string()),
                ..Failure::new(Cause::DnsFailure, Some(member))
            })?;
        let conn = upstream_conn::connect_recorded(&member.label, &addrs, limit, &self.recorder)
            .await
            .map_err(|cause| Failure::new(cause, Some(member)))?;
        self.stats.record_upstream_connection();
        Ok(PooledConn::fresh(conn, member.index))
    }

    /// One request on one connection, until the response head (or `request_timeout`); a failure is classified.
    async fn exchange(
        &self,
        member: &Member,
        mut conn: PooledConn,
        request: UpstreamRequest,
    ) -> Result<Answer, FailedAttempt> {
        let usage = conn.start_request();
        if request.headers().contains_key(http::header::UPGRADE) {
            conn.conn.expect_upgrade();
        } else {
            conn.conn.forget_upgrade();
        }
        recording::sending(&mut conn.conn.log, &usage);
        let bytes_before = conn.conn.bytes_read();
        let sent = tokio::time::timeout(self.config.request_timeout, conn.conn.send(request)).await;
        let (error, unsent) = match sent {
            Ok(Ok(response)) => {
                recording::answered(&mut conn.conn.log, response.status().as_u16());
                if usage.reused() {
                    self.stats.record_reused_request(usage.idle_age);
                }
                return Ok(Answer { response, conn });
            }
            Ok(Err(SendFailure::Hyper(mut error))) => {
                let unsent = error.take_message();
                (SendError::Hyper(error.into_error()), unsent)
            }
            Ok(Err(SendFailure::Parked(unsent))) => (SendError::Closed, Some(unsent)),
            Err(_elapsed) => (SendError::Timeout, None),
        };
        if usage.reused() && unsent.is_none() {
            self.stats.record_reused_request(usage.idle_age);
        }
        let facts = AttemptFacts {
            reused: usage.reused(),
            response_bytes: conn.conn.bytes_read() > bytes_before,
            socket_reset: conn.conn.saw_reset(),
        };
        let timed_out = matches!(error, SendError::Timeout);
        let failure = Failure {
            attempts: if unsent.is_none() {
                recording::failed(&mut conn.conn.log, facts, timed_out)
                    .into_iter()
                    .collect()
            } else {
                Vec::new()
            },
            cause: classify(&error, facts),
            backend: Some(member.label.clone()),
            usage: Some(usage),
            detail: Some(match &error {
                SendError::Timeout => {
                    format!("no response head within {:?}", self.config.request_timeout)
                }
                SendError::Hyper(error) => wire::error_chain::one_line(error),
                SendError::Closed => {
                    "the parked connection closed before the request was written".to_owned()
                }
            }),
            retried_at: None,
        };
        Err(FailedAttempt { failure, unsent })
    }

    /// The backend's response, hop-by-hop headers removed, its body streamed and its connection returned at
    /// the body's end.
    fn respond(&self, answer: Answer) -> Response<ResponseBody> {
        let Answer { response, mut conn } = answer;
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            return self.switch_protocols(response, conn);
        }
        let (mut parts, body) = response.into_parts();
        conn.set_hinted_timeout(
            wire::keep_alive::KeepAliveHint::from_headers(&parts.headers)
                .and_then(|hint| hint.timeout),
        );
        let keeps_alive = hop_by_hop::keeps_alive(parts.version, &parts.headers);
        hop_by_hop::strip(&mut parts.headers);
        // The client-facing hop is ours: hyper frames it for the client's version.
        parts.version = Version::HTTP_11;
        let recording = self
            .recorder
            .is_on()
            .then(|| (self.recorder.clone(), parts.status.as_u16()));
        let body = UpstreamBody::new(
            body,
            self.pool.clone(),
            conn,
            keeps_alive,
            self.stats.clone(),
            recording,
        );
        Response::from_parts(parts, ResponseBody::Upstream(body))
    }

    /// The backend's `101`: passed on with its `Upgrade`, and the upstream side of the tunnel attached for the
    /// client connection to open once hyper has written it (see `server.rs`). The connection never goes back
    /// to the pool.
    fn switch_protocols(
        &self,
        response: Response<Incoming>,
        mut conn: PooledConn,
    ) -> Response<ResponseBody> {
        let upstream = conn.conn.take_upgrade();
        let (mut parts, _) = response.into_parts();
        let protocol = parts.headers.get(http::header::UPGRADE).cloned();
        hop_by_hop::strip(&mut parts.headers);
        if let Some(protocol) = protocol {
            hop_by_hop::restore_upgrade(&mut parts.headers, protocol);
        }
        parts.version = Version::HTTP_11;
        parts.extensions.insert(PendingTunnel::new(upstream, conn));
        Response::from_parts(parts, ResponseBody::local(Bytes::new()))
    }

    /// The 502: counted, logged with the connection's history, named in a header and in the body.
    fn bad_gateway(&self, failure: Failure) -> Response<ResponseBody> {
        let cause = failure.cause;
        self.stats.record_cause(cause);
        let usage = failure.usage;
        tracing::warn!(
            cause = %cause,
            backend = failure.backend.as_deref().unwrap_or("-"),
            reused = usage.map(|usage| usage.reused()),
            reuse_count = usage.map(|usage| usage.reuse_count),
            idle_age_ms = usage.map(|usage| u64::try_from(usage.idle_age.as_millis()).unwrap_or(u64::MAX)),
            connection = usage.map(|usage| usage.connection),
            error = failure.detail.as_deref().unwrap_or("-"),
            "502 bad gateway"
        );
        let mut response = local_response(LocalResponse::text(
            StatusCode::BAD_GATEWAY,
            format!("502 Bad Gateway: {cause}\n"),
        ));
        if self.config.cause_header {
            response
                .headers_mut()
                .insert(CAUSE_HEADER, HeaderValue::from_static(cause.name()));
        }
        response
    }
}

impl BufferedRequest {
    /// Reads the whole body, at most `max_body_bytes` of it, and prepares the headers for the upstream hop.
    /// A body announced larger than the limit is refused before a byte of it is read.
    async fn read(
        request: Request<Incoming>,
        client: IpAddr,
        max_body_bytes: u64,
    ) -> Result<BufferedRequest, BodyError> {
        let (parts, body) = request.into_parts();
        let body = request_body::read_limited(body, max_body_bytes).await?;
        let mut headers = parts.headers;
        let upgrade = hop_by_hop::upgrade_protocol(&headers);
        hop_by_hop::strip(&mut headers);
        if let Some(protocol) = upgrade {
            hop_by_hop::restore_upgrade(&mut headers, protocol);
        }
        wire::forwarded::append_forwarded_for(&mut headers, client);
        let uri = parts
            .uri
            .path_and_query()
            .map(|path| Uri::from(path.clone()))
            .unwrap_or_else(|| Uri::from_static("/"));
        Ok(BufferedRequest {
            method: parts.method,
            uri,
            headers,
            body,
        })
    }

    /// The upstream request, with a `Host` naming `member` when the client sent none, and `Connection:
    /// keep-alive` when the front honours the backend's hint (Apache sends it only to requests that ask).
    fn into_upstream(self, member: &Member, ask_keep_alive: bool) -> UpstreamRequest {
        let mut request = Request::new(Full::new(self.body));
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        *request.headers_mut() = self.headers;
        if let Entry::Vacant(slot) = request.headers_mut().entry(HOST)
            && let Ok(host) = HeaderValue::from_str(&member.label)
        {
            slot.insert(host);
        }
        if ask_keep_alive {
            request.headers_mut().insert(
                http::header::CONNECTION,
                HeaderValue::from_static("keep-alive"),
            );
        }
        request
    }
}

/// A copy of `request` to send again (the body is shared, not copied).
fn copy_request(request: &UpstreamRequest) -> UpstreamRequest {
    let mut copy = Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}
