//! Node.js `http` as the back tier: an *application*, its own origin (no origin stands behind it; the chain's
//! origin counters are not available for it). The server is `servers/node-back.js`, embedded in the binary and
//! written into the run directory, run by Debian's `nodejs` (`node`).
//!
//! Mapping of `[back]`: `keepalive_timeout` → `server.keepAliveTimeout` (milliseconds), `keepalive = false`
//! → `Connection: close` on every response, `max_keepalive_requests` → `server.maxRequestsPerSocket` (0:
//! unlimited, as in Node). Node 20 closes an idle socket about one second *after* `keepAliveTimeout` (its
//! socket timeout is the setting plus an internal 1 s buffer; measured 2001 ms for 1000, 1050 ms for 50), so
//! a front whose idle gap is the setting meets no race; the close is a FIN.

use keepalive_proxy::BackConfig;

use super::back::{BackRole, RealBackSpec, check_close};
use super::error::RealError;
use super::process::{Launch, RunDir, ServerProcess, free_loopback_port, require_binary};
use super::settings::ceil_millis;

/// The binary of Debian's nodejs package.
pub const BINARY: &str = "node";
/// The Debian package.
pub const PACKAGE: &str = "nodejs";
/// The server script, shipped in `servers/`.
pub const SCRIPT: &str = include_str!("../../../servers/node-back.js");
const SERVER: &str = "node";

/// Node as a chain's back: an application.
pub const BACK: RealBackSpec = RealBackSpec {
    server: SERVER,
    binary: BINARY,
    package: PACKAGE,
    role: BackRole::Application,
    check: |back| check_close(SERVER, back),
    start: |back, _| Box::pin(start(back)),
};

/// The script's arguments for `back` on `port`.
pub fn arguments(back: &BackConfig, script: &str, port: u16) -> Vec<String> {
    vec![
        script.to_owned(),
        "--port".to_owned(),
        port.to_string(),
        "--keep-alive-timeout".to_owned(),
        ceil_millis(back.keepalive_timeout).to_string(),
        "--keep-alive".to_owned(),
        if back.keepalive { "on" } else { "off" }.to_owned(),
        "--max-requests".to_owned(),
        back.max_keepalive_requests.to_string(),
    ]
}

/// Writes the script and starts it on a free loopback port.
pub async fn start(back: &BackConfig) -> Result<ServerProcess, RealError> {
    check_close(SERVER, back)?;
    let binary = require_binary(SERVER, BINARY, PACKAGE)?;
    let listen = free_loopback_port()?;
    let dir = RunDir::create(SERVER)?;
    let script = dir.write(SERVER, "node-back.js", SCRIPT)?;
    let args = arguments(back, &script.display().to_string(), listen.port());
    ServerProcess::spawn(Launch {
        server: SERVER,
        binary,
        args,
        addr: listen,
        dir,
        logs: Vec::new(),
        env: Vec::new(),
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_arguments_carry_the_back_settings() {
        let back = BackConfig {
            keepalive_timeout: Duration::from_millis(50),
            max_keepalive_requests: 7,
            ..BackConfig::default()
        };
        let args = arguments(&back, "s.js", 8080).join(" ");
        assert_eq!(
            args,
            "s.js --port 8080 --keep-alive-timeout 50 --keep-alive on --max-requests 7"
        );
    }
}
