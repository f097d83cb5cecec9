//! Locks between runners on one checkout (an editor's on-save run and a terminal run, two CI
//! steps), all `flock`s under `.runner/locks/`:
//!
//! - per gate, `<gate>.lock`: the second runner waits for the first to finish the gate, then
//!   replays its result from the cache instead of running it again;
//! - per resource slot (`[settings.resources] db = 2`, a gate's `uses`),
//!   `resources/<name>/<slot>.lock`, slots 0 to count - 1: a gate that uses a resource holds
//!   one free slot of it while it runs, so at most count gates of all runners hold it at once.
//!   A folder per resource keeps a slot's file from sharing a name with a gate's lock or with
//!   another resource's slot (names may hold `-` and `.`).
//!
//! A runner takes them in one order: its gate's lock, then one slot of each resource in name
//! order, so two runners never each hold what the other waits for. A lock held by a dead
//! process is free at once (the kernel releases `flock` locks with the last descriptor). Lock
//! files are never removed (removing one would let two runners lock two different files of
//! the same name).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
        let path = dir.join(format!("{gate}.lock"));
        let file = crate::files::in_dir(dir, || {
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
        })
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

/// The slots a gate holds of the resources it uses; released when dropped.
#[derive(Debug, Default)]
pub(crate) struct ResourceSlots {
    _files: Vec<File>,
}

/// What taking a gate's resource slots came to.
#[derive(Debug)]
pub(crate) struct Acquired {
    pub slots: ResourceSlots,
    /// It had to wait for another holder to let go.
    pub waited: bool,
    /// Resources that could not be locked (a read-only checkout), with why: their limit then
    /// holds within this run only.
    pub unlocked: Vec<(String, String)>,
}

/// The lock file of slot `slot` of `resource`.
fn slot_path(dir: &Path, resource: &str, slot: u32) -> PathBuf {
    dir.join("resources")
        .join(resource)
        .join(format!("{slot}.lock"))
}

/// Whether an exclusive lock on `file` was taken without waiting.
fn try_lock(file: &File) -> bool {
    // SAFETY: flock on a descriptor owned by `file`; no memory is involved.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// An exclusive lock on `file`, waiting for it (retried when a signal interrupts the wait).
fn lock(file: &File) -> std::io::Result<()> {
    loop {
        // SAFETY: as in `try_lock`, a blocking exclusive lock.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Take one slot of each `(resource, count)` in `uses`, in name order whatever the order given.
/// A slot is free when no one holds its lock: each is tried without waiting; when all of a
/// resource's slots are held, `on_wait(resource)` is called and the runner waits for one (on
/// the only slot, or by trying them all again at short intervals). Never fails: a resource
/// whose lock files cannot be made is left out and named in `unlocked`.
pub(crate) fn acquire_resources(
    dir: &Path,
    uses: &[(&str, u32)],
    on_wait: &mut dyn FnMut(&str),
) -> Acquired {
    let mut sorted: Vec<(&str, u32)> = uses.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut acquired = Acquired {
        slots: ResourceSlots::default(),
        waited: false,
        unlocked: Vec::new(),
    };
    for (resource, count) in sorted {
        match acquire_one(dir, resource, count.max(1), on_wait) {
            Ok((file, waited)) => {
                acquired.slots._files.push(file);
                acquired.waited |= waited;
            }
            Err(e) => acquired.unlocked.push((resource.to_owned(), e.to_string())),
        }
    }
    acquired
}

/// One slot of `resource`: its open, locked file, and whether it was waited for.
fn acquire_one(
    dir: &Path,
    resource: &str,
    count: u32,
    on_wait: &mut dyn FnMut(&str),
) -> std::io::Result<(File, bool)> {
    let folder = slot_path(dir, resource, 0);
    if let Some(folder) = folder.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let mut files = Vec::with_capacity(count as usize);
    for slot in 0..count {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(slot_path(dir, resource, slot))?;
        if try_lock(&file) {
            return Ok((file, false));
        }
        files.push(file);
    }
    on_wait(resource);
    if let [only] = files.as_slice() {
        lock(only)?;
        return Ok((files.swap_remove(0), true));
    }
    // Several slots: whichever frees first. Polled, as one thread cannot wait on several
    // `flock`s at once; the interval grows to a fifth of a second.
    let mut pause = Duration::from_millis(5);
    loop {
        std::thread::sleep(pause);
        if let Some(at) = files.iter().position(try_lock) {
            return Ok((files.swap_remove(at), true));
        }
        pause = (pause * 2).min(Duration::from_millis(200));
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

    #[test]
    fn resource_slots_admit_count_holders_and_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let no_wait = &mut |r: &str| panic!("waited for {r}");
        let a = acquire_resources(dir.path(), &[("db", 2)], no_wait);
        let b = acquire_resources(dir.path(), &[("db", 2)], no_wait);
        assert!(!a.waited && !b.waited && a.unlocked.is_empty());
        // Another resource is independent, and a gate lock of the same name too.
        let _gpu = acquire_resources(dir.path(), &[("gpu", 1)], no_wait);
        let _gate = GateLock::acquire(dir.path(), "db", || panic!("waited")).unwrap();
        let released = AtomicBool::new(false);
        std::thread::scope(|s| {
            let third = s.spawn(|| {
                let mut told = Vec::new();
                let c = acquire_resources(dir.path(), &[("db", 2)], &mut |r: &str| {
                    told.push(r.to_owned());
                });
                assert!(released.load(Ordering::SeqCst), "a third holder got in");
                assert!(c.waited);
                assert_eq!(told, ["db"]);
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            released.store(true, Ordering::SeqCst);
            drop(b);
            third.join().unwrap();
        });
        drop(a);
    }

    #[test]
    fn resources_are_taken_in_name_order_whatever_the_order_given() {
        // Two holders asking for the same two single-slot resources in opposite orders: taken
        // in one order, they cannot each hold one and wait for the other. Many rounds, each
        // would deadlock with some probability if the order were the caller's.
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for order in [[("a", 1), ("b", 1)], [("b", 1), ("a", 1)]] {
                let dir = dir.path();
                s.spawn(move || {
                    for _ in 0..200 {
                        let held = acquire_resources(dir, &order, &mut |_| {});
                        assert!(held.unlocked.is_empty());
                        std::thread::yield_now();
                    }
                });
            }
        });
        assert!(slot_path(dir.path(), "a", 0).is_file());
        assert!(slot_path(dir.path(), "b", 0).is_file());
    }

    #[test]
    fn an_unwritable_lock_folder_leaves_the_resource_unlocked_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("locks");
        std::fs::write(&blocker, "a file where the folder should be").unwrap();
        let got = acquire_resources(&blocker, &[("db", 1)], &mut |_| panic!("waited"));
        assert!(!got.waited);
        assert_eq!(got.unlocked.len(), 1);
        assert_eq!(got.unlocked[0].0, "db");
    }
}
