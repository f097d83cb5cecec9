//! What the scheduler tells its observers (the progress display) while a run goes on.

use std::time::Duration;

use crate::vocab::Status;

/// A moment in a run.
#[derive(Debug, Clone)]
pub(crate) enum Event<'a> {
    /// A gate began executing (cache hits never start).
    Started { gate: &'a str },
    /// Another runner on this checkout is running the gate: this one waits for its result.
    Waiting { gate: &'a str },
    /// A whole line of a running gate's output (`--verbose`), newline included.
    Output { gate: &'a str, line: &'a [u8] },
    /// A gate has its final status.
    Finished {
        gate: &'a str,
        /// Its effective mode is blocking: a failure blocks the merge.
        blocking: bool,
        status: Status,
        cached: bool,
        duration: Duration,
        reason: Option<&'a str>,
        log: Option<&'a std::path::Path>,
    },
}
