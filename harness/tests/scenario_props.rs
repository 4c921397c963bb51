//! Properties of the scenario parser (`Scenario::from_toml`, `Scenario::from_file`, `Scenario::with_override`),
//! the same entry points the fuzz target `fuzz/fuzz_targets/scenario_toml.rs` drives on nightly:
//! arbitrary text and arbitrary mutations of a valid scenario never panic; an unknown key's error names the key
//! (and the file); a wrong-typed value's error names the key.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use harness::scenario::Scenario;
use proptest::prelude::*;
use toml::Value;

const CASES: u32 = 64;

/// The shipped soak scenario: it has every section, both kinds of link knobs and origin errors.
fn base_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/soak.toml");
    std::fs::read_to_string(path).unwrap()
}

/// The base scenario as a TOML tree with every key spelled out (defaults included).
fn base_tree() -> toml::Table {
    let scenario = Scenario::from_toml(&base_text(), "soak.toml").unwrap();
    match Value::try_from(&scenario).unwrap() {
        Value::Table(table) => table,
        other => panic!("a scenario serialises to a table, not {other:?}"),
    }
}

/// Paths of the struct sections of the tree (the root is `[]`); maps that take any key are left out.
fn sections(table: &toml::Table, path: &[String], out: &mut Vec<Vec<String>>) {
    out.push(path.to_vec());
    for (key, value) in table {
        if let Value::Table(inner) = value
            && key != "hosts"
        {
            let mut child = path.to_vec();
            child.push(key.clone());
            sections(inner, &child, out);
        }
    }
}

/// Paths of the leaves (non-table values) of the tree.
fn leaves(table: &toml::Table, path: &[String], out: &mut Vec<(Vec<String>, Value)>) {
    for (key, value) in table {
        let mut child = path.to_vec();
        child.push(key.clone());
        match value {
            Value::Table(inner) => leaves(inner, &child, out),
            leaf => out.push((child, leaf.clone())),
        }
    }
}

fn table_at<'a>(root: &'a mut toml::Table, path: &[String]) -> &'a mut toml::Table {
    let mut table = root;
    for part in path {
        table = match table.get_mut(part) {
            Some(Value::Table(inner)) => inner,
            _ => panic!("{path:?} is not a section"),
        };
    }
    table
}

/// A value of another TOML type than `value`, which no key of that type accepts. (An integer for a float is
/// not one: serde reads an integer as a float. A table for a string is not either: it can spell an enum.)
fn wrong_typed(value: &Value, pick: usize) -> Value {
    let choices: Vec<Value> = match value {
        Value::String(_) => vec![Value::Integer(7), Value::Boolean(true), Value::Float(2.5)],
        Value::Integer(_) => vec![
            Value::String("seven".into()),
            Value::Boolean(false),
            Value::Float(0.5),
        ],
        Value::Float(_) => vec![
            Value::String("half".into()),
            Value::Boolean(true),
            Value::Array(vec![]),
        ],
        Value::Boolean(_) => vec![
            Value::String("yes".into()),
            Value::Integer(1),
            Value::Float(1.0),
        ],
        Value::Array(_) => vec![Value::Integer(3), Value::Boolean(true)],
        Value::Datetime(_) | Value::Table(_) => vec![Value::Integer(3)],
    };
    choices[pick % choices.len()].clone()
}

/// Any TOML value, small.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::Integer),
        any::<f64>().prop_map(Value::Float),
        any::<bool>().prop_map(Value::Boolean),
        "[a-z0-9 .:-]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("0s"),
            Just("5ms"),
            Just("1h"),
            Just("-3ms"),
            Just("18446744073709551616s")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Table(m.into_iter().collect())),
        ]
    })
}

