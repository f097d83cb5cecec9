//! Whether a gate's failure blocks the merge or is only observed.

use serde::{Deserialize, Serialize};

/// A gate's mode: configured in gates.toml, or effective after graduation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Blocking,
    Observational,
}

impl Mode {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Blocking => "blocking",
            Mode::Observational => "observational",
        }
    }
}
