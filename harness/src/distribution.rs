//! Two parts of the result contract drawn as curves (docs/result-contract.md): the latency distribution
//! (`latency_percentiles`, from the collector's HDR histogram) and the race window (`race_window`, from the
//! collector's idle-gap bins, with 95 % Wilson intervals). Plain data and the two functions that build it,
//! called by `run/contract.rs` only; the charts (`report::charts`) read the data.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::gap_bins::GapBins;
use crate::sweep::curve::wilson_interval;

/// One point of the latency distribution: `percentile` % of the requests took at most `ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PercentilePoint {
    /// 0 to 100; 100 is the largest latency.
    pub percentile: f64,
    /// Latency from the intended send, ms.
    pub ms: f64,
}

/// What places the race window on the client's clock: the back's KeepAliveTimeout and the front–back link's
/// round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackTiming {
    /// The back's KeepAliveTimeout.
    pub keepalive_timeout: Duration,
    /// Twice the front–back link's one-way latency.
    pub link_round_trip: Duration,
}

/// P(502) against the idle gap the clients actually waited on their connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaceWindow {
    /// The back's KeepAliveTimeout, ms; absent for an external target, whose back is not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_timeout_ms: Option<f64>,
    /// The front–back link's round trip (twice its one-way latency), ms; absent when the back is not known.
    /// On the client's clock the race is expected at gaps in `(keepalive_timeout_ms − link_round_trip_ms,
    /// keepalive_timeout_ms)`: the back's idle clock started when it wrote the previous response, half a round
    /// trip before the front had it, and the next request needs the other half to reach the back; once the
    /// back's FIN has crossed back (gap ≥ the timeout) the front no longer reuses the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_round_trip_ms: Option<f64>,
    /// The non-empty bins, by gap, all of one width.
    pub bins: Vec<RaceWindowBin>,
    /// Requests whose gap fell outside every bin (a client that woke up long after its drawn gap), not drawn.
    #[serde(default)]
    pub outside_requests: u64,
    /// Of those, answered 502.
    #[serde(default)]
    pub outside_bad_gateways: u64,
}

/// One bin of the race window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RaceWindowBin {
    /// Smallest gap of the bin, ms.
    pub gap_ms_low: f64,
    /// End of the bin (exclusive), ms.
    pub gap_ms_high: f64,
    /// Requests sent after a gap in the bin.
    pub requests: u64,
    /// Of those, answered 502.
    pub bad_gateways: u64,
    /// `bad_gateways / requests`.
    pub p: f64,
    /// Lower end of the 95 % Wilson interval of `p`.
    pub p_low: f64,
    /// Upper end of the 95 % Wilson interval of `p`.
    pub p_high: f64,
}

impl RaceWindowBin {
    /// The bin `[low, high)` ms with `requests` of which `bad_gateways` got a 502: P(502) and its interval.
    pub fn counted(low: f64, high: f64, requests: u64, bad_gateways: u64) -> Self {
        let (p_low, p_high) = wilson_interval(bad_gateways, requests);
        RaceWindowBin {
            gap_ms_low: low,
            gap_ms_high: high,
            requests,
            bad_gateways,
            p: bad_gateways as f64 / requests.max(1) as f64,
            p_low,
            p_high,
        }
    }

    /// The middle of the bin, ms: where a chart puts its point.
    pub fn gap_ms_mid(&self) -> f64 {
        (self.gap_ms_low + self.gap_ms_high) / 2.0
    }
}

/// HdrHistogram's usual percentile iteration (one step per halving of the distance to 100 %: 0, 50, 75,
/// 87.5, ...), ending at 100 % with the largest value. Empty for an empty histogram.
pub fn latency_percentiles(latency_us: &Histogram<u64>) -> Vec<PercentilePoint> {
    if latency_us.is_empty() {
        return Vec::new();
    }
    let mut points: Vec<PercentilePoint> = latency_us
        .iter_quantiles(1)
        .map(|step| PercentilePoint {
            percentile: step.quantile_iterated_to() * 100.0,
            ms: latency_us.highest_equivalent(step.value_iterated_to()) as f64 / 1000.0,
        })
        .collect();
    // The iteration ends at the largest value; say so with exactly 100 and the recorded maximum.
    match points.last_mut() {
        Some(last) if last.percentile >= 100.0 => {
            last.percentile = 100.0;
            last.ms = latency_us.max() as f64 / 1000.0;
        }
        _ => points.push(PercentilePoint {
            percentile: 100.0,
            ms: latency_us.max() as f64 / 1000.0,
        }),
    }
    points
}

/// The race window of `bins`; `None` when no request waited a measured gap (no idle gaps, or none reused).
pub fn race_window(gaps: &GapBins, back: Option<BackTiming>) -> Option<RaceWindow> {
    let bins: Vec<RaceWindowBin> = gaps
        .bins()
        .iter()
        .map(|bin| {
            RaceWindowBin::counted(
                bin.low_us as f64 / 1000.0,
                bin.high_us as f64 / 1000.0,
                bin.count.requests,
                bin.count.bad_gateways,
            )
        })
        .collect();
    let outside = gaps.outside();
    (gaps.requests() > 0).then(|| RaceWindow {
        keepalive_timeout_ms: back.map(|b| b.keepalive_timeout.as_secs_f64() * 1000.0),
        link_round_trip_ms: back.map(|b| b.link_round_trip.as_secs_f64() * 1000.0),
        bins,
        outside_requests: outside.requests,
        outside_bad_gateways: outside.bad_gateways,
    })
}

