//! Spawning a command gate: `sh -c` in its own process group, output to the gate's log file,
//! and a timeout that kills the whole group (TERM, then KILL after a grace period).

use std::fs::File;
use std::io::{BufRead, Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use super::signals;

/// How long a timed-out gate gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessEnd {
    Exited(i32),
    Signaled(i32),
    TimedOut(Duration),
    SpawnFailed(String),
}

/// What to run.
pub struct CommandSpec<'a> {
    pub run: &'a str,
    pub cwd: &'a Path,
    pub gate: &'a str,
    pub log: &'a Path,
    pub timeout: Duration,
    /// Stream the log to stderr, prefixed with the gate's name, while it runs.
    pub verbose: bool,
}

/// Run a command gate to its end. Never reads its output into memory: stdout and stderr go
/// straight to the log file, so output volume cannot grow the runner, and a daemon that keeps
/// them open cannot make the runner wait.
pub fn run(spec: &CommandSpec<'_>) -> ProcessEnd {
    if let Some(dir) = spec.log.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // A cache folder that cannot be written (read-only, full) must not stop gates from being
    // judged: the output then goes to an unnamed temporary file and is not kept (the store
    // step says caching is off). Before, every gate ended `error: cannot create log`.
    let log = match File::create(spec.log).or_else(|_| tempfile::tempfile()) {
        Ok(f) => f,
        Err(e) => {
            return ProcessEnd::SpawnFailed(format!(
                "cannot create log {}: {e}",
                spec.log.display()
            ));
        }
    };
    let stderr = match log.try_clone() {
        Ok(f) => f,
        Err(e) => return ProcessEnd::SpawnFailed(format!("cannot open log: {e}")),
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(spec.run)
        .current_dir(spec.cwd)
        .env("RUNNER_GATE", spec.gate)
        .envs(runner_bin().map(|exe| ("RUNNER_BIN", exe)))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .process_group(0);
    // No `pre_exec` hook here: one makes the standard library fork the whole runner per gate
    // instead of using posix_spawn (4.1 ms against 0.6 ms a spawn at 10,000 gates). Dying
    // with the runner is the guardian's job (`signals::register`).
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return ProcessEnd::SpawnFailed(format!("cannot start `sh -c`: {e}")),
    };
    let pgid = i32::try_from(child.id()).unwrap_or(0);
    let _registration = signals::register(pgid);
    let timeout = spec.timeout;
    let streamer = spec
        .verbose
        .then(|| stream_log(spec.log.to_path_buf(), spec.gate.to_owned()));
    let (status, timed_out) = match Exit::watch(&child) {
        // Waiting on the child's pidfd with a timeout: no thread per gate.
        Some(exit) => {
            let timed_out = !exit.wait(timeout);
            if timed_out {
                signals::kill_group(pgid, libc::SIGTERM);
                if !exit.wait(KILL_GRACE) {
                    signals::kill_group(pgid, libc::SIGKILL);
                }
            }
            (child.wait(), timed_out)
        }
        None => wait_with_watchdog(&mut child, pgid, timeout),
    };
    if timed_out {
        // Whatever the group left behind goes too.
        signals::kill_group(pgid, libc::SIGKILL);
    }
    if let Some((handle, stop)) = streamer {
        let _ = stop.send(());
        let _ = handle.join();
    }
    match status {
        _ if timed_out => ProcessEnd::TimedOut(timeout),
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => ProcessEnd::Exited(code),
            (None, Some(sig)) => ProcessEnd::Signaled(sig),
            (None, None) => ProcessEnd::Exited(-1),
        },
        Err(e) => ProcessEnd::SpawnFailed(format!("waiting for the command failed: {e}")),
    }
}

