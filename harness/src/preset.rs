//! Product presets: the documented idle and keep-alive defaults of common fronts and backs as one typed table,
//! parsed from `front=alb,back=node20`, turned into scenario overrides (`front.idle_timeout=60s`, ...).
//!
//! Owns the table (every figure with its source) and the `--preset` syntax. It does not apply the overrides
//! (`Scenario::with_override` does, before the user's own `--set`s) and does not scale them: the figures stay
//! plain data so a time scale can multiply them ([`FrontDefaults::scaled`], [`BackDefaults::scaled`]).
//!
//! Where the table (design notes, "product defaults") and the software installed here disagree, the preset
//! follows what is documented for the current release and says what differs:
//! - nginx 1.22 (installed) keeps no upstream connection idle at all unless the upstream block has
//!   `keepalive N;` *and* the location sets `proxy_http_version 1.1` and clears `Connection`; the 1.29.7
//!   default (keep-alive on for explicit upstream blocks) does not apply to it. The preset describes an nginx
//!   that does keep upstream connections (`keepalive_timeout` 60 s, `keepalive_requests` 1000).
//! - Node 20 (20.20.2 installed) closes an idle socket about 1 s *after* `keepAliveTimeout` (measured with
//!   `bench/idle_close.py`: 2.0 s for a 1 s setting), so the `node20` preset's effective close is 6 s for the
//!   documented 5 s.
//! - HAProxy 2.6 (installed) has no idle timeout on server connections; measured with `bench/front_idle.py`, a
//!   lone idle connection was closed (RST) 15 s after its response with the default `pool-purge-delay 5s`.
//!   How long one survives depends on the traffic (the purge keeps what recent periods used), so the preset
//!   keeps it unbounded. nginx 1.22's upstream `keepalive_timeout` (60.06 s) and Caddy 2.6's `keepalive`
//!   (120.02 s) measured as documented.
//! - Tomcat's `keepAliveTimeout` falls back to `connectionTimeout`: 60 s in code, 20 s in the shipped
//!   server.xml; the preset takes the shipped 20 s.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use gateway::RetryPolicy;

/// How long a side keeps an idle connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleLimit {
    /// Closed after this long idle.
    After(Duration),
    /// No idle limit (Go's `IdleTimeout` and `ReadTimeout` both 0; HAProxy's server-side pool, which only
    /// halves its idle connections every `pool-purge-delay`).
    Unbounded,
    /// The product does not document it (Application Gateway's backend idle timeout): the user must say.
    Undocumented,
}

/// How many requests a side serves on one connection before it closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestLimit {
    /// No limit.
    Unlimited,
    /// At most this many.
    At(u64),
    /// Not documented.
    Undocumented,
}

/// What a scenario writes for an [`IdleLimit::Unbounded`] timeout: a day, far past any load's idle gap.
pub const UNBOUNDED_AS: Duration = Duration::from_secs(24 * 3600);

/// A front from the defaults table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FrontPreset {
    /// AWS Application Load Balancer.
    Alb,
    /// Azure Application Gateway v2.
    Appgw,
    /// Google Cloud external HTTP(S) load balancer.
    Gcp,
    /// Cloudflare's proxy.
    Cloudflare,
    /// Envoy.
    Envoy,
    /// Traefik.
    Traefik,
    /// nginx with `upstream { keepalive N; }`.
    Nginx,
    /// HAProxy.
    Haproxy,
    /// Caddy 2.
    Caddy,
    /// Varnish.
    Varnish,
}

/// A back from the defaults table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackPreset {
    /// Apache httpd 2.4.
    Apache,
    /// nginx as the back.
    Nginx,
    /// Node.js 20 `http`.
    Node20,
    /// Node.js 26 `http`.
    Node26,
    /// gunicorn (gthread worker).
    Gunicorn,
    /// uvicorn.
    Uvicorn,
    /// Tomcat (HTTP/1.1 connector).
    Tomcat,
    /// Jetty.
    Jetty,
    /// IIS.
    Iis,
    /// Puma 7.
    Puma,
    /// ASP.NET Core Kestrel.
    Kestrel,
    /// Go `net/http` server.
    Go,
}

/// A front's documented upstream-side defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrontDefaults {
    /// How long an idle upstream connection is kept.
    pub idle_timeout: IdleLimit,
    /// Requests per upstream connection.
    pub max_requests: RequestLimit,
    /// What it does when a reused upstream connection fails before any response byte.
    pub retry: RetryPolicy,
    /// The documentation or source the figures come from.
    pub source: &'static str,
    /// What the figures leave out, or where the installed version differs.
    pub note: &'static str,
}

