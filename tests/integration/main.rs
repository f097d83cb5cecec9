//! Integration tests: each module drives the built binary on temporary repositories.

mod harness;

mod affected;
mod artifact_sets;
mod baselines;
mod cache;
mod cache_budget;
mod ci_logs;
mod config_errors;
mod config_owner;
mod exec;
mod first_contact;
mod history;
mod html_report;
mod junit_in;
mod keys;
mod kinds;
mod kinds_policy;
mod kinds_schema;
mod listing_cache;
mod plan_props;
mod profile;
mod remote;
mod reports;
mod resources;
mod retries;
mod shard;
mod signing;
mod statuses;
mod suite;
mod verdicts;
mod watch;

// The reliability battery (issue 7): `cargo test --test integration reliability`.
mod reliability_clock;
mod reliability_concurrency;
mod reliability_corruption;
mod reliability_crash;
mod reliability_hostile_cache;
mod reliability_hostile_inputs;
mod reliability_key;
mod reliability_mutation;
mod reliability_stale;
mod reliability_support;
