//! A process group the runner started: `sh -c` spawned in a group of its own (`posix_spawn`, no
//! `pre_exec` hook), registered so the runner's interruption or death takes it down, waited for
//! with a timeout, and stopped with the one grace policy: SIGTERM to the group, `grace` for the
//! group to be gone, then SIGKILL. Command gates and the `http` kind's services both use it.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::signals::{self, Registration};

/// How long a group has between SIGTERM and SIGKILL, unless a caller passes another grace.
pub(crate) const GRACE: Duration = Duration::from_secs(2);

/// The environment a process starts with.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpawnEnv {
    /// Start from an empty environment (strict); else from the runner's own.
    pub clear: bool,
    /// The variables to set.
    pub vars: Vec<(OsString, OsString)>,
}

/// What to start.
pub(crate) struct Spawn<'a> {
    /// The shell command.
    pub run: &'a str,
    pub cwd: &'a Path,
    /// The environment: cleared or inherited, then these variables.
    pub base: &'a SpawnEnv,
    /// More environment variables, set last.
    pub env: &'a [(&'a str, &'a OsStr)],
    /// Where stdout goes, and stderr unless `stderr` says otherwise.
    pub output: File,
    /// Where stderr goes when it is kept apart from stdout (None: with stdout).
    pub stderr: Option<File>,
}

/// What the shell runs before the command. The shell starts as soon as it is spawned, but the
/// runner learns its group only when the spawn returns, and a runner killed in between (a CI
/// job's `kill -9` under load: 29 runs in 100 of
/// `reliability_crash::a_runner_killed_with_sigkill_takes_its_gates_scripts_down` with two
/// other processes per core) left a command running that nothing would kill. So the shell
/// first reads a line from stdin, a pipe the runner writes to once the group is registered
/// with the guardian and the signal handlers; if the runner died first, the read meets
/// end-of-file and the shell exits before the command starts. Then stdin is /dev/null, as the
/// command has always had it. On the same line as the command's first, so the shell's line
/// numbers in its messages are the command's own.
const HOLD: &str = "read _ || exit 125; exec </dev/null; ";

/// The shell's `-c` argument for the command `run`: `HOLD`, then `run`.
fn held(run: &str) -> String {
    let mut script = String::with_capacity(HOLD.len() + run.len());
    script.push_str(HOLD);
    script.push_str(run);
    script
}

/// A running process group, led by the shell.
pub(crate) struct Group {
    child: Child,
    pgid: i32,
    exit: Option<Exit>,
    _registration: Registration,
}

