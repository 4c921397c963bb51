//! The statistics behind `check --baseline`: whether a result's 502 rate is really above its baseline's, and
//! whether two p99 latencies are comparable at all. A bare ratio of two small counts flaps (2 of 4 identical
//! runs failed a 10 % p99 tolerance); these rules answer only what the counts can support.
//!
//! Pure arithmetic; which figures to compare and how to word a violation is `check`'s.

/// The significance level of the 502 rate test: a regression is called when an identical chain would give a
/// count this high less than once in a thousand runs.
pub const RATE_ALPHA: f64 = 0.001;

/// The fewest requests on each side before p99 latencies are compared: below it the 99th percentile rests on
/// fewer than ten samples.
pub const MIN_SAMPLES_FOR_P99: u64 = 1000;

/// The exact one-sided test of "the candidate's rate is above the baseline's" for two Poisson/binomial counts:
/// under equal rates, the candidate's share of all `k1 + k2` events is Binomial(k1 + k2, n2 / (n1 + n2)).
/// Returns P(X ≥ k2) under that null: small means a real rise.
pub fn rate_rise_p_value(base_events: u64, base_trials: u64, events: u64, trials: u64) -> f64 {
    if trials == 0 || base_trials == 0 {
        return 1.0;
    }
    let total = base_events + events;
    if total == 0 {
        return 1.0;
    }
    let share = trials as f64 / (trials + base_trials) as f64;
    binomial_upper_tail(total, share, events)
}

/// P(X ≥ k) for X ~ Binomial(n, p), summed in log space (exact for the counts a run produces).
fn binomial_upper_tail(n: u64, p: f64, k: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    if p <= 0.0 {
        return 0.0;
    }
    let (ln_p, ln_q) = (p.ln(), (1.0 - p).ln());
    let mut ln_choose = ln_choose(n, k);
    let mut sum = 0.0;
    for i in k..=n {
        sum += (ln_choose + i as f64 * ln_p + (n - i) as f64 * ln_q).exp();
        // C(n, i+1) = C(n, i) × (n − i) / (i + 1)
        ln_choose += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
    }
    sum.min(1.0)
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

fn ln_factorial(n: u64) -> f64 {
    (2..=n).map(|i| (i as f64).ln()).sum()
}

/// How a latency comparison was judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatencyJudgement {
    /// Too few samples on one side: not compared.
    TooFewSamples {
        /// The smaller side's count.
        samples: u64,
    },
    /// Within `base × (1 + relative) + absolute`.
    Within {
        /// The allowed ceiling, ms.
        ceiling_ms: f64,
    },
    /// Above that ceiling.
    Above {
        /// The allowed ceiling, ms.
        ceiling_ms: f64,
    },
}

/// Judges a p99 against its baseline's with a relative and an absolute tolerance, when both sides have
/// [`MIN_SAMPLES_FOR_P99`] samples.
pub fn judge_p99(
    base_p99_ms: f64,
    base_samples: u64,
    p99_ms: f64,
    samples: u64,
    relative: f64,
    absolute_ms: f64,
) -> LatencyJudgement {
    let fewest = base_samples.min(samples);
    if fewest < MIN_SAMPLES_FOR_P99 {
        return LatencyJudgement::TooFewSamples { samples: fewest };
    }
    let ceiling_ms = base_p99_ms * (1.0 + relative) + absolute_ms;
    if p99_ms > ceiling_ms {
        LatencyJudgement::Above { ceiling_ms }
    } else {
        LatencyJudgement::Within { ceiling_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_rates_are_not_a_rise_and_a_tenfold_rise_is() {
        assert!(rate_rise_p_value(10, 10_000, 12, 10_000) > 0.3);
        assert!(rate_rise_p_value(10, 10_000, 100, 10_000) < 1e-6);
        assert!(rate_rise_p_value(0, 200, 0, 200) == 1.0);
    }

    #[test]
    fn a_few_502s_over_a_clean_baseline_need_enough_requests_to_count() {
        // 2 in 200 after 0 in 200: an identical chain does that often enough (p = 0.25).
        assert!(rate_rise_p_value(0, 200, 2, 200) > RATE_ALPHA);
        // 12 in 200 after 0 in 200 does not happen by chance.
        assert!(rate_rise_p_value(0, 200, 12, 200) < RATE_ALPHA);
    }

    #[test]
    fn the_tail_matches_a_hand_computed_binomial() {
        // X ~ Bin(4, 0.5): P(X ≥ 3) = 5/16.
        assert!((binomial_upper_tail(4, 0.5, 3) - 0.3125).abs() < 1e-12);
        assert_eq!(binomial_upper_tail(4, 0.5, 0), 1.0);
        assert_eq!(binomial_upper_tail(4, 0.5, 5), 0.0);
    }

    #[test]
    fn p99_is_compared_only_with_enough_samples_and_with_both_tolerances() {
        assert_eq!(
            judge_p99(2.0, 200, 9.0, 200, 0.1, 1.0),
            LatencyJudgement::TooFewSamples { samples: 200 }
        );
        assert!(matches!(
            judge_p99(2.0, 5000, 3.1, 5000, 0.1, 1.0),
            LatencyJudgement::Within { .. }
        ));
        assert!(matches!(
            judge_p99(2.0, 5000, 3.3, 5000, 0.1, 1.0),
            LatencyJudgement::Above { .. }
        ));
    }
}
