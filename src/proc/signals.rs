//! Process groups of running gates, so a timeout or the runner's own interruption (Ctrl-C,
//! SIGTERM from CI) kills every gate's whole group instead of leaving orphans. A registered
//! group is also reported to the guardian (`guardian`), which covers the runner's SIGKILL.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use super::guardian;

/// Slots for the process groups currently running (more than any sane `-j`).
const SLOTS: usize = 1024;
static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Send `signal` to the process group `pgid`.
pub(crate) fn kill_group(pgid: i32, signal: i32) {
    if pgid > 0 {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// While alive, the group is killed if the runner is interrupted or dies.
pub(crate) struct Registration {
    slot: Option<usize>,
    pgid: i32,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            GROUPS[i].store(0, Ordering::SeqCst);
        }
        if self.pgid > 1 {
            guardian::unwatch(self.pgid);
        }
    }
}

/// Register a running process group (`pgid` > 1; anything else is ignored).
#[must_use]
pub(crate) fn register(pgid: i32) -> Registration {
    if pgid <= 1 {
        return Registration { slot: None, pgid };
    }
    guardian::watch(pgid);
    let slot = GROUPS.iter().position(|slot| {
        slot.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    });
    Registration { slot, pgid }
}

extern "C" fn on_signal(signal: i32) {
    for slot in &GROUPS {
        let pgid = slot.load(Ordering::SeqCst);
        if pgid > 0 {
            // SAFETY: kill(2) is async-signal-safe.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
    // SAFETY: restoring the default action and re-raising are async-signal-safe; the runner
    // then dies of the same signal, as the caller expects.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Install SIGINT/SIGTERM/SIGHUP handlers that take the running gates down with the runner.
pub(crate) fn install() {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only calls async-signal-safe functions and touches atomics.
        unsafe {
            libc::signal(sig, on_signal as extern "C" fn(i32) as libc::sighandler_t);
        }
    }
}
