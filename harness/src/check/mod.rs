//! `badgateway check RESULT.json [--baseline BASE.json] [--tolerance 10%] [--latency-floor 1ms]
//! [--allow-partial]`: the CI gate. A result is checked against its own scenario's `[expect]` (stored in its
//! settings; [`Expect::violations`] lives here, beside the rest of the checking) and, with a baseline, against
//! the baseline's figures: the 502 rate by an exact test on the counts ([`crate::rate_test`]), p99 only with
//! enough samples and within `base × (1 + tolerance) + floor`, throughput within the tolerance, no new cause.
//! Every line says which rule it applied. A partial (interrupted) result fails unless allowed.
//!
//! Owns reading every kind of result file the tool writes ([`ResultFile`]) and the verdict lines; it does not
//! print (the `check` command does) and does not run anything.

mod file;

use std::fmt;
use std::time::Duration;

pub use file::{CheckError, FileKind, ResultFile};

use crate::expect::Expect;
use crate::rate_test::{
    LatencyJudgement, MIN_SAMPLES_FOR_P99, RATE_ALPHA, judge_p99, rate_rise_p_value,
};
use crate::record::CauseKey;
use crate::result::RunResult;
use crate::scenario::Scenario;
use crate::sweep::SweepResult;

/// A relative tolerance, read as `10%`, or as a fraction up to 1 (`0.1`). A bare number above 1 is refused: `10`
/// would mean 1000 %.
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
        if !trimmed.ends_with('%') && value > 1.0 {
            return Err(format!(
                "tolerance {text:?} has no %: as a fraction it would mean {:.0} %; write {trimmed}% (or a fraction \
                 up to 1, e.g. 0.1 for 10 %)",
                value * 100.0
            ));
        }
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
            let closed = result.client_error_total();
            let hint = if closed > 0 {
                format!(
                    " ({closed} requests got no response at all: the front closed or reset instead)"
                )
            } else {
                String::new()
            };
            violations.push(format!("expected at least {min} 502, got {bad}{hint}"));
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
            // A real front's 502s carry no cause header: `unclassified` says nothing against the list there.
            let judged =
                |cause: CauseKey| !(result.real_front().is_some() && cause.is_unclassified());
            for (cause, count) in &result.causes {
                if *count > 0 && judged(*cause) && !self.causes.contains(cause) {
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

/// The rules of a check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gate {
    /// Relative tolerance of p99 and throughput.
    pub tolerance: Tolerance,
    /// The absolute part of the p99 tolerance (`--latency-floor`).
    pub latency_floor: Duration,
    /// Judge an interrupted result instead of failing it.
    pub allow_partial: bool,
}

impl Gate {
    /// The default latency floor: timer and scheduling noise on a loaded machine.
    pub const DEFAULT_LATENCY_FLOOR: Duration = Duration::from_millis(1);

    /// The default rules with this tolerance.
    pub fn with_tolerance(tolerance: Tolerance) -> Self {
        Gate {
            tolerance,
            latency_floor: Self::DEFAULT_LATENCY_FLOOR,
            allow_partial: false,
        }
    }
}

/// What one line of a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The rule held.
    Pass,
    /// The rule was broken: the gate fails.
    Fail,
    /// The rule could not be applied (too few samples, nothing to check): says why.
    NotJudged,
}

/// One line of a check: what was compared, by which rule, and the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    /// The verdict.
    pub verdict: Verdict,
    /// `scenario: what, rule: outcome`.
    pub text: String,
}

impl CheckLine {
    fn new(verdict: Verdict, prefix: &str, text: impl fmt::Display) -> Self {
        CheckLine {
            verdict,
            text: format!("{prefix}: {text}"),
        }
    }
}

