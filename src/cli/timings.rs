//! Phase timings on stderr when `RUNNER_TIMINGS` is set (for benchmarks and profiling).

use std::cell::Cell;
use std::time::Instant;

/// Marks the end of each phase of a run.
pub(crate) struct Timings {
    on: bool,
    start: Instant,
    last: Cell<Instant>,
}

impl Timings {
    /// On when the environment has `RUNNER_TIMINGS`.
    #[must_use]
    pub(crate) fn from_env() -> Self {
        let now = Instant::now();
        Timings {
            on: std::env::var_os("RUNNER_TIMINGS").is_some(),
            start: now,
            last: Cell::new(now),
        }
    }

    /// A phase ended now.
    pub(crate) fn mark(&self, phase: &str) {
        if self.on {
            let now = Instant::now();
            eprintln!(
                "timing: {phase:<16} {:>8.2} ms (total {:>8.2} ms)",
                (now - self.last.get()).as_secs_f64() * 1e3,
                (now - self.start).as_secs_f64() * 1e3
            );
            self.last.set(now);
        }
    }

    /// The runner's own CPU time (all threads, not the gates' processes), at the end.
    pub(crate) fn cpu(&self) {
        if self.on {
            // SAFETY: getrusage fills the zeroed struct it is given.
            let usage = unsafe {
                let mut usage: libc::rusage = std::mem::zeroed();
                libc::getrusage(libc::RUSAGE_SELF, &raw mut usage);
                usage
            };
            let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
            eprintln!(
                "timing: runner cpu   user {:.2} ms, sys {:.2} ms (gates' processes excluded)",
                ms(usage.ru_utime),
                ms(usage.ru_stime)
            );
        }
    }
}
