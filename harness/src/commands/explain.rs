//! `badgateway explain RESULT.json`: what each 502 cause in a result means and what to check.

use std::path::Path;
use std::process::ExitCode;

use harness::check::ResultFile;
use harness::explain::explain_result;

pub fn explain(result: &Path) -> anyhow::Result<ExitCode> {
    let file = ResultFile::read(result)?;
    for run in file.runs() {
        println!("{}", explain_result(run));
    }
    Ok(ExitCode::SUCCESS)
}
