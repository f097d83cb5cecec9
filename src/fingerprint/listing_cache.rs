//! The listing cache: folder -> (stat, entries), as git's untracked cache does, so a no-op run
//! expands its globs with one `stat` per folder instead of open, fstat, getdents and close.
//!
//! Creating, deleting or renaming an entry changes its folder's mtime and ctime; editing a
//! file inside does not, which is fine: file contents are the stat cache's business.
//!
//! Racy rule (the stat cache's): a listing is trusted only if the folder's stat is unchanged and
//! its mtime and ctime are strictly older than the reference time, the filesystem timestamp of a
//! stamp file written before the run that recorded it listed anything. A folder changed in the
//! same timestamp tick as it was listed is read again.
//!
//! A folder holding a symlink is never recorded: whether a symlink counts as a file depends on
//! its target, which can change without its folder changing.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::stat_cache::{FileStat, stamp};
use crate::bincodec::{self, DecodeError, Reader, Writer};

const MAGIC: &[u8] = b"RUNNER-LIST-1\n";

/// What the walk needs to know of an entry; anything else (sockets, fifos…) is not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::File => b'f',
            Kind::Dir => b'd',
        }
    }

    fn of(byte: u8) -> Option<Self> {
        match byte {
            b'f' => Some(Kind::File),
            b'd' => Some(Kind::Dir),
            _ => None,
        }
    }
}

/// A folder's entries, packed as `kind byte, name bytes, NUL` each (a name never holds a NUL
/// or a `/`): one allocation per folder, whatever its size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entries(Vec<u8>);

impl Entries {
    pub fn push(&mut self, kind: Kind, name: &OsStr) {
        self.0.push(kind.byte());
        self.0.extend_from_slice(name.as_bytes());
        self.0.push(0);
    }

    pub fn iter(&self) -> impl Iterator<Item = (Kind, &OsStr)> {
        self.0
            .split(|b| *b == 0)
            .filter_map(|e| Some((Kind::of(*e.first()?)?, OsStr::from_bytes(&e[1..]))))
    }

    /// Checked when read from disk: every entry is a known kind and a plain name, so a crafted
    /// file cannot make the walk leave its folder.
    fn valid(bytes: &[u8]) -> bool {
        bytes.is_empty()
            || bytes.ends_with(&[0])
                && bytes[..bytes.len() - 1].split(|b| *b == 0).all(|e| {
                    let name = e.get(1..).unwrap_or_default();
                    e.first().copied().and_then(Kind::of).is_some()
                        && !name.is_empty()
                        && name != b"."
                        && name != b".."
                        && !name.contains(&b'/')
                })
    }
}

#[derive(Debug)]
struct Listing {
    /// The folder, relative to the config folder, as bytes.
    dir: Box<[u8]>,
    stat: FileStat,
    entries: Entries,
}

/// A folder and what this run learned of it (`None`: forget it).
type Recorded = (Box<[u8]>, Option<Listing>);

/// Folder listings: what was loaded is read without locking (sorted by folder, found by binary
/// search: no hashing); what this run learns goes to `fresh`.
pub struct ListingCache {
    path: PathBuf,
    /// Trusted listings from disk, sorted by `dir`.
    loaded: Vec<Listing>,
    /// Recorded this run (`None`: the folder is gone or was not recordable).
    fresh: Mutex<Vec<Recorded>>,
    /// Listings of folders changed at or after this are racy: not trusted.
    reference: (i64, i64),
    /// Reference time to save with: this run's stamp (`None`: no stamp, nothing is saved).
    new_reference: Option<(i64, i64)>,
    dirty: AtomicBool,
    /// Set when the file on disk was unreadable; reported once by the caller.
    pub load_warning: Option<String>,
}

impl ListingCache {
    /// Load from `path` (a missing file is an empty cache; a corrupt one is a warning and an
    /// empty cache) and take this run's reference time from a stamp file next to it. Call it
    /// before listing anything.
    #[must_use]
    pub fn load(path: &Path) -> Self {
        let mut load_warning = None;
        let (reference, mut loaded) = match std::fs::read(path) {
            Ok(data) => decode(&data).unwrap_or_else(|e| {
                load_warning = Some(format!("{}: {e}; rebuilding it", path.display()));
                ((0, 0), Vec::new())
            }),
            Err(_) => ((0, 0), Vec::new()),
        };
        // Racy listings are never trusted, and must not be saved again under a later stamp.
        loaded.retain(|l| !racy(&l.stat, reference));
        ListingCache {
            path: path.to_path_buf(),
            loaded,
            fresh: Mutex::new(Vec::new()),
            reference,
            new_reference: stamp(path).ok(),
            dirty: AtomicBool::new(false),
            load_warning,
        }
    }

