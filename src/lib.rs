//! `runner`: a declarative quality-gate runner. Data flows one way:
//! config -> graph -> fingerprint -> cache -> exec -> judge -> report (see ARCHITECTURE.md).

pub mod bincodec;
pub mod cache;
pub mod cli;
pub mod config;
pub mod diag;
pub mod exec;
pub(crate) mod fields;
pub mod fingerprint;
pub mod fxhash;
pub mod graph;
pub mod history;
pub mod judge;
pub mod kinds;
pub mod plan;
pub mod proc;
pub mod report;
pub mod run;
pub mod shard;
pub mod signing;
pub mod vocab;
pub mod workspace;
