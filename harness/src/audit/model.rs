//! What the audit knows about each side of a pair: every value with the file and line it came from (or the
//! product default or preset it fell back to), and the diagnostics of reading the configs.
//!
//! Owns the data types only; the parsers fill them, the verdict reads them.

use std::fmt;
use std::path::PathBuf;

use gateway::RetryPolicy;

use crate::preset::{BackPreset, FrontPreset, IdleLimit, RequestLimit};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    /// A line of a config file (1-based).
    Line {
        /// The file, as found (an included file has its own path).
        file: PathBuf,
        /// The line.
        line: usize,
    },
    /// Not set anywhere: the product's built-in default, as described.
    Default(String),
    /// A `--preset` (or a `--set` that completed it).
    Preset(String),
}

impl Where {
    /// A line of `file`.
    pub fn line(file: &std::path::Path, line: usize) -> Where {
        Where::Line {
            file: file.to_owned(),
            line,
        }
    }

    /// The file and line, when the value came from one.
    pub fn file_line(&self) -> Option<(&std::path::Path, usize)> {
        match self {
            Where::Line { file, line } => Some((file, *line)),
            _ => None,
        }
    }
}

impl fmt::Display for Where {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Where::Line { file, line } => write!(f, "{}:{line}", file.display()),
            Where::Default(what) => write!(f, "default ({what})"),
            Where::Preset(name) => write!(f, "preset {name}"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Its origin.
    pub at: Where,
}

impl<T> Setting<T> {
    /// A value read at `at`.
    pub fn new(value: T, at: Where) -> Self {
        Setting { value, at }
    }

    /// A built-in default.
    pub fn default_of(value: T, what: &str) -> Self {
        Setting {
            value,
            at: Where::Default(what.to_owned()),
        }
    }
}

/// Which product a front is, and what the fix directives are attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontKind {
    /// An nginx `upstream` block, reached from a `location`'s `proxy_pass`.
    Nginx {
        /// The `upstream NAME {` line, where a missing directive goes.
        upstream: Where,
        /// The `location` (or the line of `proxy_pass`) whose request handling applies.
        location: Where,
    },
    /// A HAProxy `backend` or `listen` section.
    Haproxy {
        /// The section's first line.
        section: Where,
    },
    /// A Caddy `reverse_proxy` directive.
    Caddy {
        /// Its line.
        directive: Where,
    },
    /// A front from `--preset`.
    Preset(FrontPreset),
}

/// Which product a back is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackKind {
    /// Apache httpd: the main server or a `<VirtualHost>`.
    Apache {
        /// The `<VirtualHost ...>` line, or the main config file's first line for the main server.
        context: Where,
    },
    /// A back from `--preset`.
    Preset(BackPreset),
}

/// A front as read: how it keeps and reuses idle upstream connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Front {
    /// What it is, for the report: `nginx upstream app (location /api)`.
    pub label: String,
    /// The product and the anchors of its fix.
    pub kind: FrontKind,
    /// Whether it reuses idle upstream connections at all, and why not when it does not.
    pub reuse: Setting<Result<(), String>>,
    /// How long an idle upstream connection is kept.
    pub idle_timeout: Setting<IdleLimit>,
    /// What happens when a reused connection fails before any response byte.
    pub retry: Setting<RetryPolicy>,
    /// Requests per upstream connection.
    pub max_requests: Setting<RequestLimit>,
    /// What the product does instead of a 502 when it does not retry (HAProxy: closes the client
    /// connection without a response), when that differs.
    pub failure_note: Option<String>,
}

/// A back as read: how long it keeps an idle connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Back {
    /// What it is: `Apache <VirtualHost *:80> app.example`.
    pub label: String,
    /// The product and the anchor of its fix.
    pub kind: BackKind,
    /// `KeepAlive`: whether it keeps connections open after a response.
    pub keepalive: Setting<bool>,
    /// When it closes an idle connection (the effective close: a preset's measured delay included).
    pub keepalive_timeout: Setting<IdleLimit>,
    /// Requests per connection.
    pub max_requests: Setting<RequestLimit>,
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A directive the audit does not model but that may matter; the verdict stands without it.
    Warning,
    /// A value that cannot be read: the audit cannot give a verdict for what depends on it.
    Error,
}

/// Something said about a config line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// Where.
    pub at: Where,
    /// What, naming the directive and value.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}: {level}: {}", self.at, self.message)
    }
}

/// What a parser found in one config: fronts or backs, and diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The fronts it declares.
    pub fronts: Vec<Front>,
    /// The backs it declares.
    pub backs: Vec<Back>,
    /// What could not be read or is not modelled.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// Records a warning at `at`.
    pub fn warn(&mut self, at: Where, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            severity: Severity::Warning,
            at,
            message: message.into(),
        });
    }

    /// Records an error at `at`.
    pub fn error(&mut self, at: Where, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            at,
            message: message.into(),
        });
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}
