//! `runner`: a declarative quality-gate runner. The modules form layers, each importing only
//! the ones below it (ARCHITECTURE.md lists them; `tests/layers.rs` keeps it true); only `cli`,
//! the top, prints or decides exit codes.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub(crate) mod affected;
pub(crate) mod bincodec;
pub mod cache;
#[allow(clippy::print_stdout, clippy::print_stderr)]
pub mod cli;
pub mod config;
pub mod diag;
pub(crate) mod exec;
pub(crate) mod fasthash;
pub(crate) mod fields;
pub(crate) mod files;
pub mod fingerprint;
pub(crate) mod git;
pub mod graph;
pub(crate) mod history;
pub(crate) mod judge;
pub mod kinds;
pub(crate) mod page;
pub(crate) mod plan;
pub(crate) mod proc;
pub(crate) mod profile;
pub mod report;
pub(crate) mod run;
pub(crate) mod shard;
pub mod signing;
pub mod vocab;
pub(crate) mod workspace;