/// Every line of checking `result` against its own `[expect]` and, when given, `baseline`.
pub fn judge_run(result: &RunResult, baseline: Option<&RunResult>, gate: &Gate) -> Vec<CheckLine> {
    let prefix = result.scenario.as_str();
    let mut lines = Vec::new();
    if result.interrupted {
        lines.push(if gate.allow_partial {
            CheckLine::new(
                Verdict::NotJudged,
                prefix,
                "interrupted (a partial result), judged anyway: --allow-partial",
            )
        } else {
            CheckLine::new(
                Verdict::Fail,
                prefix,
                "the run was interrupted: a partial result proves nothing (--allow-partial judges it anyway)",
            )
        });
    }
    match serde_json::from_value::<Scenario>(result.scenario_settings().clone()) {
        Ok(scenario) if scenario.expect == Expect::default() => {
            lines.push(CheckLine::new(
                Verdict::NotJudged,
                prefix,
                "no [expect] in its scenario",
            ));
            lines.extend(unaccounted(result));
        }
        Ok(scenario) => {
            let violations = scenario.expect.violations(result);
            if violations.is_empty() {
                lines.push(CheckLine::new(Verdict::Pass, prefix, "[expect] holds"));
            }
            lines.extend(
                violations
                    .into_iter()
                    .map(|v| CheckLine::new(Verdict::Fail, prefix, v)),
            );
        }
        Err(_) => {
            lines.push(CheckLine::new(
                Verdict::NotJudged,
                prefix,
                "no scenario in its settings: [expect] not checked",
            ));
            lines.extend(unaccounted(result));
        }
    }
    if let Some(base) = baseline {
        if base.scenario != result.scenario {
            lines.push(CheckLine::new(
                Verdict::NotJudged,
                prefix,
                format!(
                    "the baseline is another scenario ({}): compared anyway, but the figures of two different \
                     chains say little about a regression",
                    base.scenario
                ),
            ));
        }
        lines.push(rate_line(prefix, result, base));
        lines.push(p99_line(prefix, result, base, gate));
        lines.push(throughput_line(prefix, result, base, gate.tolerance));
        let new_causes: Vec<CheckLine> = result
            .causes
            .iter()
            .filter(|(cause, count)| **count > 0 && !base.causes.contains_key(*cause))
            .map(|(cause, count)| {
                CheckLine::new(
                    Verdict::Fail,
                    prefix,
                    format!("new 502 cause {cause} ({count}) absent from the baseline"),
                )
            })
            .collect();
        if new_causes.is_empty() {
            lines.push(CheckLine::new(
                Verdict::Pass,
                prefix,
                "no 502 cause absent from the baseline",
            ));
        }
        lines.extend(new_causes);
    }
    lines
}

fn unaccounted(result: &RunResult) -> Option<CheckLine> {
    (result.unaccounted != 0).then(|| {
        CheckLine::new(
            Verdict::Fail,
            &result.scenario,
            format!("{} requests unaccounted for", result.unaccounted),
        )
    })
}

/// The 502 rate against the baseline's, by the exact conditional binomial test at [`RATE_ALPHA`].
fn rate_line(prefix: &str, result: &RunResult, base: &RunResult) -> CheckLine {
    let (bad, requests) = (result.bad_gateways(), result.requests);
    let (base_bad, base_requests) = (base.bad_gateways(), base.requests);
    let p = rate_rise_p_value(base_bad, base_requests, bad, requests);
    let counts = format!("502 rate: {bad} in {requests} vs {base_bad} in {base_requests}");
    if p < RATE_ALPHA {
        CheckLine::new(
            Verdict::Fail,
            prefix,
            format!(
                "{counts}, p = {} < {RATE_ALPHA}: a rise (502 per 10k rose to {:.1} from {:.1})",
                shown_p(p),
                result.bad_gateways_per_10k(),
                base.bad_gateways_per_10k()
            ),
        )
    } else {
        CheckLine::new(
            Verdict::Pass,
            prefix,
            format!(
                "{counts}, p = {} ≥ {RATE_ALPHA}: no significant rise",
                shown_p(p)
            ),
        )
    }
}

/// A p-value with two significant figures: `0.25`, `3.9e-3`, `2.4e-4`.
fn shown_p(p: f64) -> String {
    if p >= 0.01 {
        format!("{p:.2}")
    } else {
        format!("{p:.1e}")
    }
}

/// p99 against the baseline's: only with [`MIN_SAMPLES_FOR_P99`] requests a side, within
/// `base × (1 + tolerance) + floor`.
fn p99_line(prefix: &str, result: &RunResult, base: &RunResult, gate: &Gate) -> CheckLine {
    let (p99, base_p99) = (result.latency_ms.p99, base.latency_ms.p99);
    let floor_ms = gate.latency_floor.as_secs_f64() * 1000.0;
    let rule = format!("{:.0}% + {floor_ms} ms", gate.tolerance.0 * 100.0);
    match judge_p99(
        base_p99,
        base.requests,
        p99,
        result.requests,
        gate.tolerance.0,
        floor_ms,
    ) {
        LatencyJudgement::TooFewSamples { samples } => CheckLine::new(
            Verdict::NotJudged,
            prefix,
            format!("p99 not compared: {samples} requests, under {MIN_SAMPLES_FOR_P99}"),
        ),
        LatencyJudgement::Within { ceiling_ms } => CheckLine::new(
            Verdict::Pass,
            prefix,
            format!(
                "p99 {p99:.2} ms within {ceiling_ms:.2} ms (the baseline's {base_p99:.2} ms + {rule})"
            ),
        ),
        LatencyJudgement::Above { ceiling_ms } => CheckLine::new(
            Verdict::Fail,
            prefix,
            format!(
                "p99 rose to {p99:.2} ms, above {ceiling_ms:.2} ms (the baseline's {base_p99:.2} ms + {rule})"
            ),
        ),
    }
}

