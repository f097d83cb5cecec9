//! Run history and graduation (SPEC 6): the append-only history file, green days and streaks,
//! sticky graduation of observational gates, the config rewrite of `runner graduate --write`,
//! and compaction of old lines into day records (SPEC 11).

mod backward;
pub(crate) mod branch;
mod commit;
mod compact;
mod durations;
mod graduation;
mod line;
pub(crate) mod machine;
mod recent;
pub(crate) mod samples;
mod store;
mod summary;
mod warning;
mod write_back;

pub(crate) use durations::recorded as recorded_durations;
pub(crate) use graduation::{FlakeRate, Graduation, Standing};
pub(crate) use recent::recent_hit_rate;
pub(crate) use store::{History, RunPlace, compact_history};
pub(crate) use write_back::write_graduations;
