//! `badgateway explain RESULT.json`: what each 502 cause in a result means and what to check; for a real
//! front, its own account of its upstream failures as the result holds it; and the first kept timeline of each
//! run as a ladder; for a sweep its 502 counts, for a probe its verdict (neither keeps wire stories).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use harness::check::ResultFile;
use harness::explain::{explain_probe, explain_run, explain_sweep, front_accounts};
use harness::report::ladder;

pub fn explain(result: &Path) -> anyhow::Result<ExitCode> {
    let file = ResultFile::read(result)?;
    let text = std::fs::read_to_string(result)
        .with_context(|| format!("cannot read {}", result.display()))?;
    let accounts = serde_json::from_str(&text)
        .map(|document| front_accounts(&document))
        .unwrap_or_default();
    match &file {
        ResultFile::Sweep(sweep) => say_raw!("{}", explain_sweep(sweep)),
        ResultFile::Sweeps(sweeps) => {
            for sweep in sweeps {
                say_raw!("{}", explain_sweep(sweep));
            }
        }
        ResultFile::Probe(probe) => say_raw!("{}", explain_probe(probe)),
        ResultFile::Cells { .. } | ResultFile::Single(_) => {}
    }
    if let ResultFile::Cells { failed, .. } = &file {
        for (label, why) in failed {
            say!("{label}: could not run: {why}\n");
        }
    }
    for run in file.runs() {
        say!("{}", explain_run(run, accounts.get(&run.scenario)));
        if let Some(timeline) = run.timelines.first() {
            say!("{}", ladder(timeline, run.timeline_totals.as_ref()));
        }
    }
    Ok(ExitCode::SUCCESS)
}
