//! `badgateway audit` on the shipped example configs (`examples/audit/`): the exposed and the fixed version of
//! each format give the expected verdict, with the file and line of every value and change; includes are
//! followed (a `conf.d/*.conf` glob in nginx and Apache); a bad value is reported at its file and line; the
//! scenario it writes parses and carries the scaled timeouts; the binary's exit status follows the verdict.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gateway::RetryPolicy;
use harness::audit::{self, Audit, Inputs, Options, Severity, Side, Where, scenario};
use harness::preset::{IdleLimit, Preset};
use harness::scenario::Scenario;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/audit")
}

fn at(relative: &str, line: usize) -> Where {
    Where::line(&examples().join(relative), line)
}

fn inputs(preset: &str) -> Inputs {
    Inputs {
        preset: Some(preset.parse::<Preset>().expect("a valid preset")),
        ..Inputs::default()
    }
}

fn only_verdict(audit: &Audit) -> &audit::Verdict {
    assert_eq!(
        audit.pairs.len(),
        1,
        "one pair expected: {:#?}",
        audit.pairs
    );
    audit.pairs[0].verdict.as_ref().expect("a verdict")
}

#[test]
fn nginx_exposed_follows_its_include_and_names_the_lines_to_change() {
    let mut input = inputs("back=apache");
    input.nginx = vec![examples().join("nginx/exposed/nginx.conf")];
    let result = audit::run(&input).expect("audit runs");
    assert!(result.diagnostics.is_empty(), "{:?}", result.diagnostics);
    let front = &result.pairs[0].front;
    assert_eq!(
        front.idle_timeout.value,
        IdleLimit::After(Duration::from_secs(60))
    );
    assert_eq!(
        front.idle_timeout.at,
        at("nginx/exposed/conf.d/upstream.conf", 5)
    );
    assert_eq!(front.reuse.at, at("nginx/exposed/conf.d/upstream.conf", 4));
    assert_eq!(front.retry.value, RetryPolicy::None);
    assert_eq!(front.retry.at, at("nginx/exposed/nginx.conf", 14));
    let verdict = only_verdict(&result);
    assert!(verdict.exposed, "{}", verdict.why);
    let front_change = &verdict.changes[0];
    assert_eq!(
        (
            front_change.side,
            front_change.directive.as_str(),
            &front_change.at,
            front_change.replaces
        ),
        (
            Side::Front,
            "keepalive_timeout 4s;",
            &at("nginx/exposed/conf.d/upstream.conf", 5),
            true
        )
    );
    assert!(
        verdict
            .changes
            .iter()
            .any(|c| c.side == Side::Back && c.directive == "KeepAliveTimeout 65"),
        "{:?}",
        verdict.changes
    );
    assert!(result.any_exposed());
}

#[test]
fn nginx_fixed_is_not_exposed() {
    let mut input = inputs("back=apache");
    input.nginx = vec![examples().join("nginx/fixed/nginx.conf")];
    let result = audit::run(&input).expect("audit runs");
    let verdict = only_verdict(&result);
    assert!(!verdict.exposed, "{}", verdict.why);
    assert!(verdict.changes.is_empty());
    assert_eq!(
        result.pairs[0].front.idle_timeout.at,
        at("nginx/fixed/conf.d/upstream.conf", 5)
    );
    assert_eq!(
        result.pairs[0].front.idle_timeout.value,
        IdleLimit::After(Duration::from_secs(4))
    );
}

#[test]
fn apache_exposed_reads_the_included_timeout_and_the_virtual_host() {
    let mut input = inputs("front=alb");
    input.apache = vec![examples().join("apache/exposed/apache2.conf")];
    let result = audit::run(&input).expect("audit runs");
    assert!(result.diagnostics.is_empty(), "{:?}", result.diagnostics);
    let back = &result.pairs[0].back;
    assert!(
        back.label.contains("<VirtualHost *:80>") && back.label.contains("app.example"),
        "{}",
        back.label
    );
    assert_eq!(
        back.keepalive_timeout.value,
        IdleLimit::After(Duration::from_secs(5))
    );
    assert_eq!(
        back.keepalive_timeout.at,
        at("apache/exposed/conf.d/keepalive.conf", 2)
    );
    assert_eq!(back.keepalive.at, at("apache/exposed/apache2.conf", 2));
    let verdict = only_verdict(&result);
    assert!(verdict.exposed, "{}", verdict.why);
    let back_change = verdict
        .changes
        .iter()
        .find(|c| c.side == Side::Back)
        .expect("a back change");
    assert_eq!(back_change.directive, "KeepAliveTimeout 65");
    assert_eq!(
        back_change.at,
        at("apache/exposed/conf.d/keepalive.conf", 2)
    );
}

