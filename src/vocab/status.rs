//! The five outcomes of a gate (SPEC 3).

use serde::{Deserialize, Serialize};

/// How a gate ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Skip,
    Error,
    NotRun,
}

impl Status {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
            Status::NotRun => "not_run",
        }
    }

    /// Did a dependent gate's `needs` get satisfied by this?
    #[must_use]
    pub fn satisfies_needs(self) -> bool {
        matches!(self, Status::Pass | Status::Skip)
    }

    /// A failure of some kind: fail, error or not run.
    #[must_use]
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Fail | Status::Error | Status::NotRun)
    }
}
