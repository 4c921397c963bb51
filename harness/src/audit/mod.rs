//! `badgateway audit`: reads real front and back configurations (nginx, HAProxy, Caddy fronts; Apache backs)
//! and presets, pairs every front with every back, and gives each pair a verdict on the keep-alive race with
//! the lines to change.
//!
//! One file per config format (`nginx`, `apache`, `haproxy`, `caddy`), each turning a file into [`Front`]s or
//! [`Back`]s whose every value carries its file and line; `verdict` applies the rule; `report` prints and
//! serialises; `scenario` writes the time-scaled scenario `probe` runs to confirm. This module only wires
//! them and turns `--preset` into sides. It starts no server and reads nothing but the files it is given.

pub mod apache;
pub mod caddy;
pub mod haproxy;
pub mod include;
pub mod model;
pub mod nginx;
pub mod report;
pub mod scenario;
pub mod verdict;

use std::path::{Path, PathBuf};
use std::time::Duration;

use gateway::RetryPolicy;

pub use model::{Back, BackKind, Diagnostic, Front, FrontKind, Parsed, Setting, Severity, Where};
pub use verdict::{Change, Options, Side, Verdict};

use crate::preset::{BackPreset, FrontPreset, IdleLimit, Preset};

/// What to audit.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// nginx.conf files (fronts).
    pub nginx: Vec<PathBuf>,
    /// apache2.conf files (backs).
    pub apache: Vec<PathBuf>,
    /// haproxy.cfg files (fronts).
    pub haproxy: Vec<PathBuf>,
    /// Caddyfiles (fronts).
    pub caddy: Vec<PathBuf>,
    /// A preset front and/or back.
    pub preset: Option<Preset>,
    /// `key=value` settings that complete or change the preset sides (`front.idle_timeout`, `front.retry`,
    /// `back.keepalive_timeout`).
    pub sets: Vec<String>,
    /// The rule's knobs.
    pub options: Options,
}

/// A pair and its verdict (an error when a value it needs is missing).
#[derive(Debug, Clone)]
pub struct Pair {
    /// The front.
    pub front: Front,
    /// The back.
    pub back: Back,
    /// The verdict, or what it lacks.
    pub verdict: Result<Verdict, String>,
}

/// The whole audit.
#[derive(Debug, Clone)]
pub struct Audit {
    /// Every front × back pair.
    pub pairs: Vec<Pair>,
    /// What the parsers said, with file and line.
    pub diagnostics: Vec<Diagnostic>,
    /// The knobs it ran with.
    pub options: Options,
    /// The preset it was given, for its sources.
    pub preset: Option<Preset>,
}

impl Audit {
    /// Whether any pair is exposed.
    pub fn any_exposed(&self) -> bool {
        self.pairs
            .iter()
            .any(|p| matches!(&p.verdict, Ok(v) if v.exposed))
    }

    /// Whether anything could not be read or judged.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
            || self.pairs.iter().any(|p| p.verdict.is_err())
    }
}

/// The audit could not start.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A config file given on the command line could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// There is no front or no back to pair.
    #[error("nothing to pair: {0}")]
    Nothing(String),
    /// A `--set` the audit cannot use.
    #[error("--set {assignment:?}: {message}")]
    Set {
        /// As given.
        assignment: String,
        /// What is wrong.
        message: String,
    },
}

/// A format's reader: a file to its fronts or backs.
type Reader = fn(&Path) -> std::io::Result<Parsed>;

/// Reads every input and judges every pair.
pub fn run(inputs: &Inputs) -> Result<Audit, AuditError> {
    let mut fronts = Vec::new();
    let mut backs = Vec::new();
    let mut diagnostics = Vec::new();
    let readers: [(&[PathBuf], Reader); 4] = [
        (&inputs.nginx, nginx::read),
        (&inputs.haproxy, haproxy::read),
        (&inputs.caddy, caddy::read),
        (&inputs.apache, apache::read),
    ];
    for (paths, reader) in readers {
        for path in paths {
            let parsed = reader(path).map_err(|source| AuditError::Read {
                path: path.clone(),
                source,
            })?;
            fronts.extend(parsed.fronts);
            backs.extend(parsed.backs);
            diagnostics.extend(parsed.diagnostics);
        }
    }
    let sets = PresetSets::parse(&inputs.sets)?;
    if let Some(preset) = inputs.preset {
        if let Some(front) = preset.front {
            fronts.push(preset_front(front, &sets));
        }
        if let Some(back) = preset.back {
            backs.push(preset_back(back, &sets));
        }
    }
    if fronts.is_empty() {
        return Err(AuditError::Nothing(
            "no front: give --nginx, --haproxy, --caddy (with a proxy to audit) or --preset front=NAME".to_owned(),
        ));
    }
    if backs.is_empty() {
        return Err(AuditError::Nothing(
            "no back: give --apache or --preset back=NAME".to_owned(),
        ));
    }
    let mut pairs = Vec::new();
    for front in &fronts {
        for back in &backs {
            pairs.push(Pair {
                front: front.clone(),
                back: back.clone(),
                verdict: verdict::judge(front, back, &inputs.options),
            });
        }
    }
    Ok(Audit {
        pairs,
        diagnostics,
        options: inputs.options.clone(),
        preset: inputs.preset,
    })
}

