//! Which files a command read: `sh -c` run under ptrace(2), its whole process tree followed,
//! every file it opened for reading or executed recorded. For `runner run --trace-inputs`.
//!
//! The API is [`run_traced`], which returns a [`Traced`]: how the shell ended
//! ([`TracedExit`]) and the absolute paths read (`reads`).
//!
//! How: a tracer thread forks the shell; the child asks to be traced (`PTRACE_TRACEME`), stops
//! itself, and executes `sh -c run`. The tracer sets the options that attach every process and
//! thread the tree creates (fork, vfork, clone) and stops each one at every system call's entry
//! and exit (`PTRACE_SYSCALL`). At an entry to `open`, `openat`, `openat2`, `execve` or
//! `execveat` it reads the path from the tracee's memory; at the exit it keeps the path if the
//! call succeeded. A tracer must be one thread (ptrace requests come from the thread that is
//! the tracer), so the tracing runs on a thread of its own, and the caller's thread keeps the
//! timeout. Waiting uses `__WNOTHREAD`, so the tracer never reaps a child another thread of
//! the runner started.
//!
//! Recorded (as absolute paths, deduplicated and sorted):
//! - opens that succeeded and can read the file's contents: access mode read-only or
//!   read-write (or 3), without `O_DIRECTORY`, `O_PATH`, `O_TRUNC`, or `O_CREAT|O_EXCL` (a
//!   file created then cannot have been an input), and not opening a folder;
//! - programs executed (`execve`, `execveat`, the shell itself included), as the path given to
//!   the call, when the call succeeded;
//!
//! except a file the tree itself had created (`O_CREAT|O_EXCL`) or truncated (`O_TRUNC`)
//! earlier in the run: what it reads there is what it wrote (a compiler's temporary file, a
//! test's `tmp_path`), not contents from before. A file it read first and rewrote later is
//! recorded (the first read saw the old contents).
//!
//! A relative path is resolved against the process's current folder at the time of the call
//! (`/proc/<pid>/cwd`, as the kernel reports it: symbolic links resolved), a `dirfd`-relative
//! one against that descriptor's path (`/proc/<pid>/fd/<dirfd>`). `.` components and repeated
//! slashes are dropped; `..` is kept (dropping it by text could name another file through a
//! symbolic link). Symbolic links in the path itself are kept as given.
//!
//! Not seen:
//! - `stat`, `access`, `readlink`, `getdents` and the like: a file whose existence (not
//!   contents) steers the command, and folder listings (`ls`, globs), are not recorded;
//! - what happens to a descriptor once open (read, `mmap`, `sendfile`): the open is recorded,
//!   so a file is missed when the descriptor was opened outside the tree (inherited: the
//!   shell gets only /dev/null and the output file; passed over a socket; opened by a daemon
//!   or build server the command talks to);
//! - `io_uring` opens (`IORING_OP_OPENAT` does not go through the system calls traced) and
//!   `open_by_handle_at`;
//! - files the kernel opens itself: the ELF interpreter (`ld.so`) of an executed program and
//!   the interpreter named by a script's `#!` line (the script itself is recorded; the
//!   libraries `ld.so` loads are recorded, it opens them with `openat`);
//! - calls of the 32-bit (`i386`) and `x32` ABIs on `x86_64`, and of `AArch32` tasks on
//!   `aarch64`: followed, not decoded;
//! - processes that leave the tree: once the shell has exited, whatever it left running is
//!   detached and lives on untraced, as a command gate's leftovers do.
//!
//! Paths are recorded as the call named them: `/proc/self/fd/3` stays that, a path through a
//! symbolic link is not resolved. A file the command wrote without creating or truncating it
//! (appended to, or moved into place with `rename`) and then read back is recorded as read:
//! telling those apart is the caller's job.
//!
//! Under the tracer, a command behaves differently in three ways: set-user-ID and file
//! capabilities do not take effect on exec (the kernel's rule for traced processes: `sudo`,
//! `ping` may fail); it cannot use ptrace itself (`strace`, `gdb`, `LeakSanitizer`'s report
//! fail: a traced process cannot be traced again); job-control stops (`SIGTSTP`, `kill
//! -STOP`) are not honoured, a stopped process is resumed at once.
//!
//! Cost: every system call of the tree stops it twice (the exit of a call not watched costs
//! no register read), each stop a round trip through the tracer, so commands that spend their
//! time in system calls, and process start-up, slow down most. A loop of 200 `cat`s (27,000
//! system calls) ran about 7 times slower traced on a two-core VM, as under `strace -f`.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How a traced command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TracedExit {
    /// The shell exited with this code.
    Exited(i32),
    /// The shell was killed by this signal.
    Signaled(i32),
    /// The timeout struck: every traced process was killed (SIGKILL).
    TimedOut,
}

/// What a traced command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Traced {
    /// How it ended: exit code, the signal that killed it, or the timeout.
    pub exit: TracedExit,
    /// Every path its process tree opened for reading or executed, absolute, deduplicated and
    /// sorted (until the shell exited, or until the timeout).
    pub reads: BTreeSet<PathBuf>,
}

/// Run `sh -c run` in `cwd` under the tracer, with exactly the environment `env` (nothing is
/// inherited), stdin from /dev/null and stdout and stderr to `output`, in a process group of
/// its own (killed with the runner, like a command gate's). After `timeout`, every process of
/// the tree is killed and the result says [`TracedExit::TimedOut`]. The shell is the first
/// `sh` on `env`'s PATH, else /bin/sh. Blocks until the shell has exited (what it leaves
/// running is detached, not waited for) or the timeout; the tracing runs on a thread of its
/// own, so several calls may run at once on different threads.
///
/// Errors: the platform is neither Linux on `x86_64` nor on `aarch64`
/// ([`io::ErrorKind::Unsupported`]); ptrace is refused ([`io::ErrorKind::PermissionDenied`],
/// "ptrace is not permitted here (…); --trace-inputs needs it"); `cwd` cannot be entered or
/// the shell cannot be executed; an environment entry holds a NUL byte (or a name holds `=`).
pub(crate) fn run_traced(
    run: &str,
    cwd: &Path,
    env: &[(OsString, OsString)],
    output: File,
    timeout: Duration,
) -> io::Result<Traced> {
    imp::run_traced(run, cwd, env, output, timeout)
}

