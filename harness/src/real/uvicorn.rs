//! uvicorn as the back tier: an *application*, its own origin (no origin stands behind it; the chain's origin
//! counters are not available for it). The app is `servers/asgi_app.py`, embedded in the binary and written
//! into the run directory, served by Debian's `python3-uvicorn` through `uvicorn.run` (the `uvicorn` command's
//! `--timeout-keep-alive` takes whole seconds; the Python API takes a float, so sub-second timeouts work).
//!
//! Mapping of `[back]`: `keepalive_timeout` → `timeout_keep_alive` (seconds, fractional), `keepalive = false`
//! → the app answers `Connection: close` (uvicorn has no switch for it; `BADGATEWAY_CLOSE=1`);
//! `max_keepalive_requests` has no uvicorn equivalent and is refused unless 0. uvicorn arms one timer per idle
//! connection: measured 1001 ms for 1 s, a FIN.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use keepalive_proxy::BackConfig;

use super::back::{BackRole, RealBackSpec, check_close, check_no_request_limit};
use super::error::RealError;
use super::process::{Launch, RunDir, ServerProcess, free_loopback_port, require_binary};

/// The command of Debian's `uvicorn` package (looked for to say whether it is installed; the package pulls in
/// `python3-uvicorn`, the library, which alone has no command).
pub const BINARY: &str = "uvicorn";
/// The Debian package.
pub const PACKAGE: &str = "uvicorn";
/// The ASGI app, shipped in `servers/`.
pub const APP: &str = include_str!("../../../servers/asgi_app.py");
const SERVER: &str = "uvicorn";

/// uvicorn as a chain's back: an application.
pub const BACK: RealBackSpec = RealBackSpec {
    server: SERVER,
    binary: BINARY,
    package: PACKAGE,
    role: BackRole::Application,
    check,
    start: |back, _| Box::pin(start(back)),
};

/// Refuses `[back]` values uvicorn cannot express.
pub fn check(back: &BackConfig) -> Result<(), RealError> {
    check_close(SERVER, back)?;
    check_no_request_limit(SERVER, back)
}

/// The Python program that serves the app in `dir` on `listen` with `back`'s keep-alive timeout.
pub fn program(back: &BackConfig, dir: &str, listen: SocketAddr) -> String {
    format!(
        "import sys; sys.path.insert(0, {dir:?}); import uvicorn; \
         uvicorn.run('asgi_app:app', host={host:?}, port={port}, timeout_keep_alive={timeout}, \
         log_level='warning', lifespan='off')",
        host = listen.ip().to_string(),
        port = listen.port(),
        timeout = back.keepalive_timeout.as_secs_f64(),
    )
}

/// The Python that has uvicorn: the `uvicorn` script's `#!` interpreter (a `python3` earlier in PATH, say
/// pyenv's, may not have it), or Debian's `/usr/bin/python3`.
fn interpreter(script: &Path) -> PathBuf {
    std::fs::read_to_string(script)
        .ok()
        .and_then(|text| {
            let line = text.lines().next()?.strip_prefix("#!")?.trim().to_owned();
            let program = line.split_whitespace().next()?.to_owned();
            Some(PathBuf::from(program))
        })
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from("/usr/bin/python3"))
}

/// Writes the app and starts uvicorn on a free loopback port.
pub async fn start(back: &BackConfig) -> Result<ServerProcess, RealError> {
    check(back)?;
    let script = require_binary(SERVER, BINARY, PACKAGE)?;
    let python = interpreter(&script);
    let listen = free_loopback_port()?;
    let dir = RunDir::create(SERVER)?;
    dir.write(SERVER, "asgi_app.py", APP)?;
    let args = vec![
        "-c".to_owned(),
        program(back, &dir.path().display().to_string(), listen),
    ];
    let close = if back.keepalive { "0" } else { "1" };
    ServerProcess::spawn(Launch {
        server: SERVER,
        binary: python,
        args,
        addr: listen,
        dir,
        logs: Vec::new(),
        env: vec![("BADGATEWAY_CLOSE".to_owned(), close.to_owned())],
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_program_carries_a_fractional_timeout() {
        let back = BackConfig {
            keepalive_timeout: Duration::from_millis(50),
            ..BackConfig::default()
        };
        let text = program(&back, "/d", "127.0.0.1:9".parse().unwrap());
        assert!(text.contains("timeout_keep_alive=0.05"), "{text}");
        assert!(text.contains("port=9"), "{text}");
    }
}
