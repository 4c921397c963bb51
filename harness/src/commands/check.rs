//! `badgateway check`: the CI gate over result files. Prints one line per rule applied (`ok`, `FAIL`, or `--`
//! for a rule that could not be applied, with why) and exits 1 when any line failed.

use std::path::Path;
use std::process::ExitCode;

use harness::check::{Gate, ResultFile, Verdict, judge_files};

pub fn check(result: &Path, baseline: Option<&Path>, gate: &Gate) -> anyhow::Result<ExitCode> {
    let result = ResultFile::read(result)?;
    let baseline = baseline.map(ResultFile::read).transpose()?;
    let lines = judge_files(&result, baseline.as_ref(), gate)?;
    let mut failed = 0;
    for line in &lines {
        let mark = match line.verdict {
            Verdict::Pass => "ok  ",
            Verdict::Fail => {
                failed += 1;
                "FAIL"
            }
            Verdict::NotJudged => "--  ",
        };
        say!("{mark} {}", line.text);
    }
    if failed == 0 {
        say!(
            "check passed: a {} file, {} line(s)",
            result.kind(),
            lines.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        say!("check failed: {failed} of {} line(s)", lines.len());
        Ok(ExitCode::FAILURE)
    }
}
