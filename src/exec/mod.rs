//! Execution: process spawning, signal handling, the scheduler and its events.

pub mod event;
pub mod guardian;
pub mod process;
pub mod scheduler;
pub mod signals;

pub use event::Event;
pub use scheduler::{GateRun, RunOptions, Scheduler};
