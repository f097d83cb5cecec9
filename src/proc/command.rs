//! Running a command gate: `sh -c` in its own process group (`Group`), output to the gate's
//! log file, and a timeout that stops the whole group with the grace policy.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, Read};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use super::group::{Group, Spawn, SpawnEnv};

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProcessEnd {
    Exited(i32),
    Signaled(i32),
    TimedOut(Duration),
    SpawnFailed(String),
}

/// Receives the gate's output line by line while it runs (`--verbose`).
pub(crate) type LineSink<'a> = &'a (dyn Fn(&str, &[u8]) + Sync);

/// What to run.
pub(crate) struct CommandSpec<'a> {
    pub run: &'a str,
    pub cwd: &'a Path,
    pub gate: &'a str,
    pub log: &'a Path,
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL when the timeout strikes.
    pub grace: Duration,
    /// The environment the gate starts with (`RUNNER_GATE` and `RUNNER_BIN` are added).
    pub env: &'a SpawnEnv,
    /// Given every whole line of the log, with the gate's name, while it runs.
    pub stream: Option<LineSink<'a>>,
}

/// A gate's log file at `path`, its folder made when missing. A cache folder that cannot be
/// written (read-only, full) must not stop gates from being judged: the output then goes to an
/// unnamed temporary file and is not kept (the store step says caching is off). Before, every
/// gate ended `error: cannot create log`.
pub(crate) fn create_log(path: &Path) -> std::io::Result<File> {
    let dir = path.parent().unwrap_or(Path::new(""));
    crate::files::in_dir(dir, || File::create(path)).or_else(|_| tempfile::tempfile())
}

/// Run a command gate to its end. Never reads its output into memory: stdout and stderr go
/// straight to the log file, so output volume cannot grow the runner, and a daemon that keeps
/// them open cannot make the runner wait.
pub(crate) fn run(spec: &CommandSpec<'_>) -> ProcessEnd {
    let log = match create_log(spec.log) {
        Ok(f) => f,
        Err(e) => {
            return ProcessEnd::SpawnFailed(format!(
                "cannot create log {}: {e}",
                spec.log.display()
            ));
        }
    };
    let mut env: Vec<(&str, &OsStr)> = vec![("RUNNER_GATE", OsStr::new(spec.gate))];
    if let Some(exe) = runner_bin() {
        env.push(("RUNNER_BIN", exe.as_os_str()));
    }
    let mut group = match Group::spawn(Spawn {
        run: spec.run,
        cwd: spec.cwd,
        base: spec.env,
        env: &env,
        output: log,
        stderr: None,
    }) {
        Ok(g) => g,
        Err(e) => return ProcessEnd::SpawnFailed(format!("cannot start `sh -c`: {e}")),
    };
    logged(spec.log, spec.gate, spec.stream, || {
        let timed_out = !group.wait_exit(spec.timeout);
        if timed_out {
            group.stop(spec.grace);
        }
        let status = group.wait();
        match status {
            _ if timed_out => ProcessEnd::TimedOut(spec.timeout),
            Ok(s) => match (s.code(), s.signal()) {
                (Some(code), _) => ProcessEnd::Exited(code),
                (None, Some(sig)) => ProcessEnd::Signaled(sig),
                (None, None) => ProcessEnd::Exited(-1),
            },
            Err(e) => ProcessEnd::SpawnFailed(format!("waiting for the command failed: {e}")),
        }
    })
}

/// Do `work` (waiting for a command whose output goes to the log file `log`) while handing the
/// whole lines the log gains to `sink`, with the gate's name (`--verbose`; just `work` without
/// a sink), then bound the finished log. Every command gate's log ends here, traced
/// (`--trace-inputs`) or not. The log must exist.
pub(crate) fn logged<R>(
    log: &Path,
    gate: &str,
    sink: Option<LineSink<'_>>,
    work: impl FnOnce() -> R,
) -> R {
    let result = streaming(log, gate, sink, work);
    // A log is bounded: a gate printing gigabytes leaves its last `LOG_KEEP_BYTES` (what a cache
    // entry keeps of it too). Best effort: a log that cannot be cut stays whole.
    let _ = super::tail::keep_tail(log, LOG_KEEP_BYTES);
    result
}

/// `work` while the lines `log` gains go to `sink` (see `logged`).
fn streaming<R>(log: &Path, gate: &str, sink: Option<LineSink<'_>>, work: impl FnOnce() -> R) -> R {
    std::thread::scope(|scope| {
        let streamer = sink.map(|sink| {
            let (stop_tx, stop_rx) = mpsc::channel::<()>();
            let handle = scope.spawn(move || stream_log(log, gate, sink, &stop_rx));
            (handle, stop_tx)
        });
        let result = work();
        if let Some((handle, stop)) = streamer {
            let _ = stop.send(());
            let _ = handle.join();
        }
        result
    })
}
/// The end of a gate's log kept in `cache/logs` (and in a cache entry): 4 MiB.
pub(crate) const LOG_KEEP_BYTES: u64 = 4 * 1024 * 1024;

/// This executable, exported to gates as `RUNNER_BIN` (looked up once, not per gate).
pub(crate) fn runner_bin() -> Option<&'static PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| std::env::current_exe().ok()).as_ref()
}

/// Follow a growing log file, handing whole lines to `sink`, until told to stop.
fn stream_log(path: &Path, gate: &str, sink: LineSink<'_>, stop: &mpsc::Receiver<()>) {
    let Ok(mut file) = File::open(path) else {
        return;
    };
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let stopping = stop.recv_timeout(Duration::from_millis(50)).is_ok();
        loop {
            match file.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
            let mut cursor = std::io::Cursor::new(std::mem::take(&mut pending));
            let mut line = Vec::new();
            while cursor.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                if line.ends_with(b"\n") {
                    sink(gate, &line);
                } else {
                    pending.extend_from_slice(&line);
                }
                line.clear();
            }
        }
        if stopping {
            if !pending.is_empty() {
                pending.push(b'\n');
                sink(gate, &pending);
            }
            return;
        }
    }
}
