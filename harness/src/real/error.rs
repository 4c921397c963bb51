//! The one error type of the real-stacks module: every variant names the server and the bad value, path or
//! setting, so a failed start says what to fix.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A real server could not be configured, started, read or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RealError {
    /// The server's binary is not installed.
    #[error(
        "{server}: binary `{binary}` not found in PATH, /usr/sbin or /usr/bin; install it with `apt-get install {package}`"
    )]
    Missing {
        /// Which server.
        server: &'static str,
        /// The binary looked for.
        binary: &'static str,
        /// The Debian package that installs it.
        package: &'static str,
    },
    /// The scenario asks for something the server cannot do.
    #[error("{server} cannot express {setting} = {value}: {why}")]
    Unsupported {
        /// Which server.
        server: &'static str,
        /// The scenario key.
        setting: &'static str,
        /// Its value.
        value: String,
        /// Why not.
        why: &'static str,
    },
    /// No free loopback port could be found.
    #[error("cannot find a free port on 127.0.0.1: {0}")]
    Port(#[source] std::io::Error),
    /// A file or directory of the server's run directory could not be written or read.
    #[error("{server}: {action} {path}: {source}")]
    File {
        /// Which server.
        server: &'static str,
        /// What was being done (`cannot write config`, `cannot read log`...).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The binary could not be executed.
    #[error("{server}: cannot run {binary}: {source}")]
    Spawn {
        /// Which server.
        server: &'static str,
        /// The binary.
        binary: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server exited while starting.
    #[error("{server} exited during start-up ({status}); its output: {output}")]
    Exited {
        /// Which server.
        server: &'static str,
        /// Its exit status.
        status: String,
        /// The end of its logs.
        output: String,
    },
    /// The server never accepted connections on its port.
    #[error(
        "{server} did not accept connections on {addr} within {waited:?}; its output: {output}"
    )]
    NotReady {
        /// Which server.
        server: &'static str,
        /// The port it should listen on.
        addr: SocketAddr,
        /// How long we waited.
        waited: Duration,
        /// The end of its logs.
        output: String,
    },
}

/// What to install when a server is missing (Debian packages): every real server the harness drives.
pub const INSTALL_HINT: &str =
    "apt-get install apache2 nginx haproxy caddy varnish nodejs gunicorn uvicorn tomcat10";