    /// The recorded entries of `dir` if its stat now is exactly the recorded one.
    #[must_use]
    pub fn get(&self, dir: &Path, now: &FileStat) -> Option<&Entries> {
        let key = dir.as_os_str().as_bytes();
        let i = self.loaded.binary_search_by(|l| (*l.dir).cmp(key)).ok()?;
        let l = &self.loaded[i];
        (l.stat == *now && !racy(now, self.reference)).then_some(&l.entries)
    }

    /// Record what `dir` held when its stat was `stat` (taken before it was read).
    pub fn record(&self, dir: &Path, stat: FileStat, entries: Entries) {
        let key: Box<[u8]> = dir.as_os_str().as_bytes().into();
        let listing = Listing {
            dir: key.clone(),
            stat,
            entries,
        };
        self.push_fresh(key, Some(listing));
    }

    /// Forget `dir`: it is gone, or holds what cannot be recorded (a symlink).
    pub fn forget(&self, dir: &Path) {
        let key = dir.as_os_str().as_bytes();
        if self.loaded.binary_search_by(|l| (*l.dir).cmp(key)).is_ok() {
            self.push_fresh(key.into(), None);
        }
    }

    fn push_fresh(&self, key: Box<[u8]>, listing: Option<Listing>) {
        if let Ok(mut fresh) = self.fresh.lock() {
            fresh.push((key, listing));
            self.dirty.store(true, Ordering::Relaxed);
        }
    }

    /// The cache the next run in this process starts from, without going through the file:
    /// what `save` then `load` would give (this run's records win, this run's stamp becomes
    /// the reference, racy listings are dropped), with a new stamp for the next run.
    #[must_use]
    pub fn next_run(self) -> Self {
        let new_reference = stamp(&self.path).ok();
        let Some(reference) = self.new_reference else {
            return ListingCache {
                path: self.path,
                loaded: Vec::new(),
                fresh: Mutex::new(Vec::new()),
                reference: (0, 0),
                new_reference,
                dirty: AtomicBool::new(false),
                load_warning: None,
            };
        };
        let mut fresh = self
            .fresh
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The last record of a folder wins, as in `save`.
        fresh.reverse();
        fresh.sort_by(|a, b| a.0.cmp(&b.0));
        fresh.dedup_by(|a, b| a.0 == b.0);
        let mut loaded: Vec<Listing> = self
            .loaded
            .into_iter()
            .filter(|l| fresh.binary_search_by(|f| f.0.cmp(&l.dir)).is_err())
            .collect();
        loaded.extend(fresh.into_iter().filter_map(|(_, l)| l));
        loaded.sort_unstable_by(|a, b| a.dir.cmp(&b.dir));
        loaded.retain(|l| !racy(&l.stat, reference));
        ListingCache {
            path: self.path,
            loaded,
            fresh: Mutex::new(Vec::new()),
            reference,
            new_reference,
            dirty: AtomicBool::new(false),
            load_warning: None,
        }
    }

    /// Write the cache back if anything changed (atomically). Errors are returned for the
    /// caller to warn.
    pub fn save(&self) -> io::Result<()> {
        let Some(reference) = self.new_reference else {
            return Ok(());
        };
        if !self.dirty.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut fresh = self
            .fresh
            .lock()
            .map_err(|_| io::Error::other("listing cache lock poisoned"))?;
        // The last record of a folder wins (two walks may list the same folder).
        fresh.reverse();
        fresh.sort_by(|a, b| a.0.cmp(&b.0));
        fresh.dedup_by(|a, b| a.0 == b.0);
        let kept = self
            .loaded
            .iter()
            .filter(|l| fresh.binary_search_by(|f| f.0.cmp(&l.dir)).is_err());
        let mut all: Vec<&Listing> = kept
            .chain(fresh.iter().filter_map(|(_, l)| l.as_ref()))
            .collect();
        all.sort_unstable_by(|a, b| a.dir.cmp(&b.dir));
        let mut w = Writer::new(MAGIC);
        w.i64(reference.0);
        w.i64(reference.1);
        w.u64(all.len() as u64);
        for l in all {
            w.bytes(&l.dir);
            w.u64(l.stat.size);
            w.i64(l.stat.mtime.0);
            w.i64(l.stat.mtime.1);
            w.i64(l.stat.ctime.0);
            w.i64(l.stat.ctime.1);
            w.u64(l.stat.ino);
            w.bytes(&l.entries.0);
        }
        bincodec::write_atomic(&self.path, &w.finish())
    }
}