#[test]
fn apache_fixed_is_not_exposed_behind_a_60s_front() {
    let mut input = inputs("front=alb");
    input.apache = vec![examples().join("apache/fixed/apache2.conf")];
    let result = audit::run(&input).expect("audit runs");
    let verdict = only_verdict(&result);
    assert!(!verdict.exposed, "{}", verdict.why);
    assert_eq!(
        result.pairs[0].back.keepalive_timeout.at,
        at("apache/fixed/conf.d/keepalive.conf", 2)
    );
}

#[test]
fn haproxy_exposed_without_a_retry_of_sent_requests_and_fixed_with_empty_response() {
    let mut input = inputs("back=apache");
    input.haproxy = vec![examples().join("haproxy/exposed.cfg")];
    let result = audit::run(&input).expect("audit runs");
    let verdict = only_verdict(&result);
    assert!(verdict.exposed, "{}", verdict.why);
    assert_eq!(
        result.pairs[0].front.idle_timeout.value,
        IdleLimit::Unbounded
    );
    assert!(
        verdict.why.contains("without a response"),
        "{}",
        verdict.why
    );
    assert!(
        verdict
            .changes
            .iter()
            .any(|c| c.directive == "retry-on conn-failure empty-response"
                && c.at == at("haproxy/exposed.cfg", 10)),
        "{:?}",
        verdict.changes
    );
    let warning = result
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Warning)
        .expect("a warning");
    assert_eq!(warning.at, at("haproxy/exposed.cfg", 8), "{warning}");
    assert!(warning.message.contains("client connections"), "{warning}");

    let mut input = inputs("back=apache");
    input.haproxy = vec![examples().join("haproxy/fixed.cfg")];
    let result = audit::run(&input).expect("audit runs");
    let verdict = only_verdict(&result);
    assert!(!verdict.exposed, "{}", verdict.why);
    assert_eq!(result.pairs[0].front.retry.value, RetryPolicy::Always);
    assert_eq!(result.pairs[0].front.retry.at, at("haproxy/fixed.cfg", 11));
}

#[test]
fn caddy_exposed_for_post_not_for_get_and_fixed_for_both() {
    let post = Options {
        method: "POST".to_owned(),
        ..Options::default()
    };
    let mut input = inputs("back=apache");
    input.caddy = vec![examples().join("caddy/exposed.Caddyfile")];
    input.options = post.clone();
    let result = audit::run(&input).expect("audit runs");
    let verdict = only_verdict(&result);
    assert!(verdict.exposed, "{}", verdict.why);
    assert_eq!(
        result.pairs[0].front.idle_timeout.at,
        at("caddy/exposed.Caddyfile", 7)
    );
    let change = verdict
        .changes
        .iter()
        .find(|c| c.side == Side::Front)
        .expect("a front change");
    assert_eq!(
        (change.directive.as_str(), &change.at),
        ("keepalive 4s", &at("caddy/exposed.Caddyfile", 7))
    );

    input.options = Options::default();
    let get = audit::run(&input).expect("audit runs");
    assert!(
        !only_verdict(&get).exposed,
        "GET is retried by Go's transport"
    );

    let mut input = inputs("back=apache");
    input.caddy = vec![examples().join("caddy/fixed.Caddyfile")];
    input.options = post;
    let result = audit::run(&input).expect("audit runs");
    assert!(!only_verdict(&result).exposed);
    assert_eq!(
        result.pairs[0].front.idle_timeout.value,
        IdleLimit::After(Duration::from_secs(4))
    );
    assert_eq!(
        result.pairs[0].front.idle_timeout.at,
        at("caddy/fixed.Caddyfile", 6)
    );
}

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "badgateway-audit-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("temp subdir");
        }
        std::fs::write(&path, text).expect("temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn bad_values_are_errors_at_their_file_and_line_never_guesses() {
    let dir = TempDir::new();
    let nginx = dir.write(
        "nginx.conf",
        "http {\n  upstream app {\n    keepalive 8;\n    keepalive_timeout 5x;\n  }\n  server { location / { proxy_pass http://app; proxy_next_upstream sometimes; } }\n}\n",
    );
    let apache = dir.write("apache2.conf", "KeepAlive On\nInclude conf.d/*.conf\n");
    let included = dir.write(
        "conf.d/timeout.conf",
        "# the bad line is line 2\nKeepAliveTimeout five\n",
    );
    let mut input = Inputs {
        nginx: vec![nginx.clone()],
        apache: vec![apache],
        ..Inputs::default()
    };
    input.options = Options::default();
    let result = audit::run(&input).expect("audit runs");
    let errors: Vec<String> = result
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    assert!(
        errors.contains(&format!(
            "{}:4: error: keepalive_timeout \"5x\": not an nginx time",
            nginx.display()
        )),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.starts_with(&format!(
            "{}:6: error: proxy_next_upstream \"sometimes\"",
            nginx.display()
        ))),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.starts_with(&format!(
            "{}:2: error: KeepAliveTimeout \"five\"",
            included.display()
        ))),
        "{errors:?}"
    );
    assert!(result.has_errors());
}

