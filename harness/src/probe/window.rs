//! Which upstream idle ages the probe sends at: the close window `[close − 2 × RTT − margin, close + margin]`,
//! cut at the front's idle timeout (past it the front closes first, so a request there cannot meet the back's
//! close on a reused connection) but never narrower than one window's width, split into equal bins.
//!
//! Pure arithmetic on measured inputs: no sockets, no clock.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How close below the front's idle timeout the probe still sends: the front's own timer is not exact either.
pub const FRONT_IDLE_GUARD: Duration = Duration::from_micros(500);

/// The narrowest bin.
const MIN_BIN: Duration = Duration::from_micros(250);

/// What the window is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowInputs {
    /// The back's measured idle close (the median of its samples).
    pub close: Duration,
    /// The front→back round trip.
    pub round_trip: Duration,
    /// Slack on both ends.
    pub margin: Duration,
    /// The front's upstream idle timeout, when it has one.
    pub front_idle: Option<Duration>,
}

/// One range of idle ages, `from..to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgeBin {
    /// Lower edge (inclusive), µs.
    pub from_us: u64,
    /// Upper edge (exclusive), µs.
    pub to_us: u64,
}

impl AgeBin {
    /// The bin's lower edge.
    pub fn from(self) -> Duration {
        Duration::from_micros(self.from_us)
    }

    /// The bin's width.
    pub fn width(self) -> Duration {
        Duration::from_micros(self.to_us.saturating_sub(self.from_us))
    }
}

/// The planned ages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Where the race window opens, µs: `close − 2 × RTT − margin`.
    pub opens_us: u64,
    /// Where it ends, µs: `close + margin`.
    pub ends_us: u64,
    /// The window lies wholly past the front's idle timeout: the bins then sit just below that timeout, to
    /// confirm the front really closes first.
    pub beyond_front_idle: bool,
    /// The bins, lowest first.
    pub bins: Vec<AgeBin>,
}

/// Plans `bins` bins (fewer when the window is too narrow for them).
pub fn plan(inputs: WindowInputs, bins: usize) -> Window {
    let opens = inputs
        .close
        .saturating_sub(inputs.round_trip * 2 + inputs.margin);
    let ends = inputs.close + inputs.margin;
    let cap = inputs
        .front_idle
        .map(|idle| idle.saturating_sub(FRONT_IDLE_GUARD));
    // The least span of ages probed: one window's width, so a front whose timeout cuts the window near its
    // opening is still probed over a real range, not a sliver.
    let width = (inputs.margin + inputs.round_trip * 2).max(MIN_BIN);
    let (low, high, beyond_front_idle) = match cap {
        // Nothing of the window is reachable: probe the top of what the front does reuse.
        Some(cap) if cap <= opens => (cap.saturating_sub(width), cap, true),
        Some(cap) => (opens.min(cap.saturating_sub(width)), ends.min(cap), false),
        None => (opens, ends, false),
    };
    let span = high.saturating_sub(low);
    let count = bins
        .max(1)
        .min((span.as_micros() / MIN_BIN.as_micros()).max(1) as usize);
    let low_us = low.as_micros() as u64;
    let span_us = span.as_micros() as u64;
    let bins = (0..count as u64)
        .map(|i| AgeBin {
            from_us: low_us + span_us * i / count as u64,
            to_us: low_us + span_us * (i + 1) / count as u64,
        })
        .collect();
    Window {
        opens_us: opens.as_micros() as u64,
        ends_us: ends.as_micros() as u64,
        beyond_front_idle,
        bins,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_window_spans_two_round_trips_before_the_close_to_a_margin_after() {
        let window = plan(
            WindowInputs {
                close: ms(50),
                round_trip: ms(4),
                margin: ms(2),
                front_idle: Some(ms(600)),
            },
            8,
        );
        assert!(!window.beyond_front_idle);
        assert_eq!(window.opens_us, 40_000);
        assert_eq!(window.ends_us, 52_000);
        assert_eq!(window.bins.len(), 8);
        assert_eq!(window.bins[0].from_us, 40_000);
        assert_eq!(window.bins[7].to_us, 52_000);
        assert!(window.bins.windows(2).all(|w| w[0].to_us == w[1].from_us));
    }

    #[test]
    fn the_front_idle_timeout_cuts_the_window() {
        let window = plan(
            WindowInputs {
                close: ms(50),
                round_trip: ms(4),
                margin: ms(2),
                front_idle: Some(ms(45)),
            },
            5,
        );
        assert!(!window.beyond_front_idle);
        assert_eq!(window.bins.last().map(|b| b.to_us), Some(44_500));
        // At least one window's width (margin + 2 × round trip) is probed below the cut.
        assert_eq!(window.bins[0].from_us, 34_500);
    }

    #[test]
    fn a_front_that_closes_first_is_probed_just_below_its_timeout() {
        let window = plan(
            WindowInputs {
                close: ms(50),
                round_trip: ms(4),
                margin: ms(2),
                front_idle: Some(ms(40)),
            },
            4,
        );
        assert!(window.beyond_front_idle);
        assert_eq!(window.bins.last().map(|b| b.to_us), Some(39_500));
        assert_eq!(window.bins[0].from_us, 39_500 - 10_000);
    }

    #[test]
    fn a_cut_just_past_the_opening_still_probes_a_window_s_width() {
        let window = plan(
            WindowInputs {
                close: Duration::from_micros(50_300),
                round_trip: Duration::from_micros(4_300),
                margin: Duration::from_micros(2_300),
                front_idle: Some(ms(40)),
            },
            8,
        );
        assert!(!window.beyond_front_idle);
        assert_eq!(window.bins.len(), 8);
        assert_eq!(window.bins[0].from_us, 39_500 - 10_900);
    }

    #[test]
    fn a_narrow_window_gets_fewer_bins() {
        let window = plan(
            WindowInputs {
                close: ms(1),
                round_trip: Duration::ZERO,
                margin: Duration::from_micros(250),
                front_idle: None,
            },
            16,
        );
        assert_eq!(window.bins.len(), 2);
    }
}
