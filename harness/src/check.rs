//! `badgateway check RESULT.json [--baseline BASE.json] [--tolerance 10%]`: the CI gate. A result is checked
//! against its own scenario's `[expect]` (stored in its settings; [`Expect::violations`] lives here, beside the
//! rest of the checking) and, with a baseline, against the baseline's figures within a tolerance. Every
//! violation is one line.

use std::path::Path;

use serde::Deserialize;

use crate::expect::Expect;
use crate::record::CauseKey;
use crate::result::RunResult;
use crate::scenario::Scenario;

/// A relative tolerance, read as `10%` or `0.1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance(pub f64);

impl std::str::FromStr for Tolerance {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let value = match trimmed.strip_suffix('%') {
            Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
            None => trimmed.parse::<f64>(),
        }
        .map_err(|_| format!("tolerance {text:?} is not a number or a percentage"))?;
        if !(value.is_finite() && value >= 0.0) {
            return Err(format!("tolerance {text:?} must be zero or positive"));
        }
        Ok(Tolerance(value))
    }
}

impl Expect {
    /// One line per violated expectation; empty when the result passes. Unaccounted requests always violate.
    pub fn violations(&self, result: &RunResult) -> Vec<String> {
        let mut violations = Vec::new();
        let bad = result.bad_gateways();
        if let Some(min) = self.min_502
            && bad < min
        {
            violations.push(format!("expected at least {min} 502, got {bad}"));
        }
        if let Some(max) = self.max_502
            && bad > max
        {
            violations.push(format!("expected at most {max} 502, got {bad}"));
        }
        if let Some(max) = self.max_502_per_10k {
            let rate = result.bad_gateways_per_10k();
            if rate > max {
                violations.push(format!("expected at most {max} 502 per 10k, got {rate:.1}"));
            }
        }
        if !self.causes.is_empty() {
            for (cause, count) in &result.causes {
                if *count > 0 && !self.causes.contains(cause) {
                    let expected: Vec<&str> = self.causes.iter().map(CauseKey::as_str).collect();
                    violations.push(format!(
                        "502 cause {cause} ({count}) is not among the expected [{}]",
                        expected.join(", ")
                    ));
                }
            }
        }
        if let Some(max) = self.max_p99 {
            let p99 = result.latency_ms.p99;
            if p99 > max.as_secs_f64() * 1000.0 {
                violations.push(format!("expected p99 at most {max:?}, got {p99:.2} ms"));
            }
        }
        if result.unaccounted != 0 {
            violations.push(format!("{} requests unaccounted for", result.unaccounted));
        }
        violations
    }
}

/// A result file: one run, or the `cells` of `compare`/the default run.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ResultFile {
    /// Several runs.
    Cells {
        /// The runs.
        cells: Vec<RunResult>,
    },
    /// One run.
    Single(Box<RunResult>),
}

impl ResultFile {
    /// Reads a result file; the error names the file.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a badgateway result: {e}", path.display()))
    }

    /// The runs it holds.
    pub fn runs(&self) -> Vec<&RunResult> {
        match self {
            ResultFile::Cells { cells } => cells.iter().collect(),
            ResultFile::Single(run) => vec![run.as_ref()],
        }
    }
}

/// Every violation of `result` against its own `[expect]` and, when given, `baseline` within `tolerance`.
pub fn violations(
    result: &RunResult,
    baseline: Option<&RunResult>,
    tolerance: Tolerance,
) -> Vec<String> {
    let mut lines = Vec::new();
    let prefix = &result.scenario;
    if let Ok(scenario) = serde_json::from_value::<Scenario>(result.settings.clone()) {
        lines.extend(
            scenario
                .expect
                .violations(result)
                .into_iter()
                .map(|v| format!("{prefix}: {v}")),
        );
    } else if result.unaccounted != 0 {
        lines.push(format!(
            "{prefix}: {} requests unaccounted for",
            result.unaccounted
        ));
    }
    if let Some(base) = baseline {
        let allowance = tolerance.0;
        let rate = result.bad_gateways_per_10k();
        let base_rate = base.bad_gateways_per_10k();
        // An absolute floor of one 502 per 10k keeps a zero baseline from failing on noise-free runs only.
        if rate > base_rate * (1.0 + allowance) + 1.0 {
            lines.push(format!(
                "{prefix}: 502 per 10k rose to {rate:.1} from the baseline's {base_rate:.1} (tolerance {:.0}%)",
                allowance * 100.0
            ));
        }
        let (p99, base_p99) = (result.latency_ms.p99, base.latency_ms.p99);
        if p99 > base_p99 * (1.0 + allowance) {
            lines.push(format!(
                "{prefix}: p99 rose to {p99:.2} ms from the baseline's {base_p99:.2} ms (tolerance {:.0}%)",
                allowance * 100.0
            ));
        }
        let (rps, base_rps) = (result.throughput_rps, base.throughput_rps);
        if rps < base_rps * (1.0 - allowance).max(0.0) {
            lines.push(format!(
                "{prefix}: throughput fell to {rps:.1} req/s from the baseline's {base_rps:.1} (tolerance {:.0}%)",
                allowance * 100.0
            ));
        }
        for (cause, count) in &result.causes {
            if *count > 0 && !base.causes.contains_key(cause) {
                lines.push(format!(
                    "{prefix}: new 502 cause {cause} ({count}) absent from the baseline"
                ));
            }
        }
    }
    lines
}

/// Checks every run of `result` (matching baseline runs by scenario name, or by position for single runs).
pub fn check_files(
    result: &ResultFile,
    baseline: Option<&ResultFile>,
    tolerance: Tolerance,
) -> Vec<String> {
    let runs = result.runs();
    let base_runs = baseline.map(ResultFile::runs).unwrap_or_default();
    let mut lines = Vec::new();
    for (index, run) in runs.iter().enumerate() {
        let base = base_runs
            .iter()
            .find(|b| b.scenario == run.scenario)
            .or_else(|| {
                if base_runs.len() == runs.len() {
                    base_runs.get(index)
                } else {
                    None
                }
            })
            .copied();
        if baseline.is_some() && base.is_none() {
            lines.push(format!(
                "{}: no run of that name in the baseline",
                run.scenario
            ));
        }
        lines.extend(violations(run, base, tolerance));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances_parse_as_percent_or_fraction() {
        assert_eq!("10%".parse::<Tolerance>().unwrap(), Tolerance(0.1));
        assert_eq!("0.25".parse::<Tolerance>().unwrap(), Tolerance(0.25));
        assert!("ten".parse::<Tolerance>().unwrap_err().contains("ten"));
        assert!("-5%".parse::<Tolerance>().is_err());
    }
}
