//! The front tier's knobs, as they appear under `[front]` in a scenario: the upstream pool and retries, the
//! health probe (`[front.probe]`), name resolution (`[front.dns]`) and the admin endpoint (`admin_listen`).
//!
//! Plain serde data: unknown keys are rejected, durations are written like `"250ms"`, and every default is
//! documented at its field, with the real product's value where there is one.
//!
//! ```toml
//! [front]
//! connect_timeout = "2s"
//! admin_listen = "127.0.0.1:9901"   # GET /_badgateway/health and /_badgateway/stats; absent = no admin
//!
//! [front.probe]
//! enabled = true                    # off unless said so (Application Gateway always probes)
//! path = "/health"
//! host = "backend.example"          # Host header; default: the member's host:port
//! interval = "5s"
//! timeout = "2s"
//! unhealthy_threshold = 3
//! match_status = [[200, 299], 304]  # inclusive ranges [low, high], or single codes
//! match_body = "ok"                 # substring of the body; absent = any body
//!
//! [front.dns]
//! mode = "table"                    # "system" (default) or "table"
//! fail = ["broken.test"]            # names that fail to resolve
//! delay = "10ms"                    # added to every table lookup
//! [front.dns.hosts]
//! "backend.test" = "127.0.0.1"      # one address ...
//! "multi.test" = ["127.0.0.1", "::1"]  # ... or a list, tried in order
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// When the gateway retries a request that failed on a reused upstream connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RetryPolicy {
    /// Never retry: every failure becomes a 502.
    #[default]
    None,
    /// Retry once, on a fresh connection, when a *reused* connection failed before any response byte and the
    /// method is idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE).
    Idempotent,
    /// The same for every method, POST included. Unsafe: a request the backend did process may run twice.
    Always,
}

/// The most worker threads a gateway may ask for.
pub const MAX_WORKER_THREADS: usize = 256;