/// The error when ptrace is refused (by a seccomp profile, Yama's `ptrace_scope`, or a
/// container without the permission).
fn not_permitted(step: &str, err: &io::Error) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("ptrace is not permitted here ({step}: {err}); --trace-inputs needs it"),
    )
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod imp {
    use super::{File, OsString, Path, Traced, io};
    use std::time::Duration;

    pub(super) fn run_traced(
        _run: &str,
        _cwd: &Path,
        _env: &[(OsString, OsString)],
        output: File,
        _timeout: Duration,
    ) -> io::Result<Traced> {
        drop(output);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "tracing a command's inputs is not supported on this platform (Linux on x86_64 or \
             aarch64 only)",
        ))
    }
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod imp {
    use std::collections::{BTreeSet, HashMap, HashSet};
    use std::ffi::{CString, OsStr, OsString};
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};
    use std::os::unix::ffi::OsStrExt as _;
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, PoisonError, mpsc};
    use std::time::Duration;

    use libc::{c_char, c_int, c_long, c_void, pid_t};

    use super::super::signals;
    use super::{Traced, TracedExit, not_permitted};

    /// What the child reports on its pipe when a step before `execve` (or `execve`) fails: the
    /// step, then errno, each an `i32` in native byte order.
    const STEP_CHDIR: i32 = 1;
    const STEP_STDIN: i32 = 2;
    const STEP_OUTPUT: i32 = 3;
    const STEP_TRACEME: i32 = 4;
    const STEP_EXEC: i32 = 5;

    /// The longest path read from a tracee (the kernel refuses longer ones).
    const PATH_MAX: usize = 4096;

    /// Chunks of tracee memory never cross a multiple of this (the smallest page size), so a
    /// string ending just before an unmapped page is still read.
    const CHUNK: usize = 4096;

    /// The stop status of a syscall-stop (`PTRACE_O_TRACESYSGOOD`).
    const SYSCALL_STOP: c_int = libc::SIGTRAP | 0x80;

    pub(super) fn run_traced(
        run: &str,
        cwd: &Path,
        env: &[(OsString, OsString)],
        output: File,
        timeout: Duration,
    ) -> io::Result<Traced> {
        // The guardian is forked by the thread that first needs it. Started here, on the
        // caller's thread, it is never a child of the tracer thread: that thread's waits
        // (`__WNOTHREAD`) then see only tracees, and end with ECHILD when none is left, not
        // wait on a process that lives as long as the runner.
        super::super::guardian::ensure_started();
        let tree = Mutex::new(Tree::default());
        let tree = &tree;
        std::thread::scope(|scope| {
            // Dropped when the tracer thread ends, however it ends: the wait below then returns.
            let (done_tx, done_rx) = mpsc::channel::<()>();
            let tracer = std::thread::Builder::new()
                .name("runner-trace".to_owned())
                .spawn_scoped(scope, move || {
                    let _done = done_tx;
                    trace(run, cwd, env, &output, tree)
                })?;
            if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(timeout) {
                tree.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .time_out();
            }
            tracer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the tracer thread panicked")))
        })
    }

    /// The traced processes as the timeout sees them (shared by the tracer and the caller's
    /// thread).
    #[derive(Default)]
    struct Tree {
        /// Every traced process and thread, by thread id.
        members: HashMap<pid_t, Handle>,
        timed_out: bool,
    }

    /// How to kill a traced task without ever hitting a recycled pid.
    enum Handle {
        /// A process: its pidfd names it and nothing else, even once it is reaped.
        Pidfd(OwnedFd),
        /// A thread (not a thread-group leader): killing its process kills it.
        Thread,
        /// A process on a kernel without pidfds (before Linux 5.3): killed by pid.
        Pid,
    }

    impl Tree {
        fn time_out(&mut self) {
            self.timed_out = true;
            for (&pid, handle) in &self.members {
                kill(pid, handle);
            }
        }

        /// Track a new traced task (killing it at once if the timeout has struck).
        fn add(&mut self, pid: pid_t) {
            // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            let handle = match RawFd::try_from(fd) {
                // SAFETY: `fd` was just returned by the kernel and is owned by nothing else.
                Ok(fd) if fd >= 0 => Handle::Pidfd(unsafe { OwnedFd::from_raw_fd(fd) }),
                _ if errno() == libc::ENOSYS => Handle::Pid,
                // EINVAL: a thread; ESRCH: already gone (its exit is still to be reported).
                _ => Handle::Thread,
            };
            if self.timed_out {
                kill(pid, &handle);
            }
            self.members.insert(pid, handle);
        }
    }

    /// SIGKILL a traced task.
    fn kill(pid: pid_t, handle: &Handle) {
        match handle {
            Handle::Pidfd(fd) => {
                // SAFETY: pidfd_send_signal with a live pidfd, no siginfo and no flags; it
                // touches no memory of ours, and the pidfd names the one process it was opened
                // for, reaped or not.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd.as_raw_fd(),
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0u32,
                    );
                }
            }
            Handle::Thread => {}
            Handle::Pid => {
                // SAFETY: kill(2) touches no memory. The task is traced and its exit not yet
                // reported to the tracer (it leaves `Tree` first), so the pid is still its own
                // unless the tracer's removal races this call (kernels without pidfds only).
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }

    /// The tracer thread's whole work: start the shell stopped, trace it to its end.
    fn trace(
        run: &str,
        cwd: &Path,
        env: &[(OsString, OsString)],
        output: &File,
        tree: &Mutex<Tree>,
    ) -> io::Result<Traced> {
        let child = Prepared::new(run, cwd, env, output)?;
        let mut fds = [0 as c_int; 2];
        // SAFETY: pipe2 fills the two-element array. O_CLOEXEC: the write end reaches no
        // program (the child's copy closes when `sh` is executed), O_NONBLOCK: the report is
        // read once the child is gone, and must not wait for a copy another thread's spawn
        // holds for a moment.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and are owned by nothing else.
        let (report_read, report_write) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: the child runs only `Prepared::exec`, which calls async-signal-safe functions
        // on memory prepared before the fork and never returns, as required after fork in a
        // multi-threaded process.
        let pid = match unsafe { libc::fork() } {
            -1 => return Err(io::Error::last_os_error()),
            // SAFETY: this is the child of the fork, and `report_write` the pipe's write end.
            0 => unsafe { child.exec(report_write.as_raw_fd()) },
            pid => pid,
        };
        drop(report_write);
        // Also from this side, so the group exists before the registration can signal it.
        // SAFETY: setpgid on our own child touches no memory; failing (the child already
        // executed, or set it itself) is harmless.
        unsafe {
            libc::setpgid(pid, pid);
        }
        let _registration = signals::register(pid);
        let first = match wait_for(pid) {
            Ok(status) => status,
            Err(err) => {
                // SAFETY: kill(2) of our own unreaped child touches no memory.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
                return Err(err);
            }
        };
        if !libc::WIFSTOPPED(first) {
            // The child failed before stopping (it reported why) and has been reaped.
            return Err(child_error(&report_read, cwd)
                .unwrap_or_else(|| io::Error::other("the traced shell ended before starting")));
        }
        let options = libc::PTRACE_O_TRACESYSGOOD
            | libc::PTRACE_O_TRACEFORK
            | libc::PTRACE_O_TRACEVFORK
            | libc::PTRACE_O_TRACECLONE
            | libc::PTRACE_O_TRACEEXEC
            | libc::PTRACE_O_EXITKILL;
        let options = usize::try_from(options).unwrap_or(0);
        if ptrace(libc::PTRACE_SETOPTIONS, pid, 0, options) < 0 {
            let err = io::Error::last_os_error();
            // SAFETY: killing and reaping our own stopped, unreaped child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            let _ = wait_for(pid);
            return Err(if err.raw_os_error() == Some(libc::EPERM) {
                not_permitted("PTRACE_SETOPTIONS", &err)
            } else {
                io::Error::other(format!("cannot trace the shell: {err}"))
            });
        }
        let mut tracer = Tracer::new(pid, tree);
        // Resume past its own SIGSTOP (suppressed), to the entry of `execve`.
        resume(pid, 0);
        tracer.run();
        if let Some(err) = child_error(&report_read, cwd) {
            return Err(err);
        }
        let timed_out = tree
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .timed_out;
        let exit = match tracer.root_exit {
            _ if timed_out => TracedExit::TimedOut,
            Some(exit) => exit,
            None => return Err(io::Error::other("lost track of the traced shell")),
        };
        Ok(Traced {
            exit,
            reads: tracer.reads,
        })
    }

    /// The error the child reported before it could run the shell, if it reported one.
    fn child_error(report: &OwnedFd, cwd: &Path) -> Option<io::Error> {
        let mut record = [0u8; 8];
        // SAFETY: reading at most eight bytes into a live buffer from a descriptor we own.
        let n = unsafe { libc::read(report.as_raw_fd(), record.as_mut_ptr().cast(), 8) };
        if n != 8 {
            return None;
        }
        let [s0, s1, s2, s3, e0, e1, e2, e3] = record;
        let step = i32::from_ne_bytes([s0, s1, s2, s3]);
        let err = io::Error::from_raw_os_error(i32::from_ne_bytes([e0, e1, e2, e3]));
        Some(match step {
            STEP_TRACEME if matches!(err.raw_os_error(), Some(libc::EPERM | libc::EACCES)) => {
                not_permitted("PTRACE_TRACEME", &err)
            }
            STEP_TRACEME => io::Error::other(format!("cannot trace the shell: {err}")),
            STEP_CHDIR => {
                let cwd = cwd.display();
                io::Error::new(err.kind(), format!("cannot enter the folder {cwd}: {err}"))
            }
            STEP_STDIN => io::Error::new(err.kind(), format!("cannot open /dev/null: {err}")),
            STEP_OUTPUT => io::Error::new(err.kind(), format!("cannot redirect output: {err}")),
            _ => io::Error::new(err.kind(), format!("cannot start `sh -c`: {err}")),
        })
    }

    /// Everything the child needs, allocated before the fork (the child may not allocate).
    struct Prepared {
        sh: CString,
        cwd: CString,
        dev_null: CString,
        /// Owns the strings `argv` points into.
        _args: Vec<CString>,
        argv: Vec<*const c_char>,
        /// Owns the strings `envp` points into.
        _vars: Vec<CString>,
        envp: Vec<*const c_char>,
        output: RawFd,
        empty_mask: libc::sigset_t,
    }

    impl Prepared {
        fn new(
            run: &str,
            cwd: &Path,
            env: &[(OsString, OsString)],
            output: &File,
        ) -> io::Result<Self> {
            let invalid = |what: &str| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{what} holds a NUL byte"),
                )
            };
            let args = vec![
                CString::new("sh").map_err(|_| invalid("sh"))?,
                CString::new("-c").map_err(|_| invalid("-c"))?,
                CString::new(run).map_err(|_| invalid("the command"))?,
            ];
            let mut vars = Vec::with_capacity(env.len());
            for (name, value) in env {
                if name.is_empty() || name.as_bytes().contains(&b'=') {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("bad environment variable name {}", name.display()),
                    ));
                }
                let mut var = Vec::with_capacity(name.len() + value.len() + 1);
                var.extend_from_slice(name.as_bytes());
                var.push(b'=');
                var.extend_from_slice(value.as_bytes());
                vars.push(CString::new(var).map_err(|_| invalid(&format!("${}", name.display())))?);
            }
            let pointers = |strings: &[CString]| {
                strings
                    .iter()
                    .map(|s| s.as_ptr())
                    .chain([std::ptr::null()])
                    .collect::<Vec<_>>()
            };
            let mut empty_mask = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            // SAFETY: sigemptyset initializes the whole set it is given.
            let empty_mask = unsafe {
                libc::sigemptyset(empty_mask.as_mut_ptr());
                empty_mask.assume_init()
            };
            Ok(Prepared {
                sh: find_sh(env),
                cwd: CString::new(cwd.as_os_str().as_bytes()).map_err(|_| invalid("the folder"))?,
                dev_null: CString::new("/dev/null").map_err(|_| invalid("/dev/null"))?,
                argv: pointers(&args),
                _args: args,
                envp: pointers(&vars),
                _vars: vars,
                output: output.as_raw_fd(),
                empty_mask,
            })
        }

        /// The child, between fork and exec. Only async-signal-safe calls, no allocation.
        ///
        /// # Safety
        ///
        /// Call only in the child of a fork, with `report` the write end of the report pipe.
        unsafe fn exec(&self, report: RawFd) -> ! {
            // SAFETY (whole function): setpgid, signal, sigprocmask, chdir, dup2, fcntl, open,
            // close, ptrace, raise, execve, write and _exit are async-signal-safe; every
            // pointer passed points into `self`, prepared before the fork and alive until
            // `execve` replaces the process; `argv` and `envp` end with a null pointer.
            unsafe {
                libc::setpgid(0, 0);
                // The runner ignores SIGPIPE; an ignored signal stays ignored across execve.
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::sigprocmask(
                    libc::SIG_SETMASK,
                    &raw const self.empty_mask,
                    std::ptr::null_mut(),
                );
                if libc::chdir(self.cwd.as_ptr()) != 0 {
                    fail(report, STEP_CHDIR);
                }
                if libc::dup2(self.output, 1) < 0 || libc::dup2(self.output, 2) < 0 {
                    fail(report, STEP_OUTPUT);
                }
                // If `output` was 1 or 2 already, dup2 left its close-on-exec flag.
                libc::fcntl(1, libc::F_SETFD, 0);
                libc::fcntl(2, libc::F_SETFD, 0);
                let null = libc::open(self.dev_null.as_ptr(), libc::O_RDONLY);
                if null < 0 || (null != 0 && libc::dup2(null, 0) < 0) {
                    fail(report, STEP_STDIN);
                }
                if null != 0 {
                    libc::close(null);
                }
                if libc::ptrace(libc::PTRACE_TRACEME, 0, 0usize, 0usize) != 0 {
                    fail(report, STEP_TRACEME);
                }
                // Wait here until the tracer has set its options.
                libc::raise(libc::SIGSTOP);
                libc::execve(self.sh.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr());
                fail(report, STEP_EXEC)
            }
        }
    }

    /// Report the failed step and errno to the parent and exit. Async-signal-safe.
    fn fail(report: RawFd, step: i32) -> ! {
        let err = errno();
        let mut record = [0u8; 8];
        let (s, e) = record.split_at_mut(4);
        s.copy_from_slice(&step.to_ne_bytes());
        e.copy_from_slice(&err.to_ne_bytes());
        // SAFETY: write(2) of eight bytes from a live stack buffer to the report pipe (eight
        // bytes fit in any pipe without blocking), then _exit; both are async-signal-safe.
        unsafe {
            libc::write(report, record.as_ptr().cast(), record.len());
            libc::_exit(127)
        }
    }

    /// The shell as `Command::new("sh")` would find it (`proc::shell`).
    fn find_sh(env: &[(OsString, OsString)]) -> CString {
        let path = env.iter().find(|(name, _)| name == "PATH").map(|(_, v)| v);
        CString::new(
            crate::proc::shell::sh_on(path.map(OsString::as_os_str))
                .into_os_string()
                .into_encoded_bytes(),
        )
        .unwrap_or_else(|_| c"/bin/sh".to_owned())
    }

    /// One traced task as the tracer sees it.
    struct Tracee {
        /// Between a syscall-entry-stop and its syscall-exit-stop.
        in_syscall: bool,
        /// Attached by a fork, vfork or clone, its initial SIGSTOP not yet seen.
        fresh: bool,
        /// To be detached at its next SIGSTOP (the shell has exited).
        detaching: bool,
        /// The call in progress, if it is one that is recorded when it succeeds.
        pending: Option<Pending>,
    }

    /// A call whose path is recorded if it succeeds.
    enum Pending {
        /// An open for reading: the path as given, relative to `dirfd` unless absolute.
        Open { dirfd: c_int, path: Vec<u8> },
        /// An open that creates the file or truncates it: later reads of it are the tree's
        /// own contents, not recorded.
        Create { dirfd: c_int, path: Vec<u8> },
        /// An exec, its path already resolved (the descriptor it was relative to may be closed
        /// by the exec).
        Exec(PathBuf),
    }

    struct Tracer<'a> {
        root: pid_t,
        root_exit: Option<TracedExit>,
        tracees: HashMap<pid_t, Tracee>,
        /// New tasks that reported a stop before their parent's fork, vfork or clone event was
        /// seen. The event must not adopt them again: by then they may have exited, and a
        /// task adopted after its exit never reports anything, so the wait for it would never
        /// end. (Their pids cannot be reused before the event is handled: the parent is
        /// stopped at it, so it cannot reap them.)
        unannounced: HashSet<pid_t>,
        reads: BTreeSet<PathBuf>,
        /// Files the tree created or truncated so far.
        created: BTreeSet<PathBuf>,
        tree: &'a Mutex<Tree>,
    }

    impl<'a> Tracer<'a> {
        /// A tracer of the shell `root`, already attached and tracked.
        fn new(root: pid_t, tree: &'a Mutex<Tree>) -> Self {
            let mut tracer = Tracer {
                root,
                root_exit: None,
                tracees: HashMap::new(),
                unannounced: HashSet::new(),
                reads: BTreeSet::new(),
                created: BTreeSet::new(),
                tree,
            };
            tracer.adopt(root, false);
            tracer
        }

        /// Follow every tracee until none is left.
        fn run(&mut self) {
            while !self.tracees.is_empty() {
                let Some((pid, status)) = wait_any() else {
                    break;
                };
                if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                    self.gone(pid, status);
                } else if libc::WIFSTOPPED(status) {
                    self.stopped(pid, status);
                }
            }
        }

        /// Track a new tracee.
        fn adopt(&mut self, pid: pid_t, fresh: bool) {
            self.tracees.insert(
                pid,
                Tracee {
                    in_syscall: false,
                    fresh,
                    detaching: self.root_exit.is_some(),
                    pending: None,
                },
            );
            self.tree
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .add(pid);
        }

        /// A tracee exited or was killed.
        fn gone(&mut self, pid: pid_t, status: c_int) {
            self.forget(pid);
            if pid == self.root {
                self.root_exit = Some(if libc::WIFEXITED(status) {
                    TracedExit::Exited(libc::WEXITSTATUS(status))
                } else {
                    TracedExit::Signaled(libc::WTERMSIG(status))
                });
                // What the shell left running lives on untraced, as it would without the
                // tracer: stop each at its next signal delivery and detach it there.
                for (&pid, tracee) in &mut self.tracees {
                    tracee.detaching = true;
                    if !tracee.fresh {
                        // SAFETY: tkill(2) touches no memory; `pid` is a tracee whose exit has
                        // not been reported, so it is still that task.
                        unsafe {
                            libc::syscall(libc::SYS_tkill, pid, libc::SIGSTOP);
                        }
                    }
                }
            }
        }

        fn forget(&mut self, pid: pid_t) {
            self.tracees.remove(&pid);
            self.tree
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .members
                .remove(&pid);
        }

        fn detach(&mut self, pid: pid_t) {
            // Detaching from a signal-delivery-stop with signal 0 suppresses that signal.
            ptrace(libc::PTRACE_DETACH, pid, 0, 0);
            self.forget(pid);
        }

        /// A tracee is in a ptrace-stop: handle it and resume it.
        fn stopped(&mut self, pid: pid_t, status: c_int) {
            if !self.tracees.contains_key(&pid) {
                // A new child reported before its parent's fork event.
                self.adopt(pid, true);
                self.unannounced.insert(pid);
            }
            let sig = libc::WSTOPSIG(status);
            let event = status >> 16;
            if sig == SYSCALL_STOP {
                self.syscall_stop(pid);
                resume(pid, 0);
            } else if event != 0 {
                self.event_stop(pid, event);
                resume(pid, 0);
            } else {
                let Some(tracee) = self.tracees.get_mut(&pid) else {
                    return;
                };
                let initial = tracee.fresh && sig == libc::SIGSTOP;
                tracee.fresh &= !initial;
                let detaching = tracee.detaching;
                if initial || is_group_stop(pid, sig) {
                    // Its attach stop, or a job-control stop (not honoured under the tracer).
                    if detaching {
                        self.detach(pid);
                    } else {
                        resume(pid, 0);
                    }
                } else if detaching && sig == libc::SIGSTOP {
                    self.detach(pid);
                } else {
                    // Signal-delivery-stop: deliver the signal.
                    resume(pid, sig);
                }
            }
        }

        fn event_stop(&mut self, pid: pid_t, event: c_int) {
            match event {
                libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => {
                    if let Some(child) = event_message(pid).and_then(|m| pid_t::try_from(m).ok()) {
                        self.announced(child);
                    }
                }
                libc::PTRACE_EVENT_EXEC => {
                    // A thread other than the leader executed: it now has the leader's id,
                    // and the leader is gone without an exit report.
                    if let Some(former) = event_message(pid).and_then(|m| pid_t::try_from(m).ok())
                        && former != pid
                        && let Some(tracee) = self.tracees.remove(&former)
                    {
                        self.forget(former);
                        self.tracees.insert(pid, tracee);
                    }
                }
                _ => {}
            }
        }

        /// A fork, vfork or clone event named `child`: adopt it, unless it has reported
        /// already (it is tracked, or has even come and gone).
        fn announced(&mut self, child: pid_t) {
            if !self.unannounced.remove(&child) && !self.tracees.contains_key(&child) {
                self.adopt(child, true);
            }
        }

        fn syscall_stop(&mut self, pid: pid_t) {
            let Some(tracee) = self.tracees.get_mut(&pid) else {
                return;
            };
            tracee.in_syscall = !tracee.in_syscall;
            if tracee.in_syscall {
                tracee.pending = Regs::read(pid)
                    .filter(|regs| regs.native)
                    .and_then(|regs| entry(pid, &regs));
                return;
            }
            // The exit of a call not watched needs no registers (half of all stops).
            let Some(pending) = tracee.pending.take() else {
                return;
            };
            let Some(regs) = Regs::read(pid).filter(|regs| regs.ret >= 0) else {
                return;
            };
            match pending {
                Pending::Create { dirfd, path } => {
                    if let Some(path) = resolve(pid, dirfd, &path) {
                        self.created.insert(path);
                    }
                }
                pending => {
                    if let Some(path) = finish(pid, pending, regs.ret)
                        && !self.created.contains(&path)
                    {
                        self.reads.insert(path);
                    }
                }
            }
        }
    }

    /// At a syscall-entry-stop: the call to watch, if it is an open for reading or an exec.
    fn entry(pid: pid_t, regs: &Regs) -> Option<Pending> {
        let [a0, a1, a2, _, a4, _] = regs.args;
        let (dirfd, path, flags) = match regs.nr {
            #[cfg(target_arch = "x86_64")]
            libc::SYS_open => (libc::AT_FDCWD, a0, low_bits(a1)),
            libc::SYS_openat => (low_i32(a0), a1, low_bits(a2)),
            // The flags are the first field (u64) of the `struct open_how` at a2.
            libc::SYS_openat2 => (low_i32(a0), a1, read_u64(pid, a2)?),
            libc::SYS_execve => {
                let path = read_string(pid, a0)?;
                return resolve(pid, libc::AT_FDCWD, &path).map(Pending::Exec);
            }
            libc::SYS_execveat => {
                let path = read_string(pid, a1)?;
                if path.is_empty() && low_bits(a4) & flag(libc::AT_EMPTY_PATH) == 0 {
                    return None;
                }
                return resolve(pid, low_i32(a0), &path).map(Pending::Exec);
            }
            _ => return None,
        };
        if creates_contents(flags) {
            return Some(Pending::Create {
                dirfd,
                path: read_string(pid, path)?,
            });
        }
        if !reads_contents(flags) {
            return None;
        }
        Some(Pending::Open {
            dirfd,
            path: read_string(pid, path)?,
        })
    }

    /// At the syscall-exit-stop of a successful call: the path to record.
    fn finish(pid: pid_t, pending: Pending, ret: i64) -> Option<PathBuf> {
        match pending {
            Pending::Exec(path) => Some(path),
            Pending::Create { .. } => None,
            Pending::Open { dirfd, path } => {
                // A folder opened without O_DIRECTORY (`open(".", O_RDONLY)`) is no input file.
                let fd = Path::new("/proc")
                    .join(pid.to_string())
                    .join("fd")
                    .join(ret.to_string());
                if std::fs::metadata(fd).is_ok_and(|m| m.is_dir()) {
                    return None;
                }
                resolve(pid, dirfd, &path)
            }
        }
    }

    /// Whether an open with these flags can read the file's previous contents.
    pub(super) fn reads_contents(flags: u64) -> bool {
        let write_only = flags & flag(libc::O_ACCMODE) == flag(libc::O_WRONLY);
        let no_contents = flags & flag(libc::O_DIRECTORY | libc::O_PATH | libc::O_TRUNC) != 0;
        let create_new = flag(libc::O_CREAT | libc::O_EXCL);
        !write_only && !no_contents && flags & create_new != create_new
    }

    /// Whether an open with these flags leaves the file with only what the caller writes: a
    /// new file (`O_CREAT|O_EXCL`) or an emptied one (`O_TRUNC`), neither a folder nor a path
    /// handle.
    pub(super) fn creates_contents(flags: u64) -> bool {
        if flags & flag(libc::O_DIRECTORY | libc::O_PATH) != 0 {
            return false;
        }
        let create_new = flag(libc::O_CREAT | libc::O_EXCL);
        flags & flag(libc::O_TRUNC) != 0 || flags & create_new == create_new
    }

    /// An `int` flag constant as the bits of a flags argument.
    fn flag(bits: c_int) -> u64 {
        u64::from(bits.cast_unsigned())
    }

    /// The low 32 bits of a register (an `int` argument: the upper half is not defined).
    fn low_bits(reg: u64) -> u64 {
        reg & u64::from(u32::MAX)
    }

    /// An `int` argument (a descriptor, `AT_FDCWD`).
    fn low_i32(reg: u64) -> i32 {
        u32::try_from(low_bits(reg)).unwrap_or(0).cast_signed()
    }

    /// `path` as an absolute path: as given if absolute, else joined to the tracee's current
    /// folder (`AT_FDCWD`) or to the folder `dirfd` names; `.` components dropped.
    fn resolve(pid: pid_t, dirfd: c_int, path: &[u8]) -> Option<PathBuf> {
        let path = Path::new(OsStr::from_bytes(path));
        if path.is_absolute() {
            return Some(path.components().collect());
        }
        let proc = Path::new("/proc").join(pid.to_string());
        let base = if dirfd == libc::AT_FDCWD {
            std::fs::read_link(proc.join("cwd"))
        } else {
            std::fs::read_link(proc.join("fd").join(dirfd.to_string()))
        }
        .ok()?;
        // Not a folder path (`pipe:[…]`, `anon_inode:…`): the call cannot have succeeded.
        if !base.is_absolute() {
            return None;
        }
        Some(base.join(path).components().collect())
    }

    /// The registers of a syscall-stop, as the native ABI uses them.
    struct Regs {
        /// The system call's number.
        nr: c_long,
        /// Its six arguments (valid at entry).
        args: [u64; 6],
        /// Its return value (valid at exit).
        ret: i64,
        /// The call is of the native 64-bit ABI (not `i386` or `x32` on `x86_64`, not `AArch32`).
        native: bool,
    }

    impl Regs {
        #[cfg(target_arch = "x86_64")]
        fn read(pid: pid_t) -> Option<Regs> {
            /// Set in `x32` system-call numbers.
            const X32_SYSCALL_BIT: u64 = 0x4000_0000;
            /// The code segment of 32-bit (`i386`) tasks.
            const CS_I386: u64 = 0x23;
            let mut regs = std::mem::MaybeUninit::<libc::user_regs_struct>::uninit();
            let addr = regs.as_mut_ptr() as usize;
            if ptrace(libc::PTRACE_GETREGS, pid, 0, addr) < 0 {
                return None;
            }
            // SAFETY: PTRACE_GETREGS succeeded, so the kernel filled the whole struct.
            let r = unsafe { regs.assume_init() };
            Some(Regs {
                nr: r.orig_rax.cast_signed(),
                args: [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9],
                ret: r.rax.cast_signed(),
                native: r.cs != CS_I386 && r.orig_rax & X32_SYSCALL_BIT == 0,
            })
        }

        #[cfg(target_arch = "aarch64")]
        fn read(pid: pid_t) -> Option<Regs> {
            let mut regs = std::mem::MaybeUninit::<libc::user_regs_struct>::zeroed();
            let size = std::mem::size_of::<libc::user_regs_struct>();
            let mut iov = libc::iovec {
                iov_base: regs.as_mut_ptr().cast(),
                iov_len: size,
            };
            let set = usize::try_from(libc::NT_PRSTATUS).unwrap_or(1);
            let iov_addr = (&raw mut iov) as usize;
            if ptrace(libc::PTRACE_GETREGSET, pid, set, iov_addr) < 0 {
                return None;
            }
            // SAFETY: the struct was zeroed (a valid value for its integer fields) and the
            // kernel wrote at most `size` bytes of registers into it.
            let r = unsafe { regs.assume_init() };
            let [x0, x1, x2, x3, x4, x5, _, _, x8, ..] = r.regs;
            Some(Regs {
                nr: x8.cast_signed(),
                args: [x0, x1, x2, x3, x4, x5],
                ret: x0.cast_signed(),
                // An `AArch32` task's register set is shorter.
                native: iov.iov_len == size,
            })
        }
    }

    /// A NUL-terminated string from the tracee's memory (without the NUL), up to `PATH_MAX`.
    fn read_string(pid: pid_t, addr: u64) -> Option<Vec<u8>> {
        let mut addr = usize::try_from(addr).ok()?;
        let mut out = Vec::with_capacity(128);
        while out.len() < PATH_MAX {
            let start = out.len();
            let len = (CHUNK - addr % CHUNK).min(PATH_MAX - start);
            out.resize(start + len, 0);
            let n = read_memory(pid, addr, &mut out[start..])?;
            out.truncate(start + n);
            if let Some(nul) = out[start..].iter().position(|&b| b == 0) {
                out.truncate(start + nul);
                return Some(out);
            }
            addr = addr.checked_add(n)?;
        }
        None
    }

    /// Eight bytes of the tracee's memory, as a native-endian integer.
    fn read_u64(pid: pid_t, addr: u64) -> Option<u64> {
        let mut buf = [0u8; 8];
        let n = read_memory(pid, usize::try_from(addr).ok()?, &mut buf)?;
        (n == 8).then(|| u64::from_ne_bytes(buf))
    }

    /// Copy from the tracee's memory at `addr` into `buf`: how many bytes were read (at least
    /// one), or `None` if the address is not readable.
    fn read_memory(pid: pid_t, addr: usize, buf: &mut [u8]) -> Option<usize> {
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as *mut c_void,
            iov_len: buf.len(),
        };
        // SAFETY: the local iovec covers `buf`, which is live and writable for its length; the
        // remote one is only read by the kernel, in the tracee, with its own checks.
        let n =
            unsafe { libc::process_vm_readv(pid, &raw const local, 1, &raw const remote, 1, 0) };
        match usize::try_from(n) {
            Ok(0) => None,
            Ok(n) => Some(n),
            // EFAULT: not mapped. Anything else (ENOSYS, EPERM under some seccomp profiles):
            // ask ptrace instead, a word at a time.
            Err(_) if errno() == libc::EFAULT => None,
            Err(_) => peek_memory(pid, addr, buf),
        }
    }

    /// `read_memory` through `PTRACE_PEEKDATA`, one word per call.
    fn peek_memory(pid: pid_t, addr: usize, buf: &mut [u8]) -> Option<usize> {
        const WORD: usize = std::mem::size_of::<c_long>();
        let mut done = 0;
        while done < buf.len() {
            // SAFETY: errno is this thread's; clearing it tells a word of -1 from an error.
            unsafe {
                *libc::__errno_location() = 0;
            }
            let word = ptrace(libc::PTRACE_PEEKDATA, pid, addr.checked_add(done)?, 0);
            if word == -1 && errno() != 0 {
                break;
            }
            let bytes = word.to_ne_bytes();
            let take = WORD.min(buf.len() - done);
            buf[done..done + take].copy_from_slice(&bytes[..take]);
            done += take;
            if bytes[..take].contains(&0) {
                break;
            }
        }
        (done > 0).then_some(done)
    }

    /// The event message of a ptrace-event-stop (a new child's id, an exec's former id).
    fn event_message(pid: pid_t) -> Option<u64> {
        let mut message: libc::c_ulong = 0;
        let addr = (&raw mut message) as usize;
        (ptrace(libc::PTRACE_GETEVENTMSG, pid, 0, addr) >= 0).then_some(message)
    }

    /// Whether a stop by a stop signal is a group-stop (not a signal-delivery-stop): only a
    /// signal-delivery-stop has signal information.
    fn is_group_stop(pid: pid_t, sig: c_int) -> bool {
        if !matches!(
            sig,
            libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
        ) {
            return false;
        }
        let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::uninit();
        let addr = info.as_mut_ptr() as usize;
        ptrace(libc::PTRACE_GETSIGINFO, pid, 0, addr) < 0 && errno() == libc::EINVAL
    }

    /// Resume a stopped tracee to its next syscall-stop, delivering `sig` (0: none). A tracee
    /// killed meanwhile (ESRCH) reports its exit next.
    fn resume(pid: pid_t, sig: c_int) {
        ptrace(
            libc::PTRACE_SYSCALL,
            pid,
            0,
            usize::try_from(sig).unwrap_or(0),
        );
    }

    /// One ptrace request. `addr` and `data` are addresses in this process, or numbers, as the
    /// request defines.
    fn ptrace(request: libc::c_uint, pid: pid_t, addr: usize, data: usize) -> c_long {
        // SAFETY: every request this module makes passes, as `addr`/`data`, either a plain
        // number or the address of a live local sized for what the kernel writes there
        // (registers, an iovec over them, siginfo, an event message): see the callers.
        unsafe { libc::ptrace(request, pid, addr as *mut c_void, data as *mut c_void) }
    }

    /// Wait for our own child `pid` (stopped or ended), retrying interruptions.
    fn wait_for(pid: pid_t) -> io::Result<c_int> {
        let mut status = 0;
        loop {
            // SAFETY: waitpid writes the status into a live local.
            if unsafe { libc::waitpid(pid, &raw mut status, libc::__WALL) } == pid {
                return Ok(status);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// The next stop or exit of any tracee of this thread; `None` when there is none left.
    /// `__WNOTHREAD`: never a child of another thread of the runner.
    fn wait_any() -> Option<(pid_t, c_int)> {
        let mut status = 0;
        loop {
            // SAFETY: waitpid writes the status into a live local.
            let pid =
                unsafe { libc::waitpid(-1, &raw mut status, libc::__WALL | libc::__WNOTHREAD) };
            if pid > 0 {
                return Some((pid, status));
            }
            if errno() != libc::EINTR {
                return None;
            }
        }
    }

    /// This thread's errno. Async-signal-safe (the child's `fail` uses it).
    fn errno() -> c_int {
        // SAFETY: __errno_location returns a valid pointer to this thread's errno.
        unsafe { *libc::__errno_location() }
    }

    #[cfg(test)]
    mod bookkeeping_tests {
        use super::*;

        /// Pids no task can have (above the kernel's largest `pid_max`): the ptrace requests
        /// and pidfd calls the handlers make on them fail with ESRCH and touch nothing.
        const ROOT: pid_t = 0x7fff_0001;
        const CHILD: pid_t = 0x7fff_0002;
        /// The wait status of a stop by `sig`, and of an exit with code 0.
        const fn stop(sig: c_int) -> c_int {
            (sig << 8) | 0x7f
        }
        const EXITED: c_int = 0;

        fn tracer(tree: &Mutex<Tree>) -> Tracer<'_> {
            Tracer::new(ROOT, tree)
        }

        fn tracked(tracer: &Tracer<'_>) -> Vec<pid_t> {
            let mut pids: Vec<pid_t> = tracer.tracees.keys().copied().collect();
            pids.sort_unstable();
            pids
        }

        #[test]
        fn a_child_gone_before_its_parents_fork_event_is_not_adopted_again() {
            // The kernel may report a new child's first stop, and even its exit, before the
            // parent's fork event (seen with a traced runner that starts a traced gate).
            let tree = Mutex::new(Tree::default());
            let mut tracer = tracer(&tree);
            tracer.stopped(CHILD, stop(libc::SIGSTOP));
            assert_eq!(tracked(&tracer), [ROOT, CHILD]);
            tracer.gone(CHILD, EXITED);
            tracer.announced(CHILD);
            assert_eq!(
                tracked(&tracer),
                [ROOT],
                "the event adopted a child already gone"
            );
            tracer.gone(ROOT, EXITED);
            assert!(
                tracer.tracees.is_empty(),
                "the tracer would wait for a task that never reports"
            );
            assert!(tree.lock().unwrap().members.is_empty());
        }

        #[test]
        fn a_child_is_adopted_once_whichever_report_comes_first() {
            let tree = Mutex::new(Tree::default());
            let mut tracer = tracer(&tree);
            // The event first: adopted, its first SIGSTOP still to come.
            tracer.announced(CHILD);
            assert!(tracer.tracees[&CHILD].fresh);
            tracer.stopped(CHILD, stop(libc::SIGSTOP));
            assert!(!tracer.tracees[&CHILD].fresh, "its attach stop was seen");
            tracer.gone(CHILD, EXITED);
            assert_eq!(tracked(&tracer), [ROOT]);
            // The stop first, the child still alive at the event: tracked once, and the next
            // child with that pid is adopted by its own event again.
            tracer.stopped(CHILD, stop(libc::SIGSTOP));
            tracer.announced(CHILD);
            assert_eq!(tracked(&tracer), [ROOT, CHILD]);
            assert!(tracer.unannounced.is_empty());
            tracer.gone(CHILD, EXITED);
            tracer.announced(CHILD);
            assert_eq!(tracked(&tracer), [ROOT, CHILD]);
            assert!(tracer.tracees[&CHILD].fresh);
        }
    }
}

#[cfg(all(
    test,
    not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))
))]
mod unsupported_tests {
    use super::*;

