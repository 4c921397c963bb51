//! The race window's counts: requests and 502s per bin of the idle gap each idle-gap request actually waited
//! on its client connection (`Record::idle_gap`). Fixed-width bins over the gaps the load draws, and one count
//! of the gaps outside them (a client that woke up very late), so memory is bounded whatever the run's length.
//! It counts; the result contract (`crate::distribution`) turns the counts into probabilities with their
//! intervals.

use std::time::Duration;

/// Most bins over the drawn gaps.
pub const MAX_GAP_BINS: usize = 32;

/// The narrowest bin: 0.1 ms, about the precision of the load's send times.
const MIN_WIDTH_US: u64 = 100;

/// How far past the drawn range a measured gap may fall and still land in a fixed bin: a client sends a
/// little after its intended time, never before.
const MARGIN_US: u64 = 1_000;

/// Requests and 502s of one bin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GapCount {
    /// Requests whose gap fell in the bin.
    pub requests: u64,
    /// Of those, 502 responses.
    pub bad_gateways: u64,
}

/// One non-empty bin, with its bounds in microseconds (`high_us` exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GapBin {
    /// Smallest gap of the bin, µs.
    pub low_us: u64,
    /// End of the bin, µs.
    pub high_us: u64,
    /// Its counts.
    pub count: GapCount,
}

/// The bins of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapBins {
    /// Lower bound of the first fixed bin, µs.
    low_us: u64,
    /// Width of every fixed bin, µs.
    width_us: u64,
    fixed: Vec<GapCount>,
    /// Gaps below `low_us` or past the last bin.
    outside: GapCount,
}

impl GapBins {
    /// Bins for gaps drawn in `centre ± spread`: the range widened by a millisecond each side, cut into at
    /// most [`MAX_GAP_BINS`] bins of a round width (0.1, 0.2, 0.5, 1, 2, 5 ms, ...).
    pub fn for_idle_gap(centre: Duration, spread: Duration) -> Self {
        let centre = micros(centre);
        let spread = micros(spread);
        let low = centre.saturating_sub(spread).saturating_sub(MARGIN_US);
        let high = centre.saturating_add(spread).saturating_add(MARGIN_US);
        let width = round_width((high - low).div_ceil(MAX_GAP_BINS as u64));
        // Bins start on a multiple of their width, so their bounds read as round numbers.
        let low = low / width * width;
        let count = (high - low)
            .div_ceil(width)
            .clamp(1, MAX_GAP_BINS as u64 + 1) as usize;
        Self {
            low_us: low,
            width_us: width,
            fixed: vec![GapCount::default(); count],
            outside: GapCount::default(),
        }
    }

    /// Counts one request that waited `gap` on its connection; `bad_gateway` when it was answered 502.
    pub fn add(&mut self, gap: Duration, bad_gateway: bool) {
        let gap = micros(gap);
        let count = gap
            .checked_sub(self.low_us)
            .and_then(|above_low| self.fixed.get_mut((above_low / self.width_us) as usize))
            .unwrap_or(&mut self.outside);
        count.requests += 1;
        count.bad_gateways += u64::from(bad_gateway);
    }

    /// Requests counted, in the bins or outside.
    pub fn requests(&self) -> u64 {
        self.outside.requests + self.fixed.iter().map(|c| c.requests).sum::<u64>()
    }

    /// Requests whose gap fell outside every bin, and their 502s.
    pub fn outside(&self) -> GapCount {
        self.outside
    }

    /// The non-empty bins, by gap.
    pub fn bins(&self) -> Vec<GapBin> {
        self.fixed
            .iter()
            .enumerate()
            .filter(|(_, count)| count.requests > 0)
            .map(|(index, count)| {
                let low_us = self
                    .low_us
                    .saturating_add(self.width_us.saturating_mul(index as u64));
                GapBin {
                    low_us,
                    high_us: low_us.saturating_add(self.width_us),
                    count: *count,
                }
            })
            .collect()
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The smallest round width (1, 2 or 5 times a power of ten, at least 0.1 ms) not below `at_least` µs.
fn round_width(at_least: u64) -> u64 {
    let mut decade = MIN_WIDTH_US;
    loop {
        for factor in [1, 2, 5] {
            let width = decade.saturating_mul(factor);
            if width >= at_least || width == u64::MAX {
                return width;
            }
        }
        decade = decade.saturating_mul(10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_default_race_gets_one_millisecond_bins_over_its_drawn_gaps() {
        // 50 ms ± 12 ms, a millisecond of margin each side: 37..63 ms in 1 ms bins.
        let mut bins = GapBins::for_idle_gap(50 * MS, 12 * MS);
        assert_eq!((bins.low_us, bins.width_us), (37_000, 1_000));
        assert_eq!(bins.fixed.len(), 26);
        bins.add(Duration::from_micros(45_500), true);
        bins.add(Duration::from_micros(45_900), false);
        bins.add(Duration::from_micros(20_000), false);
        bins.add(Duration::from_millis(90), true);
        let all = bins.bins();
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].low_us, all[0].high_us), (45_000, 46_000));
        assert_eq!(all[0].count.requests, 2);
        assert_eq!(all[0].count.bad_gateways, 1);
        assert_eq!(
            bins.outside(),
            GapCount {
                requests: 2,
                bad_gateways: 1
            }
        );
        assert_eq!(bins.requests(), 4);
    }

    #[test]
    fn memory_is_bounded_and_widths_stay_round() {
        for (centre, spread) in [
            (Duration::ZERO, Duration::ZERO),
            (50 * MS, Duration::ZERO),
            (5_000 * MS, 1_000 * MS),
            (Duration::from_secs(86_400), Duration::from_secs(86_400)),
            (Duration::MAX, Duration::MAX),
        ] {
            let bins = GapBins::for_idle_gap(centre, spread);
            assert!(
                bins.fixed.len() <= MAX_GAP_BINS + 1,
                "{centre:?} ± {spread:?}"
            );
            let width = bins.width_us;
            let mantissa = (0..20)
                .map(|e| 10u64.saturating_pow(e))
                .filter(|d| width.is_multiple_of(*d))
                .max()
                .map(|d| width / d);
            assert!(matches!(mantissa, Some(1 | 2 | 5)), "width {width}");
        }
        // No spread: 0.1 ms bins a millisecond either side of the gap.
        let bins = GapBins::for_idle_gap(50 * MS, Duration::ZERO);
        assert_eq!(
            (bins.low_us, bins.width_us, bins.fixed.len()),
            (49_000, 100, 20)
        );
    }
}
