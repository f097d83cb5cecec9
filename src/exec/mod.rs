//! Execution: the scheduler and its events (processes are `proc`'s).

pub(crate) mod environment;
pub(crate) mod event;
pub(crate) mod lock;
pub(crate) mod runtime;
pub(crate) mod scheduler;
pub(crate) mod timeline;
pub(crate) mod trace_inputs;

pub(crate) use event::Event;
pub(crate) use scheduler::{GateRun, RunOptions, Scheduler};
pub(crate) use timeline::Lane;
