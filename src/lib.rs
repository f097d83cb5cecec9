//! `runner`: a declarative quality-gate runner. Data flows one way:
//! config -> graph -> fingerprint -> cache -> exec -> judge -> report (see ARCHITECTURE.md).

pub mod audit;
pub mod bincodec;
pub mod cache;
pub mod cli;
pub mod config;
pub mod diag;
pub mod exec;
pub mod exit_code;
pub mod fingerprint;
pub mod fxhash;
pub mod gate;
pub mod graph;
pub mod history;
pub mod init;
pub mod judge;
pub mod plan;
pub mod report;
pub mod run;
pub mod shard;
pub mod signing;
