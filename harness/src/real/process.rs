//! A real server as a child process: its run directory (config, pid file, logs), start in the foreground,
//! readiness (its port accepts connections, bounded), and stop: SIGTERM, then SIGKILL to its whole process
//! group, on an explicit [`ServerProcess::stop`] *and* on drop, so nothing outlives a failed or panicking run.
//!
//! Signals are sent with the `kill(1)` utility: the harness has no libc binding, and one fork per stop is
//! cheap. This module knows nothing about any server's config; `apache.rs`, `nginx.rs` and `haproxy.rs` do.

use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::error::RealError;

/// How long a server may take to accept connections after spawn.
pub const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a server may take to exit after SIGTERM before its process group gets SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Set this environment variable to keep run directories (configs and logs) after the run.
pub const KEEP_DIR_ENV: &str = "BADGATEWAY_KEEP_REAL_DIR";

/// A free port on 127.0.0.1 for a server that must be told its port in its config: [`crate::ports`]' pick,
/// below the kernel's ephemeral range.
pub fn free_loopback_port() -> Result<SocketAddr, RealError> {
    crate::ports::free_loopback_port().map_err(RealError::Port)
}

/// Where a server's binary is: PATH first, then /usr/sbin and /usr/bin (a non-root PATH often lacks sbin).
pub fn locate_binary(binary: &str) -> Option<PathBuf> {
    let from_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    from_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
}

/// The binary of `server`, or the error naming it and the Debian `package` to install.
pub fn require_binary(
    server: &'static str,
    binary: &'static str,
    package: &'static str,
) -> Result<PathBuf, RealError> {
    locate_binary(binary).ok_or(RealError::Missing {
        server,
        binary,
        package,
    })
}

