//! Integration tests: each module drives the built binary on temporary repositories.

mod harness;

mod audit;
mod cache;
mod config_errors;
mod config_owner;
mod exec;
mod history;
mod kinds;
mod remote;
mod reports;
mod shard;
mod signing;
mod statuses;
mod suite;