/// A back's documented keep-alive defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackDefaults {
    /// The keep-alive timeout setting, as documented.
    pub keepalive_timeout: IdleLimit,
    /// Measured: how much later than its setting the back really closes (Node 20: 1 s).
    pub close_delay: Duration,
    /// Requests per connection.
    pub max_requests: RequestLimit,
    /// The documentation or source the figures come from.
    pub source: &'static str,
    /// What the figures leave out, or where the installed version differs.
    pub note: &'static str,
}

const fn secs(seconds: u64) -> IdleLimit {
    IdleLimit::After(Duration::from_secs(seconds))
}

impl FrontPreset {
    /// Every front, in the table's order.
    pub const ALL: [FrontPreset; 10] = [
        FrontPreset::Alb,
        FrontPreset::Appgw,
        FrontPreset::Gcp,
        FrontPreset::Cloudflare,
        FrontPreset::Envoy,
        FrontPreset::Traefik,
        FrontPreset::Nginx,
        FrontPreset::Haproxy,
        FrontPreset::Caddy,
        FrontPreset::Varnish,
    ];

    /// The name used in `--preset front=NAME`.
    pub const fn name(self) -> &'static str {
        match self {
            FrontPreset::Alb => "alb",
            FrontPreset::Appgw => "appgw",
            FrontPreset::Gcp => "gcp",
            FrontPreset::Cloudflare => "cloudflare",
            FrontPreset::Envoy => "envoy",
            FrontPreset::Traefik => "traefik",
            FrontPreset::Nginx => "nginx",
            FrontPreset::Haproxy => "haproxy",
            FrontPreset::Caddy => "caddy",
            FrontPreset::Varnish => "varnish",
        }
    }

    /// The product's documented defaults. Where the table says nothing about retries, the preset assumes
    /// none (the cautious reading: the audit then calls the pair exposed rather than guess a retry).
    pub const fn defaults(self) -> FrontDefaults {
        match self {
            // AWS ELB docs, "Edit attributes of your Application Load Balancer": connection idle timeout 60 s
            // (client and target side); a target that closes first yields 502.
            FrontPreset::Alb => FrontDefaults {
                idle_timeout: secs(60),
                max_requests: RequestLimit::Unlimited,
                retry: RetryPolicy::None,
                source: "AWS ELB docs, edit load balancer attributes: idle_timeout.timeout_seconds 60",
                note: "no retry of a failed reused target connection is documented",
            },
            // MicrosoftDocs azure-docs application-gateway-troubleshooting-502.md and application-gateway-faq.md:
            // request timeout 20 s, client keep-alive 75 s (v2); the backend idle timeout is not documented.
            FrontPreset::Appgw => FrontDefaults {
                idle_timeout: IdleLimit::Undocumented,
                max_requests: RequestLimit::Undocumented,
                retry: RetryPolicy::None,
                source: "azure-docs application-gateway-troubleshooting-502.md, application-gateway-faq.md",
                note: "the backend idle timeout is not documented: give it with --set front.idle_timeout=...",
            },
            // cloud.google.com load-balancing docs, "backend HTTP keepalive timeout": fixed at 600 s.
            FrontPreset::Gcp => FrontDefaults {
                idle_timeout: secs(600),
                max_requests: RequestLimit::Undocumented,
                retry: RetryPolicy::None,
                source: "Google Cloud load balancing docs: backend HTTP keepalive timeout 600 s (fixed)",
                note: "Google asks backends to keep idle connections longer than 600 s",
            },
            // Cloudflare "connection limits": proxy idle timeout to the origin 900 s.
            FrontPreset::Cloudflare => FrontDefaults {
                idle_timeout: secs(900),
                max_requests: RequestLimit::Undocumented,
                retry: RetryPolicy::None,
                source: "Cloudflare connection limits: idle timeout to origin 900 s",
                note: "no retry of a failed reused origin connection is documented",
            },
            // envoy api/envoy/config/core/v3/protocol.proto: common_http_protocol_options.idle_timeout 1 h;
            // max_requests_per_connection unset; no retries unless a retry policy is configured.
            FrontPreset::Envoy => FrontDefaults {
                idle_timeout: secs(3600),
                max_requests: RequestLimit::Unlimited,
                retry: RetryPolicy::None,
                source: "envoy protocol.proto: common_http_protocol_options.idle_timeout 1h",
                note: "retry_on: reset retries even a sent request; reset-before-request (1.31) only unsent ones",
            },
            // Traefik static configuration: serversTransport.forwardingTimeouts.idleConnTimeout 90 s; Go's
            // transport retries a replayable request whose reused connection died before the first byte.
            FrontPreset::Traefik => FrontDefaults {
                idle_timeout: secs(90),
                max_requests: RequestLimit::Unlimited,
                retry: RetryPolicy::Idempotent,
                source: "Traefik static configuration: serversTransport.forwardingTimeouts.idleConnTimeout 90s",
                note: "Go net/http retries GET/HEAD/OPTIONS/TRACE (or Idempotency-Key) on a dead reused connection",
            },
            // nginx ngx_http_upstream_keepalive_module.c: keepalive_timeout 60 s, keepalive_requests 1000;
            // proxy_next_upstream error timeout by default, non-idempotent methods not passed on.
            FrontPreset::Nginx => FrontDefaults {
                idle_timeout: secs(60),
                max_requests: RequestLimit::At(1000),
                retry: RetryPolicy::Idempotent,
                source: "nginx ngx_http_upstream_keepalive_module: keepalive_timeout 60s, keepalive_requests 1000",
                note: "nginx 1.22 (installed) keeps upstream connections only with `keepalive N;`, \
                       proxy_http_version 1.1 and Connection cleared; the 1.29.7 default does not apply",
            },
            // haproxy doc/configuration.txt: no idle timeout on server-side connections, pool-purge-delay 5 s
            // closes half of them each interval; http-reuse safe; retry-on conn-failure (not a sent request).
            FrontPreset::Haproxy => FrontDefaults {
                idle_timeout: IdleLimit::Unbounded,
                max_requests: RequestLimit::Unlimited,
                retry: RetryPolicy::None,
                source: "haproxy configuration.txt: pool-purge-delay 5s, http-reuse safe, retry-on conn-failure",
                note: "a failed reused connection closes the client connection without a response",
            },
            // Caddy reverse_proxy docs: transport http keepalive 2m; Go's transport retries replayable requests.
            FrontPreset::Caddy => FrontDefaults {
                idle_timeout: secs(120),
                max_requests: RequestLimit::Unlimited,
                retry: RetryPolicy::Idempotent,
                source: "Caddy reverse_proxy docs: transport http keepalive 2m",
                note: "Go net/http retries GET/HEAD/OPTIONS/TRACE on a dead reused connection",
            },
            // varnishd parameter reference: backend_idle_timeout 60 s.
            FrontPreset::Varnish => FrontDefaults {
                idle_timeout: secs(60),
                max_requests: RequestLimit::Unlimited,
                retry: RetryPolicy::None,
                source: "varnishd parameters: backend_idle_timeout 60s",
                note: "the table documents no retry; the preset assumes none",
            },
        }
    }
}

