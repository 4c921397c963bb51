//! `badgateway compare SCENARIO --vary key=v1,v2 [--vary ...]`: the cartesian matrix of variants, run one after
//! the other on the same load.

use std::collections::BTreeMap;

use crate::scenario::{Scenario, ScenarioError};

/// One `--vary key=v1,v2,...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variation {
    /// Scenario key, dotted (`back.keepalive_timeout`).
    pub key: String,
    /// Values to try, in order.
    pub values: Vec<String>,
}

impl std::str::FromStr for Variation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (key, values) = text
            .split_once('=')
            .ok_or_else(|| format!("--vary {text:?}: expected key=v1,v2,..."))?;
        let values: Vec<String> = values
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
        if key.trim().is_empty() || values.is_empty() {
            return Err(format!("--vary {text:?}: expected key=v1,v2,..."));
        }
        if let Some(twice) = values
            .iter()
            .enumerate()
            .find_map(|(at, value)| values[..at].contains(value).then_some(value))
        {
            return Err(format!(
                "--vary {text:?}: {twice:?} is given twice (two cells of the same name would run the same chain)"
            ));
        }
        Ok(Self {
            key: key.trim().to_owned(),
            values,
        })
    }
}

/// A cell of the matrix: its scenario and the key/value pairs that made it.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The scenario with the cell's values applied.
    pub scenario: Scenario,
    /// key → value for this cell.
    pub values: BTreeMap<String, String>,
}

/// The cells at most `compare` runs.
pub const MAX_CELLS: usize = 64;

/// Every combination of the variations applied to `base`, in row-major order. Each cell is validated
/// before anything runs, so a bad value fails at once and names itself.
pub fn matrix(base: &Scenario, variations: &[Variation]) -> Result<Vec<Cell>, ScenarioError> {
    let mut cells = vec![Cell {
        scenario: base.clone(),
        values: BTreeMap::new(),
    }];
    for variation in variations {
        let mut next = Vec::with_capacity(cells.len() * variation.values.len());
        for cell in &cells {
            for value in &variation.values {
                let assignment = format!("{}={}", variation.key, value);
                let mut scenario = cell.scenario.with_override(&assignment)?;
                let mut values = cell.values.clone();
                values.insert(variation.key.clone(), value.clone());
                scenario.name = format!(
                    "{} {}",
                    base.name,
                    values
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                next.push(Cell { scenario, values });
            }
        }
        cells = next;
        if cells.len() > MAX_CELLS {
            return Err(ScenarioError::Invalid {
                origin: base.name.clone(),
                message: format!(
                    "the --vary matrix has at least {} cells, more than {MAX_CELLS}: vary fewer keys or values",
                    cells.len()
                ),
            });
        }
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_is_the_cartesian_product() {
        let base = Scenario::default_race().unwrap();
        let variations: Vec<Variation> = [
            "back.keepalive=true,false",
            "front.retry=none,idempotent,always",
        ]
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
        let cells = matrix(&base, &variations).unwrap();
        assert_eq!(cells.len(), 6);
        assert!(!cells[3].scenario.back.keepalive);
        assert_eq!(cells[5].scenario.front.retry, gateway::RetryPolicy::Always);
        assert_eq!(cells[5].values["front.retry"], "always");
    }

    #[test]
    fn a_bad_value_names_itself() {
        let base = Scenario::default_race().unwrap();
        let variations = vec!["front.retry=sometimes".parse::<Variation>().unwrap()];
        let error = matrix(&base, &variations).unwrap_err().to_string();
        assert!(error.contains("sometimes"), "{error}");
    }

    #[test]
    fn malformed_vary_is_rejected() {
        assert!("front.retry".parse::<Variation>().is_err());
        assert!("=a,b".parse::<Variation>().is_err());
        let twice = "back.keepalive=true,true".parse::<Variation>().unwrap_err();
        assert!(twice.contains("\"true\" is given twice"), "{twice}");
    }
}
