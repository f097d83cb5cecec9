//! The command line: parse arguments, dispatch to the library, return the exit code.

mod args;
mod commands;

pub use args::{Cli, Command, RunArgs};
pub use commands::main;
