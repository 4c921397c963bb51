//! `badgateway run`: one scenario, or the default race followed by each mitigation and the cost of keep-alive
//! off.

use std::path::PathBuf;
use std::process::ExitCode;

use harness::explain::explain_result;
use harness::mitigation::mitigations_for;
use harness::report::ladder::AfterTable;
use harness::report::{comparison_table, run_table};
use harness::result::RunResult;
use harness::run::{RunOptions, run_scenario};
use harness::scenario::Scenario;

use super::{Shaping, exit_status, interrupt_signal, shaped_scenario, write_outputs};
use crate::Outputs;

pub async fn run(
    scenario_path: Option<PathBuf>,
    overrides: Vec<String>,
    shaping: Shaping,
    no_mitigations: bool,
    timelines: usize,
    outputs: Outputs,
) -> anyhow::Result<ExitCode> {
    outputs.check_writable()?;
    let stop = interrupt_signal();
    let with_mitigations = scenario_path.is_none() && !no_mitigations;
    let base = shaped_scenario(scenario_path.as_deref(), &overrides, &shaping)?;
    let scale = shaping.time_scale;
    let options = RunOptions {
        quiet: outputs.quiet,
        label: None,
        timelines,
    };
    if !base.description.is_empty() {
        say!("{}: {}", base.name, base.description);
    }
    if !overrides.is_empty() {
        say!("overrides: {}", overrides.join(", "));
        say!("{}", effective_settings(&base));
    }
    if !base.description.is_empty() || !overrides.is_empty() {
        say!();
    }
    if let Some(header) = shaping.header() {
        say!("{header}\n");
    }
    let mut after_table = AfterTable::new(timelines);
    let mut first = run_scenario(&base, &options, stop.clone()).await?;
    first.time_scale = scale.factor();
    say_raw!("{}", run_table(&first));
    print_first_timeline(&mut after_table, &first);
    if first.bad_gateways() > 0 {
        say!("\n{}", explain_result(&first));
    }
    let violations = base.expect.violations(&first);
    let mut results = vec![first];
    if with_mitigations {
        for mitigation in mitigations_for(&base) {
            if stop.is_triggered() {
                break;
            }
            say!("\n{}: {}", mitigation.name, mitigation.summary);
            let variant = mitigation.apply(&base)?;
            let mut result = run_scenario(&variant, &options, stop.clone()).await?;
            result.time_scale = scale.factor();
            say_raw!("{}", run_table(&result));
            print_first_timeline(&mut after_table, &result);
            results.push(result);
        }
        if !stop.is_triggered() {
            say!(
                "\nthe cost of keep-alive off on a closed loop (4 clients, each sends as soon as it has its answer):"
            );
            for keepalive in [true, false] {
                let variant = closed_loop_variant(&base, keepalive)?;
                let mut result = run_scenario(&variant, &options, stop.clone()).await?;
                result.time_scale = scale.factor();
                say_raw!("{}", run_table(&result));
                print_first_timeline(&mut after_table, &result);
                results.push(result);
            }
        }
        say!("\nside by side:\n{}", comparison_table(&results));
    }
    write_outputs(&outputs, &base.name, &results, None, scale)?;
    Ok(exit_status(&stop, &violations))
}

/// The key settings as they ran (after `--set`), so that the header never contradicts the static description.
fn effective_settings(scenario: &Scenario) -> String {
    let keepalive = if scenario.back.keepalive {
        format!("KeepAliveTimeout {:?}", scenario.back.keepalive_timeout)
    } else {
        "back keep-alive off".to_owned()
    };
    format!(
        "effective: {keepalive}, front idle timeout {:?}, front-back link {:?} each way",
        scenario.front.idle_timeout,
        scenario.front_back_latency()
    )
}

/// The run's first kept timeline as a ladder, after its table (or once, that wire stories were off).
fn print_first_timeline(after_table: &mut AfterTable, result: &RunResult) {
    if let Some(text) = after_table.text(result) {
        say!("\n{text}");
    }
}

/// The scenario's chain under a closed loop, keep-alive on or off: what keep-alive off costs.
fn closed_loop_variant(base: &Scenario, keepalive: bool) -> anyhow::Result<Scenario> {
    let mut variant = base
        .with_override("load.pattern=closed")?
        .with_override("load.clients=4")?
        .with_override("load.requests=1000")?
        .with_override(&format!("back.keepalive={keepalive}"))?;
    variant.name = format!(
        "closed-loop+keepalive-{}",
        if keepalive { "on" } else { "off" }
    );
    variant.expect = Default::default();
    Ok(variant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_line_follows_the_overrides_not_the_description() {
        let base = Scenario::default_race().expect("the embedded race parses");
        let ran = base
            .with_override("back.keepalive_timeout=100ms")
            .and_then(|s| s.with_override("link.front_back.latency=1ms"))
            .expect("the overrides apply");
        let line = effective_settings(&ran);
        assert!(line.contains("KeepAliveTimeout 100ms"), "{line}");
        assert!(line.contains("front-back link 1ms each way"), "{line}");
        assert_ne!(line, effective_settings(&base));
        let off = base
            .with_override("back.keepalive=false")
            .expect("the override applies");
        assert!(effective_settings(&off).contains("back keep-alive off"));
    }
}