/// Throughput against the baseline's, within the relative tolerance.
fn throughput_line(
    prefix: &str,
    result: &RunResult,
    base: &RunResult,
    tolerance: Tolerance,
) -> CheckLine {
    let (rps, base_rps) = (result.throughput_rps, base.throughput_rps);
    let floor = base_rps * (1.0 - tolerance.0).max(0.0);
    let rule = format!(
        "the baseline's {base_rps:.1} req/s − {:.0}%",
        tolerance.0 * 100.0
    );
    if rps < floor {
        CheckLine::new(
            Verdict::Fail,
            prefix,
            format!("throughput fell to {rps:.1} req/s, below {floor:.1} ({rule})"),
        )
    } else {
        CheckLine::new(
            Verdict::Pass,
            prefix,
            format!("throughput {rps:.1} req/s at least {floor:.1} ({rule})"),
        )
    }
}

/// Every line of checking a result file against its own expectations and, when given, a baseline of the same
/// kind (runs matched by scenario name, or by position when the counts agree).
pub fn judge_files(
    result: &ResultFile,
    baseline: Option<&ResultFile>,
    gate: &Gate,
) -> Result<Vec<CheckLine>, CheckError> {
    if let Some(base) = baseline {
        if base.kind() != result.kind() {
            return Err(CheckError::KindMismatch {
                result: result.kind(),
                baseline: base.kind(),
            });
        }
        if matches!(
            result.kind(),
            FileKind::Sweep | FileKind::Sweeps | FileKind::Probe
        ) {
            return Err(CheckError::NoBaselineFor {
                kind: result.kind(),
            });
        }
    }
    let mut lines = Vec::new();
    match result {
        ResultFile::Single(_) | ResultFile::Cells { .. } => {
            if let ResultFile::Cells { failed, .. } = result {
                for (cell, error) in failed {
                    lines.push(CheckLine::new(
                        Verdict::Fail,
                        cell,
                        format!("the cell did not run: {error}"),
                    ));
                }
            }
            let runs = result.runs();
            let base_runs = baseline.map(ResultFile::runs).unwrap_or_default();
            for (index, run) in runs.iter().enumerate() {
                let base = base_runs
                    .iter()
                    .find(|b| b.scenario == run.scenario)
                    .or_else(|| {
                        (base_runs.len() == runs.len())
                            .then(|| base_runs.get(index))
                            .flatten()
                    })
                    .copied();
                if baseline.is_some() && base.is_none() {
                    lines.push(CheckLine::new(
                        Verdict::Fail,
                        &run.scenario,
                        "no run of that name in the baseline",
                    ));
                }
                lines.extend(judge_run(run, base, gate));
            }
        }
        ResultFile::Sweep(sweep) => lines.extend(judge_sweep(sweep, gate)),
        ResultFile::Sweeps(sweeps) => {
            for sweep in sweeps {
                lines.extend(judge_sweep(sweep, gate));
            }
        }
        ResultFile::Probe(probe) => {
            let violations = probe.violations();
            if violations.is_empty() {
                let what = match probe.expect_exposed {
                    Some(true) => "[expect] exposed = true holds",
                    Some(false) => "[expect] exposed = false holds",
                    None => "complete; no [expect] exposed to check",
                };
                let verdict = if probe.expect_exposed.is_some() {
                    Verdict::Pass
                } else {
                    Verdict::NotJudged
                };
                lines.push(CheckLine::new(verdict, &probe.scenario, what));
            }
            lines.extend(
                violations
                    .into_iter()
                    .map(|v| CheckLine::new(Verdict::Fail, &probe.scenario, v)),
            );
        }
    }
    Ok(lines)
}

