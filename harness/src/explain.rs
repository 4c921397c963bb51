//! `badgateway explain`: for each 502 cause seen, what happened on the wire and what an operator should check,
//! grouped the way the Application Gateway troubleshooting guide groups them; the responses the gateway cut
//! short after their head (not 502s, but failures the clients saw); and, for a real front (nginx, HAProxy),
//! its own account of its upstream failures, read from its log, instead of a bare "read its error log".
//! It reads results; it does not read files (the command does).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use gateway::Cause;
use serde::Deserialize;

use crate::real::errorlog::LogCause;
use crate::record::CauseKey;
use crate::result::RunResult;

/// A real front's own account of a run, as `real run --json` writes it beside the result contract.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct FrontAccount {
    /// The front tier (`nginx`, `haproxy`, `ours`).
    pub front: String,
    /// Its upstream failures by cause: log causes ([`LogCause::name`]) or our gateway's cause names.
    pub front_causes: BTreeMap<String, u64>,
}

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

/// The real fronts' accounts in a result document (`real run` or `real compare --json`), by the scenario
/// name of their run; empty for a result of our own chain, which has none.
pub fn front_accounts(document: &serde_json::Value) -> BTreeMap<String, FrontAccount> {
    let runs = match document.get("cells").and_then(serde_json::Value::as_array) {
        Some(cells) => cells.iter().collect(),
        None => vec![document],
    };
    runs.into_iter()
        .filter_map(|run| {
            let scenario = run.get("scenario")?.as_str()?.to_owned();
            let account = FrontAccount::deserialize(run).ok()?;
            Some((scenario, account))
        })
        .collect()
}

/// Every log cause, to find one by name.
const LOG_CAUSES: [LogCause; 5] = [
    LogCause::UpstreamClosed,
    LogCause::UpstreamReset,
    LogCause::UpstreamTimeout,
    LogCause::ConnectRefused,
    LogCause::Other,
];

/// What a real front's log cause means, and which of our causes it covers.
pub fn explain_log_cause(cause: LogCause) -> &'static str {
    match cause {
        LogCause::UpstreamClosed => {
            "the upstream closed the connection before a complete response head (nginx 'upstream \
             prematurely closed connection', HAProxy SH): after an idle gap near the back's KeepAliveTimeout \
             this is the keep-alive race (our reused-closed); otherwise the back crashed or restarted \
             (fresh-closed). Fix as for reused-closed: the front's idle timeout below the back's \
             KeepAliveTimeout, or a retry of idempotent requests."
        }
        LogCause::UpstreamReset => {
            "the upstream connection was reset (ECONNRESET or EPIPE; HAProxy SD): on a reused connection the \
             keep-alive race with a back that closes with unread bytes or SO_LINGER 0 (our reused-reset); the \
             same fixes as upstream-closed."
        }
        LogCause::UpstreamTimeout => {
            "no response head in time (nginx proxy_read_timeout, HAProxy timeout server): compare the \
             application's p99 with the front's timeout (our response-timeout)."
        }
        LogCause::ConnectRefused => {
            "the SYN was answered by an RST: nothing listens on the back's port (our connect-refused)."
        }
        LogCause::Other => {
            "an upstream error line the table does not name: read the front's error log at the same time."
        }
    }
}

/// What a truncated response is, for the section `explain` prints when there were some.
pub const TRUNCATED: &str = "the upstream failed after the response head had been sent to the client, so the \
    gateway could not answer 502: it aborted the client connection, and the clients saw the response cut short \
    (counted as a client error: closed or reset). Check the origin and the back for responses that die midway \
    (crashes, a Content-Length larger than the body, timeouts while streaming) and the back's logs at the same \
    time.";

/// The explanation for a 502 without a cause header (a real front such as nginx or HAProxy).
pub const UNCLASSIFIED: &str = "a 502 without x-badgateway-cause: made by a front that does not name causes; read \
    its error log (nginx: 'upstream prematurely closed connection' or 'Connection reset by peer').";

/// The text `explain` prints for a result: one section per cause seen, most frequent first, then the
/// truncated responses.
pub fn explain_result(result: &RunResult) -> String {
    explain_run(result, None)
}

