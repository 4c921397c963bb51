//! Property tests of `[back]` parsing: no TOML text and no combination of keys and values makes the parser
//! panic, an unknown key's error names the key, and well-typed values always parse to what they say.

use std::time::Duration;

use keepalive_proxy::{BackConfig, CloseMode};
use proptest::prelude::*;

/// Every key of `[back]`, as written in a scenario.
const KEYS: &[&str] = &[
    "keepalive",
    "keepalive_timeout",
    "max_keepalive_requests",
    "close",
    "timer_granularity",
    "lingering_timeout",
    "request_timeout",
    "header_read_timeout",
    "max_header_bytes",
    "limit_request_body",
    "max_body_bytes",
    "limit_request_line",
    "limit_request_field_size",
    "limit_request_fields",
    "allow_trace",
    "max_connections",
];

fn parse(text: &str) -> Result<BackConfig, toml::de::Error> {
    toml::from_str(text)
}

/// A TOML value of any type, including huge, negative and malformed durations and unknown close modes.
fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        "[0-9]{1,25}(ns|us|ms|s|m|h|d|y|x)?".prop_map(|d| format!("{d:?}")),
        "(lingering|immediate|reset|linger|RESET)".prop_map(|m| format!("{m:?}")),
        "\\PC{0,20}".prop_map(|s| format!("{s:?}")),
        prop::collection::vec(any::<i32>(), 0..4).prop_map(|v| format!("{v:?}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn arbitrary_values_for_known_keys_never_panic(
        pairs in prop::collection::vec((prop::sample::select(KEYS), any_value()), 0..8)
    ) {
        let mut text = String::new();
        let mut used = std::collections::BTreeSet::new();
        for (key, value) in pairs {
            if used.insert(key) {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        if let Ok(config) = parse(&text) {
            let again = toml::to_string(&config).map(|text| parse(&text));
            prop_assert!(matches!(again, Ok(Ok(ref back)) if *back == config), "{text}");
        }
    }

    #[test]
    fn an_unknown_key_is_named_in_the_error(
        key in "[a-z][a-z_]{0,24}".prop_filter("unknown", |key| !KEYS.contains(&key.as_str())),
        value in any_value(),
    ) {
        let error = parse(&format!("{key} = {value}\n"))
            .expect_err("an unknown key was accepted")
            .to_string();
        prop_assert!(error.contains(&key), "{error}");
    }

    #[test]
    fn well_typed_values_parse_as_written(
        header_read_ms in 0u64..10_000_000,
        max_body_bytes in 0u64..=(i64::MAX as u64),
        max_connections in any::<u32>(),
        close in prop::sample::select(vec![
            ("lingering", CloseMode::Lingering),
            ("immediate", CloseMode::Immediate),
            ("reset", CloseMode::Reset),
        ]),
    ) {
        let config = parse(&format!(
            "header_read_timeout = \"{header_read_ms}ms\"\nmax_body_bytes = {max_body_bytes}\n\
             max_connections = {max_connections}\nclose = \"{}\"\n",
            close.0
        ))
        .expect("well-typed values parse");
        prop_assert_eq!(config.header_read_timeout, Duration::from_millis(header_read_ms));
        prop_assert_eq!(config.limit_request_body, max_body_bytes);
        prop_assert_eq!(config.max_connections, max_connections as usize);
        prop_assert_eq!(config.close, close.1);
    }
}
