//! Health probes: one task per backend member that sends a probe every `interval` and records the outcome in
//! the [`Health`] table, until the gateway stops.
//!
//! A probe ([`HttpProbe`]) is one `GET path` with `Host: host` (default: the member's `host:port`) on a **new**
//! connection, never a pooled one: a probe must see what a new connection sees, and must not age or consume the
//! pool's connections. The whole probe (name resolution through the gateway's resolver, connect, response head
//! and, with `match_body`, the body) is bounded by the probe `timeout`. It fails on a resolution or connect
//! error, the timeout, a status outside `match_status`, a body without `match_body`, or bytes that are not
//! HTTP. The connection is closed when the probe ends.
//!
//! The first probe of a member goes out when the gateway starts, the next ones `interval` after the start of
//! the previous one (at once if a probe took longer than `interval`). The loop is written against the
//! [`Probe`] trait so its timing is tested with a scripted probe under tokio's paused clock, without sockets.
//!
//! This module does not decide what an outcome means for the member's state (`health`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONNECTION, HOST, USER_AGENT};
use http::{Method, Request};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use listener::ShutdownSignal;
use tokio::time::Instant;

use crate::ProbeConfig;
use crate::balancer::{Member, resolve_member};
use crate::health::{Health, ProbeFailure, ProbeOutcome};
use crate::resolve::Resolve;
use crate::upstream_conn::connect_any;

/// The most body a probe reads to look for `match_body`.
const MAX_PROBE_BODY: usize = 1024 * 1024;

/// What a probe task calls once per interval.
pub(crate) trait Probe: Send + Sync + 'static {
    /// Probes `member` once.
    fn probe<'a>(
        &'a self,
        member: &'a Member,
    ) -> Pin<Box<dyn Future<Output = ProbeOutcome> + Send + 'a>>;
}

/// The HTTP probe of `[front.probe]`.
pub(crate) struct HttpProbe {
    config: ProbeConfig,
    resolver: Arc<dyn Resolve>,
}

impl HttpProbe {
    pub(crate) fn new(config: ProbeConfig, resolver: Arc<dyn Resolve>) -> HttpProbe {
        HttpProbe { config, resolver }
    }