/// A sweep stores no `[expect]`: it is checked for being complete and for every request being accounted for.
fn judge_sweep(sweep: &SweepResult, gate: &Gate) -> Vec<CheckLine> {
    let prefix = sweep.scenario.as_str();
    let mut lines = Vec::new();
    if sweep.interrupted && !gate.allow_partial {
        lines.push(CheckLine::new(
            Verdict::Fail,
            prefix,
            "the sweep was interrupted: a partial curve (--allow-partial judges it anyway)",
        ));
    }
    let unaccounted: u64 = sweep.bins.iter().map(|b| b.unaccounted).sum();
    if unaccounted != 0 {
        lines.push(CheckLine::new(
            Verdict::Fail,
            prefix,
            format!("{unaccounted} requests unaccounted for"),
        ));
    }
    lines.push(CheckLine::new(
        Verdict::NotJudged,
        prefix,
        format!(
            "a sweep has no [expect]: {} bins checked only for completeness and accounting",
            sweep.bins.len()
        ),
    ));
    lines
}

/// The violations of checking `result` (and `baseline`) with the default rules and `tolerance`: the text of
/// every failed line. A baseline of another kind is one violation naming both kinds.
pub fn check_files(
    result: &ResultFile,
    baseline: Option<&ResultFile>,
    tolerance: Tolerance,
) -> Vec<String> {
    match judge_files(result, baseline, &Gate::with_tolerance(tolerance)) {
        Ok(lines) => lines
            .into_iter()
            .filter(|line| line.verdict == Verdict::Fail)
            .map(|line| line.text)
            .collect(),
        Err(error) => vec![error.to_string()],
    }
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
        assert_eq!("1".parse::<Tolerance>().unwrap(), Tolerance(1.0));
        assert!("10".parse::<Tolerance>().unwrap_err().contains("has no %"));
        assert_eq!("150%".parse::<Tolerance>().unwrap(), Tolerance(1.5));
    }

    /// A real front's run: 20 header-less 502s, its settings `{front, back, scenario}` as `real run` writes
    /// them, the default race scenario's `[expect]` (at least one 502, causes reused-closed/reset).
    fn real_front_result(front: &str, bad_gateways: u64) -> RunResult {
        let scenario = serde_json::to_value(Scenario::default_race().unwrap()).unwrap();
        serde_json::from_value(serde_json::json!({
            "scenario": "t", "settings": {"front": front, "back": "apache", "scenario": scenario},
            "requests": 100,
            "responses": {"200": 100 - bad_gateways, "502": bad_gateways},
            "client_errors": {},
            "causes": if bad_gateways > 0 {
                serde_json::json!({"unclassified": bad_gateways})
            } else {
                serde_json::json!({})
            },
            "latency_ms": {"p50": 1.0, "p90": 1.0, "p99": 1.0, "max": 1.0},
            "throughput_rps": 1.0, "upstream_connections": 1, "retries": 0, "unaccounted": 0,
            "duration_s": 1.0, "seed": 1,
        }))
        .unwrap()
    }

    #[test]
    fn a_real_fronts_unclassified_502s_do_not_break_the_cause_list_and_check_judges_its_scenario() {
        let nginx = real_front_result("nginx", 20);
        assert_eq!(nginx.real_front(), Some("nginx"));
        let expect = Scenario::default_race().unwrap().expect;
        assert!(
            expect.violations(&nginx).is_empty(),
            "{:?}",
            expect.violations(&nginx)
        );
        let lines = judge_run(&nginx, None, &Gate::with_tolerance(Tolerance(0.1)));
        assert!(
            lines
                .iter()
                .any(|l| l.verdict == Verdict::Pass && l.text.contains("[expect] holds")),
            "{lines:?}"
        );
        // The same file from our gateway would be judged on its causes: unclassified is not in the list.
        let ours = real_front_result("ours", 20);
        assert_eq!(ours.real_front(), None);
        assert_eq!(expect.violations(&ours).len(), 1);
        // And `check` fails what `real run` fails: no 502 at all.
        let none = real_front_result("haproxy", 0);
        let lines = judge_run(&none, None, &Gate::with_tolerance(Tolerance(0.1)));
        assert!(
            lines
                .iter()
                .any(|l| l.verdict == Verdict::Fail && l.text.contains("at least 1 502")),
            "{lines:?}"
        );
    }

    #[test]
    fn a_baseline_of_another_scenario_is_said_and_one_of_the_same_is_not() {
        let gate = Gate::with_tolerance(Tolerance(0.1));
        let run = real_front_result("nginx", 20);
        let mut other = run.clone();
        other.scenario = "keepalive-off".to_owned();
        let said = |lines: &[CheckLine]| {
            lines.iter().any(|l| {
                l.verdict == Verdict::NotJudged
                    && l.text.contains("another scenario (keepalive-off)")
            })
        };
        assert!(said(&judge_run(&run, Some(&other), &gate)));
        assert!(!said(&judge_run(&run, Some(&run), &gate)));
    }
}
