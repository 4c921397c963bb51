//! gunicorn as the back tier: an *application*, its own origin (no origin stands behind it; the chain's origin
//! counters are not available for it). The app is `servers/wsgi_app.py`, embedded in the binary and written into
//! the run directory, run by Debian's `gunicorn` with the `gthread` worker, the one that honours `--keep-alive`
//! (the default `sync` worker closes every connection after its response).
//!
//! Mapping of `[back]`: `keepalive_timeout` → `--keep-alive` (whole seconds only: gunicorn's setting is an
//! integer; anything else is refused), `keepalive = false` → `--keep-alive 0` (every response closes);
//! `max_keepalive_requests` has no gunicorn equivalent (`--max-requests` restarts a worker) and is refused
//! unless 0. gthread closes idle connections from its main loop, which wakes at least once a second: measured
//! 1001 ms for 1 s, a FIN.

use std::net::SocketAddr;

use keepalive_proxy::BackConfig;

use super::back::{
    BackRole, RealBackSpec, check_close, check_no_request_limit, check_whole_seconds,
};
use super::error::RealError;
use super::process::{Launch, RunDir, ServerProcess, free_loopback_port, require_binary};

/// The binary of Debian's gunicorn package.
pub const BINARY: &str = "gunicorn";
/// The Debian package.
pub const PACKAGE: &str = "gunicorn";
/// The WSGI app, shipped in `servers/`.
pub const APP: &str = include_str!("../../../servers/wsgi_app.py");
/// The error log's name in the run directory.
pub const ERROR_LOG: &str = "error.log";
const SERVER: &str = "gunicorn";

/// gunicorn as a chain's back: an application.
pub const BACK: RealBackSpec = RealBackSpec {
    server: SERVER,
    binary: BINARY,
    package: PACKAGE,
    role: BackRole::Application,
    check,
    start: |back, _| Box::pin(start(back)),
};

/// Refuses `[back]` values gunicorn cannot express.
pub fn check(back: &BackConfig) -> Result<(), RealError> {
    check_close(SERVER, back)?;
    check_no_request_limit(SERVER, back)?;
    check_whole_seconds(
        SERVER,
        back,
        "gunicorn's --keep-alive is whole seconds; use e.g. back.keepalive_timeout=1s",
    )
}

/// gunicorn's arguments for `back`, the app in `dir`, on `listen`.
pub fn arguments(back: &BackConfig, dir: &str, listen: SocketAddr) -> Vec<String> {
    let keepalive = if back.keepalive {
        back.keepalive_timeout.as_secs()
    } else {
        0
    };
    [
        "--chdir",
        dir,
        "-k",
        "gthread",
        "--workers",
        "1",
        "--threads",
        "16",
        "--keep-alive",
        &keepalive.to_string(),
        "-b",
        &listen.to_string(),
        "--pid",
        &format!("{dir}/gunicorn.pid"),
        "--error-logfile",
        &format!("{dir}/{ERROR_LOG}"),
        "wsgi_app:app",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Writes the app and starts gunicorn on a free loopback port.
pub async fn start(back: &BackConfig) -> Result<ServerProcess, RealError> {
    check(back)?;
    let binary = require_binary(SERVER, BINARY, PACKAGE)?;
    let listen = free_loopback_port()?;
    let dir = RunDir::create(SERVER)?;
    dir.write(SERVER, "wsgi_app.py", APP)?;
    let args = arguments(back, &dir.path().display().to_string(), listen);
    let logs = vec![dir.path().join(ERROR_LOG)];
    ServerProcess::spawn(Launch {
        server: SERVER,
        binary,
        args,
        addr: listen,
        dir,
        logs,
        env: Vec::new(),
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn whole_seconds_become_keep_alive_and_off_is_zero() {
        let back = BackConfig {
            keepalive_timeout: Duration::from_secs(2),
            max_keepalive_requests: 0,
            ..BackConfig::default()
        };
        assert!(check(&back).is_ok());
        let listen: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let args = arguments(&back, "/d", listen).join(" ");
        assert!(
            args.contains("-k gthread") && args.contains("--keep-alive 2 "),
            "{args}"
        );
        let off = BackConfig {
            keepalive: false,
            ..BackConfig::default()
        };
        assert!(
            arguments(&off, "/d", listen)
                .join(" ")
                .contains("--keep-alive 0 ")
        );
        let short = BackConfig {
            keepalive_timeout: Duration::from_millis(50),
            max_keepalive_requests: 0,
            ..BackConfig::default()
        };
        assert!(check(&short).unwrap_err().to_string().contains("50ms"));
    }
}
