//! `badgateway explain`: for each 502 cause seen, what happened on the wire and what an operator should check,
//! grouped the way the Application Gateway troubleshooting guide groups them.

use std::fmt::Write as _;

use gateway::Cause;

use crate::record::CauseKey;
use crate::result::RunResult;

/// The explanation of one cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Explanation {
    /// The troubleshooting group (as in the Application Gateway guide).
    pub group: &'static str,
    /// What happened on the wire.
    pub wire: &'static str,
    /// What to check and change, most likely first.
    pub checks: &'static [&'static str],
}

/// The explanation of `cause`.
pub fn explain(cause: Cause) -> Explanation {
    match cause {
        Cause::NoBackends => Explanation {
            group: "empty backend pool",
            wire: "nothing was sent: the backend pool has no member to send to.",
            checks: &[
                "add members to the backend pool (IP addresses or FQDNs)",
                "check the deployment that should register the backends",
            ],
        },
        Cause::AllUnhealthy => Explanation {
            group: "unhealthy instances in the backend pool",
            wire: "nothing was sent: every member failed its health probe, so the gateway answered at once.",
            checks: &[
                "open /_badgateway/health: each member's last probe result and consecutive failures",
                "the probe path must return 200-399 (or the custom match) on the backend's port",
                "the probe host header and timeout must suit the backend (a slow app fails a short timeout)",
                "network rules must allow the probe from the gateway to the backend",
            ],
        },
        Cause::DnsFailure => Explanation {
            group: "name resolution of the backend",
            wire: "no connection: the backend host name did not resolve.",
            checks: &[
                "resolve the backend FQDN from the gateway's network (custom DNS servers, private zones)",
                "check the record exists and the resolver is reachable",
            ],
        },
        Cause::ConnectRefused => Explanation {
            group: "backend down or port closed",
            wire: "the SYN was answered by an RST: nothing listens on the backend port.",
            checks: &[
                "is the backend process running and listening on that port and address?",
                "does the backend pool's port match the server's Listen directive?",
            ],
        },
        Cause::ConnectTimeout => Explanation {
            group: "network rules dropping packets",
            wire: "the SYN got no answer within connect_timeout: something drops packets on the path.",
            checks: &[
                "network security groups / firewalls / routes between gateway and backend",
                "the backend's SYN backlog (a saturated listener drops SYNs)",
                "raise connect_timeout only if the path is known to be slow",
            ],
        },
        Cause::ReusedClosed => Explanation {
            group: "keep-alive race (idle connection closed by the backend)",
            wire: "the request was written on a pooled connection the backend had just closed on its \
                   KeepAliveTimeout: the gateway read EOF before any response byte.",
            checks: &[
                "set the front's idle timeout below the backend's KeepAliveTimeout (minus the round trip)",
                "or raise the backend's KeepAliveTimeout above the front's idle timeout",
                "enable one retry of idempotent requests on a fresh connection",
                "KeepAlive Off on the backend removes it at the cost of a connection per request",
            ],
        },
        Cause::ReusedReset => Explanation {
            group: "keep-alive race (idle connection reset by the backend)",
            wire: "the request was written on a pooled connection the backend had closed or reset: the gateway \
                   got ECONNRESET before any response byte.",
            checks: &[
                "the same fixes as reused-closed: front idle timeout below the backend's KeepAliveTimeout, \
                 or a retry of idempotent requests",
                "a backend that closes with unread bytes (or SO_LINGER 0) sends RST instead of FIN",
            ],
        },
        Cause::FreshClosed => Explanation {
            group: "backend closed a new connection",
            wire: "a new connection was closed by the backend before any response byte.",
            checks: &[
                "backend crashes or restarts (check its error log)",
                "a connection limit on the backend (MaxRequestWorkers, ListenBacklog)",
            ],
        },
        Cause::FreshReset => Explanation {
            group: "backend reset a new connection",
            wire: "a new connection was reset by the backend (or a middlebox) before any response byte.",
            checks: &[
                "backend crashes, TLS/port mismatches, middleboxes that reset",
                "the backend's error log at the same timestamp",
            ],
        },
        Cause::ResponseTimeout => Explanation {
            group: "request time-out",
            wire: "the request was sent but no response head came within request_timeout.",
            checks: &[
                "the application's latency at p99 against the gateway's request timeout",
                "raise request_timeout for slow endpoints, or make them asynchronous",
                "a blackhole on the path after connect (packets dropped mid-connection)",
            ],
        },
        Cause::InvalidResponse => Explanation {
            group: "invalid response from the backend",
            wire: "bytes came back, but they are not an HTTP/1.1 response.",
            checks: &[
                "is the backend speaking HTTP on that port (not TLS, not another protocol)?",
                "a backend that writes garbage or a broken status line",
            ],
        },
    }
}

/// The explanation for a 502 without a cause header (a real front such as nginx or HAProxy).
pub const UNCLASSIFIED: &str = "a 502 without x-badgateway-cause: made by a front that does not name causes; read \
    its error log (nginx: 'upstream prematurely closed connection' or 'Connection reset by peer').";

/// The text `explain` prints for a result: one section per cause seen, most frequent first.
pub fn explain_result(result: &RunResult) -> String {
    let mut out = String::new();
    let mut causes: Vec<(&CauseKey, &u64)> =
        result.causes.iter().filter(|(_, n)| **n > 0).collect();
    causes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if causes.is_empty() {
        let _ = writeln!(out, "{}: no 502 to explain", result.scenario);
        return out;
    }
    let _ = writeln!(
        out,
        "{}: {} 502 in {} requests",
        result.scenario,
        result.bad_gateways(),
        result.requests
    );
    for (name, count) in causes {
        let _ = writeln!(out, "\n{name} ({count})");
        match name {
            CauseKey::Gateway(cause) => {
                let cause = *cause;
                let explanation = explain(cause);
                let _ = writeln!(out, "  group: {}", explanation.group);
                let _ = writeln!(out, "  on the wire: {}", squeeze(explanation.wire));
                for check in explanation.checks {
                    let _ = writeln!(out, "  - {}", squeeze(check));
                }
            }
            CauseKey::Unclassified => {
                let _ = writeln!(out, "  {}", squeeze(UNCLASSIFIED));
            }
        }
    }
    out
}

/// Folds the runs of spaces that line continuations leave in string constants.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_has_an_explanation_with_checks() {
        for cause in Cause::ALL {
            let explanation = explain(cause);
            assert!(
                !explanation.wire.is_empty() && !explanation.checks.is_empty(),
                "{cause}"
            );
        }
    }
}
