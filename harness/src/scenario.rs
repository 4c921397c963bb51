//! Scenario files: the TOML of docs/scenario-format.md as plain serde data, with unknown keys rejected and errors that name
//! the file, the key, the bad value and (where serde gives it) the line and column.

use std::path::{Path, PathBuf};
use std::time::Duration;

use faultlink::LinkConfig;
use gateway::FrontConfig;
use keepalive_proxy::BackConfig;
use origin::OriginConfig;
use serde::{Deserialize, Serialize};

use crate::expect::Expect;
use crate::load::LoadConfig;

/// The scenario `badgateway run` uses when given none: the keep-alive race.
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/keepalive-race.toml");
/// Where [`DEFAULT_SCENARIO`] lives in the repository, for messages.
pub const DEFAULT_SCENARIO_PATH: &str = "scenarios/keepalive-race.toml";

/// One chain and one load, as read from a scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name printed in reports and stored in results.
    pub name: String,
    /// One line saying what the scenario shows.
    #[serde(default)]
    pub description: String,
    /// Which tiers stand in the chain and where the front's backend pool points.
    #[serde(default)]
    pub chain: ChainConfig,
    /// The front gateway's knobs.
    #[serde(default)]
    pub front: FrontConfig,
    /// The back keep-alive proxy's knobs (Apache defaults).
    #[serde(default)]
    pub back: BackConfig,
    /// The origin's answers.
    #[serde(default)]
    pub origin: OriginConfig,
    /// Fault links between tiers; a link is placed only where its section is present.
    #[serde(default)]
    pub link: Links,
    /// The load the harness drives.
    #[serde(default)]
    pub load: LoadConfig,
    /// What a CI gate expects of the result.
    #[serde(default)]
    pub expect: Expect,
}

/// The shape of the chain: which tiers are in it and what the front's backend pool holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainConfig {
    /// Whether the back keep-alive proxy stands between front and origin. Default true. Without it the front
    /// talks to the origin (through `[link.front_back]` when present), so origin faults reach the front as is.
    pub back: bool,
    /// Members in the front's backend pool, each reaching the next tier. 0 = an empty pool. Default 1.
    pub members: usize,
    /// Name the members by this host name instead of an IP (resolved by the front's `[front.dns]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_host: Option<String>,
    /// Point the pool at a closed loopback port instead of the chain: every connect is refused.
    pub closed_port: bool,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            back: true,
            members: 1,
            member_host: None,
            closed_port: false,
        }
    }
}

/// The optional fault links of a chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Links {
    /// Between the front gateway and the back proxy: where the keep-alive race lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub front_back: Option<LinkConfig>,
    /// Between the back proxy and the origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub back_origin: Option<LinkConfig>,
}

/// A scenario could not be read, parsed or changed.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is malformed or a key/value is not accepted; the message carries key, value, line and column.
    #[error("scenario {origin}: {message}")]
    Parse {
        /// The file (or `<embedded>` for the default).
        origin: String,
        /// toml/serde's message, which names the key and shows the line.
        message: String,
    },
    /// A `key=value` override names no key or gives a bad value.
    #[error("override {assignment:?}: {message}")]
    Override {
        /// The override as given.
        assignment: String,
        /// What is wrong with it.
        message: String,
    },
    /// The values parse but make no sense together.
    #[error("scenario {origin}: {message}")]
    Invalid {
        /// The file.
        origin: String,
        /// What is wrong, naming the key and value.
        message: String,
    },
}