    #[test]
    fn other_platforms_say_tracing_is_not_supported() {
        let err = run_traced(
            "true",
            Path::new("."),
            &[],
            tempfile::tempfile().unwrap(),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
        assert!(
            err.to_string().contains("not supported on this platform"),
            "{err}"
        );
    }
}

#[cfg(all(
    test,
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod tests {
    use super::*;
    use std::time::Instant;

    fn env() -> Vec<(OsString, OsString)> {
        vec![(
            "PATH".into(),
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )]
    }

    /// A temporary folder (canonical: the kernel reports current folders that way) holding
    /// `a.txt`, `sub/b.txt` and `c.txt`.
    fn fixture() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        for (name, text) in [("a.txt", "a"), ("sub/b.txt", "b"), ("c.txt", "c")] {
            std::fs::write(root.join(name), text).unwrap();
        }
        (dir, root)
    }

    fn trace_in(root: &Path, run: &str) -> (Traced, String) {
        let mut log = tempfile::tempfile().unwrap();
        let traced = run_traced(
            run,
            root,
            &env(),
            log.try_clone().unwrap(),
            Duration::from_secs(60),
        )
        .unwrap();
        use std::io::{Read as _, Seek as _};
        log.rewind().unwrap();
        let mut out = String::new();
        log.read_to_string(&mut out).unwrap();
        (traced, out)
    }

