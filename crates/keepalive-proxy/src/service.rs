//! One request on one front connection: count it, refuse it when the request rules say so
//! (`wire::refusal`: Host, Transfer-Encoding, CONNECT, TRACE, Apache's head limits), forward it, count what
//! became of it, and decide whether its response ends the connection. The N-th response of a connection (`MaxKeepAliveRequests N`), and every response with
//! `KeepAlive Off`, carries `Connection: close`; hyper then closes the connection once it is written, as
//! Apache does. The response body is wrapped so the connection learns when the response ended (its idle
//! time starts there). This module owns the per-request decisions, not the connection's timers.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Request, Response};
use hyper::body::Incoming;

use wire::local::Style;

use crate::Shared;
use crate::activity::Activity;
use crate::body;
use crate::forward::Outcome;
use crate::tracked_body::TrackedBody;
use crate::tunnel::TunnelSlot;

/// The hyper service of one front connection.
#[derive(Debug, Clone)]
pub(crate) struct RequestService {
    shared: Arc<Shared>,
    activity: Arc<Activity>,
    peer: SocketAddr,
    /// Where a `101`'s origin side waits for the connection task.
    tunnel: TunnelSlot,
}

impl RequestService {
    pub(crate) fn new(
        shared: Arc<Shared>,
        activity: Arc<Activity>,
        peer: SocketAddr,
        tunnel: TunnelSlot,
    ) -> Self {
        Self {
            shared,
            activity,
            peer,
            tunnel,
        }
    }

    /// Whether the `number`-th response of a connection must close it.
    fn is_last(&self, number: u64) -> bool {
        self.shared.config.is_last_response(number)
    }
}

impl RequestService {
    /// Apache 2.4's answer to a request that said `Connection: keep-alive` (`ap_set_keepalive`), measured on
    /// Apache 2.4.71 with `KeepAliveTimeout 100ms` and `MaxKeepAliveRequests 100`: `Keep-Alive: timeout=0,
    /// max=100` then `max=99`, `max=98` on the same connection, and `Connection: Keep-Alive`; the timeout is
    /// whole seconds rounded down (2500 ms gives `timeout=2`); without `MaxKeepAliveRequests` there is no
    /// `max=`. A plain HTTP/1.1 request (no `Connection: keep-alive`) gets neither header.
    fn keep_alive_hint(&self, headers: &mut http::HeaderMap, number: u64) {
        let config = &self.shared.config;
        if headers
            .get(header::CONNECTION)
            .is_some_and(|value| wire::keep_alive::has_token(value.as_bytes(), b"close"))
        {
            return;
        }
        let remaining = (config.max_keepalive_requests > 0)
            .then(|| config.max_keepalive_requests.saturating_sub(number) + 1);
        let hint = wire::keep_alive::KeepAliveHint::apache(config.keepalive_timeout, remaining);
        if let Ok(value) = HeaderValue::from_str(&hint.to_string()) {
            headers.insert(wire::keep_alive::KEEP_ALIVE, value);
            headers.insert(header::CONNECTION, HeaderValue::from_static("Keep-Alive"));
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for RequestService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    // Boxed: `poll_without_shutdown` needs an `Unpin` service future.
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let number = self.activity.request_started();
        self.shared.stats.request_received();
        if number > 1 {
            self.shared.stats.reused_request();
        }
        let last = self.is_last(number);
        let asked_keep_alive = wire::keep_alive::asks_keep_alive(request.headers());
        let this = self.clone();
        Box::pin(async move {
            let mut request = request;
            let (response, outcome) = match this.shared.rules.apply(&mut request) {
                Err(refusal) => {
                    tracing::debug!(peer = %this.peer, %refusal, "request refused");
                    (
                        body::local(refusal.answer(Style::ApacheHtml)),
                        Outcome::ClientError,
                    )
                }
                Ok(()) => this.shared.forwarder.forward(request, this.peer).await,
            };
            match outcome {
                Outcome::Proxied => {}
                Outcome::Switched(upgrade) => this.tunnel.put(upgrade),
                Outcome::ClientError => this.shared.stats.client_error(),
                Outcome::BadGateway => this.shared.stats.bad_gateway(),
            }
            let (mut parts, body) = response.into_parts();
            this.shared.stats.response(parts.status);
            if last {
                parts
                    .headers
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                this.shared.stats.max_requests_close();
                tracing::debug!(peer = %this.peer, requests = number, "last response on this connection");
            } else if asked_keep_alive && parts.status != http::StatusCode::SWITCHING_PROTOCOLS {
                this.keep_alive_hint(&mut parts.headers, number);
            }
            Ok(Response::from_parts(
                parts,
                TrackedBody::new(body, this.activity),
            ))
        })
    }
}