/// Text shaped like TOML: section headers, keys, values, junk.
fn toml_ish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "\\[[a-z_.]{0,16}\\]",
        "\\[\\[[a-z_.]{0,8}\\]\\]",
        "[a-z_]{1,20} = \"[a-z0-9 .]{0,8}\"",
        "[a-z_]{1,20} = -?[0-9]{1,20}(\\.[0-9]{0,4})?",
        "[a-z_]{1,20} = (true|false|\\[\\]|\\{\\}|nan|inf|1e999)",
        "(name|pattern|retry|close|fault|keepalive_timeout|latency|requests|clients) = .{0,12}",
        ".{0,24}",
    ];
    prop::collection::vec(line, 0..16).prop_map(|lines| lines.join("\n"))
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn with(text: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "badgateway-props-{}-{}.toml",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, text).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = Scenario::from_toml(&text, "any.toml");
    }

    #[test]
    fn toml_shaped_text_never_panics(text in toml_ish()) {
        let _ = Scenario::from_toml(&text, "toml-ish.toml");
    }

    #[test]
    fn arbitrary_key_value_mutations_never_panic(
        section_pick in any::<prop::sample::Index>(),
        key_pick in any::<prop::sample::Index>(),
        known_key in any::<bool>(),
        new_key in "[a-z_]{1,16}",
        value in any_value(),
    ) {
        let mut tree = base_tree();
        let mut paths = Vec::new();
        sections(&tree, &[], &mut paths);
        let section = section_pick.get(&paths).clone();
        let table = table_at(&mut tree, &section);
        let key = if known_key && !table.is_empty() {
            key_pick.get(&table.keys().cloned().collect::<Vec<_>>()).clone()
        } else {
            new_key
        };
        table.insert(key.clone(), value.clone());
        // The tree may not even serialise (a value after a table); parsing what does must not panic.
        if let Ok(text) = toml::to_string(&tree) {
            let _ = Scenario::from_toml(&text, "mutated.toml");
        }
        // The same mutation as an override.
        let base = Scenario::from_toml(&base_text(), "soak.toml").unwrap();
        let mut dotted = section.clone();
        dotted.push(key);
        let _ = base.with_override(&format!("{}={}", dotted.join("."), value));
    }

    #[test]
    fn arbitrary_overrides_never_panic(assignment in "[a-z_.]{0,24}(=.{0,16})?") {
        let base = Scenario::from_toml(&base_text(), "soak.toml").unwrap();
        let _ = base.with_override(&assignment);
    }

    #[test]
    fn an_unknown_key_is_named_with_the_file(
        section_pick in any::<prop::sample::Index>(),
        key in "zz_[a-z_]{1,12}",
        value in any_value(),
    ) {
        let mut tree = base_tree();
        let mut paths = Vec::new();
        sections(&tree, &[], &mut paths);
        let section = section_pick.get(&paths).clone();
        table_at(&mut tree, &section).insert(key.clone(), value);
        let Ok(text) = toml::to_string(&tree) else {
            return Ok(());
        };
        let file = TempFile::with(&text);
        let error = Scenario::from_file(&file.0).unwrap_err().to_string();
        prop_assert!(error.contains(&key), "{} in [{}]: {}", key, section.join("."), error);
        prop_assert!(error.contains(&file.0.display().to_string()), "no file name: {}", error);
        // And as an override, the assignment names it.
        let mut dotted = section.clone();
        dotted.push(key.clone());
        let base = Scenario::from_toml(&base_text(), "soak.toml").unwrap();
        let error = base.with_override(&format!("{}=1", dotted.join("."))).unwrap_err().to_string();
        prop_assert!(error.contains(&key), "{}", error);
    }

    #[test]
    fn a_wrong_typed_value_is_named(
        leaf_pick in any::<prop::sample::Index>(),
        type_pick in 0usize..3,
    ) {
        let mut tree = base_tree();
        let mut all = Vec::new();
        leaves(&tree, &[], &mut all);
        let (path, value) = leaf_pick.get(&all).clone();
        let (key, section) = path.split_last().unwrap();
        let wrong = wrong_typed(&value, type_pick);
        table_at(&mut tree, section).insert(key.clone(), wrong.clone());
        let text = toml::to_string(&tree).unwrap();
        let file = TempFile::with(&text);
        let error = Scenario::from_file(&file.0);
        prop_assert!(error.is_err(), "{} = {} was accepted", path.join("."), wrong);
        let error = error.unwrap_err().to_string();
        prop_assert!(error.contains(key.as_str()), "{} = {}: {}", path.join("."), wrong, error);
        prop_assert!(error.contains(&file.0.display().to_string()), "no file name: {}", error);
    }
}