/// The `--set`s that complete preset sides.
#[derive(Debug, Default)]
struct PresetSets {
    front_idle: Option<(Duration, String)>,
    front_retry: Option<(RetryPolicy, String)>,
    back_timeout: Option<(Duration, String)>,
}

impl PresetSets {
    fn parse(sets: &[String]) -> Result<Self, AuditError> {
        let mut parsed = PresetSets::default();
        for assignment in sets {
            let fail = |message: String| AuditError::Set {
                assignment: assignment.clone(),
                message,
            };
            let (key, value) = assignment
                .split_once('=')
                .ok_or_else(|| fail("expected key=value".to_owned()))?;
            let (key, value) = (key.trim(), value.trim());
            let duration = || {
                humantime::parse_duration(value)
                    .map_err(|e| fail(format!("{value:?} is not a duration: {e}")))
            };
            match key {
                "front.idle_timeout" => parsed.front_idle = Some((duration()?, assignment.clone())),
                "back.keepalive_timeout" => {
                    parsed.back_timeout = Some((duration()?, assignment.clone()))
                }
                "front.retry" => {
                    let policy = match value {
                        "none" => RetryPolicy::None,
                        "idempotent" => RetryPolicy::Idempotent,
                        "always" => RetryPolicy::Always,
                        other => {
                            return Err(fail(format!(
                                "{other:?} is not none, idempotent or always"
                            )));
                        }
                    };
                    parsed.front_retry = Some((policy, assignment.clone()));
                }
                other => {
                    return Err(fail(format!(
                        "audit takes front.idle_timeout, front.retry and back.keepalive_timeout, not {other}"
                    )));
                }
            }
        }
        Ok(parsed)
    }
}

fn preset_front(preset: FrontPreset, sets: &PresetSets) -> Front {
    let defaults = preset.defaults();
    let at = Where::Preset(format!("front={}", preset.name()));
    let idle_timeout = match &sets.front_idle {
        Some((idle, assignment)) => Setting::new(
            IdleLimit::After(*idle),
            Where::Preset(format!("--set {assignment}")),
        ),
        None => Setting::new(defaults.idle_timeout, at.clone()),
    };
    let retry = match &sets.front_retry {
        Some((policy, assignment)) => {
            Setting::new(*policy, Where::Preset(format!("--set {assignment}")))
        }
        None => Setting::new(defaults.retry, at.clone()),
    };
    let failure_note = (preset == FrontPreset::Haproxy).then(|| {
        "HAProxy closes the client connection without a response (a browser may retry; a proxy or API client fails)"
            .to_owned()
    });
    Front {
        label: format!("preset {}", preset.name()),
        kind: FrontKind::Preset(preset),
        reuse: Setting::new(Ok(()), at.clone()),
        idle_timeout,
        retry,
        max_requests: Setting::new(defaults.max_requests, at),
        failure_note,
    }
}

fn preset_back(preset: BackPreset, sets: &PresetSets) -> Back {
    let defaults = preset.defaults();
    let at = Where::Preset(format!("back={}", preset.name()));
    let keepalive_timeout = match &sets.back_timeout {
        Some((timeout, assignment)) => Setting::new(
            IdleLimit::After(*timeout),
            Where::Preset(format!("--set {assignment}")),
        ),
        None => Setting::new(defaults.effective_close(), at.clone()),
    };
    Back {
        label: format!("preset {}", preset.name()),
        kind: BackKind::Preset(preset),
        keepalive: Setting::new(true, at.clone()),
        keepalive_timeout,
        max_requests: Setting::new(defaults.max_requests, at),
    }
}