/// As [`explain_result`], with a real front's own account when the result has one: its causes are explained
/// instead of telling the reader to go and read the log the result was built from.
pub fn explain_run(result: &RunResult, front: Option<&FrontAccount>) -> String {
    let mut out = String::new();
    let mut causes: Vec<(&CauseKey, &u64)> =
        result.causes.iter().filter(|(_, n)| **n > 0).collect();
    causes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let front_causes = front.map(front_causes_by_count).unwrap_or_default();
    if causes.is_empty() && result.truncated_responses == 0 && front_causes.is_empty() {
        if result.retries > 0 {
            let _ = writeln!(
                out,
                "{}: no 502, no truncated response in {} requests; {} requests failed on their first \
                 upstream connection and the gateway retried them on a fresh one, so no client saw those failures",
                result.scenario, result.requests, result.retries
            );
            return out;
        }
        let _ = writeln!(
            out,
            "{}: nothing to explain: no 502, no truncated response in {} requests",
            result.scenario, result.requests
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{}: {} 502 and {} truncated responses in {} requests",
        result.scenario,
        result.bad_gateways(),
        result.truncated_responses,
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
            CauseKey::Unclassified if !front_causes.is_empty() => {
                let _ = writeln!(
                    out,
                    "  502s without x-badgateway-cause: the front does not name causes; its own account follows"
                );
            }
            CauseKey::Unclassified => {
                let _ = writeln!(out, "  {}", squeeze(UNCLASSIFIED));
            }
        }
    }
    if result.truncated_responses > 0 {
        let _ = writeln!(
            out,
            "\ntruncated responses ({})\n  {}",
            result.truncated_responses,
            squeeze(TRUNCATED)
        );
    }
    if let Some(front) = front.filter(|_| !front_causes.is_empty()) {
        let _ = writeln!(
            out,
            "\nthe front's own account ({}: its log, every failed upstream attempt, retried or not)",
            front.front
        );
        for (name, count) in front_causes {
            let _ = writeln!(
                out,
                "  {name} ({count}): {}",
                squeeze(&explain_front_cause(name))
            );
        }
    }
    out
}

/// What `explain` says of a sweep (`sweep --json`): its requests, 502s and race 502s, and where the race
/// window peaked; a sweep keeps no wire stories.
pub fn explain_sweep(sweep: &crate::sweep::SweepResult) -> String {
    let requests: u64 = sweep.bins.iter().map(|bin| bin.requests).sum();
    let bad: u64 = sweep.bins.iter().map(|bin| bin.bad_gateways).sum();
    let race: u64 = sweep.bins.iter().map(|bin| bin.race_bad_gateways).sum();
    let mut out = format!(
        "{}: a race-window sweep of {} offsets: {bad} 502 in {requests} requests, {race} of them from the \
         keep-alive race (reused-closed, reused-reset)",
        sweep.scenario,
        sweep.bins.len()
    );
    if let Some(peak) = sweep
        .bins
        .iter()
        .filter(|bin| bin.race_bad_gateways > 0)
        .max_by(|a, b| a.probability.total_cmp(&b.probability))
    {
        let _ = write!(
            out,
            "; the most likely 502: {:.1} % at an idle gap of {:.1} ms ({:+.1} ms from the back's keep-alive \
             timeout)",
            peak.probability * 100.0,
            peak.gap_ms,
            peak.offset_ms
        );
    }
    if sweep.interrupted {
        out.push_str(" (interrupted: a partial sweep)");
    }
    out.push_str(
        ".\n  a sweep keeps no wire stories: `badgateway run --json` a scenario to see its failed requests' timelines\n",
    );
    out
}

/// What `explain` says of a probe (`probe --json`): its verdict, and what its `[expect]` asked.
pub fn explain_probe(probe: &crate::probe::ProbeResult) -> String {
    let findings = &probe.probe.findings;
    let mut out = format!(
        "{}: probe of {} in front of {}: {}: {} of {} probes failed; a front idle timeout up to {:.1} ms was \
         measured safe",
        probe.scenario,
        probe.front,
        probe.back,
        if findings.exposed {
            "exposed to the keep-alive race"
        } else {
            "not exposed"
        },
        findings.failures,
        findings.sent,
        findings.largest_safe_idle_ms
    );
    out.push_str(".\n");
    for violation in probe.violations() {
        let _ = writeln!(out, "  - {violation}");
    }
    out.push_str("  a probe keeps no wire stories: `badgateway run --json` a scenario to see its failed requests' timelines\n");
    out
}

/// A front account's causes with a count, most frequent first.
fn front_causes_by_count(front: &FrontAccount) -> Vec<(&str, u64)> {
    let mut causes: Vec<(&str, u64)> = front
        .front_causes
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(name, n)| (name.as_str(), *n))
        .collect();
    causes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    causes
}

