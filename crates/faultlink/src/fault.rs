//! The link's faults: which fate each accepted connection gets (relay, relay then reset on first data, or
//! blackhole), and the two fault behaviours themselves (make a socket close with an RST; swallow a connection).
//!
//! Relaying belongs to `relay`; wiring a connection together belongs to `connection`.

use std::sync::{Mutex, PoisonError};

use listener::ShutdownSignal;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::{LinkConfig, LinkError};

/// What the link does with one accepted connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Connect upstream and relay; if `reset_on_first_data`, reset both sides instead of relaying the client's
    /// first bytes.
    Relay { reset_on_first_data: bool },
    /// Never connect upstream; read and discard what the client sends.
    Blackhole,
}

/// The validated fault knobs and the seeded draw, shared by every connection of one link.
#[derive(Debug)]
pub(crate) struct FaultPlan {
    reset_probability: f64,
    blackhole: bool,
    /// One draw per relayed connection, in accept order, so a seed repeats a run.
    draws: Mutex<StdRng>,
}

impl FaultPlan {
    /// Checks the knobs' ranges and seeds the draw.
    pub(crate) fn new(config: &LinkConfig) -> Result<Self, LinkError> {
        // `contains` is false for NaN too.
        if !(0.0..=1.0).contains(&config.reset_probability) {
            return Err(LinkError::ResetProbability(config.reset_probability));
        }
        Ok(Self {
            reset_probability: config.reset_probability,
            blackhole: config.blackhole,
            draws: Mutex::new(StdRng::seed_from_u64(config.seed)),
        })
    }

    /// The fate of the next accepted connection.
    pub(crate) fn fate(&self) -> Fate {
        if self.blackhole {
            return Fate::Blackhole;
        }
        // A panic while holding the lock cannot leave an RNG half-updated in a way that matters here.
        let mut draws = self.draws.lock().unwrap_or_else(PoisonError::into_inner);
        Fate::Relay {
            reset_on_first_data: draws.random_bool(self.reset_probability),
        }
    }
}

/// Arms `stream` so that closing it sends an RST instead of a FIN (SO_LINGER with a zero timeout). The RST goes
/// out when the caller drops the stream.
pub(crate) fn arm_reset(stream: &TcpStream) {
    if let Err(error) = stream.set_zero_linger() {
        tracing::debug!(%error, "cannot set SO_LINGER 0; the socket will close with a FIN");
    }
}

/// Reads and discards everything the client sends until it closes, breaks, or the link shuts down.
pub(crate) async fn swallow(mut client: TcpStream, mut shutdown: ShutdownSignal) {
    let mut sink = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = client.read(&mut sink) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            () = shutdown.triggered() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(reset_probability: f64, seed: u64) -> FaultPlan {
        FaultPlan::new(&LinkConfig {
            reset_probability,
            seed,
            ..LinkConfig::default()
        })
        .unwrap()
    }

    fn resets(plan: &FaultPlan, draws: usize) -> Vec<bool> {
        (0..draws)
            .map(|_| {
                matches!(
                    plan.fate(),
                    Fate::Relay {
                        reset_on_first_data: true
                    }
                )
            })
            .collect()
    }

    #[test]
    fn probability_bounds_are_honoured() {
        assert!(resets(&plan(0.0, 7), 1000).iter().all(|reset| !reset));
        assert!(resets(&plan(1.0, 7), 1000).iter().all(|reset| *reset));
    }

    #[test]
    fn the_same_seed_draws_the_same_fates() {
        let first = resets(&plan(0.5, 42), 200);
        assert_eq!(first, resets(&plan(0.5, 42), 200));
        let hits = first.iter().filter(|reset| **reset).count();
        assert!(
            (50..150).contains(&hits),
            "{hits} resets in 200 draws at p = 0.5"
        );
    }

    #[test]
    fn out_of_range_probabilities_are_rejected() {
        for bad in [-0.1, 1.5, f64::NAN] {
            let config = LinkConfig {
                reset_probability: bad,
                ..LinkConfig::default()
            };
            assert!(matches!(
                FaultPlan::new(&config),
                Err(LinkError::ResetProbability(_))
            ));
        }
    }

    #[test]
    fn blackhole_wins_over_relay() {
        let config = LinkConfig {
            blackhole: true,
            reset_probability: 1.0,
            ..LinkConfig::default()
        };
        assert_eq!(FaultPlan::new(&config).unwrap().fate(), Fate::Blackhole);
    }
}