    /// Whether `reads` holds a program named `name` (wherever the shell found it).
    fn executed(reads: &BTreeSet<PathBuf>, name: &str) -> bool {
        reads
            .iter()
            .any(|p| p.file_name().is_some_and(|n| n == name))
    }

    #[test]
    fn reads_of_the_whole_tree_and_executed_programs_are_reported() {
        if ptrace_refused() {
            return;
        }
        let (_dir, root) = fixture();
        let (traced, out) = trace_in(
            &root,
            "cat a.txt; sh -c 'cat sub/b.txt'; head -c1 /etc/hostname",
        );
        assert_eq!(traced.exit, TracedExit::Exited(0), "{out}");
        assert!(out.starts_with("ab"), "output passes through: {out:?}");
        let reads = &traced.reads;
        for path in [
            root.join("a.txt"),
            root.join("sub/b.txt"),
            "/etc/hostname".into(),
        ] {
            assert!(
                reads.contains(&path),
                "{} not in {reads:#?}",
                path.display()
            );
        }
        for program in ["cat", "head", "sh"] {
            assert!(executed(reads, program), "{program} not in {reads:#?}");
        }
        assert!(reads.iter().all(|p| p.is_absolute()));
        // The folder itself is no input, nor is c.txt (never touched).
        assert!(!reads.contains(&root));
        assert!(!reads.contains(&root.join("c.txt")));
    }

