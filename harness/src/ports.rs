//! Loopback ports chosen ahead of use, for what must be told its port before it binds (a real server's config,
//! an admin endpoint in a scenario) or a port where nothing listens (a dead pool member). The chain's own
//! servers bind port 0 and report the port they got; this module is for the rest.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A free port on 127.0.0.1 for a server that must be told its port in its config (a real server, an admin
/// endpoint). It is taken below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`), where neither a
/// `bind` to port 0 nor a `connect` ever picks a port on its own: a port found free by binding port 0 and
/// releasing it can be handed straight back to the next port-0 listener or outgoing connection of another test,
/// and the server's start (or a client that expected it) then meets the wrong socket. Picks within one process
/// never repeat (a cursor from a random start); a port some other program bound explicitly is skipped.
pub fn free_loopback_port() -> io::Result<SocketAddr> {
    let (low, high) = ports_below_ephemeral();
    let span = u64::from(high - low);
    let start = *PORT_CURSOR_START.get_or_init(|| rand::random_range(0..span));
    let mut last_error = None;
    for _ in 0..span.min(512) {
        let offset = (start + PORT_CURSOR.fetch_add(1, Ordering::Relaxed)) % span;
        let port = low + u16::try_from(offset).unwrap_or(0);
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(listener) => return listener.local_addr(),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::AddrInUse,
            "no free port below the ephemeral range",
        )
    }))
}

/// Where [`free_loopback_port`] starts, drawn once per process, and how far it has gone.
static PORT_CURSOR_START: OnceLock<u64> = OnceLock::new();
static PORT_CURSOR: AtomicU64 = AtomicU64::new(0);

/// The ports `[low, high)` below the kernel's ephemeral range: from 10000 (clear of the well-known ports and
/// the usual service ports) to the range's start, 32768 on Linux by default. When the range starts too low
/// to leave room, the ports above it up to 65535 are used instead.
fn ports_below_ephemeral() -> (u16, u16) {
    const FLOOR: u16 = 10_000;
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok();
    let (first, last) = range
        .as_deref()
        .and_then(|text| {
            let mut fields = text.split_whitespace().map(str::parse::<u16>);
            Some((fields.next()?.ok()?, fields.next()?.ok()?))
        })
        .unwrap_or((32_768, 60_999));
    if first >= FLOOR + 1_000 {
        (FLOOR, first)
    } else if last < u16::MAX - 1_000 {
        (last + 1, u16::MAX)
    } else {
        (FLOOR, u16::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_is_on_loopback_below_the_ephemeral_range_and_never_repeats() {
        let (low, high) = ports_below_ephemeral();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let addr = free_loopback_port().unwrap();
            assert!(addr.ip().is_loopback());
            assert!(
                (low..high).contains(&addr.port()),
                "{addr} outside {low}..{high}"
            );
            assert!(seen.insert(addr.port()), "{addr} handed out twice");
        }
        // A port-0 listener never lands there (unless the ephemeral range leaves no room outside it).
        let ephemeral = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        if (low, high) != (10_000, u16::MAX) {
            assert!(!(low..high).contains(&ephemeral.local_addr().unwrap().port()));
        }
    }
}
