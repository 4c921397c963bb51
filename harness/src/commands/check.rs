//! `badgateway check`: the CI gate over result files.

use std::path::Path;
use std::process::ExitCode;

use harness::check::{ResultFile, Tolerance, check_files};

pub fn check(
    result: &Path,
    baseline: Option<&Path>,
    tolerance: Tolerance,
) -> anyhow::Result<ExitCode> {
    let result = ResultFile::read(result).map_err(anyhow::Error::msg)?;
    let baseline = baseline
        .map(ResultFile::read)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let violations = check_files(&result, baseline.as_ref(), tolerance);
    if violations.is_empty() {
        println!("check passed: {} run(s)", result.runs().len());
        Ok(ExitCode::SUCCESS)
    } else {
        for violation in &violations {
            println!("FAIL {violation}");
        }
        Ok(ExitCode::FAILURE)
    }
}
