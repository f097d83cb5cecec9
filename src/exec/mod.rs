//! Execution: the scheduler and its events (processes are `proc`'s).

pub mod event;
pub mod scheduler;

pub use event::Event;
pub use scheduler::{GateRun, RunOptions, Scheduler};
