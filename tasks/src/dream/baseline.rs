//! `Baseline`: the committed per-seed vectors that a dream run is compared
//! with, and its JSON file format.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::Simulation;
use crate::Failure;
use crate::atomic_write::write_atomic;

/// Version of the baseline file format.
pub const BASELINE_VERSION: u64 = 1;

/// Per-seed vectors of a reference run, with the parameters that made them.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// The parameters of the run that produced `vectors`.
    pub simulation: Simulation,
    /// One vector per seed, in seed order.
    pub vectors: Vec<Vec<f64>>,
}

impl Baseline {
    /// Reads and checks a baseline file.
    ///
    /// # Errors
    /// An input [`Failure`] (exit 2) naming the file when it is missing, not
    /// JSON, or not a version-1 baseline with consistent sizes.
    pub fn load(path: &Path) -> Result<Self, Failure> {
        let fail = |message: String| {
            Failure::input(format!(
                "{}: {message} (regenerate it with --update-baseline)",
                path.display()
            ))
        };
        let text = std::fs::read_to_string(path)
            .map_err(|err| fail(format!("cannot read the dream baseline: {err}")))?;
        let json: Value =
            serde_json::from_str(&text).map_err(|err| fail(format!("invalid JSON: {err}")))?;
        Self::from_json(&json).map_err(fail)
    }

    /// Builds a baseline from parsed JSON; the error says what is wrong.
    ///
    /// # Errors
    /// A message naming the offending field.
    pub fn from_json(json: &Value) -> Result<Self, String> {
        let field = |name: &str| {
            json.get(name)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("`{name}` must be a non-negative integer"))
        };
        let version = field("version")?;
        if version != BASELINE_VERSION {
            return Err(format!(
                "unsupported baseline version {version} (expected {BASELINE_VERSION})"
            ));
        }
        let as_usize = |name: &str| {
            field(name)
                .and_then(|n| usize::try_from(n).map_err(|_| format!("`{name}` is too large")))
        };
        let simulation = Simulation {
            seeds: as_usize("seeds")?,
            dims: as_usize("dims")?,
            steps: as_usize("steps")?,
        };
        let rows = json
            .get("vectors")
            .and_then(Value::as_array)
            .ok_or("`vectors` must be an array of arrays of numbers")?;
        if rows.len() != simulation.seeds {
            return Err(format!(
                "`vectors` has {} rows but `seeds` is {}",
                rows.len(),
                simulation.seeds
            ));
        }
        let mut vectors = Vec::with_capacity(rows.len());
        for (seed, row) in rows.iter().enumerate() {
            let numbers = row
                .as_array()
                .ok_or_else(|| format!("vectors[{seed}] is not an array"))?;
            if numbers.len() != simulation.dims {
                return Err(format!(
                    "vectors[{seed}] has {} numbers but `dims` is {}",
                    numbers.len(),
                    simulation.dims
                ));
            }
            let vector = numbers
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    n.as_f64()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| format!("vectors[{seed}][{i}] is not a finite number"))
                })
                .collect::<Result<Vec<f64>, String>>()?;
            vectors.push(vector);
        }
        Ok(Self {
            simulation,
            vectors,
        })
    }

    /// Checks that this baseline was made with the same parameters as `run`.
    ///
    /// # Errors
    /// An input [`Failure`] naming the file and both parameter sets.
    pub fn ensure_matches(&self, run: &Simulation, path: &Path) -> Result<(), Failure> {
        if self.simulation == *run {
            return Ok(());
        }
        let base = &self.simulation;
        Err(Failure::input(format!(
            "{}: baseline was made with {} seeds x {} dims x {} steps, this run uses {} x {} x {} \
             (pass matching flags or regenerate it with --update-baseline)",
            path.display(),
            base.seeds,
            base.dims,
            base.steps,
            run.seeds,
            run.dims,
            run.steps
        )))
    }

    /// The file text: one vector per line, numbers in shortest round-trip
    /// form, so reading it back gives the same bits.
    #[must_use]
    pub fn to_text(&self) -> String {
        let sim = &self.simulation;
        let mut text = format!(
            "{{\n  \"version\": {BASELINE_VERSION},\n  \"generator\": \"dream-harness\",\n  \
             \"seeds\": {},\n  \"dims\": {},\n  \"steps\": {},\n  \"vectors\": [",
            sim.seeds, sim.dims, sim.steps
        );
        for (i, vector) in self.vectors.iter().enumerate() {
            let row = serde_json::to_string(vector).unwrap_or_default();
            let comma = if i + 1 < self.vectors.len() { "," } else { "" };
            let _ = write!(text, "\n    {row}{comma}");
        }
        text.push_str(if self.vectors.is_empty() {
            "]\n}\n"
        } else {
            "\n  ]\n}\n"
        });
        text
    }

    /// Writes the baseline file atomically.
    ///
    /// # Errors
    /// A runtime [`Failure`] naming the file.
    pub fn save(&self, path: &Path) -> Result<(), Failure> {
        write_atomic(path, self.to_text().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn small() -> Baseline {
        let simulation = Simulation {
            seeds: 2,
            dims: 3,
            steps: 5,
        };
        Baseline {
            simulation,
            vectors: simulation.run(),
        }
    }

    #[test]
    fn text_round_trips_bit_for_bit() {
        let baseline = small();
        let json: Value = serde_json::from_str(&baseline.to_text()).unwrap();
        assert_eq!(Baseline::from_json(&json).unwrap(), baseline);
    }

    #[test]
    fn rejects_inconsistent_files() {
        let table = [
            (
                json!({"seeds": 1, "dims": 1, "steps": 1, "vectors": [[0.5]]}),
                "`version`",
            ),
            (
                json!({"version": 2, "seeds": 1, "dims": 1, "steps": 1, "vectors": [[0.5]]}),
                "version 2",
            ),
            (
                json!({"version": 1, "seeds": 2, "dims": 1, "steps": 1, "vectors": [[0.5]]}),
                "1 rows",
            ),
            (
                json!({"version": 1, "seeds": 1, "dims": 2, "steps": 1, "vectors": [[0.5]]}),
                "vectors[0] has 1",
            ),
            (
                json!({"version": 1, "seeds": 1, "dims": 1, "steps": 1, "vectors": [["x"]]}),
                "vectors[0][0]",
            ),
            (
                json!({"version": 1, "seeds": 1, "dims": 1, "steps": 1}),
                "`vectors`",
            ),
        ];
        for (json, expected) in table {
            let err = Baseline::from_json(&json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }

    #[test]
    fn load_names_missing_file() {
        let failure = Baseline::load(Path::new("no/such/baseline.json")).unwrap_err();
        assert_eq!(failure.code, 2);
        assert!(
            failure.message.contains("no/such/baseline.json"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn mismatched_parameters_are_rejected() {
        let baseline = small();
        let other = Simulation {
            seeds: 2,
            dims: 4,
            steps: 5,
        };
        let failure = baseline
            .ensure_matches(&other, Path::new("b.json"))
            .unwrap_err();
        assert_eq!(failure.code, 2);
        assert!(
            failure
                .message
                .contains("b.json: baseline was made with 2 seeds x 3 dims")
        );
        baseline
            .ensure_matches(&baseline.simulation, Path::new("b.json"))
            .unwrap();
    }
}
