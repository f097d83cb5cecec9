//! The guardian: a small forked process that kills the running gates' process groups when the
//! runner dies, even by SIGKILL, which no handler in `signals` sees.
//!
//! Gates run in their own process groups, so killing the runner (or the runner's group) would
//! leave them running on, writing into the repository unobserved. The runner keeps the write
//! end of a pipe; the guardian holds the read end and learns from it which groups are running
//! (`+pgid` / `-pgid` records of four bytes, atomic on a pipe). When the runner dies for any
//! reason, the kernel closes the write end, the guardian reads end-of-file, sends SIGKILL to
//! every group still registered and exits. A runner that finishes normally has unregistered
//! every group (daemons a gate left behind on purpose live on, as before).
//!
//! Before the guardian, each gate's shell asked for `PR_SET_PDEATHSIG` in a `pre_exec` hook.
//! That forced the standard library to `fork()` the whole runner for every gate instead of
//! using `posix_spawn` (vfork semantics): 4.1 ms against 0.6 ms per spawn at 10,000 gates,
//! and the signal reached only the gate's shell, not what it had started. The guardian costs
//! one fork per run, only when a command runs, and takes the whole group down.
//!
//! The guardian is started before the first group is spawned, and the runner itself moves it
//! out of its process group before going on (the child does too; whichever runs first): a kill
//! of the runner's group right after a gate started could otherwise take an unscheduled
//! guardian along (seen under load: the gate outlived the runner). Left alone: a runner killed
//! in the microseconds between spawning a gate and registering its group leaves that one gate
//! running.

use std::sync::OnceLock;

/// Most groups the guardian tracks at once (far above any `-j` plus services).
const CAPACITY: usize = 4096;

/// The write end of the pipe to the guardian, or `None` when it could not be started.
static PIPE: OnceLock<Option<i32>> = OnceLock::new();

/// Tell the guardian that `pgid` is running (starting the guardian on first use).
pub(crate) fn watch(pgid: i32) {
    send(pgid);
}

/// Start the guardian now if it is not running: before the first group is spawned, so no group
/// ever runs while the guardian could still be taken down with the runner's own group.
pub(crate) fn ensure_started() {
    PIPE.get_or_init(start);
}

/// Tell the guardian that `pgid` ended and must not be killed.
pub(crate) fn unwatch(pgid: i32) {
    send(-pgid);
}

fn send(record: i32) {
    if record == 0 || record == i32::MIN {
        return;
    }
    let Some(fd) = *PIPE.get_or_init(start) else {
        return;
    };
    let bytes = record.to_ne_bytes();
    // SAFETY: writing four bytes from a live buffer to a file descriptor this module owns.
    // Writes of up to PIPE_BUF bytes to a pipe are atomic, so threads never interleave records.
    // A failed write (guardian gone) leaves the gate unguarded, as without a guardian.
    unsafe {
        libc::write(fd, bytes.as_ptr().cast(), bytes.len());
    }
}

/// Fork the guardian. Returns the pipe's write end, or `None` (gates then run unguarded).
#[cfg(target_os = "linux")]
fn start() -> Option<i32> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills the two-element array; O_CLOEXEC keeps the write end out of gates
    // (a gate holding it would keep the guardian from ever seeing end-of-file).
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return None;
    }
    let [read_end, write_end] = fds;
    // SAFETY: the child runs only `guard`, which calls async-signal-safe functions and
    // allocates nothing, as required after fork in a multi-threaded process.
    match unsafe { libc::fork() } {
        0 => unsafe { guard(read_end) },
        -1 => {
            // SAFETY: closing descriptors this function just created.
            unsafe {
                libc::close(read_end);
                libc::close(write_end);
            }
            None
        }
        child => {
            // SAFETY: the parent keeps only the write end. It also moves the guardian into a
            // group of its own (as the child does itself: whichever runs first wins, the other
            // call is harmless), so when this returns, killing the runner's group cannot take
            // the guardian with it, however late the child gets scheduled.
            unsafe {
                libc::setpgid(child, child);
                libc::close(read_end);
            }
            Some(write_end)
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn start() -> Option<i32> {
    None
}

/// The guardian's whole life. Only async-signal-safe calls; never returns.
#[cfg(target_os = "linux")]
unsafe fn guard(read_end: i32) -> ! {
    // SAFETY (whole function): setpgid, signal, dup2, close_range, close, read, kill and _exit
    // are async-signal-safe; the buffers live on this stack.
    unsafe {
        // Out of the runner's process group: `kill -9 -<runner's group>` (a CI job's timeout,
        // Ctrl-C on a terminal) must reach the runner, not its guardian.
        libc::setpgid(0, 0);
        for sig in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGPIPE,
        ] {
            libc::signal(sig, libc::SIG_IGN);
        }
        // Keep nothing of the runner's open files but the pipe: an inherited write end would
        // hide end-of-file forever, an inherited stdout would keep a reader waiting.
        libc::dup2(read_end, 0);
        if libc::syscall(libc::SYS_close_range, 1u32, u32::MAX, 0u32) != 0 {
            for fd in 1..1024 {
                libc::close(fd);
            }
        }
        let mut groups = [0i32; CAPACITY];
        let mut buf = [0u8; 4096];
        let mut carry = [0u8; 4];
        let mut carried = 0usize;
        loop {
            let n = libc::read(0, buf.as_mut_ptr().cast(), buf.len());
            if n < 0 && *libc::__errno_location() == libc::EINTR {
                continue;
            }
            if n <= 0 {
                break;
            }
            for &byte in &buf[..n.unsigned_abs()] {
                carry[carried] = byte;
                carried += 1;
                if carried == 4 {
                    carried = 0;
                    apply(&mut groups, i32::from_ne_bytes(carry));
                }
            }
        }
        for &pgid in &groups {
            if pgid > 1 {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        libc::_exit(0)
    }
}

/// Apply one record to the set of running groups (`0` marks a free slot).
fn apply(groups: &mut [i32], record: i32) {
    if record > 0 {
        if let Some(slot) = groups.iter_mut().find(|g| **g == 0) {
            *slot = record;
        }
    } else if let Some(slot) = groups.iter_mut().find(|g| **g == -record) {
        *slot = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::apply;

    #[test]
    fn records_add_and_remove_groups() {
        let mut groups = [0i32; 3];
        apply(&mut groups, 10);
        apply(&mut groups, 11);
        apply(&mut groups, -10);
        apply(&mut groups, 12);
        assert_eq!(groups, [12, 11, 0]);
        // Removing an unknown group changes nothing; a full table drops new groups.
        apply(&mut groups, -99);
        apply(&mut groups, 13);
        apply(&mut groups, 14);
        assert_eq!(groups, [12, 11, 13]);
    }
}