/// Changed in or after the tick of `reference`: the listing may have missed that change.
fn racy(stat: &FileStat, reference: (i64, i64)) -> bool {
    stat.mtime >= reference || stat.ctime >= reference
}

fn decode(data: &[u8]) -> Result<((i64, i64), Vec<Listing>), DecodeError> {
    let mut r = Reader::open(data, MAGIC)?;
    let reference = (r.i64()?, r.i64()?);
    let n = r.u64()?;
    let mut loaded = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(1 << 20));
    for _ in 0..n {
        let dir: Box<[u8]> = r.bytes()?.into();
        let stat = FileStat {
            size: r.u64()?,
            mtime: (r.i64()?, r.i64()?),
            ctime: (r.i64()?, r.i64()?),
            ino: r.u64()?,
        };
        let entries = r.bytes()?;
        if !Entries::valid(entries) {
            return Err(DecodeError::Invalid);
        }
        loaded.push(Listing {
            dir,
            stat,
            entries: Entries(entries.to_vec()),
        });
    }
    if !r.is_empty() {
        return Err(DecodeError::Invalid);
    }
    // Written sorted; a file that is not (or repeats a folder) is not one of ours.
    if !loaded.is_sorted_by(|a, b| a.dir < b.dir) {
        return Err(DecodeError::Invalid);
    }
    Ok((reference, loaded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat_of(p: &Path) -> FileStat {
        FileStat::of(&std::fs::metadata(p).unwrap())
    }

    /// Load, retrying until the stamp is a tick newer than `dir`'s last change, so that what
    /// is recorded in this run is trusted by the next (deterministic, whatever the clock).
    fn load_after_change(cache_path: &Path, dir: &Path) -> ListingCache {
        loop {
            let c = ListingCache::load(cache_path);
            if !racy(&stat_of(dir), c.new_reference.unwrap()) {
                return c;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    fn entries(names: &[(Kind, &str)]) -> Entries {
        let mut e = Entries::default();
        for (k, n) in names {
            e.push(*k, OsStr::new(n));
        }
        e
    }

    #[test]
    fn entries_pack_and_unpack() {
        let e = entries(&[(Kind::File, "a.txt"), (Kind::Dir, "sub")]);
        let got: Vec<(Kind, &OsStr)> = e.iter().collect();
        assert_eq!(
            got,
            [
                (Kind::File, OsStr::new("a.txt")),
                (Kind::Dir, OsStr::new("sub"))
            ]
        );
        assert!(Entries::valid(&e.0));
        assert!(Entries::valid(b""));
        for bad in [&b"fa"[..], b"f\0", b"xa\0", b"f..\0", b"fa/b\0", b"fa\0\0"] {
            assert!(!Entries::valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn listings_survive_a_reload() {
        let tmp = tempfile::tempdir().unwrap();
        let cache_path = tmp.path().join("cache/listing");
        let dir = tmp.path().join("in");
        std::fs::create_dir(&dir).unwrap();
        let e = entries(&[(Kind::File, "a.txt")]);
        let c = load_after_change(&cache_path, &dir);
        c.record(Path::new("in"), stat_of(&dir), e.clone());
        c.save().unwrap();
        let c = ListingCache::load(&cache_path);
        assert!(c.load_warning.is_none());
        assert_eq!(c.get(Path::new("in"), &stat_of(&dir)), Some(&e));
        assert_eq!(c.get(Path::new("other"), &stat_of(&dir)), None);
        // Nothing changed: the file is not rewritten.
        let before = std::fs::read(&cache_path).unwrap();
        std::fs::remove_file(&cache_path).unwrap();
        c.save().unwrap();
        assert!(!cache_path.exists());
        std::fs::write(&cache_path, before).unwrap();
        // Forgotten folders are dropped on save.
        let c = ListingCache::load(&cache_path);
        c.forget(Path::new("in"));
        c.save().unwrap();
        let c = ListingCache::load(&cache_path);
        assert_eq!(c.get(Path::new("in"), &stat_of(&dir)), None);
    }

    #[test]
    fn a_changed_stat_invalidates_the_listing() {
        let tmp = tempfile::tempdir().unwrap();
        let cache_path = tmp.path().join("listing");
        let dir = tmp.path().join("in");
        std::fs::create_dir(&dir).unwrap();
        let c = load_after_change(&cache_path, &dir);
        c.record(Path::new("in"), stat_of(&dir), Entries::default());
        c.save().unwrap();
        std::fs::write(dir.join("new.txt"), "x").unwrap();
        let c = ListingCache::load(&cache_path);
        assert_eq!(c.get(Path::new("in"), &stat_of(&dir)), None);
        // Each field counts on its own.
        let c = ListingCache::load(&cache_path);
        let recorded = c.loaded[0].stat;
        assert!(c.get(Path::new("in"), &recorded).is_some());
        for changed in [
            FileStat {
                size: recorded.size + 1,
                ..recorded
            },
            FileStat {
                ino: recorded.ino + 1,
                ..recorded
            },
            FileStat {
                mtime: (recorded.mtime.0 - 1, recorded.mtime.1),
                ..recorded
            },
            FileStat {
                ctime: (recorded.ctime.0, recorded.ctime.1 + 1),
                ..recorded
            },
        ] {
            assert_eq!(c.get(Path::new("in"), &changed), None, "{changed:?}");
        }
    }

    #[test]
    fn racy_listings_are_not_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let cache_path = tmp.path().join("listing");
        let dir = tmp.path().join("in");
        std::fs::create_dir(&dir).unwrap();
        let c = ListingCache::load(&cache_path);
        // Make the folder as new as this run's stamp (the same tick), deterministically.
        let stamp_time = std::fs::metadata(cache_path.with_extension("stamp"))
            .unwrap()
            .modified()
            .unwrap();
        std::fs::File::open(&dir)
            .unwrap()
            .set_modified(stamp_time)
            .unwrap();
        c.record(Path::new("in"), stat_of(&dir), Entries::default());
        c.save().unwrap();
        // The stat is exactly the recorded one, but the folder may have changed after it was
        // listed within the same tick: not trusted.
        let c = ListingCache::load(&cache_path);
        assert_eq!(c.get(Path::new("in"), &stat_of(&dir)), None);
        // An mtime older than the stamp is not enough: the ctime counts too.
        let old = FileStat {
            mtime: (0, 0),
            ..stat_of(&dir)
        };
        assert!(racy(&old, c.reference));
        assert!(!racy(
            &FileStat {
                ctime: (0, 0),
                ..old
            },
            c.reference
        ));
    }

    #[test]
    fn corrupt_or_foreign_files_are_an_empty_cache_with_a_warning() {
        let tmp = tempfile::tempdir().unwrap();
        let cache_path = tmp.path().join("listing");
        let dir = tmp.path().join("in");
        std::fs::create_dir(&dir).unwrap();
        let c = load_after_change(&cache_path, &dir);
        c.record(
            Path::new("in"),
            stat_of(&dir),
            entries(&[(Kind::File, "a")]),
        );
        c.save().unwrap();
        let good = std::fs::read(&cache_path).unwrap();
        let mut flipped = good.clone();
        flipped[MAGIC.len() + 20] ^= 1;
        let mut unsorted = Writer::new(MAGIC);
        unsorted.i64(0);
        unsorted.i64(0);
        unsorted.u64(0);
        unsorted.raw(b"extra");
        let mut escaping = Writer::new(MAGIC);
        escaping.i64(i64::MAX);
        escaping.i64(0);
        escaping.u64(1);
        escaping.bytes(b"in");
        for v in [0, 0, 0, 0, 0, 0] {
            escaping.u64(v);
        }
        escaping.bytes(b"d..\0");
        for bad in [
            flipped,
            good[..good.len() - 1].to_vec(),
            b"RUNNER-LIST-0\n".to_vec(),
            b"garbage".to_vec(),
            Vec::new(),
            unsorted.finish(),
            escaping.finish(),
        ] {
            std::fs::write(&cache_path, &bad).unwrap();
            let c = ListingCache::load(&cache_path);
            assert!(c.load_warning.is_some(), "{bad:?}");
            assert!(c.loaded.is_empty());
            assert_eq!(c.get(Path::new("in"), &stat_of(&dir)), None);
        }
    }
}