/// The gateway's upstream and retry knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FrontConfig {
    /// An idle pooled upstream connection older than this is closed, never reused. Default 60 s (nginx's
    /// upstream `keepalive_timeout`).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Idle connections kept per backend member; more are closed on return. 0 disables reuse. Default 32.
    pub max_idle_per_backend: usize,
    /// A connection is not reused after this many requests. 0 = unlimited. Default 1000 (nginx's
    /// `keepalive_requests`).
    pub max_requests_per_conn: u64,
    /// Honour the backend's `Keep-Alive: timeout=N` hint (Apache and Node send it): a connection whose last
    /// response announced `timeout=N` is not handed out once it sat idle `N − keep_alive_hint_margin`, as
    /// Node's undici client does; `timeout=0` (or any `N` not above the margin) means "do not reuse". The
    /// front then sends `Connection: keep-alive` upstream, since Apache hints only to requests that say so.
    /// Apache announces whole seconds rounded down (`KeepAliveTimeout 100ms` says `timeout=0`), so in a
    /// time-scaled run with sub-second keep-alive timeouts the hint makes the front never reuse a
    /// connection. Default false (nginx and Application Gateway ignore the hint).
    pub honor_keep_alive_hint: bool,
    /// How long before the hinted timeout a connection stops being handed out. Default 1 s: undici's
    /// `keepAliveTimeoutThreshold`, the milliseconds it subtracts from a server's keep-alive hint "to account
    /// for timing inaccuracies caused by e.g. transport latency" (undici's `docs/api/Client.md`): `1e3` in the
    /// undici that Node 18–22's `fetch` ships; undici's newer docs and source give `2e3`, so raise it to match
    /// a newer client.
    #[serde(with = "humantime_serde")]
    pub keep_alive_hint_margin: Duration,
    /// See [`RetryPolicy`]. Default none.
    pub retry: RetryPolicy,
    /// Limit on TCP connect to a backend member. Default 5 s.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Limit from sending the request upstream to receiving the response head. Default 20 s (Application
    /// Gateway's default request timeout).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Set `x-badgateway-cause` on every 502 the gateway makes. Default true.
    pub cause_header: bool,
    /// How long a client connection may sit idle between requests. Default 120 s.
    #[serde(with = "humantime_serde")]
    pub client_idle_timeout: Duration,
    /// A client connection idle this long gives its HTTP buffers (about 16 KiB) back and waits for its next
    /// request holding only its socket, as nginx's idle keep-alive connections do; the next request is served
    /// as before. A connection busy with requests is checked once per this interval, so a short one costs
    /// timer wake-ups; a parked connection costs one hyper rebuild when it wakes. 0 = never. Default 250 ms.
    #[serde(with = "humantime_serde")]
    pub client_park_after: Duration,
    /// A pooled upstream connection idle this long gives hyper's buffers and request channel (about 24 KiB)
    /// back and its driver watches the bare socket; it is handed out as before and wakes on its first use (one
    /// hyper rebuild, on the thread that owns it). A backend's close of a parked connection is seen when it
    /// arrives, as hyper sees it on an unparked one. 0 = never. Default 250 ms.
    #[serde(with = "humantime_serde")]
    pub upstream_park_after: Duration,
    /// Client connections held at once; one over the limit is answered `503` with `Connection: close` and
    /// closed, never queued in the kernel's backlog. 0 = unlimited. Default 16384 (nginx: `worker_connections`
    /// × workers; keep it under the process's file-descriptor limit).
    pub max_client_connections: usize,
    /// Threads serving client connections, each with a single-threaded runtime and its own idle upstream pool
    /// (nginx's `worker_processes`, HAProxy's `nbthread`); connections are dealt to them round robin. 0 = serve
    /// them on the runtime that started the gateway. At most [`MAX_WORKER_THREADS`]. Default 0.
    pub worker_threads: usize,
    /// Largest request body accepted, in bytes; a `Content-Length` above it is answered `413` before anything
    /// is read or sent upstream, and a chunked body that grows past it is cut off and answered `413` (the
    /// gateway buffers the body, so nothing of it has gone upstream). Default 8 MiB (nginx:
    /// `client_max_body_size`, default 1 MiB; Application Gateway: 2 GB with the WAF off).
    pub max_body_bytes: u64,
    /// Largest request head (request line and headers), in bytes; a longer one is answered `431` and the
    /// connection closed, by hyper's parser. Default 32 KiB (nginx: `large_client_header_buffers` 4 × 8k,
    /// which limits each line to 8 KiB and answers 414 or 400; Application Gateway: 32 KiB of headers). The
    /// gateway has no per-line or per-field limit of its own: the back's are Apache's (`[back]
    /// limit_request_line`, ...).
    pub max_header_bytes: usize,
    /// Forward `TRACE` requests. When false (the default, as nginx, which always answers 405; Apache's
    /// `TraceEnable` is on by default) they are answered `405` and never forwarded. `CONNECT` is always 405.
    pub allow_trace: bool,
    /// The health probe of every backend member. Default: Application Gateway's default probe, but disabled
    /// (see [`ProbeConfig::enabled`]).
    pub probe: ProbeConfig,
    /// How member host names are resolved. Default: the system resolver.
    pub dns: DnsConfig,
    /// Where the admin endpoint listens (`/_badgateway/health`, `/_badgateway/stats`), apart from the public
    /// listener. Default none: no admin endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_listen: Option<SocketAddr>,
}

impl Default for FrontConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(60),
            max_idle_per_backend: 32,
            max_requests_per_conn: 1000,
            honor_keep_alive_hint: false,
            keep_alive_hint_margin: Duration::from_secs(1),
            retry: RetryPolicy::None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            cause_header: true,
            client_idle_timeout: Duration::from_secs(120),
            client_park_after: Duration::from_millis(250),
            upstream_park_after: Duration::from_millis(250),
            max_client_connections: 16384,
            worker_threads: 0,
            max_body_bytes: 8 * 1024 * 1024,
            max_header_bytes: 32 * 1024,
            allow_trace: false,
            probe: ProbeConfig::default(),
            dns: DnsConfig::default(),
            admin_listen: None,
        }
    }
}