/// Wait for `child`, killing its group (TERM, then KILL) after `timeout`, from a watchdog
/// thread: for kernels without pidfds (before Linux 5.3).
fn wait_with_watchdog(
    child: &mut std::process::Child,
    pgid: i32,
    timeout: Duration,
) -> (std::io::Result<std::process::ExitStatus>, bool) {
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
            signals::kill_group(pgid, libc::SIGTERM);
            if done_rx.recv_timeout(KILL_GRACE) == Err(mpsc::RecvTimeoutError::Timeout) {
                signals::kill_group(pgid, libc::SIGKILL);
            }
            return true;
        }
        false
    });
    let status = child.wait();
    let _ = done_tx.send(());
    (status, watchdog.join().unwrap_or(false))
}

/// A child's pidfd (Linux 5.3+): readable once the child has exited, so waiting for it with a
/// timeout is one `poll`, not a thread per gate (a thread each cost ~2% of a cold run).
struct Exit(std::os::fd::OwnedFd);

impl Exit {
    fn watch(child: &std::process::Child) -> Option<Self> {
        use std::os::fd::FromRawFd as _;
        let pid = libc::pid_t::try_from(child.id()).ok()?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1. The
        // child is not reaped before `wait`, so its pid cannot name another process.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
        // SAFETY: `fd` was just returned by the kernel and is owned by nothing else.
        Some(Exit(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
    }

    /// Whether the child exited within `limit`.
    fn wait(&self, limit: Duration) -> bool {
        use std::os::fd::AsRawFd as _;
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            // Whole milliseconds, rounded up so a short timeout does not spin.
            let ms = i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
            let mut fds = libc::pollfd {
                fd: self.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the duration of the call.
            let n = unsafe { libc::poll(&raw mut fds, 1, ms) };
            if n > 0 {
                return true;
            }
            if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                // poll itself failed (it cannot, short of memory): keep the deadline anyway.
                std::thread::sleep(left.min(Duration::from_millis(10)));
            }
            if left.is_zero() {
                return false;
            }
        }
    }
}

/// This executable, exported to gates as `RUNNER_BIN` (looked up once, not per gate).
fn runner_bin() -> Option<&'static PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| std::env::current_exe().ok()).as_ref()
}

/// Follow a growing log file, printing whole lines to stderr with a prefix, until told to stop.
fn stream_log(
    path: std::path::PathBuf,
    gate: String,
) -> (std::thread::JoinHandle<()>, mpsc::Sender<()>) {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let handle = std::thread::spawn(move || {
        let Ok(mut file) = File::open(&path) else {
            return;
        };
        let mut pending = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let stopping = stop_rx.recv_timeout(Duration::from_millis(50)).is_ok();
            loop {
                match file.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                }
                let mut cursor = std::io::Cursor::new(std::mem::take(&mut pending));
                let mut line = Vec::new();
                while cursor.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                    if line.ends_with(b"\n") {
                        eprint!("[{gate}] {}", String::from_utf8_lossy(&line));
                    } else {
                        pending.extend_from_slice(&line);
                    }
                    line.clear();
                }
            }
            if stopping {
                if !pending.is_empty() {
                    eprintln!("[{gate}] {}", String::from_utf8_lossy(&pending));
                }
                return;
            }
        }
    });
    (handle, stop_tx)
}

/// The last `lines` lines of a log, for failure messages.
#[must_use]
pub fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(16 * 1024);
    let _ = f.seek(SeekFrom::Start(start));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pidfd_wait_times_out_on_a_running_child_and_sees_an_exit() {
        let mut slow = Command::new("sleep").arg("5").spawn().expect("sleep");
        let exit = Exit::watch(&slow).expect("pidfd (Linux 5.3+)");
        assert!(!exit.wait(Duration::from_millis(50)), "sleep 5 ended early");
        slow.kill().expect("kill");
        assert!(exit.wait(Duration::from_secs(5)), "the kill was not seen");
        slow.wait().expect("reap");
        let mut quick = Command::new("true").spawn().expect("true");
        let exit = Exit::watch(&quick).expect("pidfd");
        assert!(exit.wait(Duration::from_secs(5)));
        assert!(quick.wait().expect("reap").success());
    }
}
