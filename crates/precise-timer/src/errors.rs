//! A summary of how far measured durations fell from the one asked for: what the precision tests of every
//! tier assert on (by counts, "95 % of 200 within 0.3 ms") and what they print. It measures nothing itself.

use std::time::Duration;

/// Signed errors (measured − asked for) of a set of timed events.
#[derive(Debug, Clone, Default)]
pub struct TimingErrors {
    /// In microseconds, sorted.
    micros: Vec<f64>,
}

impl TimingErrors {
    /// The errors of `measured` against `asked`.
    pub fn new(asked: Duration, measured: impl IntoIterator<Item = Duration>) -> Self {
        let asked = asked.as_secs_f64() * 1e6;
        let mut micros: Vec<f64> = measured
            .into_iter()
            .map(|duration| duration.as_secs_f64() * 1e6 - asked)
            .collect();
        micros.sort_by(f64::total_cmp);
        Self { micros }
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.micros.len()
    }

    /// True with no events.
    pub fn is_empty(&self) -> bool {
        self.micros.is_empty()
    }

    /// How many ended within `bound` of the duration asked for, either side.
    pub fn within(&self, bound: Duration) -> usize {
        let bound = bound.as_secs_f64() * 1e6;
        self.micros
            .iter()
            .filter(|error| error.abs() <= bound)
            .count()
    }

    /// How many ended before the duration asked for.
    pub fn early(&self) -> usize {
        self.micros.iter().filter(|error| **error < 0.0).count()
    }

    /// The `q` quantile (0..=1) of the signed error, in microseconds; 0 with no events.
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.micros.is_empty() {
            return 0.0;
        }
        let rank = (q.clamp(0.0, 1.0) * (self.micros.len() - 1) as f64).round() as usize;
        self.micros[rank]
    }
}

impl std::fmt::Display for TimingErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events, error median {:.0} µs, p95 {:.0} µs, max {:.0} µs, min {:.0} µs",
            self.len(),
            self.quantile_us(0.5),
            self.quantile_us(0.95),
            self.quantile_us(1.0),
            self.quantile_us(0.0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_errors_on_both_sides_and_orders_quantiles() {
        let asked = Duration::from_millis(4);
        let errors = TimingErrors::new(
            asked,
            [3900, 4000, 4100, 4250, 4400].map(Duration::from_micros),
        );
        assert_eq!(errors.len(), 5);
        assert_eq!(errors.within(Duration::from_micros(100)), 3);
        assert_eq!(errors.within(Duration::from_micros(250)), 4);
        assert_eq!(errors.early(), 1);
        assert_eq!(errors.quantile_us(0.5).round(), 100.0);
        assert_eq!(errors.quantile_us(1.0).round(), 400.0);
        assert_eq!(errors.quantile_us(0.0).round(), -100.0);
        assert_eq!(TimingErrors::default().quantile_us(0.5), 0.0);
    }
}