    #[test]
    fn a_file_the_tree_created_then_read_is_not_recorded_one_it_read_first_is() {
        if ptrace_refused() {
            return;
        }
        let (_dir, root) = fixture();
        // made.txt: written (truncated) by the shell, read back by cat; a.txt: read, then
        // rewritten; b.txt: appended to, then read (its old contents were read too).
        let (traced, _) = trace_in(
            &root,
            "echo x > made.txt; cat made.txt; cat a.txt; echo y > a.txt; echo z >> b.txt; cat b.txt",
        );
        assert_eq!(traced.exit, TracedExit::Exited(0));
        assert!(
            !traced.reads.contains(&root.join("made.txt")),
            "{:#?}",
            traced.reads
        );
        assert!(traced.reads.contains(&root.join("a.txt")));
        assert!(traced.reads.contains(&root.join("b.txt")));
    }

    #[test]
    fn a_file_only_written_is_not_read() {
        if ptrace_refused() {
            return;
        }
        let (_dir, root) = fixture();
        let (traced, _) = trace_in(&root, "echo x > out.txt; echo y >> log.txt; cat a.txt");
        assert_eq!(traced.exit, TracedExit::Exited(0));
        assert!(root.join("out.txt").exists());
        assert!(!traced.reads.contains(&root.join("out.txt")));
        assert!(!traced.reads.contains(&root.join("log.txt")));
        assert!(traced.reads.contains(&root.join("a.txt")));
    }

