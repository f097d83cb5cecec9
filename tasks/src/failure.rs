//! `Failure`: an error that ends a task binary, with the exit code it maps to.

use std::fmt;
use std::process::ExitCode;

/// Exit code for usage mistakes and unusable inputs (bad flag, missing or
/// invalid baseline, no sample documents).
pub const EXIT_USAGE: u8 = 2;
/// Exit code for runtime failures (cannot write the output, cannot bind).
pub const EXIT_RUNTIME: u8 = 1;

/// Why a task binary stopped, and which exit code that means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Process exit code (see [`EXIT_USAGE`] and [`EXIT_RUNTIME`]).
    pub code: u8,
    /// One-line message, naming the file or flag at fault.
    pub message: String,
    /// Whether to point the user at `--help`.
    pub show_help_hint: bool,
}

impl Failure {
    /// A bad command line: exit 2 and suggest `--help`.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
            show_help_hint: true,
        }
    }

    /// An input file that is missing or unusable: exit 2.
    pub fn input(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
            show_help_hint: false,
        }
    }

    /// Something failed while doing the work: exit 1.
    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_RUNTIME,
            message: message.into(),
            show_help_hint: false,
        }
    }

    /// Prints the failure to stderr as `PROGRAM: error: MESSAGE` and returns
    /// its exit code.
    #[must_use]
    pub fn report(&self, program: &str) -> ExitCode {
        eprintln!("{program}: error: {}", self.message);
        if self.show_help_hint {
            eprintln!("Run `{program} --help` for usage.");
        }
        ExitCode::from(self.code)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}
