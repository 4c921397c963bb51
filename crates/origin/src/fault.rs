//! The origin's faults: one request per connection, read raw (hyper never sees the socket), then the configured
//! misbehaviour on the wire. Normal answers belong to `service`; the knobs to `config`; what the connections
//! share (counters, the latency wait) to `state`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use listener::ShutdownSignal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::OriginFault;
use crate::state::{OriginState, REQUEST_NUMBER_HEADER};

/// The bytes `garbage` writes instead of a response.
pub(crate) const GARBAGE: &[u8] = b"garbage, not HTTP\r\n\r\n";

/// Largest request head read; a longer head is cut here and treated as received.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long a FIN close keeps reading and discarding what the client still sends before it closes the socket.
const LINGER: Duration = Duration::from_secs(1);

/// Serves one request on `stream` with `fault` (never [`OriginFault::None`]), unless the client leaves before its
/// head is complete or the origin shuts down first.
pub(crate) async fn serve_faulty(
    mut stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: ShutdownSignal,
    state: Arc<OriginState>,
    fault: OriginFault,
) {
    let head = tokio::select! {
        head = read_head(&mut stream) => head,
        () = shutdown.triggered() => return,
    };
    let head = match head {
        Ok(Some(head)) => head,
        Ok(None) => {
            tracing::trace!(%peer, "origin connection closed before a complete request head");
            return;
        }
        Err(error) => {
            tracing::debug!(%peer, %error, "origin connection failed before a complete request head");
            return;
        }
    };
    let number = state.count_request(is_probe(&head));
    tokio::select! {
        () = state.wait_latency() => {}
        () = shutdown.triggered() => return,
    }
    tracing::debug!(%peer, ?fault, request = number, "origin misbehaves on purpose");
    let outcome = match fault {
        OriginFault::None => unreachable!("serve_faulty is only called with a fault"),
        OriginFault::Reset => {
            // SO_LINGER 0: dropping the socket sends an RST instead of a FIN.
            if let Err(error) = stream.set_zero_linger() {
                tracing::debug!(%peer, %error, "cannot set SO_LINGER 0; the socket will close with a FIN");
            }
            return;
        }
        OriginFault::Close => Ok(()),
        OriginFault::Garbage => stream.write_all(GARBAGE).await,
        OriginFault::CloseMidBody => {
            let (head, half) = truncated_response(&state, number);
            match stream.write_all(&head).await {
                Ok(()) => stream.write_all(half).await,
                Err(error) => Err(error),
            }
        }
    };
    if let Err(error) = outcome {
        tracing::debug!(%peer, %error, "origin could not write its faulty answer");
        return;
    }
    close_with_fin(stream, shutdown).await;
}

/// The head of a `close-mid-body` response announcing the full body, and the half of the body that is sent.
fn truncated_response(state: &OriginState, number: u64) -> (Vec<u8>, &[u8]) {
    let length = state.body.len().max(2);
    let status = state.status;
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-length: {length}\r\n{}: {number}\r\n\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or(""),
        REQUEST_NUMBER_HEADER,
    );
    // `state.body` holds at least 2 bytes under this fault (see `Origin::start`).
    (head.into_bytes(), &state.body[..length / 2])
}

/// Sends the FIN, then reads and discards what the client still sends (bounded by [`LINGER`] and shutdown) so
/// that unread bytes cannot make the final close an RST.
async fn close_with_fin(mut stream: TcpStream, mut shutdown: ShutdownSignal) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = vec![0u8; 16 * 1024];
    let drain = async {
        while let Ok(read) = stream.read(&mut sink).await {
            if read == 0 {
                break;
            }
        }
    };
    tokio::select! {
        _ = tokio::time::timeout(LINGER, drain) => {}
        () = shutdown.triggered() => {}
    }
}

/// Reads up to the end of the request head (the blank line), at most [`MAX_HEAD_BYTES`]. `None` if the client
/// closed before the head was complete.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let room = (MAX_HEAD_BYTES - head.len()).min(chunk.len());
        let read = stream.read(&mut chunk[..room]).await?;
        if read == 0 {
            return Ok(None);
        }
        // Only the new bytes and the three before them can complete the terminator.
        let search_from = head.len().saturating_sub(3);
        head.extend_from_slice(&chunk[..read]);
        if let Some(end) = find(&head[search_from..], b"\r\n\r\n") {
            head.truncate(search_from + end + 4);
            return Ok(Some(head));
        }
        if head.len() >= MAX_HEAD_BYTES {
            return Ok(Some(head));
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// True if the head carries a `user-agent` header whose value starts with the gateway probe's agent.
fn is_probe(head: &[u8]) -> bool {
    head.split(|byte| *byte == b'\n').skip(1).any(|line| {
        let Some(colon) = line.iter().position(|byte| *byte == b':') else {
            return false;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        name.trim_ascii().eq_ignore_ascii_case(b"user-agent")
            && value
                .trim_ascii_start()
                .starts_with(crate::PROBE_USER_AGENT.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_probe_agent_in_any_header_case() {
        assert!(is_probe(
            b"GET / HTTP/1.1\r\nhost: a\r\nUser-Agent:  badgateway-probe/1\r\n\r\n"
        ));
        assert!(is_probe(
            b"GET / HTTP/1.1\r\nuser-agent: badgateway-probe\r\n\r\n"
        ));
        assert!(!is_probe(b"GET / HTTP/1.1\r\nuser-agent: curl/8\r\n\r\n"));
        assert!(!is_probe(
            b"GET /badgateway-probe HTTP/1.1\r\nx-agent: badgateway-probe\r\n\r\n"
        ));
        assert!(!is_probe(b"GET / HTTP/1.1\r\n\r\n"));
    }
}
