//! One accepted client connection, from its fate to its last socket: blackhole it, or connect upstream, run one
//! pump per direction, and close both sockets the way the pumps' ends call for (FIN after both FINs, RST after a
//! reset, plain drop on shutdown).
//!
//! The pumps are in `relay`; the fate and the fault behaviours are in `fault`. Every latency wait here (the
//! handshake's round trip, the RST after a broken destination) is on `precise_timer`, as the relay's are.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use listener::ShutdownSignal;
use timeline::{Conn, ConnLog, Direction, Recorder};
use tokio::net::TcpStream;

use crate::fault::{self, Fate, FaultPlan};
use crate::recording::{PumpLog, injected_reset};
use crate::relay::{self, PumpEnd};
use crate::stats::Counters;

/// What every connection of one link shares.
#[derive(Debug)]
pub(crate) struct LinkShared {
    pub(crate) upstream: SocketAddr,
    pub(crate) latency: Duration,
    pub(crate) model_handshake: bool,
    pub(crate) faults: FaultPlan,
    pub(crate) counters: Counters,
    /// The timelines' recorder (off unless the harness enables it).
    pub(crate) recorder: Arc<Recorder>,
}

/// How both sockets of a relayed connection are closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Teardown {
    /// Both FINs were delivered: a normal close, no data lost.
    Closed,
    /// A reset crossed the link (or a destination broke): both sockets close with an RST.
    Reset,
    /// The armed injection fired: both sockets close with an RST, and it is counted.
    Injected,
    /// The link is stopping: drop both sockets.
    Shutdown,
}

/// Serves one accepted client connection until it is over or the link shuts down.
pub(crate) async fn run(
    client: TcpStream,
    peer: SocketAddr,
    shutdown: ShutdownSignal,
    link: Arc<LinkShared>,
) {
    link.counters.connection_accepted();
    match link.faults.fate() {
        Fate::Blackhole => {
            link.counters.blackholed();
            tracing::debug!(%peer, "link blackholes the connection");
            fault::swallow(client, shutdown).await;
        }
        Fate::Relay {
            reset_on_first_data,
        } => relay_to_upstream(client, peer, shutdown, &link, reset_on_first_data).await,
    }
}

async fn relay_to_upstream(
    mut client: TcpStream,
    peer: SocketAddr,
    mut shutdown: ShutdownSignal,
    link: &LinkShared,
    reset_on_first_data: bool,
) {
    if link.model_handshake && !link.latency.is_zero() {
        // The handshake's round trip (see `LinkConfig::model_handshake`): the client's bytes wait in its socket.
        tokio::select! {
            () = precise_timer::sleep(link.latency * 2) => {}
            () = shutdown.triggered() => return,
        }
    }
    let connected = tokio::select! {
        connected = TcpStream::connect(link.upstream) => connected,
        () = shutdown.triggered() => return,
    };
    let mut server = match connected {
        Ok(server) => server,
        Err(error) => {
            tracing::debug!(%peer, upstream = %link.upstream, %error, "link cannot reach upstream; resetting the client");
            // The client's connection is already established, so the closest a relay gets to "connection
            // refused" is an RST; like any RST it needs the link's latency to arrive.
            tokio::select! {
                () = precise_timer::sleep(link.latency) => fault::arm_reset(&client),
                () = shutdown.triggered() => {}
            }
            return;
        }
    };
    for stream in [&client, &server] {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
    }
    // Both sides' addresses, read only when recording (two system calls each); the back side's now, since once
    // the back closed, its peer address is gone from the socket.
    let (front_side, back_side) = if link.recorder.is_on() {
        let front = client.local_addr().ok().map(|local| Conn { local, peer });
        let back = match (server.local_addr(), server.peer_addr()) {
            (Ok(local), Ok(peer)) => Some(Conn { local, peer }),
            _ => None,
        };
        (front, back)
    } else {
        (None, None)
    };
    // Each pump records its own direction; the two are merged when the connection is over.
    let (mut log, mut toward_client_log) = match front_side {
        Some(conn) => (ConnLog::on(conn), ConnLog::on(conn)),
        None => (ConnLog::OFF, ConnLog::OFF),
    };
    let teardown = {
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        let (client_broken, server_broken) = (relay::Broken::default(), relay::Broken::default());
        let toward_upstream = relay::pump(
            client_read,
            server_write,
            link.latency,
            reset_on_first_data,
            (&client_broken, &server_broken),
            PumpLog::new(&mut log, Direction::ToBack, link.latency),
        );
        let toward_client = relay::pump(
            server_read,
            client_write,
            link.latency,
            false,
            (&server_broken, &client_broken),
            PumpLog::new(&mut toward_client_log, Direction::ToFront, link.latency),
        );
        drive(toward_upstream, toward_client, link.latency, shutdown).await
    };
    tracing::debug!(%peer, ?teardown, "link connection over");
    match teardown {
        Teardown::Closed | Teardown::Shutdown => {}
        Teardown::Injected => {
            link.counters.reset_injected();
            injected_reset(&mut log);
            fault::arm_reset(&client);
            fault::arm_reset(&server);
        }
        Teardown::Reset => {
            fault::arm_reset(&client);
            fault::arm_reset(&server);
        }
    }
    if log.is_on() {
        log.absorb(toward_client_log);
        if let Some(back_side) = back_side {
            log.set_relayed(back_side);
        }
        link.recorder.closed(log);
    }
}

/// Runs both pumps until the connection is over and says how to close it.
async fn drive(
    toward_upstream: impl Future<Output = PumpEnd>,
    toward_client: impl Future<Output = PumpEnd>,
    latency: Duration,
    mut shutdown: ShutdownSignal,
) -> Teardown {
    tokio::pin!(toward_upstream, toward_client);
    let (mut upstream_done, mut client_done) = (false, false);
    // Set when a destination broke: its peer learns by an RST that, like any RST, needs `latency` to arrive.
    let mut reset_due: Option<Instant> = None;
    loop {
        let reset_timer = async {
            match reset_due {
                Some(due) => precise_timer::sleep_until(due).await,
                None => std::future::pending().await,
            }
        };
        let end = tokio::select! {
            end = &mut toward_upstream, if !upstream_done => {
                upstream_done = true;
                end
            }
            end = &mut toward_client, if !client_done => {
                client_done = true;
                end
            }
            () = reset_timer => return Teardown::Reset,
            () = shutdown.triggered() => return Teardown::Shutdown,
        };
        match end {
            PumpEnd::Finished => {}
            PumpEnd::Reset => return Teardown::Reset,
            PumpEnd::InjectReset => return Teardown::Injected,
            PumpEnd::DestinationFailed => {
                reset_due.get_or_insert(Instant::now() + latency);
            }
        }
        if upstream_done && client_done && reset_due.is_none() {
            return Teardown::Closed;
        }
    }
}
