//! Property tests of `[front]` parsing: no TOML text and no combination of keys and values makes the parser
//! panic, an unknown key's error names the key, and well-typed values always parse to what they say.

use std::time::Duration;

use gateway::FrontConfig;
use proptest::prelude::*;

/// Every key of `[front]`, as written in a scenario.
const KEYS: &[&str] = &[
    "idle_timeout",
    "max_idle_per_backend",
    "max_requests_per_conn",
    "retry",
    "connect_timeout",
    "request_timeout",
    "cause_header",
    "client_idle_timeout",
    "client_park_after",
    "upstream_park_after",
    "max_client_connections",
    "worker_threads",
    "max_body_bytes",
    "max_header_bytes",
    "allow_trace",
    "admin_listen",
];

/// Keys of `[front]` that are tables of their own.
const TABLES: &[&str] = &["probe", "dns"];

fn parse(text: &str) -> Result<FrontConfig, toml::de::Error> {
    toml::from_str(text)
}

/// A TOML value of any type, including ones no key takes: huge, negative, malformed durations and nested
/// arrays.
fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        "[0-9]{1,25}(ns|us|ms|s|m|h|d|y|x)?".prop_map(|d| format!("{d:?}")),
        "\\PC{0,20}".prop_map(|s| format!("{s:?}")),
        prop::collection::vec(any::<i32>(), 0..4).prop_map(|v| format!("{v:?}")),
        Just("\"127.0.0.1:9901\"".to_owned()),
        Just("\"none\"".to_owned()),
        Just("\"idempotent\"".to_owned()),
        Just("{ enabled = true, interval = \"0s\", match_status = [[600, 100]] }".to_owned()),
        Just("{ mode = \"table\", hosts = { \"a\" = [\"::1\", \"x\"] } }".to_owned()),
    ]
}

/// A key the config does not have.
fn unknown_key() -> impl Strategy<Value = String> {
    "[a-z][a-z_]{0,24}".prop_filter("not a known key", |key| {
        !KEYS.contains(&key.as_str()) && !TABLES.contains(&key.as_str())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn arbitrary_values_for_known_keys_never_panic(
        pairs in prop::collection::vec((prop::sample::select(KEYS.iter().chain(TABLES).copied().collect::<Vec<_>>()), any_value()), 0..8)
    ) {
        let mut text = String::new();
        let mut used = std::collections::BTreeSet::new();
        for (key, value) in pairs {
            // A key given twice is a TOML error of its own; keep each key once.
            if used.insert(key) {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        if let Ok(config) = parse(&text) {
            // Whatever parses serialises back (durations, limits and addresses included).
            let again = toml::to_string(&config).map(|text| parse(&text));
            prop_assert!(matches!(again, Ok(Ok(ref back)) if *back == config), "{text}");
        }
    }

    #[test]
    fn an_unknown_key_is_named_in_the_error(key in unknown_key(), value in any_value(), nested in any::<bool>()) {
        let text = if nested {
            format!("[probe]\n{key} = {value}\n")
        } else {
            format!("{key} = {value}\n")
        };
        let error = parse(&text).expect_err("an unknown key was accepted").to_string();
        prop_assert!(error.contains(&key), "{error}");
    }

    #[test]
    fn well_typed_values_parse_as_written(
        idle_ms in 0u64..10_000_000,
        max_body_bytes in any::<u64>(),
        max_header_bytes in 0usize..(1 << 40),
        max_client_connections in any::<u32>(),
        park_ms in 0u64..10_000_000,
        worker_threads in 0usize..1024,
    ) {
        let config = parse(&format!(
            "idle_timeout = \"{idle_ms}ms\"\nmax_body_bytes = {body}\nmax_header_bytes = {max_header_bytes}\n\
             max_client_connections = {max_client_connections}\nclient_park_after = \"{park_ms}ms\"\n\
             worker_threads = {worker_threads}\n",
            body = i64::try_from(max_body_bytes).unwrap_or(i64::MAX),
        ))
        .expect("well-typed values parse");
        prop_assert_eq!(config.idle_timeout, Duration::from_millis(idle_ms));
        prop_assert_eq!(config.max_body_bytes, max_body_bytes.min(i64::MAX as u64));
        prop_assert_eq!(config.max_header_bytes, max_header_bytes);
        prop_assert_eq!(config.max_client_connections, max_client_connections as usize);
        prop_assert_eq!(config.client_park_after, Duration::from_millis(park_ms));
        prop_assert_eq!(config.worker_threads, worker_threads);
    }
}