/// The health probe sent to every backend member, `[front.probe]`.
///
/// The defaults are Application Gateway's default probe (GET `/` on the member's port every 30 s, 30 s timeout,
/// unhealthy after 3 consecutive failures, healthy on 200–399), except that it is **disabled** unless
/// `enabled = true`: Application Gateway always probes, but a scenario that does not ask for probes must not get
/// extra requests on its backends.
///
/// Each probe is one `GET path` with `Host: host` on a new connection (never a pooled one), bounded as a whole
/// (name resolution, connect, response head and, with `match_body`, the body) by `timeout`. It fails on a
/// resolution or connect error, the timeout, a status outside `match_status`, or a body without `match_body`.
/// A member starts healthy, becomes unhealthy after `unhealthy_threshold` consecutive failures and healthy
/// again after one success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeConfig {
    /// Probe the members at all. Default false (Application Gateway: always on).
    pub enabled: bool,
    /// The request target. Default `/`.
    pub path: String,
    /// The `Host` header. Default none: the member's `host:port` as configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Time between the starts of two probes of one member (at least 1 ms). Default 30 s.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Limit on one whole probe. Default 30 s.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Consecutive failures that make a healthy member unhealthy. Default 3; 0 is taken as 1.
    pub unhealthy_threshold: u32,
    /// Statuses that count as healthy. Default `[[200, 399]]`.
    pub match_status: Vec<StatusRange>,
    /// A substring the response body must contain. Default none: any body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub match_body: Option<String>,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            path: "/".to_owned(),
            host: None,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            unhealthy_threshold: 3,
            match_status: vec![StatusRange::new(200, 399)],
            match_body: None,
        }
    }
}

impl ProbeConfig {
    /// True when `status` is in one of the `match_status` ranges.
    pub fn status_matches(&self, status: u16) -> bool {
        self.match_status.iter().any(|range| range.contains(status))
    }
}

/// An inclusive range of HTTP status codes: `[200, 399]` in TOML, or a single code `200`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StatusRangeRepr", into = "StatusRangeRepr")]
pub struct StatusRange {
    /// The lowest matching status.
    pub low: u16,
    /// The highest matching status.
    pub high: u16,
}

impl StatusRange {
    /// `low..=high`.
    pub const fn new(low: u16, high: u16) -> StatusRange {
        StatusRange { low, high }
    }

    /// True when `low <= status <= high`.
    pub fn contains(self, status: u16) -> bool {
        (self.low..=self.high).contains(&status)
    }
}

impl fmt::Display for StatusRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

/// How a [`StatusRange`] is written.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StatusRangeRepr {
    One(u16),
    Range([u16; 2]),
}

impl TryFrom<StatusRangeRepr> for StatusRange {
    type Error = String;

    fn try_from(repr: StatusRangeRepr) -> Result<Self, Self::Error> {
        let (low, high) = match repr {
            StatusRangeRepr::One(code) => (code, code),
            StatusRangeRepr::Range([low, high]) => (low, high),
        };
        if low > high || !(100..=999).contains(&low) || !(100..=999).contains(&high) {
            return Err(format!(
                "status range [{low}, {high}] must be [low, high] with 100 <= low <= high <= 999"
            ));
        }
        Ok(StatusRange { low, high })
    }
}

impl From<StatusRange> for StatusRangeRepr {
    fn from(range: StatusRange) -> Self {
        StatusRangeRepr::Range([range.low, range.high])
    }
}

/// Which resolver turns member host names into addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DnsMode {
    /// The operating system's resolver (`getaddrinfo`, through `tokio::net::lookup_host`).
    #[default]
    System,
    /// The fixed table of [`DnsConfig`]: `hosts`, `fail` and `delay`; every other name fails.
    Table,
}

/// Name resolution for member host names, `[front.dns]`.
///
/// With `mode = "table"` nothing touches real DNS: a name in `fail` fails, a name in `hosts` resolves to its
/// addresses, any other name fails, and every lookup first waits `delay`. Names are matched case-insensitively.
/// `hosts`, `fail` and `delay` are ignored in `system` mode. IP literal members are never looked up. A lookup
/// that takes longer than `connect_timeout` is a `dns-failure` too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// `"system"` (default) or `"table"`.
    pub mode: DnsMode,
    /// Table mode: name → addresses, written `"name" = "10.0.0.1"` or `"name" = ["10.0.0.1", "::1"]`.
    #[serde(
        deserialize_with = "one_or_many_addrs",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub hosts: BTreeMap<String, Vec<IpAddr>>,
    /// Table mode: names whose lookup fails.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fail: Vec<String>,
    /// Table mode: added to every lookup. Default 0.
    #[serde(with = "humantime_serde")]
    pub delay: Duration,
}

