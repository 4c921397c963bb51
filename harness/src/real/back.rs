//! What the chain needs to know of a real back, as each back's file exports it ([`RealBackSpec`]): whether it
//! proxies to our origin (Apache, nginx) or is an application that answers itself (Node, gunicorn, uvicorn,
//! Tomcat: no origin behind it, so the origin's counters are not available for it), the `[back]` values it
//! cannot express, and how to start it. It starts nothing; the shared refusals of `[back]` keys live here.

use std::net::SocketAddr;
use std::time::Duration;

use keepalive_proxy::{BackConfig, CloseMode};

use super::error::RealError;
use super::front::Starting;

/// Where a real back's responses come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackRole {
    /// It proxies every request to our origin (Apache's mod_proxy, nginx's proxy_pass).
    Proxy,
    /// It is the application: it answers every request itself, with no origin behind it.
    Application,
}

/// What the chain needs to know of a real back.
#[derive(Debug, Clone, Copy)]
pub struct RealBackSpec {
    /// The server's name in messages and errors (`node`).
    pub server: &'static str,
    /// The binary looked for in PATH, /usr/sbin and /usr/bin (`apache2`, `node`, `catalina.sh`...).
    pub binary: &'static str,
    /// The Debian package that installs it.
    pub package: &'static str,
    /// Whether it proxies to our origin or answers itself.
    pub role: BackRole,
    /// Refuses the `[back]` values it cannot express, naming the key, before anything starts.
    pub check: fn(&BackConfig) -> Result<(), RealError>,
    /// Writes its config and starts it: in front of the origin (`Some`) for a proxy, alone for an application.
    pub start: for<'a> fn(&'a BackConfig, Option<SocketAddr>) -> Starting<'a>,
}

/// Refuses `back.close` other than `lingering` and a non-zero `back.timer_granularity`: a real server ends an
/// idle connection the way it does (each of ours sends a FIN, measured), on its own timer.
pub fn check_close(server: &'static str, back: &BackConfig) -> Result<(), RealError> {
    if back.close != CloseMode::Lingering {
        return Err(RealError::Unsupported {
            server,
            setting: "back.close",
            value: format!("{:?}", back.close).to_lowercase(),
            why: "the server ends an idle keep-alive connection with its own FIN; it cannot be told to reset",
        });
    }
    if !back.timer_granularity.is_zero() {
        return Err(RealError::Unsupported {
            server,
            setting: "back.timer_granularity",
            value: humantime::format_duration(back.timer_granularity).to_string(),
            why: "the server keeps its own idle timer; its measured close time is in README, Real stacks",
        });
    }
    Ok(())
}

/// Refuses `back.admin_listen`: the admin endpoint and its `/metrics` are our back's, not a real server's.
pub fn check_no_admin(server: &'static str, back: &BackConfig) -> Result<(), RealError> {
    match back.admin_listen {
        Some(addr) => Err(RealError::Unsupported {
            server,
            setting: "back.admin_listen",
            value: addr.to_string(),
            why: "the admin endpoint (/metrics) is our keep-alive proxy's; a real server has its own, or none",
        }),
        None => Ok(()),
    }
}

/// Refuses a `back.max_keepalive_requests` limit for a server that has no per-connection request limit.
pub fn check_no_request_limit(server: &'static str, back: &BackConfig) -> Result<(), RealError> {
    if back.max_keepalive_requests != 0 {
        return Err(RealError::Unsupported {
            server,
            setting: "back.max_keepalive_requests",
            value: back.max_keepalive_requests.to_string(),
            why: "the server has no limit of requests per keep-alive connection",
        });
    }
    Ok(())
}

/// Refuses a `back.keepalive_timeout` that is not whole seconds, for a server whose setting is an integer.
pub fn check_whole_seconds(
    server: &'static str,
    back: &BackConfig,
    why: &'static str,
) -> Result<(), RealError> {
    let timeout = back.keepalive_timeout;
    if back.keepalive && (timeout.subsec_nanos() != 0 || timeout < Duration::from_secs(1)) {
        return Err(RealError::Unsupported {
            server,
            setting: "back.keepalive_timeout",
            value: humantime::format_duration(timeout).to_string(),
            why,
        });
    }
    Ok(())
}

/// The origin a proxy back needs, or the error naming the server when the chain gave none.
pub fn require_origin(
    server: &'static str,
    origin: Option<SocketAddr>,
) -> Result<SocketAddr, RealError> {
    origin.ok_or(RealError::Unsupported {
        server,
        setting: "chain.back",
        value: "no origin".to_owned(),
        why: "the server proxies to the origin, and none was started",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_key_and_its_value() {
        let back = BackConfig {
            close: CloseMode::Immediate,
            ..BackConfig::default()
        };
        let error = check_close("node", &back).unwrap_err().to_string();
        assert!(
            error.contains("node") && error.contains("back.close = immediate"),
            "{error}"
        );
        let back = BackConfig {
            keepalive_timeout: Duration::from_millis(50),
            ..BackConfig::default()
        };
        let error = check_whole_seconds("gunicorn", &back, "integer seconds")
            .unwrap_err()
            .to_string();
        assert!(error.contains("back.keepalive_timeout = 50ms"), "{error}");
        let back = BackConfig {
            max_keepalive_requests: 3,
            ..BackConfig::default()
        };
        let error = check_no_request_limit("uvicorn", &back)
            .unwrap_err()
            .to_string();
        assert!(error.contains("back.max_keepalive_requests = 3"), "{error}");
        let unlimited = BackConfig {
            max_keepalive_requests: 0,
            ..BackConfig::default()
        };
        assert!(check_no_request_limit("uvicorn", &unlimited).is_ok());
        let with_admin = BackConfig {
            admin_listen: Some("127.0.0.1:9902".parse().unwrap()),
            ..BackConfig::default()
        };
        let error = check_no_admin("apache", &with_admin)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("apache") && error.contains("back.admin_listen = 127.0.0.1:9902"),
            "{error}"
        );
        assert!(check_no_admin("apache", &BackConfig::default()).is_ok());
    }
}
