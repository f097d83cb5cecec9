//! Per-gate locks between runners on one checkout (an editor's on-save run and a terminal run,
//! two CI steps): `flock` on `.runner/locks/<gate>.lock`. The second runner waits for the first
//! to finish the gate, then replays its result from the cache instead of running it again. A
//! lock held by a dead process is free at once (the kernel releases `flock` locks with the
//! last descriptor). Lock files are never removed (removing one would let two runners lock two
//! different files of the same name).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

/// Where a checkout's gate locks live.
pub(crate) fn dir(root: &Path) -> PathBuf {
    root.join(".runner").join("locks")
}

/// A held lock; released when dropped.
#[derive(Debug)]
pub(crate) struct GateLock {
    _file: File,
}

impl GateLock {
    /// Lock `gate` in `dir`, calling `on_wait` first when another runner holds it. None when
    /// the lock file cannot be made (a read-only checkout): the run goes on unlocked, as
    /// before locks existed.
    pub(crate) fn acquire(dir: &Path, gate: &str, on_wait: impl FnOnce()) -> Option<(Self, bool)> {
        std::fs::create_dir_all(dir).ok()?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{gate}.lock")))
            .ok()?;
        let fd = file.as_raw_fd();
        // SAFETY: flock on a descriptor this function owns; no memory is involved.
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Some((GateLock { _file: file }, false));
        }
        on_wait();
        loop {
            // SAFETY: as above; a blocking exclusive lock, retried when a signal interrupts it.
            if unsafe { libc::flock(fd, libc::LOCK_EX) } == 0 {
                return Some((GateLock { _file: file }, true));
            }
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn a_second_holder_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let (first, waited) = GateLock::acquire(dir.path(), "g", || {}).unwrap();
        assert!(!waited);
        let released = AtomicBool::new(false);
        std::thread::scope(|s| {
            let second = s.spawn(|| {
                let told = AtomicBool::new(false);
                let (_lock, waited) =
                    GateLock::acquire(dir.path(), "g", || told.store(true, Ordering::SeqCst))
                        .unwrap();
                // It got the lock only after the first was dropped, and said it waited.
                assert!(released.load(Ordering::SeqCst));
                assert!(waited && told.load(Ordering::SeqCst));
            });
            // Another gate's lock is independent.
            let (_other, other_waited) = GateLock::acquire(dir.path(), "h", || {}).unwrap();
            assert!(!other_waited);
            std::thread::sleep(std::time::Duration::from_millis(50));
            released.store(true, Ordering::SeqCst);
            drop(first);
            second.join().unwrap();
        });
    }
}
