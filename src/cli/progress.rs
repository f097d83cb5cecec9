//! Progress while a run goes on: an indicatif display on a terminal, one plain line per
//! finished gate otherwise (CI logs).

use std::io::{IsTerminal, Write as _};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::ci_logs::{self, CiSystem};
use crate::exec::Event;
use crate::proc::tail::log_tail;
use crate::vocab::Status;

/// How gate logs are shown: grouped (each log whole when its gate finishes, folded the CI
/// system's way) or streamed (status lines; `--verbose` lines as they come).
#[derive(Debug, Clone, Copy)]
pub(super) struct Logs {
    pub grouped: bool,
    pub ci: CiSystem,
}

/// A failing gate's log, for after the summary (grouped order).
struct Failure {
    gate: String,
    title: String,
    log: std::path::PathBuf,
}

/// The display; feed it scheduler events.
pub(super) struct Progress {
    bar: Option<ProgressBar>,
    running: Mutex<Vec<String>>,
    quiet: bool,
    logs: Logs,
    /// Gates finished so far (GitLab section names are unique by it).
    finished: Mutex<usize>,
    failures: Mutex<Vec<Failure>>,
}

impl Progress {
    /// A terminal display when stderr is a terminal, else plain lines on stdout.
    #[must_use]
    pub(super) fn new(total: usize, quiet: bool, logs: Logs) -> Self {
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
            logs,
            finished: Mutex::new(0),
            failures: Mutex::new(Vec::new()),
        }
    }

    /// Print a block of text as it is (it ends in a newline).
    fn print_block(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text.strip_suffix('\n').unwrap_or(text)),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
            }
        }
    }

    /// Before the summary line (Buildkite: an expanded section for it).
    pub(super) fn before_summary(&self) {
        if self.logs.grouped {
            let text = ci_logs::before_summary(self.logs.ci);
            if !text.is_empty() {
                self.print_block(text);
            }
        }
    }

    /// After the summary line: the failing gates' logs, expanded (grouped order).
    pub(super) fn after_summary(&self) {
        let Ok(failures) = self.failures.lock() else {
            return;
        };
        for f in failures.iter() {
            self.print_block(&ci_logs::failure(self.logs.ci, &f.gate, &f.title, &f.log));
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
                if self.logs.grouped {
                    self.grouped(gate, &line, *cached, *duration, failed, *log);
                    return;
                }
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

    /// A finished gate in grouped order: its status line heading its whole log (executed
    /// gates), or alone (replays, gates without a log).
    fn grouped(
        &self,
        gate: &str,
        title: &str,
        cached: bool,
        duration: Duration,
        failed: bool,
        log: Option<&std::path::Path>,
    ) {
        let index = self.finished.lock().map_or(0, |mut n| {
            *n += 1;
            *n
        });
        let log = log.filter(|l| !cached && l.is_file());
        let text = match log {
            Some(l) => {
                let ended = time::OffsetDateTime::now_utc().unix_timestamp();
                let started = ended - i64::try_from(duration.as_secs()).unwrap_or(0);
                let body = ci_logs::log_text(l, ci_logs::MAX_GROUP_BYTES);
                ci_logs::group(self.logs.ci, gate, index, title, &body, (started, ended))
            }
            None => ci_logs::line(self.logs.ci, title),
        };
        self.print_block(&text);
        if failed
            && let Some(l) = log
            && let Ok(mut failures) = self.failures.lock()
        {
            failures.push(Failure {
                gate: gate.to_owned(),
                title: title.to_owned(),
                log: l.to_path_buf(),
            });
        }
    }

    /// Remove the terminal display.
    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