impl BackPreset {
    /// Every back, in the table's order.
    pub const ALL: [BackPreset; 12] = [
        BackPreset::Apache,
        BackPreset::Nginx,
        BackPreset::Node20,
        BackPreset::Node26,
        BackPreset::Gunicorn,
        BackPreset::Uvicorn,
        BackPreset::Tomcat,
        BackPreset::Jetty,
        BackPreset::Iis,
        BackPreset::Puma,
        BackPreset::Kestrel,
        BackPreset::Go,
    ];

    /// The name used in `--preset back=NAME`.
    pub const fn name(self) -> &'static str {
        match self {
            BackPreset::Apache => "apache",
            BackPreset::Nginx => "nginx",
            BackPreset::Node20 => "node20",
            BackPreset::Node26 => "node26",
            BackPreset::Gunicorn => "gunicorn",
            BackPreset::Uvicorn => "uvicorn",
            BackPreset::Tomcat => "tomcat",
            BackPreset::Jetty => "jetty",
            BackPreset::Iis => "iis",
            BackPreset::Puma => "puma",
            BackPreset::Kestrel => "kestrel",
            BackPreset::Go => "go",
        }
    }

    /// The product's documented defaults.
    pub const fn defaults(self) -> BackDefaults {
        const NONE: Duration = Duration::ZERO;
        match self {
            // httpd docs, core: KeepAlive On, KeepAliveTimeout 5, MaxKeepAliveRequests 100.
            BackPreset::Apache => BackDefaults {
                keepalive_timeout: secs(5),
                close_delay: NONE,
                max_requests: RequestLimit::At(100),
                source: "httpd core docs: KeepAliveTimeout 5, MaxKeepAliveRequests 100",
                note: "2.4.71 (mpm_event) measured here closes about 1 ms after the timeout, lingering",
            },
            // ngx_http_core_module: keepalive_timeout 75s, keepalive_requests 1000.
            BackPreset::Nginx => BackDefaults {
                keepalive_timeout: secs(75),
                close_delay: NONE,
                max_requests: RequestLimit::At(1000),
                source: "ngx_http_core_module: keepalive_timeout 75s, keepalive_requests 1000",
                note: "",
            },
            // node lib/_http_server.js: keepAliveTimeout 5000 up to v25; maxRequestsPerSocket 0 (no limit).
            BackPreset::Node20 => BackDefaults {
                keepalive_timeout: secs(5),
                close_delay: Duration::from_secs(1),
                max_requests: RequestLimit::Unlimited,
                source: "node lib/_http_server.js: keepAliveTimeout 5000 (up to v25)",
                note: "Node 20.20.2 measured here closes 1 s after keepAliveTimeout",
            },
            // nodejs/node PR 62782: keepAliveTimeout 65 s from v26.
            BackPreset::Node26 => BackDefaults {
                keepalive_timeout: secs(65),
                close_delay: NONE,
                max_requests: RequestLimit::Unlimited,
                source: "nodejs/node PR 62782: keepAliveTimeout 65000 from v26",
                note: "not installed here: the close delay Node 20 shows is not measured for 26",
            },
            // gunicorn/config.py: keepalive 2 (honoured by gthread and the async workers, not sync).
            BackPreset::Gunicorn => BackDefaults {
                keepalive_timeout: secs(2),
                close_delay: NONE,
                max_requests: RequestLimit::Unlimited,
                source: "gunicorn config.py: --keep-alive 2",
                note: "the default sync worker closes after every response (no keep-alive)",
            },
            // uvicorn/config.py: timeout_keep_alive 5.
            BackPreset::Uvicorn => BackDefaults {
                keepalive_timeout: secs(5),
                close_delay: NONE,
                max_requests: RequestLimit::Unlimited,
                source: "uvicorn config.py: --timeout-keep-alive 5",
                note: "",
            },
            // Tomcat HTTP connector reference: keepAliveTimeout = connectionTimeout (20000 in the shipped
            // server.xml, 60000 in code); maxKeepAliveRequests 100.
            BackPreset::Tomcat => BackDefaults {
                keepalive_timeout: secs(20),
                close_delay: NONE,
                max_requests: RequestLimit::At(100),
                source: "Tomcat HTTP connector: keepAliveTimeout = connectionTimeout (20000 in server.xml)",
                note: "60 s when server.xml sets no connectionTimeout",
            },
            // jetty-http.xml: idleTimeout 30000.
            BackPreset::Jetty => BackDefaults {
                keepalive_timeout: secs(30),
                close_delay: NONE,
                max_requests: RequestLimit::Unlimited,
                source: "jetty-http.xml: idleTimeout 30000",
                note: "",
            },
            // IIS configuration reference, sites/siteDefaults/limits: connectionTimeout 120 s.
            BackPreset::Iis => BackDefaults {
                keepalive_timeout: secs(120),
                close_delay: NONE,
                max_requests: RequestLimit::Unlimited,
                source: "IIS sites/siteDefaults/limits: connectionTimeout 00:02:00",
                note: "",
            },
            // puma lib/puma/configuration.rb: persistent_timeout 65 from 7.0 (20 before).
            BackPreset::Puma => BackDefaults {
                keepalive_timeout: secs(65),
                close_delay: NONE,
                max_requests: RequestLimit::Unlimited,
                source: "puma configuration.rb: persistent_timeout 65 (7.0; 20 before)",
                note: "Puma before 7.0: 20 s",
            },
            // KestrelServerLimits docs: KeepAliveTimeout 130 s.
            BackPreset::Kestrel => BackDefaults {
                keepalive_timeout: secs(130),
                close_delay: NONE,
                max_requests: RequestLimit::Unlimited,
                source: "KestrelServerLimits.KeepAliveTimeout: 130 s",
                note: "",
            },
            // pkg.go.dev net/http Server: IdleTimeout 0 falls back to ReadTimeout; both 0 = no idle timeout.
            BackPreset::Go => BackDefaults {
                keepalive_timeout: IdleLimit::Unbounded,
                close_delay: NONE,
                max_requests: RequestLimit::Unlimited,
                source: "net/http Server: IdleTimeout 0 and ReadTimeout 0 = no idle timeout",
                note: "a ReadTimeout set without IdleTimeout becomes the idle timeout",
            },
        }
    }
}

