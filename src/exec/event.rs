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
    /// The gate waits for a slot of a resource it `uses`: every slot is held by other gates of
    /// this run, or (`other_runner`) by another runner on this checkout.
    WaitingForResource {
        gate: &'a str,
        resource: &'a str,
        other_runner: bool,
    },
    /// The gate, which waited for a resource, holds what it uses and runs.
    Acquired { gate: &'a str },
    /// An attempt of the gate failed and it runs again (`retries`). `attempt` is the one that
    /// failed (1-based), out of at most `attempts`; its log was kept at `log`.
    Retrying {
        gate: &'a str,
        attempt: u32,
        attempts: u32,
        reason: Option<&'a str>,
        log: &'a std::path::Path,
    },
    /// A whole line of a running gate's output (`--verbose`), newline included.
    Output { gate: &'a str, line: &'a [u8] },
    /// A gate has its final status.
    Finished {
        gate: &'a str,
        /// Its effective mode is blocking: a failure blocks the merge.
        blocking: bool,
        status: Status,
        cached: bool,
        /// Passed only on a retry.
        flaky: bool,
        /// How many times it ran (0 when it never started).
        attempts: u32,
        duration: Duration,
        reason: Option<&'a str>,
        log: Option<&'a std::path::Path>,
    },
}