/// Several runs' race windows as one (`badgateway merge`): the counts of bins with the same edges added and
/// their P(502) and intervals computed again, bins kept in gap order. `None` unless every run has a window
/// (agents of one scenario all do); the timeout and round trip are the first window's.
pub fn merge_race_windows(windows: &[Option<&RaceWindow>]) -> Option<RaceWindow> {
    let windows: Vec<&RaceWindow> = windows.iter().copied().collect::<Option<_>>()?;
    let first = windows.first()?;
    // Keyed by the edges in µs: the edges are whole microseconds (`GapBins`), so equal bins compare equal.
    let mut counts: std::collections::BTreeMap<(i64, i64), (f64, f64, u64, u64)> =
        std::collections::BTreeMap::new();
    for bin in windows.iter().flat_map(|w| &w.bins) {
        let key = (
            (bin.gap_ms_low * 1000.0).round() as i64,
            (bin.gap_ms_high * 1000.0).round() as i64,
        );
        let entry = counts
            .entry(key)
            .or_insert((bin.gap_ms_low, bin.gap_ms_high, 0, 0));
        entry.2 += bin.requests;
        entry.3 += bin.bad_gateways;
    }
    Some(RaceWindow {
        keepalive_timeout_ms: first.keepalive_timeout_ms,
        link_round_trip_ms: first.link_round_trip_ms,
        bins: counts
            .into_values()
            .map(|(low, high, requests, bad)| RaceWindowBin::counted(low, high, requests, bad))
            .collect(),
        outside_requests: windows.iter().map(|w| w.outside_requests).sum(),
        outside_bad_gateways: windows.iter().map(|w| w.outside_bad_gateways).sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_halve_the_distance_to_100_and_end_at_the_max() {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for micros in 1..=10_000u64 {
            histogram.record(micros).unwrap();
        }
        let points = latency_percentiles(&histogram);
        let percentiles: Vec<f64> = points.iter().map(|p| p.percentile).collect();
        assert_eq!(&percentiles[..4], &[0.0, 50.0, 75.0, 87.5]);
        assert_eq!(points.last().map(|p| p.percentile), Some(100.0));
        assert_eq!(
            points.last().map(|p| p.ms),
            Some(histogram.max() as f64 / 1000.0)
        );
        assert!(points.windows(2).all(|w| w[0].percentile < w[1].percentile));
        assert!(points.windows(2).all(|w| w[0].ms <= w[1].ms));
        // 10,000 values: about log2(10,000) halvings, not one point per value.
        assert!((12..=20).contains(&points.len()), "{}", points.len());
        let median = points[1].ms;
        assert!((4.9..=5.1).contains(&median), "{median}");
        assert!(latency_percentiles(&Histogram::<u64>::new(3).unwrap()).is_empty());
    }

    #[test]
    fn the_race_window_has_an_interval_per_bin_and_nothing_without_gaps() {
        let mut bins = GapBins::for_idle_gap(Duration::from_millis(50), Duration::from_millis(12));
        assert_eq!(race_window(&bins, None), None);
        for i in 0..10 {
            bins.add(Duration::from_micros(45_200), i < 4);
        }
        bins.add(Duration::from_millis(90), true);
        let window = race_window(
            &bins,
            Some(BackTiming {
                keepalive_timeout: Duration::from_millis(50),
                link_round_trip: Duration::from_millis(8),
            }),
        )
        .unwrap();
        assert_eq!(window.link_round_trip_ms, Some(8.0));
        let twice = merge_race_windows(&[Some(&window), Some(&window)]).unwrap();
        assert_eq!(twice.bins.len(), window.bins.len());
        for (one, both) in window.bins.iter().zip(&twice.bins) {
            assert_eq!(both.requests, 2 * one.requests);
            assert_eq!(both.bad_gateways, 2 * one.bad_gateways);
            assert!(both.p_high - both.p_low <= one.p_high - one.p_low);
        }
        assert_eq!(merge_race_windows(&[Some(&window), None]), None);
        assert_eq!(window.keepalive_timeout_ms, Some(50.0));
        assert_eq!(
            (window.outside_requests, window.outside_bad_gateways),
            (1, 1)
        );
        let [bin] = window.bins.as_slice() else {
            panic!("{window:?}")
        };
        assert_eq!((bin.gap_ms_low, bin.gap_ms_high), (45.0, 46.0));
        assert_eq!((bin.requests, bin.bad_gateways), (10, 4));
        assert!((bin.p - 0.4).abs() < 1e-9);
        assert!(bin.p_low < 0.4 && 0.4 < bin.p_high, "{bin:?}");
    }

    #[test]
    fn every_interval_holds_its_estimate_even_at_0_and_1() {
        for trials in 1..=200 {
            for successes in [0, 1, trials / 2, trials - 1, trials] {
                let (low, high) = wilson_interval(successes, trials);
                let p = successes as f64 / trials as f64;
                assert!(
                    (0.0..=p).contains(&low) && (p..=1.0).contains(&high),
                    "{successes}/{trials}: {low}..{high}"
                );
            }
        }
    }
}