impl fmt::Display for FrontPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for BackPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn names<T: fmt::Display>(all: &[T]) -> String {
    all.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for FrontPreset {
    type Err = PresetError;

    fn from_str(name: &str) -> Result<Self, PresetError> {
        FrontPreset::ALL
            .into_iter()
            .find(|preset| preset.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| PresetError::UnknownFront {
                name: name.to_owned(),
                valid: names(&FrontPreset::ALL),
            })
    }
}

impl FromStr for BackPreset {
    type Err = PresetError;

    fn from_str(name: &str) -> Result<Self, PresetError> {
        BackPreset::ALL
            .into_iter()
            .find(|preset| preset.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| PresetError::UnknownBack {
                name: name.to_owned(),
                valid: names(&BackPreset::ALL),
            })
    }
}

/// A `--preset` could not be read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresetError {
    /// A part is not `front=NAME` or `back=NAME`.
    #[error("preset part {part:?}: expected front=NAME or back=NAME")]
    Syntax {
        /// The part as given.
        part: String,
    },
    /// The same side twice.
    #[error("preset names {side} twice ({first} and {second})")]
    Twice {
        /// `front` or `back`.
        side: &'static str,
        /// The first name.
        first: String,
        /// The second name.
        second: String,
    },
    /// No such front.
    #[error("unknown front preset {name:?}; valid: {valid}")]
    UnknownFront {
        /// The name as given.
        name: String,
        /// Every valid name.
        valid: String,
    },
    /// No such back.
    #[error("unknown back preset {name:?}; valid: {valid}")]
    UnknownBack {
        /// The name as given.
        name: String,
        /// Every valid name.
        valid: String,
    },
    /// The product does not document a value the scenario needs, and the user did not give it.
    #[error(
        "preset {preset}: {what} is not documented; give it with --set {key}=DURATION (e.g. --set {key}=60s)"
    )]
    Undocumented {
        /// The preset's name.
        preset: &'static str,
        /// What is missing.
        what: &'static str,
        /// The scenario key that supplies it.
        key: &'static str,
    },
}