impl Group {
    /// Start `sh -c run` in its own process group, stdin from /dev/null.
    pub(crate) fn spawn(spec: Spawn<'_>) -> io::Result<Self> {
        let stderr = match spec.stderr {
            Some(file) => file,
            None => spec.output.try_clone()?,
        };
        // The gate's PATH: set by the base (strict mode sets it), else the runner's own. The
        // shell is named by its path so that spawning stays `posix_spawn` (`proc::shell`).
        let path = spec
            .base
            .vars
            .iter()
            .rev()
            .find(|(name, _)| name == "PATH")
            .map(|(_, value)| value.clone())
            .or_else(|| {
                if spec.base.clear {
                    None
                } else {
                    std::env::var_os("PATH")
                }
            });
        // The shell waits on stdin for the runner's go, written once its group is registered
        // (`HOLD`); the runner keeps the write end.
        let (hold, go) = io::pipe()?;
        let mut cmd = Command::new(super::shell::sh_on(path.as_deref()));
        cmd.arg("-c")
            .arg(held(spec.run))
            .current_dir(spec.cwd)
            .stdin(Stdio::from(hold))
            .stdout(spec.output)
            .stderr(stderr)
            .process_group(0);
        if spec.base.clear {
            cmd.env_clear();
        }
        cmd.envs(spec.base.vars.iter().map(|(k, v)| (k, v)));
        for (name, value) in spec.env {
            cmd.env(name, value);
        }
        // No `pre_exec` hook here: one makes the standard library fork the whole runner per
        // spawn instead of using posix_spawn (4.1 ms against 0.6 ms a spawn at 10,000 gates).
        // Dying with the runner is the guardian's job (`signals::register`): it is started
        // before the first group exists.
        super::guardian::ensure_started();
        let mut child = cmd.spawn()?;
        // The runner's copy of the read end: the shell's is the only one left.
        drop(cmd);
        // Signalling group 0 or 1 would hit the runner itself or everything: never do it.
        let Some(pgid) = i32::try_from(child.id()).ok().filter(|p| *p > 1) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("the shell got an unusable pid"));
        };
        let registration = signals::register(pgid);
        // Registered: the group dies with the runner from here on, so the command may start.
        // (A shell already gone makes this fail; its status tells why.)
        let _ = (&go).write_all(b"\n");
        drop(go);
        Ok(Group {
            exit: Exit::watch(&child),
            _registration: registration,
            child,
            pgid,
        })
    }

    /// The shell's status if it has exited (reaping it), without waiting.
    pub(crate) fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Whether the shell exited within `limit` (not reaped: `wait` gives its status).
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> bool {
        match &self.exit {
            Some(exit) => exit.wait(limit),
            // Kernels without pidfds (before Linux 5.3): poll.
            None => {
                let deadline = Instant::now() + limit;
                loop {
                    if let Ok(Some(_)) = self.child.try_wait() {
                        return true;
                    }
                    if Instant::now() >= deadline {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }

    /// Reap the shell.
    pub(crate) fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait()
    }

    /// Send `signal` to the whole group.
    pub(crate) fn signal(&self, signal: i32) {
        signals::kill_group(self.pgid, signal);
    }

    /// Stop the group: SIGTERM, up to `grace` for every process of it to be gone, then SIGKILL
    /// and up to `grace` again for it to vanish. The shell is reaped. Whether the group had to
    /// be killed.
    pub(crate) fn stop(&mut self, grace: Duration) -> bool {
        self.signal(libc::SIGTERM);
        let killed = !self.wait_gone(grace);
        if killed {
            self.signal(libc::SIGKILL);
            // Killed members linger as zombies until their reaper (init, for orphans) gets to
            // them.
            self.wait_gone(grace);
        }
        let _ = self.child.wait();
        killed
    }

    /// Wait up to `limit` for every process of the group to be gone; whether they are.
    fn wait_gone(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            // Reap the shell as soon as it exits, or it lingers in the group as a zombie.
            let _ = self.child.try_wait();
            if !group_alive(self.pgid) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Whether a process of group `pgid` still runs.
///
/// Exited members stay in the group as zombies until reaped, and orphans are reaped by init,
/// which may take its time; on Linux, /proc tells zombies apart, elsewhere any member counts.
#[must_use]
pub(crate) fn group_alive(pgid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only asks whether the group exists; it touches no memory.
    if unsafe { libc::kill(-pgid, 0) } == -1 {
        return io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // After the command, which may hold spaces and parentheses: state, ppid, process group.
        let mut fields = stat
            .rsplit_once(") ")
            .map_or("", |(_, rest)| rest)
            .split(' ');
        let state = fields.next().unwrap_or("Z");
        let group = fields.nth(1).and_then(|group| group.parse::<i32>().ok());
        group == Some(pgid) && !matches!(state, "Z" | "X")
    })
}

/// A child's pidfd (Linux 5.3+): readable once the child has exited, so waiting for it with a
/// timeout is one `poll`, not a thread per gate (a thread each cost ~2% of a cold run).
struct Exit(std::os::fd::OwnedFd);

impl Exit {
    fn watch(child: &Child) -> Option<Self> {
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
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
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
            if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                // poll itself failed (it cannot, short of memory): keep the deadline anyway.
                std::thread::sleep(left.min(Duration::from_millis(10)));
            }
            if left.is_zero() {
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spawn(run: &str) -> Group {
        Group::spawn(Spawn {
            run,
            cwd: Path::new("."),
            base: &SpawnEnv::default(),
            env: &[],
            output: tempfile::tempfile().unwrap(),
            stderr: None,
        })
        .unwrap()
    }

    #[test]
    fn a_wait_times_out_on_a_running_group_and_sees_an_exit() {
        let mut slow = spawn("exec sleep 30");
        assert!(
            !slow.wait_exit(Duration::from_millis(50)),
            "sleep 30 ended early"
        );
        assert!(!slow.stop(Duration::from_secs(5)), "sleep obeys SIGTERM");
        assert!(!group_alive(slow.pgid));
        let mut quick = spawn("true");
        assert!(quick.wait_exit(Duration::from_secs(30)));
        assert!(quick.wait().unwrap().success());
    }

    #[test]
    fn a_group_ignoring_term_is_killed_after_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready");
        let run = format!("trap '' TERM; touch '{}'; sleep 30 & wait", ready.display());
        let mut stubborn = spawn(&run);
        // The trap is in place once the file exists (otherwise TERM could land first).
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "the shell never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            stubborn.stop(Duration::from_millis(100)),
            "TERM was ignored"
        );
        assert!(!group_alive(stubborn.pgid));
    }

    /// `sh -c held(run)` with stdin from a pipe, as `Group::spawn` starts it; the pipe's write
    /// end is given back.
    fn held_shell(run: &str) -> (Child, io::PipeWriter) {
        let (hold, go) = io::pipe().unwrap();
        let child = Command::new("sh")
            .arg("-c")
            .arg(held(run))
            .stdin(Stdio::from(hold))
            .spawn()
            .unwrap();
        (child, go)
    }

    #[test]
    fn the_command_starts_only_on_the_runners_go() {
        let dir = tempfile::tempdir().unwrap();
        let started = dir.path().join("started");
        let run = format!("touch '{}'", started.display());
        // The runner gone before the go (its write end closed unwritten): the command never
        // runs.
        let (mut shell, go) = held_shell(&run);
        std::thread::sleep(Duration::from_millis(50));
        assert!(!started.exists(), "the command ran before the go");
        drop(go);
        assert_eq!(shell.wait().unwrap().code(), Some(125));
        assert!(!started.exists(), "the command ran without the go");
        // The go: it runs.
        let (mut shell, go) = held_shell(&run);
        (&go).write_all(b"\n").unwrap();
        drop(go);
        assert!(shell.wait().unwrap().success());
        assert!(started.exists());
    }

    #[test]
    fn a_spawned_command_has_dev_null_as_stdin_and_its_own_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut group = Group::spawn(Spawn {
            run: "readlink /proc/self/fd/0\ncat\nno_such_command_4242",
            cwd: dir.path(),
            base: &SpawnEnv::default(),
            env: &[],
            output: File::create(&out).unwrap(),
            stderr: None,
        })
        .unwrap();
        assert!(!group.wait().unwrap().success());
        let text = std::fs::read_to_string(&out).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("/dev/null"), "{text}");
        // `cat` met end-of-file at once; the unknown command is on the script's third line.
        let error = lines.next().unwrap_or_default();
        assert!(
            error.contains("no_such_command_4242") && error.contains('3'),
            "{text}"
        );
    }
}