/// toml/serde's message for a config file, with the format a duration takes where serde only says it
/// expected one (`"5"`, `"fast"` and `"-5s"` are refused with just "expected a duration").
pub fn toml_error_message(error: &toml::de::Error) -> String {
    error.to_string().replace(
        "expected a duration",
        "expected a duration: a number with a unit, e.g. 500ms, 2s, 1m30s",
    )
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn from_file(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The embedded default scenario (the keep-alive race).
    pub fn default_race() -> Result<Self, ScenarioError> {
        Self::from_toml(DEFAULT_SCENARIO, DEFAULT_SCENARIO_PATH)
    }

    /// Parses and validates scenario text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|error| ScenarioError::Parse {
            origin: origin.to_owned(),
            message: toml_error_message(&error),
        })?;
        scenario.validate(origin)?;
        Ok(scenario)
    }

    /// A copy with `key=value` applied, e.g. `back.keepalive=false` or `front.idle_timeout=35ms`. The value is
    /// read as a TOML value when it is one (numbers, booleans) and as a string otherwise (durations, names).
    pub fn with_override(&self, assignment: &str) -> Result<Self, ScenarioError> {
        let fail = |message: String| ScenarioError::Override {
            assignment: assignment.to_owned(),
            message,
        };
        let (key, raw_value) = assignment
            .split_once('=')
            .ok_or_else(|| fail("expected key=value".to_owned()))?;
        let key = key.trim();
        let value = parse_override_value(raw_value.trim());
        let mut tree = toml::Value::try_from(self).map_err(|e| fail(e.to_string()))?;
        let mut node = &mut tree;
        let parts: Vec<&str> = key.split('.').collect();
        for (depth, part) in parts.iter().enumerate() {
            let table = node
                .as_table_mut()
                .ok_or_else(|| fail(format!("{} is not a section", parts[..depth].join("."))))?;
            if depth + 1 == parts.len() {
                table.insert((*part).to_owned(), value.clone());
                break;
            }
            node = table
                .entry((*part).to_owned())
                .or_insert_with(|| toml::Value::Table(toml::map::Map::new()));
        }
        let text = toml::to_string(&tree).map_err(|e| fail(e.to_string()))?;
        let scenario: Scenario =
            toml::from_str(&text).map_err(|e| fail(first_line(&toml_error_message(&e))))?;
        scenario.validate(&format!("with {assignment}"))?;
        Ok(scenario)
    }

    /// Checks the cross-field rules serde cannot express.
    fn validate(&self, origin: &str) -> Result<(), ScenarioError> {
        let invalid = |message: String| ScenarioError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        self.load.validate().map_err(invalid)?;
        for (name, link) in [
            ("front_back", &self.link.front_back),
            ("back_origin", &self.link.back_origin),
        ] {
            if let Some(link) = link
                && !(0.0..=1.0).contains(&link.reset_probability)
            {
                return Err(invalid(format!(
                    "link.{name}.reset_probability = {} is outside 0..=1",
                    link.reset_probability
                )));
            }
        }
        if !self.chain.back && self.link.back_origin.is_some() {
            return Err(invalid(
                "[link.back_origin] is set but chain.back = false: there is no back tier to link"
                    .to_owned(),
            ));
        }
        if self.chain.members > 64 {
            return Err(invalid(format!(
                "chain.members = {} is above the limit of 64",
                self.chain.members
            )));
        }
        if !(100..=999).contains(&self.origin.status) {
            return Err(invalid(format!(
                "origin.status = {} is not an HTTP status",
                self.origin.status
            )));
        }
        if !(100..=999).contains(&self.origin.error_status) {
            return Err(invalid(format!(
                "origin.error_status = {} is not an HTTP status",
                self.origin.error_status
            )));
        }
        if !(0.0..=1.0).contains(&self.origin.error_probability) {
            return Err(invalid(format!(
                "origin.error_probability = {} is outside 0..=1",
                self.origin.error_probability
            )));
        }
        if self.back.keepalive && self.back.keepalive_timeout.is_zero() {
            return Err(invalid(
                "back.keepalive_timeout = 0s with keepalive on; use keepalive = false".to_owned(),
            ));
        }
        Ok(())
    }

    /// The one-way latency of the front–back link (zero without a link).
    pub fn front_back_latency(&self) -> Duration {
        self.link
            .front_back
            .as_ref()
            .map_or(Duration::ZERO, |l| l.latency)
    }
}

/// Numbers and booleans as TOML values; anything else (durations like `35ms`, names) as a string.
fn parse_override_value(raw: &str) -> toml::Value {
    let wrapped = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&wrapped) {
        Ok(mut table) => table
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.trim_matches('"').to_owned()),
    }
}

fn first_line(message: &str) -> String {
    message
        .lines()
        .rfind(|line| !line.trim().is_empty() && !line.trim_start().starts_with('|'))
        .unwrap_or(message)
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scenario_parses() {
        let scenario = Scenario::default_race().unwrap();
        assert_eq!(scenario.name, "keepalive-race");
        assert!(scenario.link.front_back.is_some());
    }

    #[test]
    fn every_shipped_scenario_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut count = 0;
        for dir in [root.clone(), root.join("causes")] {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "toml") {
                    Scenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
                    count += 1;
                }
            }
        }
        assert!(
            count >= 15,
            "only {count} scenarios under {}",
            root.display()
        );
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_key_and_line() {
        let error = Scenario::from_toml(
            "name = \"x\"\n[back]\nkeepalive_timeot = \"5s\"\n",
            "bad.toml",
        )
        .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("bad.toml"), "{text}");
        assert!(text.contains("keepalive_timeot"), "{text}");
        assert!(text.contains("line 3"), "{text}");
    }

    #[test]
    fn bad_durations_name_the_value() {
        let error = Scenario::from_toml(
            "name = \"x\"\n[back]\nkeepalive_timeout = \"5 parsecs\"\n",
            "d.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("keepalive_timeout"), "{error}");
        // A number without a unit is told the format, in a file and in an override.
        let error = Scenario::from_toml(
            "name = \"x\"\n[back]\nkeepalive_timeout = \"5\"\n",
            "d.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("\"5\", expected a duration: a number with a unit, e.g. 500ms"),
            "{error}"
        );
        let error = Scenario::default_race()
            .unwrap()
            .with_override("back.keepalive_timeout=fast")
            .unwrap_err()
            .to_string();
        assert!(error.contains("a number with a unit"), "{error}");
    }

    #[test]
    fn overrides_reach_nested_keys_and_reject_unknown_ones() {
        let base = Scenario::default_race().unwrap();
        let off = base.with_override("back.keepalive=false").unwrap();
        assert!(!off.back.keepalive);
        let idle = base.with_override("front.idle_timeout=35ms").unwrap();
        assert_eq!(idle.front.idle_timeout, Duration::from_millis(35));
        let retry = base.with_override("front.retry=idempotent").unwrap();
        assert_eq!(retry.front.retry, gateway::RetryPolicy::Idempotent);
        let error = base
            .with_override("front.idle_timout=35ms")
            .unwrap_err()
            .to_string();
        assert!(error.contains("idle_timout"), "{error}");
        let error = base.with_override("nonsense").unwrap_err().to_string();
        assert!(error.contains("key=value"), "{error}");
    }

    #[test]
    fn out_of_range_values_are_named() {
        let error = Scenario::from_toml(
            "name = \"x\"\n[link.front_back]\nreset_probability = 2.0\n",
            "p.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("reset_probability = 2"), "{error}");
    }
}
