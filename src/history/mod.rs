//! Run history and graduation (SPEC 6): the append-only history file, green days and streaks,
//! sticky graduation of observational gates, and the config rewrite of `runner graduate --write`.

mod commit;
mod durations;
mod graduation;
mod line;
mod store;
mod summary;
mod warning;
mod write_back;

pub(crate) use durations::recorded as recorded_durations;
pub(crate) use graduation::{Graduation, Standing};
pub(crate) use store::History;
pub(crate) use write_back::write_graduations;
