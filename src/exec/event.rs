//! What the scheduler tells its observers (the progress display) while a run goes on.

use std::time::Duration;

use crate::judge::Status;

/// A moment in a run.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A gate began executing (cache hits never start).
    Started { gate: &'a str },
    /// A gate has its final status.
    Finished {
        gate: &'a str,
        status: Status,
        cached: bool,
        duration: Duration,
        reason: Option<&'a str>,
        log: Option<&'a std::path::Path>,
    },
}
