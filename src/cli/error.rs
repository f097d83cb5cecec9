//! The command line's errors, and the one place where errors and outcomes become exit codes.

use std::path::Path;

use crate::config::LoadError;
use crate::report::annotations;
use crate::report::formats::CiEnv;
use crate::vocab::exit_code;
use crate::workspace::WorkspaceError;

/// Why a command could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// gates.toml could not be read or has problems (rendered with every problem).
    #[error("{}", .0.render())]
    Config(#[from] LoadError),
    /// A usage mistake or a file the command could not read or write: `error: ...` (exit 2).
    #[error("error: {0}")]
    Usage(String),
    /// The command ran and its check failed (`runner verify`): `error: ...` (exit 1).
    #[error("error: {0}")]
    CheckFailed(String),
}

impl From<WorkspaceError> for Error {
    fn from(e: WorkspaceError) -> Self {
        match e {
            WorkspaceError::Config(e) => Error::Config(e),
            WorkspaceError::Selection(why) => Error::Usage(why),
        }
    }
}

impl Error {
    /// The process exit code for this error (SPEC 3: 2 for usage and config errors).
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) | Error::Usage(_) => exit_code::USAGE,
            Error::CheckFailed(_) => exit_code::GATES_FAILED,
        }
    }

    /// GitHub Actions workflow commands for stdout under `GITHUB_ACTIONS=true`: one
    /// `::error file=<config>,line=L,col=C::message` per problem of a config error, so each
    /// shows on gates.toml in the pull request. `config` is the config path as given (`-c`);
    /// annotations name it relative to `$GITHUB_WORKSPACE` when it is inside. Empty outside
    /// GitHub Actions and for other errors; the human rendering ([`Error::render`]) is unchanged.
    #[must_use]
    pub fn annotations(&self, config: &Path, ci: &CiEnv) -> String {
        match self {
            Error::Config(e) if ci.github_actions => {
                let file = ci.repo_path(config).unwrap_or_else(|| config.to_path_buf());
                annotations::config_errors(e, &file.display().to_string())
            }
            _ => String::new(),
        }
    }

    /// The text for stderr, ending in a newline.
    #[must_use]
    pub fn render(&self) -> String {
        let text = self.to_string();
        if text.ends_with('\n') {
            text
        } else {
            text + "\n"
        }
    }
}

/// How a command that did its work ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Exit 0.
    Success,
    /// A run's (or merged run's) exit code, decided from its gates by `vocab::exit_code`.
    Run(i32),
}

impl Done {
    /// The process exit code.
    #[must_use]
    pub fn exit_code(self) -> i32 {
        match self {
            Done::Success => exit_code::SUCCESS,
            Done::Run(code) => code,
        }
    }
}

/// What every command returns.
pub type CmdResult = Result<Done, Error>;
