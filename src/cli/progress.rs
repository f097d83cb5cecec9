//! Progress while a run goes on: an indicatif display on a terminal, one plain line per
//! finished gate otherwise (CI logs).

use std::io::{IsTerminal, Write as _};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::exec::Event;
use crate::proc::tail::log_tail;
use crate::vocab::Status;

/// The display; feed it scheduler events.
pub(super) struct Progress {
    bar: Option<ProgressBar>,
    running: Mutex<Vec<String>>,
    quiet: bool,
}

impl Progress {
    /// A terminal display when stderr is a terminal, else plain lines on stdout.
    #[must_use]
    pub(super) fn new(total: usize, quiet: bool) -> Self {
        let bar = (std::io::stderr().is_terminal() && !quiet).then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress {
            bar,
            running: Mutex::new(Vec::new()),
            quiet,
        }
    }

    fn print(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }
        }
    }

    fn refresh(&self) {
        if let (Some(bar), Ok(running)) = (&self.bar, self.running.lock()) {
            bar.set_message(format!("running: {}", running.join(", ")));
        }
    }

    /// Handle one scheduler event.
    pub(super) fn on_event(&self, event: &Event<'_>) {
        match event {
            Event::Started { gate } => {
                if let Ok(mut r) = self.running.lock() {
                    r.push((*gate).to_owned());
                }
                self.refresh();
            }
            Event::Waiting { gate } => {
                self.note(gate, Some("waiting for another runner"));
            }
            Event::WaitingForResource {
                gate,
                resource,
                other_runner,
            } => {
                let note = if *other_runner {
                    format!("waiting for resource {resource}, held by another runner")
                } else {
                    format!("waiting for resource {resource}")
                };
                self.note(gate, Some(&note));
                // In a log, a wait on another runner explains a stall; waits within the run
                // are the limit working, and not worth a line each.
                if *other_runner && self.bar.is_none() && !self.quiet {
                    self.print(&format!("{:<7} {gate}: {note}", "WAIT"));
                }
            }
            Event::Acquired { gate } => self.note(gate, None),
            Event::Retrying {
                gate,
                attempt,
                attempts,
                reason,
                log,
            } => {
                if !self.quiet {
                    self.print(&format!(
                        "{:<7} {gate}: attempt {attempt} of {attempts} failed{}; running it again (log: {})",
                        "RETRY",
                        reason.map(|r| format!(": {r}")).unwrap_or_default(),
                        log.display()
                    ));
                }
            }
            Event::Output { gate, line } => {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "[{gate}] {}", String::from_utf8_lossy(line));
            }
            Event::Finished {
                gate,
                blocking,
                status,
                cached,
                flaky,
                attempts,
                duration,
                reason,
                log,
            } => {
                if let Ok(mut r) = self.running.lock() {
                    r.retain(|g| g.split(" (").next() != Some(*gate));
                }
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                self.refresh();
                let blocks = *blocking && status.is_failure();
                // Quiet still names every blocking failure, with its reason.
                if self.quiet && !blocks {
                    return;
                }
                // An observational gate's failure is a warning: it does not block.
                let observed = !*blocking && status.is_failure();
                let mut line = format!(
                    "{:<7} {gate} {:.2}s{}{}{}",
                    if observed {
                        "WARN".to_owned()
                    } else {
                        status.as_str().to_uppercase()
                    },
                    duration.as_secs_f64(),
                    if *cached { " (cached)" } else { "" },
                    if *flaky {
                        format!(" (flaky: passed on attempt {attempts})")
                    } else {
                        String::new()
                    },
                    if observed {
                        format!(" (observational, {})", status.as_str())
                    } else {
                        String::new()
                    }
                );
                if let Some(reason) = reason.filter(|_| *status != Status::Pass) {
                    line.push_str(&format!(": {reason}"));
                }
                let failed = matches!(status, Status::Fail | Status::Error) && !*cached;
                if failed
                    && !self.quiet
                    && let Some(l) = log
                    && let tail = log_tail(l, 20)
                    && !tail.trim().is_empty()
                {
                    line.push_str("\n    | ");
                    line.push_str(&tail.replace('\n', "\n    | "));
                    line.push_str(&format!("\n    (full log: {})", l.display()));
                }
                self.print(&line);
            }
        }
    }

    /// Set (or, with None, clear) what a running gate is waiting for, shown after its name.
    fn note(&self, gate: &str, note: Option<&str>) {
        if let Ok(mut r) = self.running.lock() {
            for g in r.iter_mut().filter(|g| g.split(" (").next() == Some(gate)) {
                *g = match note {
                    Some(note) => format!("{gate} ({note})"),
                    None => gate.to_owned(),
                };
            }
        }
        self.refresh();
    }

    /// Remove the terminal display.
    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
