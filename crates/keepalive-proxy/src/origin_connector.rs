//! The connector of the origin client pool (`forward.rs`): hyper-util's `HttpConnector` with `TCP_NODELAY`,
//! wrapped to count each connection it opens (`badgateway_back_origin_connections_opened_total`). It decides
//! nothing about reuse: the pool of the legacy client does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

/// `HttpConnector` counting the connections it opened into `opened`.
#[derive(Debug, Clone)]
pub(crate) struct OriginConnector {
    inner: HttpConnector,
    opened: Arc<AtomicU64>,
}

impl OriginConnector {
    /// A connector with `TCP_NODELAY` that adds one to `opened` per connection made.
    pub(crate) fn new(opened: Arc<AtomicU64>) -> Self {
        let mut inner = HttpConnector::new();
        inner.set_nodelay(true);
        Self { inner, opened }
    }
}

type Connecting = <HttpConnector as Service<Uri>>::Future;
type Connection = <HttpConnector as Service<Uri>>::Response;
type ConnectError = <HttpConnector as Service<Uri>>::Error;

impl Service<Uri> for OriginConnector {
    type Response = Connection;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Connection, ConnectError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting: Connecting = self.inner.call(uri);
        let opened = self.opened.clone();
        Box::pin(async move {
            let connection = connecting.await?;
            opened.fetch_add(1, Ordering::Relaxed);
            Ok(connection)
        })
    }
}
