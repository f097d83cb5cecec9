//! The process exit codes of SPEC 3, and the one rule that turns gate outcomes into the exit
//! code of a run. The command line maps its errors onto these codes in `cli::error`; nothing
//! else in the library returns an exit code.

use super::mode::Mode;
use super::status::Status;

/// All gates passed or only observational ones failed.
pub const SUCCESS: i32 = 0;
/// A blocking gate ended fail, error or `not_run`.
pub const GATES_FAILED: i32 = 1;
/// Usage or config error; nothing ran.
pub const USAGE: i32 = 2;
/// Every selected gate was skipped (the phase plan's neutral code).
pub const ALL_SKIPPED: i32 = 78;

/// What a run came to, whatever exit code the process then used (`--skip-exit-code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// No blocking gate ended fail, error or not run.
    #[default]
    Pass,
    /// A blocking gate did.
    Fail,
    /// Every selected gate was skipped.
    Skipped,
}

impl Outcome {
    /// The outcome of a run from each gate's (effective mode, status).
    #[must_use]
    pub fn of(gates: impl IntoIterator<Item = (Mode, Status)>) -> Self {
        match for_run(gates) {
            GATES_FAILED => Outcome::Fail,
            ALL_SKIPPED => Outcome::Skipped,
            _ => Outcome::Pass,
        }
    }

    /// SPEC 3's exit code for it.
    #[must_use]
    pub fn code(self) -> i32 {
        match self {
            Outcome::Pass => SUCCESS,
            Outcome::Fail => GATES_FAILED,
            Outcome::Skipped => ALL_SKIPPED,
        }
    }

    /// The code the process exits with: SPEC 3's, except that `--skip-exit-code N` replaces
    /// 78 for CI systems without a neutral state.
    #[must_use]
    pub fn process_code(self, skip_exit_code: Option<i32>) -> i32 {
        match (self, skip_exit_code) {
            (Outcome::Skipped, Some(code)) => code,
            _ => self.code(),
        }
    }

    /// `pass`, `fail`, `skipped`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skipped => "skipped",
        }
    }
}

/// The exit code of a run from each gate's (effective mode, status).
#[must_use]
pub fn for_run(gates: impl IntoIterator<Item = (Mode, Status)>) -> i32 {
    let mut any = false;
    let mut all_skipped = true;
    let mut blocked = false;
    for (mode, status) in gates {
        any = true;
        all_skipped &= status == Status::Skip;
        blocked |= mode == Mode::Blocking && status.is_failure();
    }
    if blocked {
        GATES_FAILED
    } else if any && all_skipped {
        ALL_SKIPPED
    } else {
        SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Mode::{Blocking, Observational};
    use Status::{Error, Fail, NotRun, Pass, Skip};

    #[test]
    fn table() {
        let cases: &[(&[(Mode, Status)], i32)] = &[
            (&[(Blocking, Pass), (Observational, Fail)], 0),
            (&[(Blocking, Fail)], 1),
            (&[(Blocking, Error)], 1),
            (&[(Blocking, NotRun), (Observational, Fail)], 1),
            (&[(Observational, NotRun)], 0),
            (&[(Blocking, Skip), (Observational, Skip)], 78),
            (&[(Blocking, Skip), (Blocking, Pass)], 0),
            (&[], 0),
        ];
        for (gates, code) in cases {
            assert_eq!(for_run(gates.iter().copied()), *code, "{gates:?}");
            assert_eq!(
                Outcome::of(gates.iter().copied()).code(),
                *code,
                "{gates:?}"
            );
        }
        assert_eq!(Outcome::Skipped.process_code(Some(0)), 0);
        assert_eq!(Outcome::Skipped.process_code(None), 78);
        assert_eq!(Outcome::Fail.process_code(Some(0)), 1);
    }
}
