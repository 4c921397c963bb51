//! Bind a TCP listener, accept connections, spawn one task per connection, stop on shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::shutdown::{Shutdown, ShutdownSignal};

/// The listen address could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The address that was asked for.
    pub addr: SocketAddr,
    /// What the kernel said.
    #[source]
    pub source: std::io::Error,
}

/// A running server: its bound address, its shutdown trigger and its accept task.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    shutdown: Shutdown,
    accept_task: JoinHandle<()>,
}

impl ServerHandle {
    /// The address the server actually listens on (port 0 resolved).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A listener for this server's shutdown, for tasks that belong to it.
    pub fn shutdown_signal(&self) -> ShutdownSignal {
        self.shutdown.signal()
    }

    /// Stops accepting and tells every connection task to finish; waits for the accept loop to exit.
    pub async fn stop(self) {
        self.shutdown.trigger();
        let _ = self.accept_task.await;
    }
}

/// Binds `addr` and serves every accepted connection with `on_connection` in its own task.
///
/// `max_connections` bounds the live connections: once reached, the loop stops accepting until one ends (the
/// kernel's backlog then holds new clients, as with nginx's `worker_connections`). The connection task gets
/// the shutdown signal and must return soon after it fires.
pub async fn serve<F, Fut>(
    addr: SocketAddr,
    max_connections: Option<usize>,
    on_connection: F,
) -> Result<ServerHandle, BindError>
where
    F: Fn(TcpStream, SocketAddr, ShutdownSignal) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| BindError { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| BindError { addr, source })?;
    let (shutdown, signal) = Shutdown::new();
    let limit = max_connections.map(|n| Arc::new(Semaphore::new(n.max(1))));
    let accept_task = tokio::spawn(accept_loop(listener, limit, signal, on_connection));
    Ok(ServerHandle {
        local_addr,
        shutdown,
        accept_task,
    })
}

async fn accept_loop<F, Fut>(
    listener: TcpListener,
    limit: Option<Arc<Semaphore>>,
    mut signal: ShutdownSignal,
    on_connection: F,
) where
    F: Fn(TcpStream, SocketAddr, ShutdownSignal) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let permit = match &limit {
            Some(semaphore) => tokio::select! {
                permit = semaphore.clone().acquire_owned() => match permit {
                    Ok(permit) => Some(permit),
                    Err(_) => return,
                },
                () = signal.triggered() => return,
            },
            None => None,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = signal.triggered() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let task = on_connection(stream, peer, signal.clone());
                tokio::spawn(async move {
                    task.await;
                    drop(permit);
                });
            }
            Err(error) => {
                // EMFILE and friends: say so, back off briefly instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn serves_connections_until_stopped() {
        let handle = serve(
            "127.0.0.1:0".parse().unwrap(),
            Some(4),
            |mut stream, _, _| async move {
                let _ = stream.write_all(b"hi").await;
            },
        )
        .await
        .unwrap();
        let addr = handle.local_addr();
        assert_ne!(addr.port(), 0);
        let mut client = TcpStream::connect(addr).await.unwrap();
        let mut buf = Vec::new();
        client.read_to_end(&mut buf).await.unwrap();
        assert_eq!(buf, b"hi");
        handle.stop().await;
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn bind_error_names_the_address() {
        let first = serve("127.0.0.1:0".parse().unwrap(), None, |_, _, _| async {})
            .await
            .unwrap();
        let taken = first.local_addr();
        let error = serve(taken, None, |_, _, _| async {}).await.unwrap_err();
        assert!(error.to_string().contains(&taken.to_string()), "{error}");
        first.stop().await;
    }
}
