//! `drop_syn`: the link as "a network rule that drops packets". The link's listener never accepts and keeps its
//! accept queue full with its own filler connections, so the kernel drops every new SYN and a connect to the link
//! neither succeeds nor fails: it times out, the way a connect through a firewall that drops packets does.
//!
//! # What Linux does (measured on loopback, kernel 6.18, `net.ipv4.tcp_abort_on_overflow = 0`,
//! `net.ipv4.tcp_syncookies = 1`, `net.core.somaxconn = 4096`)
//!
//! - `listen(fd, 0)` sets the accept-queue limit to 0, and the kernel calls the queue full when it holds *more*
//!   than the limit (`sk_acceptq_is_full`: `sk_ack_backlog > sk_max_ack_backlog`), so exactly one completed
//!   connection fits (with `listen(fd, 1)`, two do). Measured: the first filler connects at once, the second
//!   one's connect times out, and `ss -ltn` shows the listener with Recv-Q 1, Send-Q 0. The link keeps the
//!   fillers open (never accepted, never read) for its whole life.
//! - When the accept queue is full, `tcp_conn_request` drops an incoming SYN outright and counts it in
//!   `TcpExtListenOverflows` and `TcpExtListenDrops` (`/proc/net/netstat`; the tests check the counter grows).
//!   No SYN-ACK, no RST: the client's kernel retransmits the SYN with exponential backoff from 1 s on, up to
//!   `net.ipv4.tcp_syn_retries` (6 by default, about 127 s in all), so the connect hangs until the caller's own
//!   connect timeout fires (measured: a client connect with a 2.5 s timeout simply timed out, and
//!   every SYN it sent added one ListenOverflows).
//! - SYN cookies do not help the client: they answer a full *SYN* queue (half-open connections), not a full
//!   *accept* queue, which is checked first.
//! - `net.ipv4.tcp_abort_on_overflow` only decides what happens to the final ACK of a handshake that completes
//!   while the queue is full (0, the default: drop it and let the SYN-ACK be retransmitted; 1: answer with an
//!   RST). It does not turn a dropped SYN into an RST, so a connect to the link times out under either value.
//! - Closing the listening socket resets the queued fillers and frees the port: after [`SynDropper::stop`] a
//!   connect to the address is refused.

use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpStream;

/// How long a filler's connect may take before the link concludes that its SYN was dropped, i.e. that the accept
/// queue is full. A loopback connect to a listener with room completes in microseconds.
const FILLER_CONNECT_TIMEOUT: Duration = Duration::from_millis(100);

/// At most this many fillers; with `listen(0)` Linux needs one.
const MAX_FILLERS: usize = 8;

/// A listening socket that never accepts, with its accept queue kept full.
#[derive(Debug)]
pub(crate) struct SynDropper {
    local_addr: SocketAddr,
    /// Never accepted from; registered with no reactor. Closing it frees the port.
    listener: Socket,
    /// Our own connections that fill the accept queue; open until [`SynDropper::stop`].
    fillers: Vec<TcpStream>,
}

impl SynDropper {
    /// Binds `listen` with the smallest backlog and fills the accept queue.
    pub(crate) async fn start(listen: SocketAddr) -> std::io::Result<SynDropper> {
        let listener = Socket::new(
            Domain::for_address(listen),
            Type::STREAM,
            Some(Protocol::TCP),
        )?;
        listener.set_reuse_address(true)?;
        listener.bind(&listen.into())?;
        listener.listen(0)?;
        let local_addr = listener
            .local_addr()?
            .as_socket()
            .ok_or_else(|| std::io::Error::other("the listener has no IP address"))?;
        let target = connectable(local_addr);
        let mut fillers = Vec::new();
        let mut queue_full = false;
        while fillers.len() < MAX_FILLERS {
            match tokio::time::timeout(FILLER_CONNECT_TIMEOUT, TcpStream::connect(target)).await {
                Ok(Ok(filler)) => fillers.push(filler),
                Ok(Err(error)) => return Err(error),
                // The SYN was dropped: the queue is full. Dropping the pending connect closes its socket, so
                // no retransmitted SYN can take a place later.
                Err(_) => {
                    queue_full = true;
                    break;
                }
            }
        }
        if queue_full {
            tracing::debug!(addr = %local_addr, fillers = fillers.len(), "link accept queue full; SYNs are dropped");
        } else {
            tracing::warn!(
                addr = %local_addr,
                fillers = fillers.len(),
                "link accept queue still accepts connections after {MAX_FILLERS} fillers; drop_syn may not drop SYNs on this system"
            );
        }
        Ok(SynDropper {
            local_addr,
            listener,
            fillers,
        })
    }

    /// The bound address.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// How many filler connections hold the accept queue.
    pub(crate) fn fillers(&self) -> usize {
        self.fillers.len()
    }

    /// Closes the fillers and the listening socket: the port is free and connects to it are refused.
    pub(crate) fn stop(self) {
        drop(self.fillers);
        drop(self.listener);
    }
}

/// The address a local client connects to for `bound`: an unspecified address becomes loopback.
fn connectable(bound: SocketAddr) -> SocketAddr {
    let mut target = bound;
    match bound {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => {
            target.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => {
            target.set_ip(std::net::Ipv6Addr::LOCALHOST.into());
        }
        _ => {}
    }
    target
}
