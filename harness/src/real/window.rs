//! The race window through real servers: the same sweep (`crate::sweep`) run once per back tier (real Apache,
//! our keep-alive proxy) behind one front, and a table that puts the curves side by side so the model can be
//! judged against the real thing: where the first 502 appears, where the curve peaks, and the ratio of the
//! race rates. It owns the side-by-side comparison, not the sweep itself nor the chain.

use std::fmt::Write as _;

use listener::ShutdownSignal;
use serde::Serialize;

use super::run::run_real;
use crate::chain::{BackKind, ChainError, FrontKind};
use crate::run::RunOptions;
use crate::scenario::ScenarioError;
use crate::sweep::{SweepBin, SweepPlan, SweepResult, sweep_with};

/// One back tier's race-window curve behind a given front.
#[derive(Debug, Clone, Serialize)]
pub struct BackSweep {
    /// The front tier.
    pub front: String,
    /// The back tier.
    pub back: String,
    /// The curve.
    pub sweep: SweepResult,
}

impl BackSweep {
    /// The smallest offset (ms) whose bin saw a 502; none when no bin did.
    pub fn first_502_offset_ms(&self) -> Option<f64> {
        self.sweep
            .bins
            .iter()
            .find(|bin| bin.bad_gateways > 0)
            .map(|bin| bin.offset_ms)
    }

    /// The offset (ms) of the bin with the highest P(502); none when no bin saw a 502.
    pub fn peak_offset_ms(&self) -> Option<f64> {
        self.sweep
            .bins
            .iter()
            .filter(|bin| bin.bad_gateways > 0)
            .max_by(|a, b| a.probability.total_cmp(&b.probability))
            .map(|bin| bin.offset_ms)
    }

    /// 502s and requests over every bin.
    pub fn totals(&self) -> (u64, u64) {
        self.sweep.bins.iter().fold((0, 0), |(bad, all), bin| {
            (bad + bin.bad_gateways, all + bin.requests)
        })
    }
}

/// A sweep through a real chain failed.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    /// A bin's scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A chain could not run.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// Runs `plan` through `front` → [link] → `back` → origin for each of `backs`, one after the other.
pub async fn sweep_backs(
    plan: &SweepPlan<'_>,
    front: FrontKind,
    backs: &[BackKind],
    options: &RunOptions,
    stop: &ShutdownSignal,
    mut on_bin: impl FnMut(BackKind, &SweepBin),
) -> Result<Vec<BackSweep>, WindowError> {
    let mut sweeps = Vec::with_capacity(backs.len());
    for &back in backs {
        if stop.is_triggered() {
            break;
        }
        let runner = async |scenario: crate::scenario::Scenario| -> Result<_, WindowError> {
            let label = format!("{} ({front}→{back})", scenario.name);
            let run = run_real(&scenario, front, back, &label, options, stop.clone()).await?;
            Ok(run.result)
        };
        let sweep = sweep_with(plan, stop, runner, |bin| on_bin(back, bin)).await?;
        sweeps.push(BackSweep {
            front: front.name().to_owned(),
            back: back.name().to_owned(),
            sweep,
        });
    }
    Ok(sweeps)
}

/// The curves side by side: one row per offset with each back's P(502) and count, then where each curve starts
/// and peaks and the ratio of each back's overall race rate to the first back's.
pub fn window_table(sweeps: &[BackSweep]) -> String {
    let mut out = String::new();
    let Some(first) = sweeps.first() else {
        return "no sweep ran\n".to_owned();
    };
    let _ = write!(out, "{:>10}", "offset ms");
    for sweep in sweeps {
        let _ = write!(
            out,
            "  {:>22}",
            format!("{}→{} P(502)", sweep.front, sweep.back)
        );
    }
    out.push('\n');
    for (row, bin) in first.sweep.bins.iter().enumerate() {
        let _ = write!(out, "{:>+10.1}", bin.offset_ms);
        for sweep in sweeps {
            match sweep.sweep.bins.get(row) {
                Some(bin) => {
                    let cell = format!(
                        "{:.3} ({}/{})",
                        bin.probability, bin.bad_gateways, bin.requests
                    );
                    let _ = write!(out, "  {cell:>22}");
                }
                None => {
                    let _ = write!(out, "  {:>22}", "-");
                }
            }
        }
        out.push('\n');
    }
    let (first_bad, first_all) = first.totals();
    for sweep in sweeps {
        let (bad, all) = sweep.totals();
        let ratio = if first_bad == 0 || all == 0 || first_all == 0 {
            "n/a".to_owned()
        } else {
            format!(
                "{:.2}",
                (bad as f64 / all as f64) / (first_bad as f64 / first_all as f64)
            )
        };
        let _ = writeln!(
            out,
            "{}→{}: first 502 at {}, peak at {}, {bad}/{all} 502 overall, rate × {ratio} of {}→{}",
            sweep.front,
            sweep.back,
            offset_text(sweep.first_502_offset_ms()),
            offset_text(sweep.peak_offset_ms()),
            first.front,
            first.back,
        );
    }
    out
}

fn offset_text(offset_ms: Option<f64>) -> String {
    offset_ms.map_or_else(|| "none".to_owned(), |ms| format!("{ms:+.1} ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(offset_ms: f64, bad: u64, requests: u64) -> SweepBin {
        SweepBin {
            offset_ms,
            gap_ms: 50.0 + offset_ms,
            requests,
            bad_gateways: bad,
            race_bad_gateways: bad,
            probability: bad as f64 / requests as f64,
            ci_low: 0.0,
            ci_high: 1.0,
            unaccounted: 0,
        }
    }

    fn curve(back: &str, bins: Vec<SweepBin>) -> BackSweep {
        BackSweep {
            front: "ours".to_owned(),
            back: back.to_owned(),
            sweep: SweepResult {
                scenario: "race".to_owned(),
                keepalive_timeout_ms: 50.0,
                bins,
                interrupted: false,
            },
        }
    }

    #[test]
    fn the_table_names_where_each_curve_starts_and_peaks_and_the_rate_ratio() {
        let apache = curve(
            "apache",
            vec![bin(-4.0, 0, 40), bin(-2.0, 4, 40), bin(0.0, 8, 40)],
        );
        let ours = curve(
            "ours",
            vec![bin(-4.0, 0, 40), bin(-2.0, 6, 40), bin(0.0, 2, 40)],
        );
        assert_eq!(ours.first_502_offset_ms(), Some(-2.0));
        assert_eq!(apache.peak_offset_ms(), Some(0.0));
        assert_eq!(ours.peak_offset_ms(), Some(-2.0));
        let table = window_table(&[apache, ours]);
        assert!(table.contains("ours→ours: first 502 at -2.0 ms, peak at -2.0 ms, 8/120 502 overall, rate × 0.67 of ours→apache"), "{table}");
        assert!(table.contains("0.200 (8/40)"), "{table}");
    }

    #[test]
    fn a_curve_without_502_has_no_start_and_no_ratio_base() {
        let quiet = curve("apache", vec![bin(-2.0, 0, 40)]);
        assert_eq!(quiet.first_502_offset_ms(), None);
        let table = window_table(&[quiet]);
        assert!(
            table.contains("first 502 at none, peak at none, 0/40 502 overall, rate × n/a"),
            "{table}"
        );
    }
}