/// One cause of a front's account: a log cause, or one of our gateway's causes.
fn explain_front_cause(name: &str) -> String {
    if let Some(cause) = LOG_CAUSES.into_iter().find(|c| c.name() == name) {
        return explain_log_cause(cause).to_owned();
    }
    match CauseKey::from_header(Some(name)) {
        CauseKey::Gateway(cause) => {
            let explanation = explain(cause);
            format!("{}: {}", explanation.group, explanation.wire)
        }
        CauseKey::Unclassified => format!("{name}: a cause this version does not know"),
    }
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

    fn result(causes: &[(&str, u64)], truncated: u64) -> RunResult {
        let text = serde_json::json!({
            "scenario": "t", "settings": {}, "requests": 100,
            "responses": {"200": 100 - causes.iter().map(|c| c.1).sum::<u64>(),
                          "502": causes.iter().map(|c| c.1).sum::<u64>()},
            "client_errors": {"closed": truncated},
            "causes": causes.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect::<BTreeMap<_, _>>(),
            "latency_ms": {"p50": 1.0, "p90": 1.0, "p99": 1.0, "max": 1.0},
            "throughput_rps": 1.0, "upstream_connections": 1, "retries": 0, "unaccounted": 0,
            "duration_s": 1.0, "seed": 1, "truncated_responses": truncated,
        });
        serde_json::from_value(text).unwrap()
    }

    #[test]
    fn truncated_responses_are_explained_even_without_a_502() {
        let text = explain_result(&result(&[], 20));
        assert!(text.contains("0 502 and 20 truncated responses"), "{text}");
        assert!(text.contains("truncated responses (20)"), "{text}");
        assert!(!text.contains("nothing to explain"), "{text}");
    }

    #[test]
    fn retried_failures_are_told_as_retried_not_as_nothing() {
        let mut clean = result(&[], 0);
        clean.retries = 86;
        let text = explain_result(&clean);
        assert!(!text.contains("nothing to explain"), "{text}");
        assert!(text.contains("86 requests failed on their first"), "{text}");
        assert!(text.contains("retried them on a fresh one"), "{text}");
    }

    #[test]
    fn a_sweep_is_summed_and_a_probe_judged() {
        let sweep: crate::sweep::SweepResult = serde_json::from_value(serde_json::json!({
            "scenario": "s", "keepalive_timeout_ms": 50.0, "interrupted": false,
            "bins": [
                {"offset_ms": -1.0, "gap_ms": 49.0, "requests": 100, "bad_gateways": 3,
                 "race_bad_gateways": 3, "probability": 0.03, "ci_low": 0.0, "ci_high": 0.1, "unaccounted": 0},
                {"offset_ms": 0.5, "gap_ms": 50.5, "requests": 100, "bad_gateways": 20,
                 "race_bad_gateways": 19, "probability": 0.19, "ci_low": 0.1, "ci_high": 0.3, "unaccounted": 0}
            ]
        }))
        .expect("a sweep");
        let text = explain_sweep(&sweep);
        assert!(
            text.contains("23 502 in 200 requests, 22 of them"),
            "{text}"
        );
        assert!(
            text.contains("19.0 % at an idle gap of 50.5 ms (+0.5 ms"),
            "{text}"
        );
    }

    #[test]
    fn a_clean_result_says_there_is_nothing_to_explain() {
        let text = explain_result(&result(&[], 0));
        assert!(text.contains("nothing to explain"), "{text}");
    }

    #[test]
    fn a_real_front_account_is_explained_instead_of_pointing_at_the_log() {
        let front = FrontAccount {
            front: "nginx".to_owned(),
            front_causes: BTreeMap::from([
                ("upstream-closed".to_owned(), 7),
                ("other".to_owned(), 0),
            ]),
        };
        let text = explain_run(&result(&[("unclassified", 7)], 0), Some(&front));
        assert!(text.contains("the front's own account (nginx"), "{text}");
        assert!(text.contains("upstream-closed (7)"), "{text}");
        assert!(text.contains("keep-alive race"), "{text}");
        assert!(!text.contains("read its error log"), "{text}");
        assert!(
            !text.contains("other (0)"),
            "zero counts are left out: {text}"
        );
    }

    #[test]
    fn without_a_front_account_an_unclassified_502_points_at_the_log() {
        let text = explain_result(&result(&[("unclassified", 3)], 0));
        assert!(text.contains("read its error log"), "{text}");
    }
}
