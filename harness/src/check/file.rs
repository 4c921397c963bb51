//! Reading a result file of any kind the tool writes ([`ResultFile`]): one run, cells, a sweep, a real sweep, a
//! probe, recognised by their top-level keys so that an unknown file's error can name the kinds tried. Owns the
//! file kinds and the errors of reading them; judging a file is the parent module's.

use std::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::probe::ProbeResult;
use crate::result::RunResult;
use crate::sweep::SweepResult;

/// A result file, of any kind the tool writes. Read by the keys it has, not by trying serde variants in turn, so
/// an error can say which kinds were tried.
#[derive(Debug, Clone)]
pub enum ResultFile {
    /// Several runs: `compare`, the default `run`, `real compare` (`{"cells": [...]}`).
    Cells {
        /// The runs.
        cells: Vec<RunResult>,
        /// Cells that could not run (`real compare`): their label and why.
        failed: Vec<(String, String)>,
    },
    /// One run: `run SCENARIO`, `load`, `real run`.
    Single(Box<RunResult>),
    /// One race-window curve: `sweep` (`{"bins": [...]}`).
    Sweep(Box<SweepResult>),
    /// Several curves: `real sweep` (`{"sweeps": [{"front", "back", "sweep"}]}`).
    Sweeps(Vec<SweepResult>),
    /// A probe of one chain: `probe` (`{"probe": {...}}`), judged by [`ProbeResult::violations`].
    Probe(Box<ProbeResult>),
}

/// The kinds of result file, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `{"cells": [...]}`.
    Cells,
    /// One run.
    Run,
    /// `{"bins": [...]}`.
    Sweep,
    /// `{"sweeps": [...]}`.
    Sweeps,
    /// `{"probe": {...}}`.
    Probe,
}

impl FileKind {
    /// Every kind, in the order a file is recognised.
    pub const ALL: [FileKind; 5] = [
        FileKind::Probe,
        FileKind::Sweeps,
        FileKind::Sweep,
        FileKind::Cells,
        FileKind::Run,
    ];

    /// The kind's name and the key that marks it.
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Cells => "cells (compare, run, real compare: a \"cells\" list)",
            FileKind::Run => "run (run SCENARIO, load, real run: \"requests\" and \"settings\")",
            FileKind::Sweep => "sweep (sweep: a \"bins\" list)",
            FileKind::Sweeps => "sweeps (real sweep: a \"sweeps\" list)",
            FileKind::Probe => "probe (probe: a \"probe\" object)",
        }
    }

    fn marker(self) -> &'static [&'static str] {
        match self {
            FileKind::Cells => &["cells"],
            FileKind::Run => &["requests", "settings"],
            FileKind::Sweep => &["bins"],
            FileKind::Sweeps => &["sweeps"],
            FileKind::Probe => &["probe"],
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Cells => "cells",
            FileKind::Run => "run",
            FileKind::Sweep => "sweep",
            FileKind::Sweeps => "sweeps",
            FileKind::Probe => "probe",
        })
    }
}

/// Why a file could not be read or compared.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not JSON at all.
    #[error("{path} is not JSON: {source}")]
    NotJson {
        /// The file.
        path: String,
        /// Why.
        source: serde_json::Error,
    },
    /// JSON of no known kind.
    #[error("{path} is not a badgateway result: tried {tried}; it has the keys [{keys}]")]
    UnknownKind {
        /// The file.
        path: String,
        /// The kinds tried.
        tried: String,
        /// Its top-level keys.
        keys: String,
    },
    /// Of a known kind, but malformed.
    #[error("{path} looks like a {kind} result but does not match it: {source}")]
    Malformed {
        /// The file.
        path: String,
        /// The kind its keys say.
        kind: FileKind,
        /// Why.
        source: serde_json::Error,
    },
    /// A baseline of another kind than the result.
    #[error(
        "the result is a {result} file and the baseline a {baseline} file: a baseline must be of the same kind"
    )]
    KindMismatch {
        /// The result's kind.
        result: FileKind,
        /// The baseline's kind.
        baseline: FileKind,
    },
    /// A baseline given for a kind that has none.
    #[error("a {kind} file has no baseline comparison (only run and cells files do)")]
    NoBaselineFor {
        /// The result's kind.
        kind: FileKind,
    },
}

impl ResultFile {
    /// Reads a result file of any kind; the error names the file and, for an unknown file, the kinds tried.
    pub fn read(path: &Path) -> Result<Self, CheckError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CheckError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// Parses the text of a result file; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, CheckError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| CheckError::NotJson {
                path: path.to_owned(),
                source,
            })?;
        let keys: Vec<String> = value
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let Some(kind) = FileKind::ALL.into_iter().find(|kind| {
            kind.marker()
                .iter()
                .all(|k| keys.iter().any(|key| key == k))
        }) else {
            let tried: Vec<&str> = FileKind::ALL.iter().map(|k| k.describe()).collect();
            return Err(CheckError::UnknownKind {
                path: path.to_owned(),
                tried: tried.join("; "),
                keys: keys.join(", "),
            });
        };
        let malformed = |source| CheckError::Malformed {
            path: path.to_owned(),
            kind,
            source,
        };
        Ok(match kind {
            FileKind::Probe => ResultFile::Probe(Box::new(typed(value).map_err(malformed)?)),
            FileKind::Sweep => ResultFile::Sweep(Box::new(typed(value).map_err(malformed)?)),
            FileKind::Sweeps => {
                let sweeps: Vec<serde_json::Value> =
                    typed(value["sweeps"].clone()).map_err(malformed)?;
                let curves = sweeps
                    .into_iter()
                    .map(|entry| typed(entry["sweep"].clone()))
                    .collect::<Result<_, _>>()
                    .map_err(malformed)?;
                ResultFile::Sweeps(curves)
            }
            FileKind::Cells => {
                let entries: Vec<serde_json::Value> =
                    typed(value["cells"].clone()).map_err(malformed)?;
                let mut cells = Vec::new();
                let mut failed = Vec::new();
                for entry in entries {
                    match (entry.get("error"), entry.get("requests")) {
                        (Some(error), None) => failed.push((
                            entry["scenario"].as_str().unwrap_or("?").to_owned(),
                            error.as_str().unwrap_or("?").to_owned(),
                        )),
                        _ => cells.push(typed(entry).map_err(malformed)?),
                    }
                }
                ResultFile::Cells { cells, failed }
            }
            FileKind::Run => ResultFile::Single(Box::new(typed(value).map_err(malformed)?)),
        })
    }

    /// Its kind.
    pub fn kind(&self) -> FileKind {
        match self {
            ResultFile::Cells { .. } => FileKind::Cells,
            ResultFile::Single(_) => FileKind::Run,
            ResultFile::Sweep(_) => FileKind::Sweep,
            ResultFile::Sweeps(_) => FileKind::Sweeps,
            ResultFile::Probe(_) => FileKind::Probe,
        }
    }

    /// The runs it holds (none for a sweep or a probe).
    pub fn runs(&self) -> Vec<&RunResult> {
        match self {
            ResultFile::Cells { cells, .. } => cells.iter().collect(),
            ResultFile::Single(run) => vec![run.as_ref()],
            ResultFile::Sweep(_) | ResultFile::Sweeps(_) | ResultFile::Probe(_) => Vec::new(),
        }
    }
}

fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(value)
}
