//! The command line: parse arguments, run one command, print, and exit. The only part of the
//! crate that prints (besides nothing) and the only one that turns errors into exit codes.

mod args;
mod commands;
mod error;
mod progress;
mod timings;

use std::io::Write as _;
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
    let config = cli.config.clone();
    let code = match commands::dispatch(cli) {
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
