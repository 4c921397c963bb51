//! Fuzzes the scenario parser: any bytes as scenario TOML (`Scenario::from_toml`), and, when the text parses,
//! its first line as a `key=value` override (`Scenario::with_override`). Neither may panic; errors are fine.
//! The stable counterpart is harness/tests/scenario_props.rs.

#![no_main]

use harness::scenario::Scenario;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Scenario::from_toml(text, "fuzz.toml");
    // The rest of the input as a scenario, the first line as an override of the default one.
    let (assignment, rest) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(scenario) = Scenario::from_toml(rest, "fuzz.toml") {
        let _ = scenario.with_override(assignment);
    }
    if let Ok(default) = Scenario::default_race() {
        let _ = default.with_override(assignment);
    }
});
