//! The command line: parse arguments, run one command, print, and exit. The only part of the
//! crate that prints (besides nothing) and the only one that turns errors into exit codes.

mod args;
mod ci_logs;
mod commands;
mod error;
mod progress;
mod sparkline;
mod timings;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command, RunArgs};
pub use commands::init::STARTER;
pub use error::{CmdResult, Done, Error};

/// Entry point of the binary.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                u8::try_from(crate::vocab::exit_code::USAGE).unwrap_or(2)
            } else {
                0
            });
        }
    };
    if !matches!(cli.command, Command::Run(_)) {
        // Listing commands piped into `head` end quietly, as Unix tools do. `run` keeps
        // SIGPIPE ignored: a closed stdout must not kill it while gates are running.
        // SAFETY: setting a signal disposition to its default touches no memory.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let config = match &cli.config {
        Some(path) => path.clone(),
        None if matches!(cli.command, Command::Init | Command::Completions { .. }) => {
            PathBuf::from(DEFAULT_CONFIG)
        }
        None => find_config(),
    };
    let code = match commands::dispatch(cli, &config) {
        Ok(done) => done.exit_code(),
        Err(e) => {
            // A config error is also put on gates.toml in the pull request (stdout, like a
            // run's annotations); its rendering goes to stderr as for every error.
            let annotations = e.annotations(&config, &crate::report::formats::CiEnv::from_env());
            if !annotations.is_empty() {
                let _ = std::io::stdout().lock().write_all(annotations.as_bytes());
            }
            let _ = std::io::stderr().lock().write_all(e.render().as_bytes());
            e.exit_code()
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The config file's name when `-c` is not given.
const DEFAULT_CONFIG: &str = "gates.toml";

/// `gates.toml` in the working folder, else in the nearest folder above it, stopping at the
/// repository's root (the folder holding `.git`), as cargo and just do. A config found above
/// is named on stderr. Without one anywhere: `gates.toml` here (whose absence is then reported).
fn find_config() -> PathBuf {
    let here = PathBuf::from(DEFAULT_CONFIG);
    if here.is_file() {
        return here;
    }
    let Ok(cwd) = std::env::current_dir() else {
        return here;
    };
    let mut up = PathBuf::new();
    let mut dir: &Path = &cwd;
    loop {
        if dir.join(".git").exists() {
            return here;
        }
        let Some(parent) = dir.parent() else {
            return here;
        };
        dir = parent;
        up.push("..");
        if dir.join(DEFAULT_CONFIG).is_file() {
            let found = up.join(DEFAULT_CONFIG);
            eprintln!(
                "note: using {} ({})",
                found.display(),
                dir.join(DEFAULT_CONFIG).display()
            );
            return found;
        }
    }
}
