//! `serve`: a config section or key that belongs to another tier is an error naming it, never ignored.

mod support;

use support::{badgateway_command, scratch_dir};

fn serve(tier: &str, name: &str, text: &str) -> (Option<i32>, String) {
    let path = scratch_dir("serve-config").join(name);
    std::fs::write(&path, text).unwrap();
    let output = badgateway_command()
        .args(["serve", tier, "--config", path.to_str().unwrap()])
        .output()
        .expect("the binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_back_section_in_a_gateway_file_is_named() {
    let (code, message) = serve(
        "gateway",
        "gateway-with-back.toml",
        "listen = \"127.0.0.1:0\"\nbackends = [\"127.0.0.1:9\"]\n[back]\nkeepalive_timeout = \"5s\"\n",
    );
    assert_eq!(code, Some(2), "{message}");
    assert!(message.contains("[back]"), "{message}");
    assert!(message.contains("serve gateway"), "{message}");
    assert!(
        message.contains("[front]"),
        "the section it reads is named: {message}"
    );
}

#[test]
fn a_front_section_in_a_back_file_is_named() {
    let (code, message) = serve(
        "back",
        "back-with-front.toml",
        "listen = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:9\"\n[front]\nretry = \"none\"\n",
    );
    assert_eq!(code, Some(2), "{message}");
    assert!(message.contains("[front]"), "{message}");
    assert!(message.contains("serve back"), "{message}");
}

#[test]
fn backends_in_an_origin_file_are_named() {
    let (code, message) = serve(
        "origin",
        "origin-with-backends.toml",
        "listen = \"127.0.0.1:0\"\nbackends = [\"127.0.0.1:9\"]\n",
    );
    assert_eq!(code, Some(2), "{message}");
    assert!(message.contains("backends"), "{message}");
}
