//! The back tier's knobs, as they appear under `[back]` in a scenario. Defaults are Apache httpd 2.4's.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the back tier closes a connection whose keep-alive timeout expired (what each looks like on the wire:
/// `ARCHITECTURE.md` at the repository root, and `close.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CloseMode {
    /// Apache's `ap_lingering_close`: shutdown(SHUT_WR) sends a FIN, then read and discard for a while.
    /// The peer sees EOF.
    #[default]
    Lingering,
    /// Plain close(): a FIN, or an RST if unread request bytes sit in the receive buffer.
    Immediate,
    /// SO_LINGER 0 then close(): always an RST.
    Reset,
}

/// Apache httpd's keep-alive directives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackConfig {
    /// `KeepAlive`. Apache's default: On.
    pub keepalive: bool,
    /// `KeepAliveTimeout`: how long an idle connection waits for its next request. Apache's default: 5 s.
    #[serde(with = "humantime_serde")]
    pub keepalive_timeout: Duration,
    /// `MaxKeepAliveRequests`: the N-th response on a connection carries `Connection: close`. 0 = unlimited.
    /// Apache's default: 100.
    pub max_keepalive_requests: u64,
    /// How an idle connection is closed when its keep-alive timeout expires. Default: lingering, as Apache.
    pub close: CloseMode,
    /// Idle connections are closed by a sweep that runs every `timer_granularity` (0 = an exact timer per
    /// connection). Apache 2.4's event MPM closes within about 0.5 ms of the timeout: default 0.
    #[serde(with = "humantime_serde")]
    pub timer_granularity: Duration,
    /// How long a lingering close keeps reading and discarding after its FIN. Apache: 2 s.
    #[serde(with = "humantime_serde")]
    pub lingering_timeout: Duration,
    /// `Timeout`: how long a new connection may take to send its first request. Apache's default: 60 s.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// `RequestReadTimeout header=`: how long a request head may take from its first byte to its blank line
    /// (a slowloris client trickling its head is cut off here); the connection is answered `408` and closed,
    /// as mod_reqtimeout does. 0 = no limit. Apache's default: 20 s (`header=20-40,MinRate=500`; the rate
    /// extension is not modelled).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers) in bytes, hyper's parser's limit; a longer one is
    /// answered `431` and the connection closed. Apache has no such limit: its are per line and per field
    /// (below), which this one must leave room for. Default 64 KiB.
    pub max_header_bytes: usize,
    /// `LimitRequestLine`: longest request line in bytes (method, target and version, without the CRLF); a
    /// longer one is answered `414` and the connection closed, nothing sent to the origin. 0 = unlimited.
    /// Apache's default: 8190.
    pub limit_request_line: usize,
    /// `LimitRequestFieldSize`: longest header field line (`name: value`) in bytes; a longer one is answered
    /// `400`. 0 = unlimited. Apache's default: 8190.
    pub limit_request_field_size: usize,
    /// `LimitRequestFields`: most header field lines in a request; more are answered `400` (more than twice
    /// as many are refused by hyper's parser already, with `431`). 0 = unlimited (then hyper's own limit, 100,
    /// holds). Apache's default: 100.
    pub limit_request_fields: usize,
    /// `LimitRequestBody`: largest request body in bytes. A `Content-Length` above it is answered `413`
    /// before anything is sent to the origin; a chunked body that grows past it aborts the origin request and
    /// is answered `413`. 0 = unlimited, as in Apache. Apache's default (2.4.54 and later): 1 GiB. Also read
    /// under its former name, `max_body_bytes`.
    #[serde(alias = "max_body_bytes")]
    pub limit_request_body: u64,
    /// Forward `TRACE` requests (Apache's `TraceEnable`, on by default there). Default false: answered `405`
    /// and never forwarded, as nginx does, since TRACE echoes cookies and credentials back (cross-site
    /// tracing). `CONNECT` is always answered `405`: a reverse proxy opens no tunnels.
    pub allow_trace: bool,
    /// `MaxRequestWorkers`: front connections served at once; one over the limit is answered `503` with
    /// `Connection: close` and closed (Apache leaves it in the listen backlog instead). 0 = unlimited, the
    /// default here so that scenarios are not capped (Apache's event MPM default: 400).
    pub max_connections: usize,
    /// Where the admin endpoint listens (`GET /metrics`, the back's counters in the Prometheus text format),
    /// apart from the public listener, as the gateway's `admin_listen`. Default none: no admin endpoint.
    pub admin_listen: Option<std::net::SocketAddr>,
}

impl BackConfig {
    /// The request rules the back applies before forwarding (`wire::refusal`): Apache's head limits and the
    /// method policy.
    pub(crate) fn request_rules(&self) -> wire::refusal::RequestRules {
        wire::refusal::RequestRules {
            methods: wire::method::MethodPolicy {
                allow_trace: self.allow_trace,
            },
            head_limits: Some(wire::limits::HeadLimits {
                request_line: self.limit_request_line,
                field_size: self.limit_request_field_size,
                fields: self.limit_request_fields,
            }),
        }
    }

    /// Whether the `number`-th response of a connection must close it: KeepAlive Off, or
    /// `MaxKeepAliveRequests` reached.
    pub(crate) fn is_last_response(&self, number: u64) -> bool {
        !self.keepalive
            || (self.max_keepalive_requests > 0 && number >= self.max_keepalive_requests)
    }

    /// `LimitRequestBody` as the body check takes it: `None` = unlimited.
    pub(crate) fn body_limit(&self) -> Option<u64> {
        (self.limit_request_body != 0).then_some(self.limit_request_body)
    }
}

impl Default for BackConfig {
    fn default() -> Self {
        Self {
            keepalive: true,
            keepalive_timeout: Duration::from_secs(5),
            max_keepalive_requests: 100,
            close: CloseMode::Lingering,
            timer_granularity: Duration::ZERO,
            lingering_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(20),
            max_header_bytes: 64 * 1024,
            limit_request_line: 8190,
            limit_request_field_size: 8190,
            limit_request_fields: 100,
            limit_request_body: 1024 * 1024 * 1024,
            allow_trace: false,
            max_connections: 0,
            admin_listen: None,
        }
    }
}
