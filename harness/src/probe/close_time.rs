//! The back's real idle close, measured on direct connections: one request, its whole response, then the time
//! until the back's FIN or RST. Configured values lie (Node 20 closes about 1 s after its `keepAliveTimeout`; a
//! server on a millisecond timer closes late by up to a tick), so the probe plans its window on this.
//!
//! Owns the measurement; the window it leads to is `window.rs`'s.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::ProbeError;
use super::exchange::{exchange, request_bytes};

/// How the back ended an idle connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloseKind {
    /// An orderly close: the probe read EOF.
    Fin,
    /// The probe read ECONNRESET.
    Reset,
}

/// One measured close.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CloseSample {
    /// From the response's last byte to the close, ms.
    pub after_ms: f64,
    /// FIN or RST.
    pub kind: CloseKind,
}

/// Every sample of one measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloseTime {
    /// One per direct connection.
    pub samples: Vec<CloseSample>,
}

impl CloseTime {
    /// The median close, ms.
    pub fn median_ms(&self) -> f64 {
        let mut times: Vec<f64> = self.samples.iter().map(|s| s.after_ms).collect();
        times.sort_by(f64::total_cmp);
        times.get(times.len() / 2).copied().unwrap_or(0.0)
    }

    /// The earliest close, ms.
    pub fn min_ms(&self) -> f64 {
        self.samples
            .iter()
            .map(|s| s.after_ms)
            .fold(f64::INFINITY, f64::min)
    }

    /// The latest close, ms.
    pub fn max_ms(&self) -> f64 {
        self.samples.iter().map(|s| s.after_ms).fold(0.0, f64::max)
    }

    /// The kind most samples saw.
    pub fn kind(&self) -> CloseKind {
        let resets = self
            .samples
            .iter()
            .filter(|s| s.kind == CloseKind::Reset)
            .count();
        if resets * 2 > self.samples.len() {
            CloseKind::Reset
        } else {
            CloseKind::Fin
        }
    }
}

/// Measures `samples` closes in parallel on direct connections to `back`. `limit` bounds the wait for each
/// close: a back that keeps an idle connection longer than that fails the measurement with an error saying so.
pub async fn measure_close(
    back: SocketAddr,
    host: &str,
    path: &str,
    samples: usize,
    limit: Duration,
) -> Result<CloseTime, ProbeError> {
    let request = request_bytes(host, path);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..samples.max(1) {
        let request = request.clone();
        tasks.spawn(async move { one_close(back, &request, limit).await });
    }
    let mut measured = Vec::with_capacity(samples);
    while let Some(joined) = tasks.join_next().await {
        let sample = joined.map_err(|e| ProbeError::Task(e.to_string()))??;
        measured.push(sample);
    }
    Ok(CloseTime { samples: measured })
}

async fn one_close(
    back: SocketAddr,
    request: &[u8],
    limit: Duration,
) -> Result<CloseSample, ProbeError> {
    let mut stream = TcpStream::connect(back)
        .await
        .map_err(|source| ProbeError::Connect { addr: back, source })?;
    let _ = stream.set_nodelay(true);
    exchange(&mut stream, request, limit).await?;
    let idle_from = Instant::now();
    let mut byte = [0_u8; 512];
    let kind = loop {
        match tokio::time::timeout(limit, stream.read(&mut byte)).await {
            Err(_) => {
                return Err(ProbeError::NoIdleClose { addr: back, limit });
            }
            Ok(Ok(0)) => break CloseKind::Fin,
            // Bytes after a complete response (a server's stray CRLF): keep waiting for the close.
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => break CloseKind::Reset,
            Ok(Err(source)) => return Err(ProbeError::Connect { addr: back, source }),
        }
    };
    Ok(CloseSample {
        after_ms: idle_from.elapsed().as_secs_f64() * 1000.0,
        kind,
    })
}
