//! The origin's application errors: a seeded draw, one per normal request, deciding whether the answer carries
//! `error_status` instead of `status`, and the count of errors injected.
//!
//! This module owns the draw and its counter only; the answer itself belongs to `service`, the knobs to
//! `config`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use http::StatusCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{OriginConfig, OriginError};

/// The validated error knobs and the seeded draw, shared by every connection of one origin.
#[derive(Debug)]
pub(crate) struct ErrorDraw {
    probability: f64,
    status: StatusCode,
    /// One draw per request, in the order the requests are answered.
    draws: Mutex<StdRng>,
    injected: AtomicU64,
}

impl ErrorDraw {
    /// Checks `error_probability` and `error_status` and seeds the draw.
    pub(crate) fn new(config: &OriginConfig) -> Result<Self, OriginError> {
        // `contains` is false for NaN too.
        if !(0.0..=1.0).contains(&config.error_probability) {
            return Err(OriginError::ErrorProbability(config.error_probability));
        }
        let status = StatusCode::from_u16(config.error_status)
            .map_err(|_| OriginError::ErrorStatus(config.error_status))?;
        Ok(Self {
            probability: config.error_probability,
            status,
            draws: Mutex::new(StdRng::seed_from_u64(config.seed)),
            injected: AtomicU64::new(0),
        })
    }

    /// The error status this request gets, if the draw fails it.
    pub(crate) fn draw(&self) -> Option<StatusCode> {
        if self.probability <= 0.0 {
            return None;
        }
        // A panic while holding the lock cannot leave the RNG in a state that matters here.
        let failed = self
            .draws
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .random_bool(self.probability);
        if failed {
            self.injected.fetch_add(1, Ordering::Relaxed);
            Some(self.status)
        } else {
            None
        }
    }

    /// Requests answered with the error status so far.
    pub(crate) fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(probability: f64, seed: u64) -> ErrorDraw {
        ErrorDraw::new(&OriginConfig {
            error_probability: probability,
            error_status: 503,
            seed,
            ..OriginConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn a_seed_repeats_the_same_draws() {
        let (a, b) = (draw(0.3, 7), draw(0.3, 7));
        let first: Vec<_> = (0..200).map(|_| a.draw()).collect();
        let second: Vec<_> = (0..200).map(|_| b.draw()).collect();
        assert_eq!(first, second);
        assert_eq!(a.injected(), b.injected());
    }

    #[test]
    fn the_rate_follows_the_probability_and_is_counted() {
        let errors = draw(0.25, 1);
        let failed = (0..4000).filter(|_| errors.draw().is_some()).count() as u64;
        assert_eq!(failed, errors.injected());
        // 4000 draws at 0.25: mean 1000, standard deviation about 27.
        assert!((850..=1150).contains(&failed), "{failed}");
        assert_eq!(draw(0.0, 1).draw(), None);
        assert_eq!(draw(1.0, 1).draw(), Some(StatusCode::SERVICE_UNAVAILABLE));
    }

    #[test]
    fn out_of_range_knobs_are_named() {
        for probability in [-0.1, 1.5, f64::NAN] {
            let error = ErrorDraw::new(&OriginConfig {
                error_probability: probability,
                ..OriginConfig::default()
            })
            .unwrap_err();
            assert!(matches!(error, OriginError::ErrorProbability(_)), "{error}");
        }
        let error = ErrorDraw::new(&OriginConfig {
            error_status: 42,
            ..OriginConfig::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("42"), "{error}");
    }
}
