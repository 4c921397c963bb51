//! `badgateway compare`: the `--vary` matrix, one table.

use std::path::PathBuf;
use std::process::ExitCode;

use harness::compare::{Variation, matrix};
use harness::report::{comparison_table, run_table};
use harness::run::{RunOptions, run_scenario};

use super::{interrupt_signal, load_scenario, write_outputs};
use crate::Outputs;

pub async fn compare(
    scenario_path: PathBuf,
    vary: Vec<Variation>,
    overrides: Vec<String>,
    outputs: Outputs,
) -> anyhow::Result<ExitCode> {
    let stop = interrupt_signal();
    let base = load_scenario(Some(&scenario_path), &overrides)?;
    let cells = matrix(&base, &vary)?;
    println!("{}: {} cells", base.name, cells.len());
    let options = RunOptions {
        quiet: outputs.quiet,
        label: None,
    };
    let mut results = Vec::with_capacity(cells.len());
    for cell in cells {
        if stop.is_triggered() {
            break;
        }
        let mut result = run_scenario(&cell.scenario, &options, stop.clone()).await?;
        result.cell = cell.values;
        if !outputs.quiet {
            print!("{}", run_table(&result));
        }
        results.push(result);
    }
    println!("\n{}", comparison_table(&results));
    println!("{}", causes_by_cell(&results));
    write_outputs(&outputs, &base.name, &results, None)?;
    Ok(ExitCode::SUCCESS)
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