/// A parsed `--preset`: a front, a back, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preset {
    /// The front, when named.
    pub front: Option<FrontPreset>,
    /// The back, when named.
    pub back: Option<BackPreset>,
}

impl FromStr for Preset {
    type Err = PresetError;

    /// Parses `front=alb,back=node20`, `front=nginx` or `back=apache`.
    fn from_str(text: &str) -> Result<Self, PresetError> {
        let mut preset = Preset::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (side, name) = part.split_once('=').ok_or_else(|| PresetError::Syntax {
                part: part.to_owned(),
            })?;
            match side.trim() {
                "front" => {
                    let parsed: FrontPreset = name.parse()?;
                    if let Some(first) = preset.front.replace(parsed) {
                        return Err(PresetError::Twice {
                            side: "front",
                            first: first.to_string(),
                            second: parsed.to_string(),
                        });
                    }
                }
                "back" => {
                    let parsed: BackPreset = name.parse()?;
                    if let Some(first) = preset.back.replace(parsed) {
                        return Err(PresetError::Twice {
                            side: "back",
                            first: first.to_string(),
                            second: parsed.to_string(),
                        });
                    }
                }
                _ => {
                    return Err(PresetError::Syntax {
                        part: part.to_owned(),
                    });
                }
            }
        }
        if preset.front.is_none() && preset.back.is_none() {
            return Err(PresetError::Syntax {
                part: text.to_owned(),
            });
        }
        Ok(preset)
    }
}

impl FrontDefaults {
    /// The same figures with every duration multiplied by `factor` (a time scale).
    pub fn scaled(self, factor: f64) -> FrontDefaults {
        FrontDefaults {
            idle_timeout: self.idle_timeout.scaled(factor),
            ..self
        }
    }
}

impl BackDefaults {
    /// The same figures with every duration multiplied by `factor` (a time scale).
    pub fn scaled(self, factor: f64) -> BackDefaults {
        BackDefaults {
            keepalive_timeout: self.keepalive_timeout.scaled(factor),
            close_delay: self.close_delay.mul_f64(factor),
            ..self
        }
    }

