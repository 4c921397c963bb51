//! The progress bar of long runs (indicatif): it appears once a run has lasted a second, and never with
//! `--quiet` or when stdout is not a terminal. A count-bound run shows `done/total` and an ETA; a
//! duration-bound run shows the time elapsed of the time asked for (its request count is not known in
//! advance). A ticker thread redraws it, so a run whose requests are seconds apart still moves. It is told
//! counts; it knows nothing of the collector.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Runs shorter than this never show a bar.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// How often the ticker redraws the bar.
const REDRAW: Duration = Duration::from_millis(200);

/// What bounds a run, as the bar shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// A request count (the duration, when there is one too, only cuts it short).
    Count(u64),
    /// A wall-clock duration.
    Duration(Duration),
    /// Neither (stopped by Ctrl-C): a spinner with the count.
    Open,
}

impl Bound {
    /// The bound of a plan with an optional request budget and an optional duration.
    pub fn of(requests: Option<u64>, duration: Option<Duration>) -> Self {
        match (requests, duration) {
            (Some(count), _) => Self::Count(count),
            (None, Some(duration)) => Self::Duration(duration),
            (None, None) => Self::Open,
        }
    }
}

/// The counts the collector reports, shared with the ticker.
#[derive(Debug, Default)]
struct Counts {
    records: AtomicU64,
    bad_gateways: AtomicU64,
}

/// A progress bar, or nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
    counts: Arc<Counts>,
}

impl Progress {
    /// A bar for a run bounded by `bound`, unless `quiet` or stdout is not a terminal.
    pub fn new(label: &str, bound: Bound, quiet: bool) -> Self {
        if quiet || !std::io::stdout().is_terminal() {
            return Self::hidden();
        }
        let bar = Self::bar(label, bound);
        let counts = Arc::new(Counts::default());
        let ticker = Ticker {
            bar: bar.clone(),
            counts: Arc::clone(&counts),
            bound,
            started: Instant::now(),
        };
        // Without a ticker the bar is drawn only when a record comes; it still counts, so a failed spawn
        // costs redraws, not results.
        let _ = std::thread::Builder::new()
            .name("progress".to_owned())
            .spawn(move || ticker.run());
        Self {
            bar: Some(bar),
            counts,
        }
    }

    fn bar(label: &str, bound: Bound) -> ProgressBar {
        let (length, template) = match bound {
            Bound::Count(total) => (
                Some(total),
                "{prefix:>24} [{elapsed_precise}] {wide_bar} {pos}/{len} ETA {eta} {msg}",
            ),
            Bound::Duration(duration) => (
                Some(
                    u64::try_from(duration.as_millis())
                        .unwrap_or(u64::MAX)
                        .max(1),
                ),
                "{prefix:>24} {wide_bar} {msg}",
            ),
            Bound::Open => (None, "{prefix:>24} [{elapsed_precise}] {spinner} {msg}"),
        };
        let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_prefix(label.to_owned());
        bar
    }

    /// No bar at all.
    pub fn hidden() -> Self {
        Self {
            bar: None,
            counts: Arc::new(Counts::default()),
        }
    }

    /// One more record: `records` so far, `bad_gateways` of them 502s.
    pub fn tick(&mut self, records: u64, bad_gateways: u64) {
        self.counts.records.store(records, Ordering::Relaxed);
        self.counts
            .bad_gateways
            .store(bad_gateways, Ordering::Relaxed);
    }

    /// Removes the bar (the ticker sees it finished and ends).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The thread that shows the bar after [`SHOW_AFTER`] and redraws it every [`REDRAW`].
struct Ticker {
    bar: ProgressBar,
    counts: Arc<Counts>,
    bound: Bound,
    started: Instant,
}

impl Ticker {
    fn run(self) {
        let mut shown = false;
        // The pause paces the redraws; nothing waits on it.
        loop {
            std::thread::sleep(REDRAW);
            if self.bar.is_finished() {
                return;
            }
            if !shown && self.started.elapsed() >= SHOW_AFTER {
                self.bar.set_draw_target(ProgressDrawTarget::stderr());
                shown = true;
            }
            self.update();
        }
    }

    fn update(&self) {
        let records = self.counts.records.load(Ordering::Relaxed);
        let bad_gateways = self.counts.bad_gateways.load(Ordering::Relaxed);
        match self.bound {
            Bound::Count(_) => {
                self.bar.set_position(records);
                self.bar.set_message(format!("502: {bad_gateways}"));
            }
            Bound::Duration(total) => {
                let elapsed = self.started.elapsed().min(total);
                self.bar
                    .set_position(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
                self.bar
                    .set_message(duration_message(elapsed, total, records, bad_gateways));
            }
            Bound::Open => {
                self.bar
                    .set_message(format!("{records} requests, 502: {bad_gateways}"));
                self.bar.tick();
            }
        }
    }
}

/// `12.0 s of 30.0 s · 1234 requests · 502: 3`.
fn duration_message(elapsed: Duration, total: Duration, records: u64, bad_gateways: u64) -> String {
    format!(
        "{:.1} s of {:.1} s · {records} requests · 502: {bad_gateways}",
        elapsed.as_secs_f64(),
        total.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_wins_over_a_duration_and_a_duration_alone_bounds_by_time() {
        let five = Duration::from_secs(5);
        assert_eq!(Bound::of(Some(10), Some(five)), Bound::Count(10));
        assert_eq!(Bound::of(None, Some(five)), Bound::Duration(five));
        assert_eq!(Bound::of(None, None), Bound::Open);
    }

    #[test]
    fn a_duration_bound_run_says_elapsed_of_total() {
        let message = duration_message(Duration::from_millis(2500), Duration::from_secs(10), 68, 2);
        assert_eq!(message, "2.5 s of 10.0 s · 68 requests · 502: 2");
    }
}