    #[test]
    fn relative_paths_follow_cd() {
        if ptrace_refused() {
            return;
        }
        let (_dir, root) = fixture();
        let (traced, _) = trace_in(&root, "cd sub && cat b.txt ./b.txt && cat ../a.txt");
        assert_eq!(traced.exit, TracedExit::Exited(0));
        assert!(traced.reads.contains(&root.join("sub/b.txt")));
        assert!(traced.reads.contains(&root.join("sub/../a.txt")));
        assert!(!traced.reads.contains(&root.join("b.txt")));
    }

    #[test]
    fn exit_codes_and_signals_pass_through() {
        if ptrace_refused() {
            return;
        }
        let (_dir, root) = fixture();
        assert_eq!(trace_in(&root, "exit 3").0.exit, TracedExit::Exited(3));
        assert_eq!(
            trace_in(&root, "kill -TERM $$").0.exit,
            TracedExit::Signaled(libc::SIGTERM)
        );
    }

    #[test]
    fn a_background_grandchild_is_followed() {
        if ptrace_refused() {
            return;
        }
        let (_dir, root) = fixture();
        let (traced, out) = trace_in(&root, "(cat c.txt) & wait");
        assert_eq!(traced.exit, TracedExit::Exited(0));
        assert_eq!(out, "c");
        assert!(traced.reads.contains(&root.join("c.txt")));
    }

