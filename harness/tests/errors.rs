//! Errors a person understands: each OS error said once, a negative tolerance refused with a plain message
//! (not clap's "use '-- -5%'" tip).

mod support;

use support::badgateway_command;

fn stderr_of(args: &[&str]) -> (Option<i32>, String) {
    let output = badgateway_command()
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn an_os_error_is_said_once() {
    let (code, message) = stderr_of(&["run", "/nonexistent/scenario.toml", "--quiet"]);
    assert_eq!(code, Some(2), "{message}");
    assert_eq!(
        message.matches("os error 2").count(),
        1,
        "the OS error once: {message}"
    );
    assert!(message.contains("/nonexistent/scenario.toml"), "{message}");
}

#[test]
fn an_os_error_from_anyhow_context_is_said_once() {
    let (code, message) = stderr_of(&["audit", "--nginx", "/nonexistent/nginx.conf"]);
    assert_eq!(code, Some(2), "{message}");
    assert_eq!(message.matches("os error 2").count(), 1, "{message}");
}

#[test]
fn a_negative_tolerance_is_refused_in_plain_words() {
    let (code, message) = stderr_of(&["check", "/nonexistent.json", "--tolerance", "-5%"]);
    assert_eq!(code, Some(2), "{message}");
    assert!(!message.contains("-- -5%"), "no clap tip: {message}");
    assert!(message.contains("-5%"), "the value is named: {message}");
    assert!(message.contains("zero or positive"), "{message}");
}
