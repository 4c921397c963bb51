//! `GET /metrics` in the Prometheus text format, as both tiers serve it: the path, the content type, the
//! answer made from a rendered registry, and metrics built already at a value (each scrape reads the tier's
//! counter snapshot and builds a fresh registry from it, so the scrape and the tier's own stats agree).

use bytes::Bytes;
use http::Response;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};
use http_body_util::Full;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::{AdminResponse, text};

/// The path of the metrics.
pub const METRICS_PATH: &str = "/metrics";

/// The content type Prometheus scrapers expect for the text format.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A counter already at `value`.
pub fn counter(value: u64) -> Counter {
    let counter = Counter::default();
    counter.inc_by(value);
    counter
}

/// A counter family with one label, one counter per label value.
pub fn counters<'a>(
    label: &'static str,
    values: impl IntoIterator<Item = (String, u64)>,
) -> Family<Vec<(&'a str, String)>, Counter> {
    let family = Family::<Vec<(&str, String)>, Counter>::default();
    for (value, count) in values {
        family.get_or_create(&vec![(label, value)]).inc_by(count);
    }
    family
}

/// The scrape of `registry` as an answer (500 when it cannot be encoded).
pub fn answer(registry: &Registry) -> AdminResponse {
    let mut body = String::new();
    match encode(&mut body, registry) {
        Ok(()) => {
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
            response
        }
        Err(error) => {
            tracing::warn!(%error, "cannot encode the metrics");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot encode the metrics\n",
            )
        }
    }
}
