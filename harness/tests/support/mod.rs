#![allow(dead_code)] // shared by several test binaries; each uses part of it
//! The harness tests' shared helpers: a raw-TCP fake HTTP server (each request gets a behaviour drawn from a
//! seeded mix, so the harness meets every client-side failure kind without any of our tiers), a target on it,
//! quiet run options, a scratch directory and the `badgateway` binary.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

/// What the fake server does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 with a small body, keep-alive.
    Ok,
    /// 502 with a cause header.
    BadGateway,
    /// Close the connection without answering.
    Close,
    /// Reset the connection without answering.
    Reset,
    /// Never answer (the client times out).
    Stall,
}

/// The weights of each behaviour, in the order of [`Behaviour`].
#[derive(Debug, Clone, Copy)]
pub struct Mix(pub [u32; 5]);

impl Mix {
    fn draw(&self, rng: &mut StdRng) -> Behaviour {
        let total: u32 = self.0.iter().sum::<u32>().max(1);
        let mut pick = rng.random_range(0..total);
        for (weight, behaviour) in self.0.iter().zip([
            Behaviour::Ok,
            Behaviour::BadGateway,
            Behaviour::Close,
            Behaviour::Reset,
            Behaviour::Stall,
        ]) {
            if pick < *weight {
                return behaviour;
            }
            pick -= weight;
        }
        Behaviour::Ok
    }
}

/// A running fake server.
pub struct FakeServer {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    pub async fn start(mix: Mix, seed: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
        let requests = Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, mix, rng.clone(), counter.clone()));
            }
        });
        Self {
            addr,
            requests,
            task,
        }
    }
}

async fn serve(mut stream: TcpStream, mix: Mix, rng: Arc<Mutex<StdRng>>, requests: Arc<AtomicU64>) {
    let mut buffer = Vec::new();
    loop {
        let mut chunk = [0u8; 1024];
        while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let end = buffer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        buffer.drain(..end);
        requests.fetch_add(1, Ordering::Relaxed);
        let behaviour = mix.draw(&mut *rng.lock().await);
        match behaviour {
            Behaviour::Ok => {
                if stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Behaviour::BadGateway => {
                let response = b"HTTP/1.1 502 Bad Gateway\r\nx-badgateway-cause: reused-closed\r\ncontent-length: 0\r\n\r\n";
                if stream.write_all(response).await.is_err() {
                    return;
                }
            }
            Behaviour::Close => return,
            Behaviour::Reset => {
                let _ = stream.set_zero_linger();
                return;
            }
            Behaviour::Stall => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
        }
    }
}

/// A target on `addr` for GET / with this whole-response timeout.
pub fn target(addr: SocketAddr, timeout: Duration) -> harness::load::Target {
    harness::load::Target {
        addr,
        host: addr.to_string(),
        method: http::Method::GET,
        path: "/".to_owned(),
        timeout,
    }
}

/// Run options without a progress bar or label.
pub fn quiet() -> harness::run::RunOptions {
    harness::run::RunOptions {
        quiet: true,
        label: None,
        timelines: 0,
    }
}

/// A fresh directory under the system temp dir for this test process, named after `test`.
pub fn scratch_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("badgateway-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `badgateway` binary of this build, ready for arguments.
pub fn badgateway_command() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_badgateway"))
}

/// Whether the real servers are installed: under `CI=true` a missing one fails the test (never a skip);
/// elsewhere the test says what to install and passes. `what` names the tests in the message.
pub fn real_servers_installed(what: &str) -> bool {
    let missing = harness::real::missing_packages();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "{what} need {}: install with `{}`",
        missing.join(", "),
        harness::real::INSTALL_HINT
    );
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{message} (CI: a missing server is a failure)");
    }
    eprintln!("SKIPPED: {message}");
    false
}

/// Asserts that a real server's process and its process group are gone.
pub fn assert_gone(pid: u32) {
    use harness::real::process;
    assert!(!process::pid_exists(pid), "pid {pid} still exists");
    assert!(
        process::group_members(pid).is_empty(),
        "processes of group {pid} survive: {:?}",
        process::group_members(pid)
    );
}

/// One `GET /` with `Connection: close` to `addr`; the response's status.
pub async fn get(addr: SocketAddr) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: badgateway.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"))
}

/// A child process of the binary under test, killed and reaped when dropped unless it was waited for: a test
/// that fails half-way leaves no server or run behind.
pub struct Reaped(Option<std::process::Child>);

impl Reaped {
    pub fn new(child: std::process::Child) -> Self {
        Self(Some(child))
    }

    pub fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, std::process::Child::id)
    }

    pub fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("the child was not waited for yet")
    }

    /// Waits for the exit; the child is then no longer killed on drop.
    pub fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        let status = self.child().wait();
        self.0 = None;
        status
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
