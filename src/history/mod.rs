//! Run history and graduation (SPEC 6): the append-only history file, green days and streaks,
//! sticky graduation of observational gates, the config rewrite of `runner graduate --write`,
//! and compaction of old lines into day records (SPEC 11).

mod commit;
mod compact;
mod graduation;
mod line;
mod recent;
mod store;
mod summary;
mod warning;
mod write_back;

pub(crate) use graduation::{Graduation, Standing};
pub(crate) use recent::recent_hit_rate;
pub(crate) use store::{History, compact_history};
pub(crate) use write_back::write_graduations;
