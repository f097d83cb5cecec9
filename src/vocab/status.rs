//! The five outcomes of a gate (SPEC 3).

use serde::{Deserialize, Serialize};

/// How a gate ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The command exited 0 (or a built-in kind passed), every artifact exists, every threshold
    /// holds.
    Pass,
    /// The command exited non-zero (not 78), a built-in check failed, or a threshold does not
    /// hold.
    Fail,
    /// The command exited 78, or `skip_unless_env` was not met.
    Skip,
    /// Could not be judged: spawn failure, timeout, a declared artifact missing, a metric absent
    /// or not a number.
    Error,
    /// Not started: a gate in its `needs` did not pass or skip.
    NotRun,
}

impl Status {
    /// The status as the report and the history spell it (`pass`, ..., `not_run`).
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

/// How one test case of a gate's `JUnit` XML ended (`junit = "..."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    /// No `<failure>`, `<error>` or `<skipped>` child.
    Pass,
    /// A `<failure>` child: the test ran and an assertion failed.
    Fail,
    /// An `<error>` child (and no `<failure>`): the test could not run to its end.
    Error,
    /// A `<skipped>` child (whatever else it has).
    Skip,
}

impl TestStatus {
    /// The status as the report spells it (`pass`, `fail`, `error`, `skip`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Pass => "pass",
            TestStatus::Fail => "fail",
            TestStatus::Error => "error",
            TestStatus::Skip => "skip",
        }
    }

    /// A failed test: `fail` or `error`.
    #[must_use]
    pub fn is_failure(self) -> bool {
        matches!(self, TestStatus::Fail | TestStatus::Error)
    }
}
