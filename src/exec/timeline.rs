//! When and where each gate ran: its lane (the worker, or the scheduler's thread for replays
//! and gates decided without running), its start and end, and the phases inside it (cache
//! lookups, the process, the store). `runner run --profile` writes them as a Chrome trace.

use std::time::Instant;

/// Where a gate was decided or run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Lane {
    /// Worker `n` (0-based) of the `-j` workers: the gates that ran, and remote hits.
    Worker(usize),
    /// The scheduler's own thread (None) or one of its helper threads: local cache replays,
    /// skips and gates not run.
    Scheduler(Option<usize>),
}

impl Lane {
    /// The lane of the calling thread, for work the scheduler does itself.
    #[must_use]
    pub(crate) fn scheduler() -> Self {
        Lane::Scheduler(rayon::current_thread_index())
    }
}

/// A phase inside a gate's span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Phase {
    pub name: &'static str,
    pub start: Instant,
    pub end: Instant,
}

/// A gate's place in the run's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GateTiming {
    pub lane: Lane,
    pub start: Instant,
    pub end: Instant,
    /// In order, each within `start..end`.
    pub phases: Vec<Phase>,
}

impl GateTiming {
    /// A span from `start` to now on the calling thread's scheduler lane.
    #[must_use]
    pub(crate) fn on_scheduler(start: Instant) -> Self {
        GateTiming {
            lane: Lane::scheduler(),
            start,
            end: Instant::now(),
            phases: Vec::new(),
        }
    }
}

/// Phases being recorded.
#[derive(Debug, Default)]
pub(crate) struct Phases(pub Vec<Phase>);

impl Phases {
    /// Run `f` as the phase `name`.
    pub(crate) fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.0.push(Phase {
            name,
            start,
            end: Instant::now(),
        });
        out
    }
}
