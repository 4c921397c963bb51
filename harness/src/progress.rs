//! The progress bar of long runs (indicatif): it appears once a run has lasted a second, and never with
//! `--quiet` or when stdout is not a terminal. It is told counts; it knows nothing of the collector.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Runs shorter than this never show a bar.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// A progress bar, or nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    shown: bool,
}

impl Progress {
    /// A bar for `total` requests (a spinner when unknown), unless `quiet` or stdout is not a terminal.
    pub fn new(label: &str, total: Option<u64>, quiet: bool) -> Self {
        if quiet || !std::io::stdout().is_terminal() {
            return Self::hidden();
        }
        let bar = match total {
            Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()),
        };
        let template = "{prefix:>24} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_prefix(label.to_owned());
        Self {
            bar: Some(bar),
            started: Instant::now(),
            shown: false,
        }
    }

    /// No bar at all.
    pub fn hidden() -> Self {
        Self {
            bar: None,
            started: Instant::now(),
            shown: false,
        }
    }

    /// One more record: `records` so far, `bad_gateways` of them 502s.
    pub fn tick(&mut self, records: u64, bad_gateways: u64) {
        let Some(bar) = &self.bar else { return };
        if !self.shown && self.started.elapsed() >= SHOW_AFTER {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
        bar.set_position(records);
        if records.is_multiple_of(8) {
            bar.set_message(format!("502: {bad_gateways}"));
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
