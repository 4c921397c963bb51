//! The front→back round trip: the same request timed through the path the front uses (the link in front of the
//! back) and straight to the back, on kept connections; the difference is what the path adds, both ways.
//!
//! Owns only that measurement.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::ProbeError;
use super::exchange::{exchange, request_bytes};

/// A pause between two timed requests: short, far from any keep-alive timeout.
const PAUSE: Duration = Duration::from_millis(1);

/// Median of `samples` exchanges via `path_addr` minus the median straight to `back`; zero when the front
/// reaches the back directly (`path_addr == back`).
pub async fn measure_round_trip(
    path_addr: SocketAddr,
    back: SocketAddr,
    host: &str,
    path: &str,
    samples: usize,
    limit: Duration,
) -> Result<Duration, ProbeError> {
    if path_addr == back {
        return Ok(Duration::ZERO);
    }
    let request = request_bytes(host, path);
    let via = median_exchange(path_addr, &request, samples, limit).await?;
    let direct = median_exchange(back, &request, samples, limit).await?;
    Ok(via.saturating_sub(direct))
}

async fn median_exchange(
    addr: SocketAddr,
    request: &[u8],
    samples: usize,
    limit: Duration,
) -> Result<Duration, ProbeError> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|source| ProbeError::Connect { addr, source })?;
    let _ = stream.set_nodelay(true);
    // The first exchange pays for the connection's set-up on the far side: not timed.
    exchange(&mut stream, request, limit).await?;
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples.max(1) {
        tokio::time::sleep(PAUSE).await;
        let sent = Instant::now();
        exchange(&mut stream, request, limit).await?;
        times.push(sent.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}