#[test]
fn nginx_1_22_without_keepalive_or_http_1_1_reuses_nothing() {
    let dir = TempDir::new();
    let nginx = dir.write(
        "nginx.conf",
        "http {\n  upstream a { server 127.0.0.1:1; }\n  upstream b { server 127.0.0.1:2; keepalive 4; }\n  server {\n    location /a { proxy_pass http://a; }\n    location /b { proxy_pass http://b; }\n  }\n}\n",
    );
    let mut input = inputs("back=apache");
    input.nginx = vec![nginx];
    let result = audit::run(&input).expect("audit runs");
    assert_eq!(result.pairs.len(), 2);
    for pair in &result.pairs {
        let verdict = pair.verdict.as_ref().expect("a verdict");
        assert!(!verdict.exposed, "{}", verdict.why);
        assert!(pair.front.reuse.value.is_err());
    }
    assert!(
        result.pairs[0]
            .verdict
            .as_ref()
            .is_ok_and(|v| v.why.contains("no `keepalive N;`"))
    );
    assert!(
        result.pairs[1]
            .verdict
            .as_ref()
            .is_ok_and(|v| v.why.contains("HTTP/1.0"))
    );
}

#[test]
fn appgw_needs_its_idle_timeout_from_the_user() {
    let mut input = inputs("front=appgw,back=apache");
    let result = audit::run(&input).expect("audit runs");
    let missing = result.pairs[0]
        .verdict
        .as_ref()
        .expect_err("no verdict without the idle timeout");
    assert!(missing.contains("--set front.idle_timeout="), "{missing}");
    assert!(result.has_errors());

    input.sets = vec!["front.idle_timeout=4s".to_owned()];
    let result = audit::run(&input).expect("audit runs");
    assert!(!only_verdict(&result).exposed);
}

#[test]
fn the_written_scenario_parses_with_the_scaled_timeouts() {
    let mut input = inputs("front=alb");
    input.apache = vec![examples().join("apache/exposed/apache2.conf")];
    let result = audit::run(&input).expect("audit runs");
    let text =
        scenario::scenario_for(&result.pairs[0], &result.options, 0.01).expect("a valid scenario");
    let parsed = Scenario::from_toml(&text, "test").expect("parses");
    assert_eq!(parsed.front.idle_timeout, Duration::from_millis(600));
    assert_eq!(parsed.back.keepalive_timeout, Duration::from_millis(50));
    assert_eq!(parsed.back.max_keepalive_requests, 100);
    assert_eq!(parsed.front.retry, RetryPolicy::None);
    assert_eq!(parsed.expect.min_502, Some(1));
    assert_eq!(parsed.load.gap, Some(Duration::from_millis(50)));
}

fn exit_code(args: &[&str]) -> Option<i32> {
    Command::new(env!("CARGO_BIN_EXE_badgateway"))
        .arg("audit")
        .args(args)
        .output()
        .expect("the binary runs")
        .status
        .code()
}

#[test]
fn exit_status_is_1_when_exposed_0_when_fixed_2_on_errors() {
    let examples = examples();
    let path = |relative: &str| examples.join(relative).display().to_string();
    assert_eq!(
        exit_code(&[
            "--haproxy",
            &path("haproxy/exposed.cfg"),
            "--preset",
            "back=apache"
        ]),
        Some(1)
    );
    assert_eq!(
        exit_code(&[
            "--haproxy",
            &path("haproxy/fixed.cfg"),
            "--preset",
            "back=apache"
        ]),
        Some(0)
    );
    assert_eq!(exit_code(&["--preset", "front=appgw,back=apache"]), Some(2));
    assert_eq!(exit_code(&["--preset", "front=nosuch"]), Some(2));
    assert_eq!(
        exit_code(&[
            "--nginx",
            "/nonexistent/nginx.conf",
            "--preset",
            "back=apache"
        ]),
        Some(2)
    );
}

#[test]
fn a_variable_connection_header_is_a_warning_at_its_line() {
    let dir = TempDir::new();
    let nginx = dir.write(
        "nginx.conf",
        "http {\n  upstream app { server 127.0.0.1:1; keepalive 4; }\n  server {\n    location / {\n      proxy_pass http://app;\n      proxy_http_version 1.1;\n      proxy_set_header Connection $connection_upgrade;\n    }\n  }\n}\n",
    );
    let mut input = inputs("back=apache");
    input.nginx = vec![nginx.clone()];
    let result = audit::run(&input).expect("audit runs");
    let warning = result
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Warning)
        .expect("a warning");
    assert_eq!(warning.at, Where::line(&nginx, 7), "{warning}");
    assert!(warning.message.contains("$connection_upgrade"), "{warning}");
    assert!(!result.has_errors());
}
