//! Whether a gate's failure blocks the merge or is only observed.

use serde::{Deserialize, Serialize};

/// A gate's mode: configured in gates.toml, or effective after graduation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A `fail`, `error` or `not_run` fails the run (exit 1).
    Blocking,
    /// A failure is only reported (a warning; `smoke-failed:<gate>` for `fail` or `error`) until
    /// the gate graduates.
    Observational,
}

impl Mode {
    /// The mode as gates.toml and the report spell it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Blocking => "blocking",
            Mode::Observational => "observational",
        }
    }
}