    /// One probe, unbounded in time (the caller applies the timeout).
    async fn exchange(&self, member: &Member) -> ProbeOutcome {
        let addrs = resolve_member(self.resolver.as_ref(), member, self.config.timeout)
            .await
            .map_err(ProbeFailure::Resolve)?;
        let stream = connect_any(&addrs)
            .await
            .map_err(|error| ProbeFailure::Connect(error.to_string()))?;
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| ProbeFailure::Http(error.to_string()))?;
        // Aborted when the probe ends, which closes the connection whatever state it is in.
        let _driver = AbortOnDrop(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let host = self.config.host.as_deref().unwrap_or(&member.label);
        let request = Request::builder()
            .method(Method::GET)
            .uri(self.config.path.as_str())
            .header(HOST, host)
            .header(USER_AGENT, "badgateway-probe")
            .header(CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|error| ProbeFailure::Http(format!("bad probe request: {error}")))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| ProbeFailure::Http(error.to_string()))?;
        let status = response.status().as_u16();
        if !self.config.status_matches(status) {
            return Err(ProbeFailure::Status {
                status,
                expected: self
                    .config
                    .match_status
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        if let Some(expected) = &self.config.match_body {
            let body = Limited::new(response.into_body(), MAX_PROBE_BODY)
                .collect()
                .await
                .map_err(|error| ProbeFailure::Http(format!("probe body: {error}")))?
                .to_bytes();
            if !String::from_utf8_lossy(&body).contains(expected.as_str()) {
                return Err(ProbeFailure::Body {
                    status,
                    expected: expected.clone(),
                });
            }
        }
        Ok(status)
    }
}

impl Probe for HttpProbe {
    fn probe<'a>(
        &'a self,
        member: &'a Member,
    ) -> Pin<Box<dyn Future<Output = ProbeOutcome> + Send + 'a>> {
        Box::pin(async move {
            let limit = self.config.timeout;
            tokio::time::timeout(limit, self.exchange(member))
                .await
                .unwrap_or(Err(ProbeFailure::Timeout(limit)))
        })
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Probes `member` every `interval` and records each outcome, until `shutdown` fires.
pub(crate) async fn run(
    member: Member,
    probe: Arc<dyn Probe>,
    health: Arc<Health>,
    interval: std::time::Duration,
    mut shutdown: ShutdownSignal,
) {
    loop {
        let started = Instant::now();
        let outcome = tokio::select! {
            outcome = probe.probe(&member) => outcome,
            () = shutdown.triggered() => return,
        };
        health.record(member.index, outcome);
        tokio::select! {
            () = tokio::time::sleep_until(started + interval) => {}
            () = shutdown.triggered() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::time::Duration;

    use listener::Shutdown;

    use super::*;
    use crate::balancer::Balancer;
    use crate::health::HealthState;
    use crate::resolve::SystemResolver;

    const INTERVAL: Duration = Duration::from_secs(30);

    /// Answers from a script, then passes.
    struct ScriptedProbe(Mutex<VecDeque<bool>>);

    impl Probe for ScriptedProbe {
        fn probe<'a>(
            &'a self,
            _member: &'a Member,
        ) -> Pin<Box<dyn Future<Output = ProbeOutcome> + Send + 'a>> {
            let pass = self.0.lock().unwrap().pop_front().unwrap_or(true);
            Box::pin(async move {
                if pass {
                    Ok(200)
                } else {
                    Err(ProbeFailure::Status {
                        status: 503,
                        expected: "200-399".to_owned(),
                    })
                }
            })
        }
    }

    /// One member probed with `script` every 30 s under the paused clock.
    fn start(script: &[bool]) -> (Arc<Health>, Shutdown, tokio::task::JoinHandle<()>) {
        let balancer =
            Balancer::parse(&["backend.test:80".to_owned()], Arc::new(SystemResolver)).unwrap();
        let member = balancer.members()[0].clone();
        let health = Arc::new(Health::new([member.label.clone()], 3));
        let probe = Arc::new(ScriptedProbe(Mutex::new(script.iter().copied().collect())));
        let (shutdown, signal) = Shutdown::new();
        let task = tokio::spawn(run(member, probe, health.clone(), INTERVAL, signal));
        (health, shutdown, task)
    }

    /// Waits for the `n`-th recorded probe; returns the paused clock's time since `since`.
    async fn after_probe(health: &Health, n: u64, since: Instant) -> Duration {
        health
            .recorded()
            .wait_for(|count| *count >= n)
            .await
            .unwrap();
        since.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn unhealthy_after_three_failed_probes_one_interval_apart_then_healthy_after_one_success()
    {
        let t0 = Instant::now();
        let (health, shutdown, task) = start(&[false, false, false, false, true]);
        let state = || health.report().members[0].state;

        // The first probe goes out at start.
        assert_eq!(after_probe(&health, 1, t0).await, Duration::ZERO);
        assert_eq!(state(), HealthState::Healthy);
        assert_eq!(after_probe(&health, 2, t0).await, INTERVAL);
        assert_eq!(state(), HealthState::Healthy);
        assert!(health.is_healthy(0));
        assert_eq!(after_probe(&health, 3, t0).await, INTERVAL * 2);
        assert_eq!(state(), HealthState::Unhealthy);
        assert!(!health.is_healthy(0));
        assert_eq!(after_probe(&health, 4, t0).await, INTERVAL * 3);
        assert_eq!(state(), HealthState::Unhealthy);
        assert_eq!(health.report().members[0].consecutive_failures, 4);
        assert_eq!(after_probe(&health, 5, t0).await, INTERVAL * 4);
        assert_eq!(state(), HealthState::Healthy);
        assert!(health.is_healthy(0));
        assert_eq!(health.report().members[0].consecutive_failures, 0);

        shutdown.trigger();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn the_loop_ends_on_shutdown_without_another_probe() {
        let t0 = Instant::now();
        let (health, shutdown, task) = start(&[]);
        after_probe(&health, 1, t0).await;
        shutdown.trigger();
        task.await.unwrap();
        assert_eq!(*health.recorded().borrow(), 1);
    }
}
