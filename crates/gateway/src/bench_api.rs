//! Thin public wrappers over private request-path pieces, for the criterion benches in the root package
//! (`benches/gateway_internals.rs`). Not an API: hidden from the docs, no stability promise.
//!
//! Each wrapper calls the real code (the same pool, classifier and header functions the proxy uses); it adds
//! nothing but a way in from outside the crate.

use std::error::Error;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http::HeaderMap;

use crate::Cause;
use crate::classify::{AttemptFacts, classify_error, classify_hyper};
use crate::pool::{PoolLimits, PooledConn, UpstreamPool};
use crate::stats::Stats;

/// The upstream pool with one backend member.
#[derive(Debug)]
pub struct BenchPool {
    pool: UpstreamPool,
}

impl BenchPool {
    /// An empty pool (one member) keeping up to `max_idle` connections for `idle_timeout`. Needs a tokio
    /// runtime: the pool spawns its reaper.
    pub fn new(max_idle: usize, idle_timeout: Duration) -> BenchPool {
        BenchPool::parking(max_idle, idle_timeout, Duration::ZERO)
    }

    /// [`BenchPool::new`], parking a connection once it sat idle `park_after` (zero: never).
    pub fn parking(max_idle: usize, idle_timeout: Duration, park_after: Duration) -> BenchPool {
        BenchPool {
            pool: UpstreamPool::new(
                1,
                1,
                PoolLimits {
                    idle_timeout,
                    max_idle_per_backend: max_idle,
                    max_requests_per_conn: 0,
                    keep_alive_hint_margin: None,
                    park_after,
                },
            ),
        }
    }

    /// Opens `count` real connections to `backend` and checks them in, as if each had served one response.
    pub async fn fill(&self, backend: SocketAddr, count: usize) {
        for _ in 0..count {
            let conn = crate::upstream_conn::connect("bench", &[backend], Duration::from_secs(5))
                .await
                .expect("bench backend accepts");
            let mut conn = PooledConn::fresh(conn, 0);
            let _ = conn.start_request();
            self.pool.checkin(conn, true);
        }
    }

    /// One request's worth of pool work: checkout, start a request, checkin. False when the pool was empty.
    pub fn checkout_checkin(&self) -> bool {
        match self.pool.checkout(0) {
            Some(mut conn) => {
                let _ = conn.start_request();
                self.pool.checkin(conn, true);
                true
            }
            None => false,
        }
    }

    /// Idle connections parked so far.
    pub fn parked(&self) -> u64 {
        self.pool.stats().parked
    }

    /// Idle connections now.
    pub fn idle(&self) -> usize {
        self.pool.stats().idle
    }

    /// Closes every idle connection.
    pub fn close(&self) {
        self.pool.close();
    }
}

/// Classification of a real hyper error, as the proxy does it after a failed send.
pub fn classify_send_error(error: &hyper::Error, reused: bool, response_bytes: bool) -> Cause {
    classify_hyper(
        error,
        AttemptFacts {
            reused,
            response_bytes,
            socket_reset: false,
        },
    )
}

/// The source-chain walk of classification on any error (an io error wrapped as hyper wraps it).
pub fn classify_chain(error: &(dyn Error + 'static), reused: bool, response_bytes: bool) -> Cause {
    classify_error(
        error,
        AttemptFacts {
            reused,
            response_bytes,
            socket_reset: false,
        },
    )
}

/// The per-request header work on the way up: hop-by-hop stripping and `X-Forwarded-For`.
pub fn prepare_upstream_headers(headers: &mut HeaderMap, client: IpAddr) {
    wire::hop_by_hop::strip(headers);
    wire::forwarded::append_forwarded_for(headers, client);
}

/// The gateway's counters, as the request path updates them.
#[derive(Debug, Default)]
pub struct BenchStats {
    stats: Stats,
}

impl BenchStats {
    /// What the proxy counts for one proxied request: the request and its response status.
    pub fn record_request_and_response(&self, status: http::StatusCode) {
        self.stats.record_request();
        self.stats.record_response(status);
    }
}
