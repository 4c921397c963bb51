//! The admin endpoint's `GET /metrics`: the gateway's counters and its backends' probe state in the
//! Prometheus text format (the `prometheus-client` crate), read from the same [`GatewayStats`] snapshot and
//! [`HealthReport`] as `/_badgateway/stats` and `/_badgateway/health`, so the two views always agree.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `badgateway_requests_total` | counter | |
//! | `badgateway_responses_total` | counter | `status` |
//! | `badgateway_bad_gateway_total` | counter | `cause` ([`Cause::name`], every cause, zero included) |
//! | `badgateway_upstream_connections_opened_total` | counter | |
//! | `badgateway_upstream_requests_reused_total` | counter | (requests sent on a reused upstream connection) |
//! | `badgateway_retries_total` | counter | |
//! | `badgateway_truncated_responses_total` | counter | |
//! | `badgateway_client_errors_total` | counter | |
//! | `badgateway_upstream_idle_age_seconds` | histogram | (how long each reused connection had been idle) |
//! | `badgateway_pool_idle_connections` | gauge | (idle upstream connections in the pool now) |
//! | `badgateway_keepalive_closes_total` | counter | `kind`: `expired` (too old at checkout), `closed` (the backend's FIN/RST seen first), `reaped` (idle_timeout), `refused-checkin` (`Connection: close`, request limit, pool full) |
//! | `badgateway_connections_parked_total` | counter | `side`: `client` (an idle client connection gave its HTTP buffers back, `client_park_after`), `upstream` (an idle pooled connection did, `upstream_park_after`) |
//! | `badgateway_backend_healthy` | gauge | `member` (1 healthy, 0 unhealthy) |
//! | `badgateway_backend_probe_failures` | gauge | `member` (consecutive failed probes) |
//!
//! This module only formats; it counts nothing and serves nothing (the admin module and the `admin` crate do).

use ::admin::AdminResponse;
use ::admin::metrics::{counter, counters};
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use crate::health::HealthState;
use crate::stats::IdleAgeSnapshot;
use crate::{Cause, GatewayStats, HealthReport, PoolStats};

/// Everything one scrape reads, taken at once by the admin endpoint.
pub(crate) struct Scrape {
    pub(crate) stats: GatewayStats,
    pub(crate) idle_ages: IdleAgeSnapshot,
    pub(crate) pool: PoolStats,
    pub(crate) health: HealthReport,
}

/// The idle-age histogram, already aggregated by the counters: encoded as a Prometheus histogram.
#[derive(Debug)]
struct IdleAgeHistogram(IdleAgeSnapshot);

impl TypedMetric for IdleAgeHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for IdleAgeHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.0.sum_s, self.0.count, &self.0.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// A gauge family, one gauge per member.
fn gauges<'a>(
    values: impl IntoIterator<Item = (String, i64)>,
) -> Family<Vec<(&'a str, String)>, Gauge> {
    let family = Family::<Vec<(&str, String)>, Gauge>::default();
    for (member, value) in values {
        family.get_or_create(&vec![("member", member)]).set(value);
    }
    family
}

/// The answer to one scrape.
pub(crate) fn render(scrape: Scrape) -> AdminResponse {
    let Scrape {
        stats,
        idle_ages,
        pool,
        health,
    } = scrape;
    let mut registry = Registry::with_prefix("badgateway");
    registry.register(
        "requests",
        "Client requests received",
        counter(stats.requests),
    );
    registry.register(
        "responses",
        "Responses sent to clients, by status",
        counters(
            "status",
            stats.responses.iter().map(|(s, n)| (s.to_string(), *n)),
        ),
    );
    registry.register(
        "bad_gateway",
        "502 responses, by cause",
        counters(
            "cause",
            Cause::ALL.iter().map(|cause| {
                let count = stats.causes.get(cause).copied().unwrap_or(0);
                (cause.name().to_owned(), count)
            }),
        ),
    );
    registry.register(
        "upstream_connections_opened",
        "Upstream connections opened",
        counter(stats.upstream_connections),
    );
    registry.register(
        "upstream_requests_reused",
        "Requests sent on a reused upstream connection",
        counter(stats.reused_requests),
    );
    registry.register(
        "retries",
        "Retries on a fresh connection",
        counter(stats.retries),
    );
    registry.register(
        "truncated_responses",
        "Responses aborted after their head (not 502s)",
        counter(stats.truncated_responses),
    );
    registry.register(
        "client_errors",
        "Client mistakes answered locally (4xx, never 502)",
        counter(stats.client_errors),
    );
    registry.register(
        "upstream_idle_age_seconds",
        "How long each reused upstream connection had been idle",
        IdleAgeHistogram(idle_ages),
    );
    let idle_now = Gauge::<i64>::default();
    idle_now.set(i64::try_from(pool.idle).unwrap_or(i64::MAX));
    registry.register(
        "pool_idle_connections",
        "Idle upstream connections in the pool",
        idle_now,
    );
    registry.register(
        "keepalive_closes",
        "Upstream keep-alive connections given up, by kind",
        counters(
            "kind",
            [
                ("expired", pool.discarded_expired),
                ("closed", pool.discarded_closed),
                ("reaped", pool.reaped),
                ("refused-checkin", pool.refused_checkins),
            ]
            .map(|(kind, n)| (kind.to_owned(), n)),
        ),
    );
    registry.register(
        "connections_parked",
        "Idle connections that gave their HTTP buffers back, by side",
        counters(
            "side",
            [
                ("client", stats.parked_connections),
                ("upstream", stats.parked_upstream_connections),
            ]
            .map(|(side, n)| (side.to_owned(), n)),
        ),
    );
    registry.register(
        "backend_healthy",
        "1 when the member is in the rotation, 0 when its probes failed",
        gauges(
            health
                .members
                .iter()
                .map(|m| (m.member.clone(), i64::from(m.state == HealthState::Healthy))),
        ),
    );
    registry.register(
        "backend_probe_failures",
        "Consecutive failed probes of the member",
        gauges(
            health
                .members
                .iter()
                .map(|m| (m.member.clone(), i64::from(m.consecutive_failures))),
        ),
    );
    ::admin::metrics::answer(&registry)
}
