//! `badgateway merge A.json B.json … [--json all.json]`: the results of load agents that ran side by side,
//! as one run (see `harness::merge` for what is added and how). It reads the files, refuses any that is not
//! one run's result, prints the merged table as `run` does and writes the merged JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use harness::check::ResultFile;
use harness::merge::{Part, merge as merge_parts};
use harness::report::run_table;
use harness::result::write_json_atomically;

use super::check_writable;

pub fn merge(files: &[PathBuf], json: Option<&PathBuf>) -> anyhow::Result<ExitCode> {
    check_writable(json.map(PathBuf::as_path))?;
    let mut parts = Vec::with_capacity(files.len());
    // (canonical path, contents, name) of each file read so far: one run given twice would count twice.
    let mut seen: Vec<(PathBuf, Vec<u8>, String)> = Vec::with_capacity(files.len());
    for path in files {
        let name = path.display().to_string();
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        let contents = std::fs::read(path).with_context(|| format!("cannot read {name}"))?;
        if let Some((_, _, earlier)) = seen.iter().find(|(other, _, _)| *other == canonical) {
            anyhow::bail!(
                "{name} is given twice (as {earlier} and {name}): merging it would count its requests twice"
            );
        }
        if let Some((_, _, earlier)) = seen.iter().find(|(_, other, _)| *other == contents) {
            anyhow::bail!(
                "{name} holds the same result as {earlier} (a copy?): merging it would count its requests twice"
            );
        }
        seen.push((canonical, contents, name.clone()));
        let result = match ResultFile::read(path)? {
            ResultFile::Single(result) => *result,
            other => anyhow::bail!(
                "{name} is a {} file, not one run's result: merge takes the files `load --json` (or `run SCENARIO --json`) writes",
                other.kind()
            ),
        };
        parts.push(Part { name, result });
    }
    let merged = merge_parts(&parts)?;
    let runs = if parts.len() == 1 { "run" } else { "runs" };
    say!("merged {} {runs}: {}", parts.len(), names(files));
    say_raw!("{}", run_table(&merged));
    if let Some(path) = json {
        write_json_atomically(path, &merged)
            .with_context(|| format!("cannot write {}", path.display()))?;
        say!("result written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn names(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
