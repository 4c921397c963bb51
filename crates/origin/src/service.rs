//! One HTTP/1.1 connection of the origin: the request handler and the connection's life until the client leaves
//! or the origin shuts down. Binding and accepting belong to `listener`; the knobs belong to `config`, what the
//! connections share to `state`; a connection of a faulty origin goes to `fault` instead of hyper.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::USER_AGENT;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use listener::ShutdownSignal;
use tokio::net::TcpStream;

use crate::state::{OriginState, REQUEST_NUMBER_HEADER};
use crate::{OriginFault, PROBE_USER_AGENT, fault};

/// How long a connection may keep finishing its in-flight request after shutdown, on top of the latency.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Serves HTTP/1.1 with keep-alive on `stream` until the client closes or `shutdown` fires; then lets the
/// in-flight request finish (bounded) and closes.
pub(crate) async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: ShutdownSignal,
    state: Arc<OriginState>,
) {
    if state.fault != OriginFault::None {
        let fault = state.fault;
        return fault::serve_faulty(stream, peer, shutdown, state, fault).await;
    }
    let grace = state.latency + SHUTDOWN_GRACE;
    let service = service_fn(move |request| answer(request, Arc::clone(&state)));
    let connection = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let outcome = tokio::select! {
        outcome = connection.as_mut() => outcome,
        () = shutdown.triggered() => {
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(grace, connection.as_mut()).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::debug!(%peer, "origin connection still busy after shutdown grace; dropped");
                    return;
                }
            }
        }
    };
    match outcome {
        Ok(()) => tracing::trace!(%peer, "origin connection closed"),
        Err(error) => tracing::debug!(%peer, %error, "origin connection ended with an error"),
    }
}

/// Drains the request body, waits the latency, then answers with the configured status and body (or, when the
/// error draw fails a non-probe request, the error status).
async fn answer(
    mut request: Request<Incoming>,
    state: Arc<OriginState>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    if crate::websocket::is_upgrade(&request) {
        state.count_request(false);
        return Ok(crate::websocket::accept(&mut request));
    }
    let probe = request
        .headers()
        .get_all(USER_AGENT)
        .iter()
        .any(|agent| agent.as_bytes().starts_with(PROBE_USER_AGENT.as_bytes()));
    drain(request.into_body()).await?;
    state.wait_latency().await;
    let number = state.count_request(probe);
    let mut response = Response::new(Full::new(state.body.clone()));
    let failed = if probe { None } else { state.errors.draw() };
    *response.status_mut() = failed.unwrap_or(state.status);
    response
        .headers_mut()
        .insert(REQUEST_NUMBER_HEADER, HeaderValue::from(number));
    Ok(response)
}

/// Reads the request body to its end, keeping nothing, so the connection is ready for the next request.
async fn drain(mut body: Incoming) -> Result<(), hyper::Error> {
    while let Some(frame) = body.frame().await {
        drop(frame?);
    }
    Ok(())
}
