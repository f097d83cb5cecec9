//! Run history and graduation (SPEC 6): the append-only history file, green days and streaks,
//! sticky graduation of observational gates, and the config rewrite of `runner graduate --write`.

pub(crate) mod branch;
mod commit;
mod graduation;
mod line;
pub(crate) mod machine;
pub(crate) mod samples;
mod store;
mod summary;
mod warning;
mod write_back;

pub(crate) use graduation::{FlakeRate, Graduation, Standing};
pub(crate) use store::{History, RunPlace};
pub(crate) use write_back::write_graduations;