    /// When the back really closes an idle connection: the setting plus the measured delay.
    pub fn effective_close(self) -> IdleLimit {
        match self.keepalive_timeout {
            IdleLimit::After(timeout) => IdleLimit::After(timeout + self.close_delay),
            other => other,
        }
    }
}

impl IdleLimit {
    /// Multiplied by `factor`; unbounded and undocumented stay so.
    pub fn scaled(self, factor: f64) -> IdleLimit {
        match self {
            IdleLimit::After(duration) => IdleLimit::After(duration.mul_f64(factor)),
            other => other,
        }
    }
}

impl fmt::Display for IdleLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdleLimit::After(duration) if duration.subsec_nanos() == 0 => {
                write!(f, "{}s", duration.as_secs())
            }
            IdleLimit::After(duration) => write!(f, "{}", duration_value(*duration)),
            IdleLimit::Unbounded => f.write_str("no limit"),
            IdleLimit::Undocumented => f.write_str("not documented"),
        }
    }
}

impl fmt::Display for RequestLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestLimit::Unlimited => f.write_str("unlimited"),
            RequestLimit::At(count) => write!(f, "{count}"),
            RequestLimit::Undocumented => f.write_str("not documented"),
        }
    }
}

/// The scenario text of a duration: `60s`, `250ms`.
pub fn duration_value(duration: Duration) -> String {
    humantime::format_duration(duration)
        .to_string()
        .replace(' ', "")
}

fn limit_value(limit: RequestLimit) -> Option<String> {
    match limit {
        RequestLimit::Unlimited => Some("0".to_owned()),
        RequestLimit::At(count) => Some(count.to_string()),
        RequestLimit::Undocumented => None,
    }
}

fn retry_value(retry: RetryPolicy) -> &'static str {
    match retry {
        RetryPolicy::None => "none",
        RetryPolicy::Idempotent => "idempotent",
        RetryPolicy::Always => "always",
    }
}

impl Preset {
    /// The scenario overrides this preset stands for, to be applied before `user_sets` (the user's own
    /// `--set key=value`s, which win). A figure the product does not document is left out when the user sets
    /// its key, and is an error naming the key otherwise. An undocumented request limit is left at the
    /// scenario's value.
    pub fn overrides(&self, user_sets: &[String]) -> Result<Vec<String>, PresetError> {
        let user_sets_key = |key: &str| {
            user_sets
                .iter()
                .any(|set| set.split_once('=').is_some_and(|(k, _)| k.trim() == key))
        };
        let mut overrides = Vec::new();
        if let Some(front) = self.front {
            let defaults = front.defaults();
            match defaults.idle_timeout {
                IdleLimit::After(duration) => {
                    overrides.push(format!("front.idle_timeout={}", duration_value(duration)));
                }
                IdleLimit::Unbounded => {
                    overrides.push(format!(
                        "front.idle_timeout={}",
                        duration_value(UNBOUNDED_AS)
                    ));
                }
                IdleLimit::Undocumented if user_sets_key("front.idle_timeout") => {}
                IdleLimit::Undocumented => {
                    return Err(PresetError::Undocumented {
                        preset: front.name(),
                        what: "the backend idle timeout",
                        key: "front.idle_timeout",
                    });
                }
            }
            overrides.push(format!("front.retry={}", retry_value(defaults.retry)));
            if let Some(limit) = limit_value(defaults.max_requests) {
                overrides.push(format!("front.max_requests_per_conn={limit}"));
            }
        }
        if let Some(back) = self.back {
            let defaults = back.defaults();
            overrides.push("back.keepalive=true".to_owned());
            let close = match defaults.effective_close() {
                IdleLimit::After(duration) => duration,
                IdleLimit::Unbounded | IdleLimit::Undocumented => UNBOUNDED_AS,
            };
            overrides.push(format!("back.keepalive_timeout={}", duration_value(close)));
            if let Some(limit) = limit_value(defaults.max_requests) {
                overrides.push(format!("back.max_keepalive_requests={limit}"));
            }
        }
        Ok(overrides)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_itself() {
        for front in FrontPreset::ALL {
            assert_eq!(front.name().parse::<FrontPreset>(), Ok(front));
        }
        for back in BackPreset::ALL {
            assert_eq!(back.name().parse::<BackPreset>(), Ok(back));
        }
    }

    #[test]
    fn durations_are_written_without_spaces() {
        assert_eq!(duration_value(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration_value(Duration::from_millis(600)), "600ms");
    }
}
