//! Integration tests: each module drives the built binary on temporary repositories.

mod harness;

mod cache;
mod config_errors;
mod exec;
mod kinds;
mod statuses;
mod suite;
