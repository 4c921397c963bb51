//! nginx as the back tier: a keep-alive server that proxies every request to our origin, configured from
//! `[back]`, started in the foreground like the nginx front (`nginx -p DIR -c CONF -e LOG -g 'daemon off;'`).
//!
//! Mapping of `[back]`: `keepalive = false` → `keepalive_timeout 0` (every response closes),
//! `keepalive_timeout` → `keepalive_timeout` (milliseconds), `max_keepalive_requests` → `keepalive_requests`
//! (0, unlimited, becomes 10⁹: nginx has no "unlimited"), `request_timeout` → `proxy_read_timeout`. nginx closes
//! an idle client connection with close() after its timer fires: a FIN (measured: 1001 ms for 1 s), or an RST
//! when unread request bytes sit in the socket buffer, as the kernel does for any close.

use std::net::SocketAddr;
use std::path::Path;

use keepalive_proxy::BackConfig;

use super::back::{BackRole, RealBackSpec, check_close, require_origin};
use super::error::RealError;
use super::nginx::{BINARY, PACKAGE, preamble};
use super::process::{Launch, RunDir, ServerProcess, free_loopback_port, require_binary};
use super::settings::ceil_millis;

/// The error log's name in the back's run directory.
pub const ERROR_LOG: &str = "error.log";
const SERVER: &str = "nginx-back";
const UNLIMITED_REQUESTS: u64 = 1_000_000_000;

/// nginx as a chain's back: a proxy to our origin.
pub const BACK: RealBackSpec = RealBackSpec {
    server: "nginx",
    binary: BINARY,
    package: PACKAGE,
    role: BackRole::Proxy,
    check: |back| check_close("nginx", back),
    start: |back, origin| {
        Box::pin(async move { start(back, require_origin("nginx", origin)?).await })
    },
};

/// The nginx.conf for `back`, listening on `listen`, proxying to `origin`, every path in `dir`.
pub fn config(back: &BackConfig, listen: SocketAddr, origin: SocketAddr, dir: &Path) -> String {
    let dir = dir.display();
    let keepalive = if back.keepalive {
        format!("{}ms", ceil_millis(back.keepalive_timeout))
    } else {
        "0".to_owned()
    };
    let requests = match back.max_keepalive_requests {
        0 => UNLIMITED_REQUESTS,
        n => n,
    };
    format!(
        "{preamble}
    keepalive_timeout {keepalive};
    keepalive_requests {requests};
    server {{
        listen {listen};
        location / {{
            proxy_pass http://{origin};
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_next_upstream off;
            proxy_read_timeout {read}ms;
        }}
    }}
}}
",
        preamble = preamble("back", &dir, ERROR_LOG),
        read = ceil_millis(back.request_timeout),
    )
}

/// Writes the config and starts nginx in the foreground on a free loopback port, in front of `origin`.
pub async fn start(back: &BackConfig, origin: SocketAddr) -> Result<ServerProcess, RealError> {
    check_close("nginx", back)?;
    let binary = require_binary(SERVER, BINARY, PACKAGE)?;
    let listen = free_loopback_port()?;
    let dir = RunDir::create(SERVER)?;
    let conf = dir.write(
        SERVER,
        "nginx.conf",
        &config(back, listen, origin, dir.path()),
    )?;
    let error_log = dir.path().join(ERROR_LOG);
    let args = vec![
        "-p".to_owned(),
        dir.path().display().to_string(),
        "-c".to_owned(),
        conf.display().to_string(),
        "-e".to_owned(),
        error_log.display().to_string(),
        "-g".to_owned(),
        "daemon off;".to_owned(),
    ];
    ServerProcess::spawn(Launch {
        server: SERVER,
        binary,
        args,
        addr: listen,
        dir,
        logs: vec![error_log],
        env: Vec::new(),
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_config_carries_the_back_settings() {
        let back = BackConfig {
            keepalive_timeout: Duration::from_millis(50),
            max_keepalive_requests: 7,
            ..BackConfig::default()
        };
        let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        let text = config(&back, addr(1), addr(2), Path::new("/tmp/x"));
        assert!(text.contains("keepalive_timeout 50ms;"), "{text}");
        assert!(text.contains("keepalive_requests 7;"), "{text}");
        assert!(text.contains("proxy_pass http://127.0.0.1:2;"), "{text}");
        let off = BackConfig {
            keepalive: false,
            ..BackConfig::default()
        };
        assert!(
            config(&off, addr(1), addr(2), Path::new("/tmp/x")).contains("keepalive_timeout 0;")
        );
    }
}
