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
                "timing: {phase:<16} {:>8.2} ms (total {:>8.2} ms){}",
                (now - self.last.get()).as_secs_f64() * 1e3,
                (now - self.start).as_secs_f64() * 1e3,
                memory().unwrap_or_default()
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
                "timing: runner cpu   user {:.2} ms, sys {:.2} ms, {} page faults, {} context \
                 switches (gates' processes excluded)",
                ms(usage.ru_utime),
                ms(usage.ru_stime),
                usage.ru_minflt + usage.ru_majflt,
                usage.ru_nvcsw + usage.ru_nivcsw
            );
        }
    }
}

/// The process's resident memory now and at its peak so far, where the system says (Linux's
/// `/proc/self/status`): where in a run the peak is reached.
fn memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
    };
    let mib = |kb: u64| kb as f64 / 1024.0;
    Some(format!(
        ", rss {:.1} MiB, peak {:.1} MiB",
        mib(field("VmRSS:")?),
        mib(field("VmHWM:")?)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn memory_reads_the_resident_set_and_its_peak() {
        let line = memory().expect("Linux has /proc/self/status");
        let numbers: Vec<f64> = line
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter_map(|n| n.parse().ok())
            .collect();
        assert_eq!(numbers.len(), 2, "{line}");
        assert!(numbers[0] > 0.0 && numbers[0] <= numbers[1], "{line}");
    }
}