    #[test]
    fn what_the_shell_leaves_running_is_detached_not_waited_for() {
        if ptrace_refused() {
            return;
        }
        let (_dir, root) = fixture();
        let started = Instant::now();
        let (traced, _) = trace_in(&root, "sleep 30 & echo $! > pid");
        assert_eq!(traced.exit, TracedExit::Exited(0));
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "waited for sleep"
        );
        let pid: i32 = std::fs::read_to_string(root.join("pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Still running, untraced and not stopped; then cleaned up.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert!(stat.contains("TracerPid:\t0"), "{stat}");
        assert!(!stat.contains("State:\tT"), "{stat}");
        // SAFETY: killing the sleep this test started (it is still running: just checked).
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }

    #[test]
    fn a_timeout_kills_the_tree() {
        if ptrace_refused() {
            return;
        }
        let (_dir, root) = fixture();
        let traced = run_traced(
            "sleep 30 & echo $! > pid; sleep 30; echo never",
            &root,
            &env(),
            tempfile::tempfile().unwrap(),
            Duration::from_millis(200),
        )
        .unwrap();
        assert_eq!(traced.exit, TracedExit::TimedOut);
        // The background sleep died too (if the shell got as far as starting it): gone, or a
        // zombie waiting for its new parent to reap it.
        if let Ok(pid) = std::fs::read_to_string(root.join("pid")) {
            let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim()));
            assert!(
                status.as_ref().map_or(true, |s| s.contains("State:\tZ")),
                "{status:?}"
            );
        }
    }

    #[test]
    fn a_missing_folder_is_an_error() {
        let err = run_traced(
            "true",
            Path::new("/nonexistent/folder"),
            &env(),
            tempfile::tempfile().unwrap(),
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot enter the folder /nonexistent/folder: "),
            "{err}"
        );
    }

    #[test]
    fn dirfd_relative_opens_resolve_against_the_descriptor() {
        if ptrace_refused() {
            return;
        }
        let (_dir, root) = fixture();
        // GNU tar reads `b.txt` as openat(<fd of sub>, "b.txt").
        let (traced, out) = trace_in(
            &root,
            "command -v tar >/dev/null || exit 99; tar -cf out.tar -C sub b.txt",
        );
        if traced.exit == TracedExit::Exited(99) {
            return;
        }
        assert_eq!(traced.exit, TracedExit::Exited(0), "{out}");
        assert!(
            traced.reads.contains(&root.join("sub/b.txt")),
            "{:#?}",
            traced.reads
        );
        assert!(!traced.reads.contains(&root.join("b.txt")));
        assert!(!traced.reads.contains(&root.join("out.tar")));
    }

    /// Run by `a_traced_command_cannot_trace_again`, inside the tracer: prints its error.
    #[test]
    #[ignore = "run under the tracer by a_traced_command_cannot_trace_again"]
    #[expect(clippy::print_stdout, reason = "the outer test reads what it prints")]
    fn probe_tracing_under_the_tracer() {
        match run_traced(
            "true",
            Path::new("/"),
            &env(),
            tempfile::tempfile().unwrap(),
            Duration::from_secs(30),
        ) {
            Ok(traced) => println!("probe: traced {traced:?}"),
            Err(err) => println!("probe: {err} [{:?}]", err.kind()),
        }
    }

    #[test]
    fn a_traced_command_cannot_trace_again() {
        if ptrace_refused() {
            return;
        }
        // A tracee's child is traced already, so its PTRACE_TRACEME fails with EPERM, as under
        // a seccomp profile or Yama that refuses ptrace: the refusal branch, for real.
        let exe = std::env::current_exe().unwrap();
        let run = format!(
            "'{}' --exact proc::trace::tests::probe_tracing_under_the_tracer --ignored \
             --nocapture --test-threads=1",
            exe.display()
        );
        let (traced, out) = trace_in(Path::new("/"), &run);
        assert_eq!(traced.exit, TracedExit::Exited(0), "{out}");
        assert!(
            out.contains(
                "probe: ptrace is not permitted here (PTRACE_TRACEME: Operation not permitted"
            ),
            "{out}"
        );
        assert!(
            out.contains("); --trace-inputs needs it [PermissionDenied]"),
            "{out}"
        );
    }

    #[test]
    fn refused_ptrace_names_the_flag_that_needs_it() {
        let err = not_permitted("PTRACE_TRACEME", &io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        let text = err.to_string();
        assert!(
            text.starts_with("ptrace is not permitted here (PTRACE_TRACEME: "),
            "{text}"
        );
        assert!(text.ends_with("); --trace-inputs needs it"), "{text}");
    }

    #[test]
    fn flags_that_cannot_read_contents_are_not_reads() {
        use libc::{O_CREAT, O_DIRECTORY, O_EXCL, O_PATH, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
        let reads = |f: i32| imp::reads_contents(u64::from(f.cast_unsigned()));
        assert!(reads(O_RDONLY));
        assert!(reads(O_RDWR));
        assert!(reads(O_RDWR | O_CREAT));
        assert!(!reads(O_WRONLY));
        assert!(!reads(O_WRONLY | O_CREAT | O_TRUNC));
        assert!(!reads(O_RDWR | O_TRUNC));
        assert!(!reads(O_RDWR | O_CREAT | O_EXCL));
        assert!(!reads(O_RDONLY | O_DIRECTORY));
        assert!(!reads(O_PATH));
        let creates = |f: i32| imp::creates_contents(u64::from(f.cast_unsigned()));
        assert!(creates(O_WRONLY | O_CREAT | O_TRUNC));
        assert!(creates(O_RDWR | O_CREAT | O_EXCL));
        assert!(creates(O_RDWR | O_TRUNC));
        assert!(!creates(O_WRONLY | O_CREAT));
        assert!(!creates(O_RDWR));
        assert!(!creates(O_RDONLY));
        assert!(!creates(O_PATH | O_CREAT | O_EXCL));
    }

    /// Whether this machine refuses ptrace (the tests then check nothing but say so; under
    /// `CI` a refusal fails the test instead).
    #[expect(clippy::print_stderr, reason = "a skipped test says why")]
    fn ptrace_refused() -> bool {
        match run_traced(
            "true",
            Path::new("/"),
            &env(),
            tempfile::tempfile().unwrap(),
            Duration::from_secs(30),
        ) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                // In CI the tracer must be testable: a refusal there fails, never passes empty.
                assert!(
                    std::env::var_os("CI").is_none(),
                    "ptrace is refused ({e}) under CI: these tests would check nothing"
                );
                eprintln!("skipped: {e}");
                true
            }
            _ => false,
        }
    }
}