/// Reads a `hosts` table whose values are one address or a list of addresses.
fn one_or_many_addrs<'de, D>(deserializer: D) -> Result<BTreeMap<String, Vec<IpAddr>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "an IP address or a list of IP addresses")]
    enum Addrs {
        One(IpAddr),
        Many(Vec<IpAddr>),
    }
    let table = BTreeMap::<String, Addrs>::deserialize(deserializer)?;
    Ok(table
        .into_iter()
        .map(|(name, addrs)| match addrs {
            Addrs::One(addr) => (name, vec![addr]),
            Addrs::Many(addrs) => (name, addrs),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn front(toml_text: &str) -> Result<FrontConfig, toml::de::Error> {
        toml::from_str(toml_text)
    }

    #[test]
    fn defaults_are_application_gateways_probe_but_disabled_system_dns_and_no_admin() {
        let config = front("").unwrap();
        assert_eq!(config, FrontConfig::default());
        let probe = config.probe;
        assert!(!probe.enabled);
        assert_eq!(probe.path, "/");
        assert_eq!(probe.host, None);
        assert_eq!(probe.interval, Duration::from_secs(30));
        assert_eq!(probe.timeout, Duration::from_secs(30));
        assert_eq!(probe.unhealthy_threshold, 3);
        assert_eq!(probe.match_status, [StatusRange::new(200, 399)]);
        assert_eq!(probe.match_body, None);
        assert_eq!(config.dns.mode, DnsMode::System);
        assert_eq!(config.admin_listen, None);
    }

    #[test]
    fn the_documented_example_reads_as_written() {
        let config = front(
            r#"
            admin_listen = "127.0.0.1:9901"
            [probe]
            enabled = true
            path = "/health"
            host = "backend.example"
            interval = "5s"
            timeout = "2s"
            unhealthy_threshold = 2
            match_status = [[200, 299], 304]
            match_body = "ok"
            [dns]
            mode = "table"
            fail = ["broken.test"]
            delay = "10ms"
            [dns.hosts]
            "backend.test" = "127.0.0.1"
            "multi.test" = ["127.0.0.1", "::1"]
            "#,
        )
        .unwrap();
        assert_eq!(config.admin_listen, Some("127.0.0.1:9901".parse().unwrap()));
        let probe = &config.probe;
        assert!(probe.enabled);
        assert_eq!(probe.host.as_deref(), Some("backend.example"));
        assert_eq!(probe.interval, Duration::from_secs(5));
        assert_eq!(
            probe.match_status,
            [StatusRange::new(200, 299), StatusRange::new(304, 304)]
        );
        assert!(probe.status_matches(204) && probe.status_matches(304));
        assert!(!probe.status_matches(301) && !probe.status_matches(500));
        assert_eq!(config.dns.mode, DnsMode::Table);
        assert_eq!(config.dns.delay, Duration::from_millis(10));
        assert_eq!(config.dns.fail, ["broken.test"]);
        assert_eq!(
            config.dns.hosts["multi.test"],
            [
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert_eq!(config.dns.hosts["backend.test"].len(), 1);
    }

    #[test]
    fn a_config_survives_a_round_trip_through_toml() {
        let mut config = FrontConfig::default();
        config.probe.enabled = true;
        config.probe.match_status = vec![StatusRange::new(200, 204), StatusRange::new(301, 301)];
        config.probe.match_body = Some("up".to_owned());
        config.dns.mode = DnsMode::Table;
        config.dns.hosts.insert(
            "a.test".to_owned(),
            vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()],
        );
        config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
        let text = toml::to_string(&config).unwrap();
        assert_eq!(front(&text).unwrap(), config, "{text}");
    }

    #[test]
    fn unknown_keys_bad_ranges_and_bad_addresses_are_rejected() {
        for bad in [
            "[probe]\nthreshold = 3",
            "[probe]\nmatch_status = [[399, 200]]",
            "[probe]\nmatch_status = [[200, 1000]]",
            "[dns]\nmode = \"custom\"",
            "[dns]\nhosts = { \"a.test\" = \"not-an-ip\" }",
            "[dns]\nnameserver = \"10.0.0.53\"",
            "admin_listen = \"localhost\"",
        ] {
            assert!(front(bad).is_err(), "{bad} was accepted");
        }
    }
}