/// A temporary directory holding one server's config, pid file and logs; removed on drop unless
/// [`KEEP_DIR_ENV`] is set. Mode 0755 so a server's unprivileged workers (Apache's `User`) can read it.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates a fresh directory under the system temp dir, named after `server`.
    pub fn create(server: &'static str) -> Result<Self, RealError> {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "badgateway-{server}-{}-{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ));
        let fail = |source| RealError::File {
            server,
            action: "cannot create run directory",
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&path).map_err(fail)?;
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(fail)?;
        Ok(Self { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads file `name` of the directory (a log), empty when the server has not created it.
    pub fn read(&self, server: &'static str, name: &str) -> Result<String, RealError> {
        let path = self.path.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(source) => Err(RealError::File {
                server,
                action: "cannot read",
                path,
                source,
            }),
        }
    }

    /// Writes `text` to `name` inside the directory and returns its path.
    pub fn write(
        &self,
        server: &'static str,
        name: &str,
        text: &str,
    ) -> Result<PathBuf, RealError> {
        let path = self.path.join(name);
        std::fs::write(&path, text).map_err(|source| RealError::File {
            server,
            action: "cannot write",
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if std::env::var_os(KEEP_DIR_ENV).is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// What to spawn.
#[derive(Debug)]
pub struct Launch {
    /// Server name for messages (`apache`, `nginx`, `haproxy`).
    pub server: &'static str,
    /// The binary.
    pub binary: PathBuf,
    /// Its arguments (foreground mode, config path).
    pub args: Vec<String>,
    /// The port it listens on.
    pub addr: SocketAddr,
    /// Its run directory; stdout and stderr go to `stdout.log` and `stderr.log` in it.
    pub dir: RunDir,
    /// Log files (inside `dir`) whose tail explains a failed start.
    pub logs: Vec<PathBuf>,
    /// Environment variables set for the server (Tomcat's `CATALINA_BASE`...).
    pub env: Vec<(String, String)>,
}

/// A running server. Dropping it stops it (blocking for at most [`STOP_GRACE`]).
#[derive(Debug)]
pub struct ServerProcess {
    server: &'static str,
    child: Option<Child>,
    pid: u32,
    addr: SocketAddr,
    logs: Vec<PathBuf>,
    /// Always `Some` until [`ServerProcess::stop`] hands it back.
    dir: Option<RunDir>,
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The server exited on SIGTERM within [`STOP_GRACE`].
    Graceful,
    /// It had to be killed.
    Killed,
    /// It had already exited.
    AlreadyExited,
}

impl ServerProcess {
    /// Spawns the server in its own process group and waits until its port accepts connections (at most
    /// [`READY_TIMEOUT`]). On any failure the process is stopped before the error is returned.
    pub async fn spawn(launch: Launch) -> Result<Self, RealError> {
        let Launch {
            server,
            binary,
            args,
            addr,
            dir,
            mut logs,
            env,
        } = launch;
        let output = |name: &str| -> Result<File, RealError> {
            let path = dir.path().join(name);
            File::create(&path).map_err(|source| RealError::File {
                server,
                action: "cannot create",
                path,
                source,
            })
        };
        let stdout = output("stdout.log")?;
        let stderr = output("stderr.log")?;
        logs.push(dir.path().join("stdout.log"));
        logs.push(dir.path().join("stderr.log"));
        let child = Command::new(&binary)
            .args(&args)
            .envs(env)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            // Its own process group, so one SIGKILL reaches the workers too.
            .process_group(0)
            .spawn()
            .map_err(|source| RealError::Spawn {
                server,
                binary: binary.clone(),
                source,
            })?;
        let mut process = Self {
            server,
            pid: child.id(),
            child: Some(child),
            addr,
            logs,
            dir: Some(dir),
        };
        process.wait_ready().await?;
        Ok(process)
    }

    async fn wait_ready(&mut self) -> Result<(), RealError> {
        let began = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                self.kill_group();
                return Err(RealError::Exited {
                    server: self.server,
                    status: status.to_string(),
                    output: self.log_tail(),
                });
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            if began.elapsed() > READY_TIMEOUT {
                let output = self.log_tail();
                self.stop_blocking();
                return Err(RealError::NotReady {
                    server: self.server,
                    addr: self.addr,
                    waited: READY_TIMEOUT,
                    output,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The server's main process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its run directory, while it runs.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(RunDir::path)
    }

    /// Stops the server without blocking the async runtime's thread, and hands back its run directory so
    /// the logs can be read after the server flushed them on exit.
    pub async fn stop(mut self) -> (Stopped, Option<RunDir>) {
        let child = self.child.take();
        let pid = self.pid;
        let outcome = tokio::task::spawn_blocking(move || stop_child(child, pid)).await;
        (outcome.unwrap_or(Stopped::Killed), self.dir.take())
    }

    /// Stops the server, blocking the calling thread for at most [`STOP_GRACE`].
    pub fn stop_blocking(&mut self) -> Stopped {
        stop_child(self.child.take(), self.pid)
    }

    fn kill_group(&self) {
        signal_group(self.pid, "KILL");
    }

    fn log_tail(&self) -> String {
        let mut tail = String::new();
        for path in &self.logs {
            if let Ok(text) = std::fs::read_to_string(path) {
                let lines: Vec<&str> = text.lines().rev().take(5).collect();
                for line in lines.into_iter().rev() {
                    tail.push_str(line.trim());
                    tail.push_str(" | ");
                }
            }
        }
        if tail.is_empty() {
            "(nothing)".to_owned()
        } else {
            tail
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop_blocking();
        }
    }
}

/// SIGTERM to the main process, wait up to [`STOP_GRACE`], then SIGKILL to the whole group either way (workers
/// orphaned by a crashed master included; ESRCH on an empty group is ignored).
fn stop_child(child: Option<Child>, pid: u32) -> Stopped {
    let Some(mut child) = child else {
        signal_group(pid, "KILL");
        return Stopped::AlreadyExited;
    };
    if let Ok(Some(_)) = child.try_wait() {
        signal_group(pid, "KILL");
        return Stopped::AlreadyExited;
    }
    send_signal(&pid.to_string(), "TERM");
    let began = Instant::now();
    let mut outcome = Stopped::Killed;
    while began.elapsed() < STOP_GRACE {
        if let Ok(Some(_)) = child.try_wait() {
            outcome = Stopped::Graceful;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    signal_group(pid, "KILL");
    if outcome == Stopped::Killed {
        let _ = child.kill();
        let _ = child.wait();
    }
    outcome
}

fn signal_group(pgid: u32, signal: &str) {
    send_signal(&format!("-{pgid}"), signal);
}

fn send_signal(target: &str, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", target])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// True while a process with this id exists (a zombie counts: it has not been reaped).
pub fn pid_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Ids of the live processes in process group `pgid` (a server's master and its workers).
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| process_group_of(&stat))
                == Some(pgid)
        })
        .collect()
}

/// The process group field of a `/proc/PID/stat` line (the command name may hold spaces and parentheses, so
/// fields are counted after the last `)`).
fn process_group_of(stat: &str) -> Option<u32> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name: state, ppid, pgrp.
    after_name.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_group_is_read_after_the_command_name() {
        let stat = "4242 (nginx: worker (x)) S 4200 4200 4200 0 -1 4194624";
        assert_eq!(process_group_of(stat), Some(4200));
        assert_eq!(process_group_of("garbage"), None);
    }
}
