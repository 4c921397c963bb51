//! `badgateway compare`: the `--vary` matrix, one table.

use std::path::PathBuf;
use std::process::ExitCode;

use harness::compare::{Variation, matrix};
use harness::report::{comparison_table, run_table};
use harness::run::{RunOptions, run_scenario};

use harness::time_scale::{TimeScale, time_scaled};

use super::{Shaping, exit_status, interrupt_signal, shaped_scenario, write_outputs};
use crate::Outputs;

pub async fn compare(
    scenario_path: PathBuf,
    vary: Vec<Variation>,
    overrides: Vec<String>,
    shaping: Shaping,
    outputs: Outputs,
) -> anyhow::Result<ExitCode> {
    outputs.check_writable()?;
    let stop = interrupt_signal();
    // The cells are scaled after their --vary values are set, so that a varied timeout is scaled too.
    let base = shaped_scenario(
        Some(&scenario_path),
        &overrides,
        &Shaping {
            time_scale: TimeScale::ONE,
            ..shaping.clone()
        },
    )?;
    let scale = shaping.time_scale;
    let cells = matrix(&base, &vary)?;
    say!("{}: {} cells", base.name, cells.len());
    if let Some(header) = shaping.header() {
        say!("{header}");
    }
    let options = RunOptions {
        quiet: outputs.quiet,
        label: None,
        timelines: 0,
    };
    let mut results = Vec::with_capacity(cells.len());
    for cell in cells {
        if stop.is_triggered() {
            break;
        }
        let scenario = time_scaled(&cell.scenario, scale);
        let mut result = run_scenario(&scenario, &options, stop.clone()).await?;
        result.cell = cell.values;
        result.time_scale = scale.factor();
        if !outputs.quiet {
            say_raw!("{}", run_table(&result));
        }
        results.push(result);
    }
    say!("\n{}", comparison_table(&results));
    say!("{}", causes_by_cell(&results));
    write_outputs(&outputs, &base.name, &results, None, scale)?;
    let violations: Vec<String> = results
        .iter()
        .filter_map(|result| {
            let scenario: harness::scenario::Scenario =
                serde_json::from_value(result.settings.clone()).ok()?;
            Some(
                scenario
                    .expect
                    .violations(result)
                    .into_iter()
                    .map(|v| format!("{}: {v}", result.scenario))
                    .collect::<Vec<_>>(),
            )
        })
        .flatten()
        .collect();
    Ok(exit_status(&stop, &violations))
}

fn causes_by_cell(results: &[harness::result::RunResult]) -> String {
    let mut out = String::from("502 causes by cell:\n");
    for result in results {
        let causes: Vec<String> = result
            .causes
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        let causes = if causes.is_empty() {
            "none".to_owned()
        } else {
            causes.join(", ")
        };
        out.push_str(&format!(
            "  {}: {causes}; {:.1} upstream connections/s\n",
            result.scenario,
            result.upstream_connections_per_s()
        ));
    }
    out
}
