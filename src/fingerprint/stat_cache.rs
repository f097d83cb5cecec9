//! The stat cache: path -> (size, mtime, ctime, inode) -> content hash, as git's index does, so
//! a no-op run re-reads no unchanged file.
//!
//! Racy-clean rule (git's): an entry is trusted only if the file's mtime is strictly older than
//! the cache's reference time, the filesystem timestamp of a stamp file written when the run
//! began. A file modified in the same timestamp tick as it was hashed is re-hashed next time.

use crate::fasthash::{FastMap, PathMap};
use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::bincodec::{self, StreamReader, Writer};

const MAGIC: &[u8] = b"RUNNER-STAT-2\n";
/// The format before paths were stored relative to the root: read as an empty cache, quietly
/// (the first run after an upgrade hashes once more).
const MAGIC_1: &[u8] = b"RUNNER-STAT-1\n";

/// What `stat` says about a file; equal stats mean an unchanged file (outside the racy window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Length in bytes.
    pub size: u64,
    /// Modification time: (seconds, nanoseconds) since the Unix epoch.
    pub mtime: (i64, i64),
    /// Status change time: (seconds, nanoseconds) since the Unix epoch.
    pub ctime: (i64, i64),
    /// Inode number.
    pub ino: u64,
}

impl FileStat {
    /// The stat fields of `meta`.
    #[must_use]
    pub fn of(meta: &std::fs::Metadata) -> Self {
        FileStat {
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
        }
    }
}

/// A file's content hash.
pub type Hash = [u8; 32];

#[derive(Debug, Clone, Copy)]
struct Entry {
    stat: FileStat,
    hash: Hash,
}

/// Path -> stat and hash. Paths are as the caller names them: relative to the root the
/// cache is for (`for_root`), or absolute. Shared by the hashing threads: what was loaded is
/// read without locking; what this run learns goes to `fresh`.
///
/// It is also the run's memo for unchanged files: an entry found current (the file's stat
/// equals it, and it is trusted) is marked so, and `current` serves it without a `stat` or a
/// lock. The fingerprinter keeps its own memo only for the files that changed.
pub struct StatCache {
    path: PathBuf,
    /// The folder relative paths are relative to (recorded in the file: a cache written for
    /// another root is not used).
    root: PathBuf,
    /// Keyed by the path's bytes: hashing `PathBuf` walks its components, which showed in
    /// no-op profiles. One entry per file the gates read, so kept compact (`PathMap`).
    loaded: PathMap<Entry>,
    /// By slot of `loaded`: the entry was found current this run.
    current: Vec<AtomicBool>,
    /// Entries recorded this run (`None`: the file was found missing).
    fresh: Mutex<FastMap<OsString, Option<Entry>>>,
    /// Entries with an mtime at or after this are racily clean: not trusted.
    reference: (i64, i64),
    /// Reference time to save with: this run's stamp.
    new_reference: (i64, i64),
    dirty: AtomicBool,
    /// Set when the file on disk was unreadable; reported once by the caller.
    pub load_warning: Option<String>,
}

impl StatCache {
    /// Load from `path` (a missing file is an empty cache; a corrupt one is a warning) and take
    /// this run's reference time from a stamp file next to it.
    #[must_use]
    pub fn load(path: &Path) -> Self {
        let mut load_warning = None;
        let empty = || ((0, 0), PathBuf::new(), PathMap::default());
        let (reference, root, entries) = match open(path) {
            Some((file, len)) => match decode(file, len) {
                Ok(v) => v,
                Err(bincodec::DecodeError::Magic) if is_format_1(path) => empty(),
                Err(e) => {
                    load_warning = Some(format!("{}: {e}; rebuilding it", path.display()));
                    empty()
                }
            },
            None => empty(),
        };
        let new_reference = stamp(path).unwrap_or((i64::MAX, 0));
        StatCache {
            path: path.to_path_buf(),
            root,
            current: none_current(entries.slots()),
            loaded: entries,
            fresh: Mutex::new(FastMap::default()),
            reference,
            new_reference,
            dirty: AtomicBool::new(false),
            load_warning,
        }
    }

    /// The cache for relative paths under `root`: what was recorded for another root is
    /// dropped.
    #[must_use]
    pub fn for_root(mut self, root: &Path) -> Self {
        if self.root != root {
            self.root = root.to_path_buf();
            self.loaded = PathMap::default();
            self.current = Vec::new();
        }
        self
    }

    /// The hash and stat of `path` when this run found its entry current (see `hash_at`):
    /// no `stat`, no lock.
    #[must_use]
    pub fn current(&self, path: &Path) -> Option<(Hash, FileStat)> {
        let slot = self.loaded.slot(path.as_os_str().as_bytes())?;
        if !self.current.get(slot as usize)?.load(Ordering::Relaxed) {
            return None;
        }
        self.loaded.at(slot).map(|e| (e.hash, e.stat))
    }

    /// `path` may have changed (a gate wrote it): its entry is not current any more.
    pub fn stale(&self, path: &Path) {
        if let Some(slot) = self.loaded.slot(path.as_os_str().as_bytes())
            && let Some(c) = self.current.get(slot as usize)
        {
            c.store(false, Ordering::Relaxed);
        }
    }

    /// `stale` for every current path `matches` says yes to.
    pub fn stale_where(&self, matches: impl Fn(&Path) -> bool) {
        for (slot, c) in self.current.iter().enumerate() {
            if c.load(Ordering::Relaxed)
                && let Some(key) = self.loaded.key_at(u32::try_from(slot).unwrap_or(u32::MAX))
                && matches(Path::new(OsStr::from_bytes(key)))
            {
                c.store(false, Ordering::Relaxed);
            }
        }
    }

    /// The content hash of `path` and its stat, reading the file only when the stat changed
    /// or the entry is racily clean. Symlinks are followed.
    pub fn hash(&self, path: &Path) -> io::Result<(Hash, FileStat)> {
        self.hash_at(path, path)
    }

    /// `hash` of the file `path` names, read through `io_path`, another name of the same file
    /// (relative to the working folder: the kernel then walks fewer folders per stat).
    pub fn hash_at(&self, path: &Path, io_path: &Path) -> io::Result<(Hash, FileStat)> {
        self.check_at(path, io_path).map(|(h, s, _)| (h, s))
    }

    /// `hash_at`, and whether the entry was found current (`current` serves it from now on).
    pub fn check_at(&self, path: &Path, io_path: &Path) -> io::Result<(Hash, FileStat, bool)> {
        let meta = std::fs::metadata(io_path)?;
        if !meta.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        let stat = FileStat::of(&meta);
        if let Some(slot) = self.loaded.slot(path.as_os_str().as_bytes())
            && let Some(entry) = self.loaded.at(slot)
            && entry.stat == stat
            && stat.mtime < self.reference
        {
            if let Some(c) = self.current.get(slot as usize) {
                c.store(true, Ordering::Relaxed);
            }
            return Ok((entry.hash, stat, true));
        }
        let mut file = std::fs::File::open(io_path)?;
        let hash = hash_open(&mut file, stat.size)?;
        // Re-stat the file read (by its descriptor: no second path walk): if it changed while
        // we read it, do not record a hash for the new stat. A file renamed over the path
        // since the first stat is another inode, so its stat differs too.
        let after = file.metadata().map(|m| FileStat::of(&m))?;
        if after == stat {
            if let Ok(mut e) = self.fresh.lock() {
                e.insert(path.as_os_str().to_owned(), Some(Entry { stat, hash }));
            }
            self.dirty.store(true, Ordering::Relaxed);
        }
        Ok((hash, stat, false))
    }

    /// Forget a path (it was found missing).
    pub fn forget(&self, path: &Path) {
        if self.loaded.contains_key(path.as_os_str().as_bytes()) {
            if let Ok(mut e) = self.fresh.lock() {
                e.insert(path.as_os_str().to_owned(), None);
            }
            self.dirty.store(true, Ordering::Relaxed);
        }
    }

    /// The cache the next run in this process starts from, without going through the file:
    /// what `save` then `load` would give (entries racily clean under this run's reference and
    /// not looked at again are dropped, this run's stamp becomes the reference), with a new
    /// stamp for the next run. `runner watch` keeps one cache in memory this way.
    #[must_use]
    pub fn next_run(self) -> Self {
        let trusted = self.new_reference.0 != i64::MAX;
        let reference = self.reference;
        let fresh = self
            .fresh
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut loaded: PathMap<Entry> = PathMap::default();
        if trusted {
            loaded.extend(self.loaded.iter().filter_map(|(p, e)| {
                (!fresh.contains_key(OsStr::from_bytes(p)) && e.stat.mtime < reference)
                    .then_some((p, *e))
            }));
            loaded.extend(
                fresh
                    .iter()
                    .filter_map(|(p, e)| e.map(|e| (p.as_bytes(), e))),
            );
        }
        StatCache {
            new_reference: stamp(&self.path).unwrap_or((i64::MAX, 0)),
            path: self.path,
            root: self.root,
            current: none_current(loaded.slots()),
            loaded,
            fresh: Mutex::new(FastMap::default()),
            reference: if trusted { self.new_reference } else { (0, 0) },
            dirty: AtomicBool::new(false),
            load_warning: None,
        }
    }

    /// Write the cache back if anything changed. Errors are returned for the caller to warn.
    pub fn save(&self) -> io::Result<()> {
        // Without this run's stamp there is no reference time to save under: saving with
        // none would make every entry look older than it, and trusted.
        if !self.dirty.load(Ordering::Relaxed) || self.new_reference.0 == i64::MAX {
            return Ok(());
        }
        let fresh = self
            .fresh
            .lock()
            .map_err(|_| io::Error::other("stat cache lock poisoned"))?;
        // An entry that was racily clean when loaded and not looked at again this run is
        // dropped, not carried over: under the new, later reference time it would pass as
        // trusted (git "smudges" such entries for the same reason).
        let kept = self.loaded.iter().filter(|(p, e)| {
            !fresh.contains_key(OsStr::from_bytes(p)) && e.stat.mtime < self.reference
        });
        let mut entries: Vec<(&[u8], &Entry)> = kept
            .chain(
                fresh
                    .iter()
                    .filter_map(|(p, e)| e.as_ref().map(|e| (p.as_bytes(), e))),
            )
            .collect();
        // In path order: the next run loads them in that order and looks them up in about that
        // order (folder by folder, gate by gate), so its reads of the entries and their keys
        // go through memory in sequence instead of at random.
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut w = Writer::new(MAGIC);
        w.i64(self.new_reference.0);
        w.i64(self.new_reference.1);
        w.bytes(self.root.as_os_str().as_bytes());
        w.u64(entries.len() as u64);
        for (path, e) in entries {
            w.bytes(path);
            w.u64(e.stat.size);
            w.i64(e.stat.mtime.0);
            w.i64(e.stat.mtime.1);
            w.i64(e.stat.ctime.0);
            w.i64(e.stat.ctime.1);
            w.u64(e.stat.ino);
            w.raw(&e.hash);
        }
        bincodec::write_atomic(&self.path, &w.finish())
    }
}

type Decoded = ((i64, i64), PathBuf, PathMap<Entry>);

/// No entry current yet, for `slots` slots.
fn none_current(slots: usize) -> Vec<AtomicBool> {
    std::iter::repeat_with(|| AtomicBool::new(false))
        .take(slots)
        .collect()
}

/// An entry's stat and hash take this many bytes in the file (the path comes before them).
const ENTRY_BYTES: usize = 8 * 6 + 32;

/// The file at `path` and its length; None when it cannot be opened. (Not buffered: the
/// decoder reads it in chunks of its own.)
fn open(path: &Path) -> Option<(std::fs::File, u64)> {
    let file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    Some((file, len))
}

/// The file is in the format before paths were relative (read as an empty cache, quietly).
fn is_format_1(path: &Path) -> bool {
    let mut head = [0; MAGIC_1.len()];
    std::fs::File::open(path).is_ok_and(|mut f| f.read_exact(&mut head).is_ok() && head == MAGIC_1)
}

/// Decode the `len` bytes of `file` as they are read: the file is not held beside the map it
/// becomes (at 100,000 gates, 50 MB more at the run's peak).
fn decode(file: impl Read, len: u64) -> Result<Decoded, bincodec::DecodeError> {
    let mut r = StreamReader::open(file, len, MAGIC)?;
    let reference = (r.i64()?, r.i64()?);
    let root = PathBuf::from(OsStr::from_bytes(r.bytes()?));
    let count = r.u64()?;
    // Capacity for no more entries than the file can hold (a corrupt count allocates nothing).
    let body = usize::try_from(r.remaining()).unwrap_or(usize::MAX);
    let n = usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min(body / (ENTRY_BYTES + 4));
    // The paths take what the entries' fixed parts and length prefixes leave.
    let path_bytes = body.saturating_sub(n * (ENTRY_BYTES + 4));
    let mut entries = PathMap::with_capacity(n, path_bytes);
    let mut path = Vec::new();
    for _ in 0..count {
        path.clear();
        path.extend_from_slice(r.bytes()?);
        let stat = FileStat {
            size: r.u64()?,
            mtime: (r.i64()?, r.i64()?),
            ctime: (r.i64()?, r.i64()?),
            ino: r.u64()?,
        };
        let hash: Hash = r
            .raw(32)?
            .try_into()
            .map_err(|_| bincodec::DecodeError::Truncated)?;
        entries.insert(&path, Entry { stat, hash });
    }
    r.finish()?;
    Ok((reference, root, entries))
}

/// Touch a stamp file beside the cache and return its mtime: the filesystem's own clock.
pub(super) fn stamp(cache_path: &Path) -> io::Result<(i64, i64)> {
    let stamp = cache_path.with_extension("stamp");
    if let Some(dir) = stamp.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&stamp, b"")?;
    let meta = std::fs::metadata(&stamp)?;
    Ok((meta.mtime(), meta.mtime_nsec()))
}

/// BLAKE3 of a file's bytes.
pub fn hash_file(path: &Path, size_hint: u64) -> io::Result<Hash> {
    hash_open(&mut std::fs::File::open(path)?, size_hint)
}

/// `hash_file` of a file already open, read from where it stands to its end.
fn hash_open(file: &mut std::fs::File, size_hint: u64) -> io::Result<Hash> {
    let mut hasher = blake3::Hasher::new();
    if size_hint <= 64 * 1024 {
        // Read until the end with plain reads into a buffer one byte longer than the stat
        // said: `read_to_end` on a `File` first asks for its size and position again (a
        // `statx` and an `lseek` per file, tens of thousands per cold run).
        let mut buf = vec![0; usize::try_from(size_hint).unwrap_or(0) + 1];
        let mut len = 0;
        loop {
            if len == buf.len() {
                buf.resize(len * 2, 0);
            }
            match file.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        hasher.update(&buf[..len]);
    } else {
        hasher.update_reader(file)?;
    }
    Ok(*hasher.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole file is hashed whatever size the stat gave: exact, too small (the file grew
    /// since: the buffer grows), too large (it shrank), empty, and past the small-file path.
    #[test]
    fn hash_file_reads_to_the_end_whatever_the_size_hint() {
        let dir = tempfile::tempdir().unwrap();
        // A file of `len` bytes hashed with each size hint.
        let check = |name: &str, len: u32, hints: &[u64]| {
            let path = dir.path().join(name);
            let content: Vec<u8> = (0..len)
                .map(|i| u8::try_from(i % 251).expect("below 256"))
                .collect();
            std::fs::write(&path, &content).unwrap();
            let want = *blake3::hash(&content).as_bytes();
            for &hint in hints {
                assert_eq!(hash_file(&path, hint).unwrap(), want, "{name}, hint {hint}");
            }
        };
        check("small", 5000, &[5000, 0, 1, 4999, 5001, 60_000]);
        check("empty", 0, &[0, 7]);
        check("big", 200_000, &[200_000, 10, 100_000]);
        assert!(hash_file(&dir.path().join("missing"), 3).is_err());
    }

    #[test]
    fn hashes_survive_a_reload_and_changes_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        let cache_path = dir.path().join("cache/stat");
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "one").unwrap();
        let c = StatCache::load(&cache_path);
        let (h1, _) = c.hash(&file).unwrap();
        assert_eq!(h1, *blake3::hash(b"one").as_bytes());
        c.save().unwrap();
        // Same size, new content: the stat changes (mtime/ctime), so it is re-read.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&file, "two").unwrap();
        let c = StatCache::load(&cache_path);
        assert_eq!(c.hash(&file).unwrap().0, *blake3::hash(b"two").as_bytes());
    }

    /// `next_run` keeps what `save` and `load` would: a trusted entry is served without
    /// reading the file (its poisoned hash comes back), a racy one is read again, and a
    /// changed file is seen.
    #[test]
    fn the_next_run_in_memory_trusts_what_a_reload_would() {
        let dir = tempfile::tempdir().unwrap();
        let cache_path = dir.path().join("stat");
        let old = dir.path().join("old.txt");
        let racy = dir.path().join("racy.txt");
        std::fs::write(&old, "old").unwrap();
        std::fs::write(&racy, "racy").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let c = StatCache::load(&cache_path);
        make_racy(&cache_path, &racy);
        c.hash(&old).unwrap();
        c.hash(&racy).unwrap();
        let mut c = c.next_run();
        for e in c.loaded.values_mut() {
            e.hash = [0; 32];
        }
        assert_eq!(c.hash(&old).unwrap().0, [0; 32], "trusted: not read again");
        assert_eq!(c.hash(&racy).unwrap().0, *blake3::hash(b"racy").as_bytes());
        std::fs::write(&old, "new!").unwrap();
        let c = c.next_run();
        assert_eq!(c.hash(&old).unwrap().0, *blake3::hash(b"new!").as_bytes());
    }

    /// Make `file` as new as this run's stamp (the same timestamp tick), deterministically.
    fn make_racy(cache_path: &Path, file: &Path) {
        let stamp_time = std::fs::metadata(cache_path.with_extension("stamp"))
            .unwrap()
            .modified()
            .unwrap();
        std::fs::File::options()
            .write(true)
            .open(file)
            .unwrap()
            .set_modified(stamp_time)
            .unwrap();
    }

    #[test]
    fn racily_clean_entries_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cache_path = dir.path().join("stat");
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "one").unwrap();
        let c = StatCache::load(&cache_path);
        make_racy(&cache_path, &file);
        c.hash(&file).unwrap();
        c.save().unwrap();
        // Poison the recorded hash on disk; a trusted entry would return it.
        let mut c = StatCache::load(&cache_path);
        c.loaded.get_mut(file.as_os_str().as_bytes()).unwrap().hash = [0; 32];
        // The file's mtime is not older than the stamp of the run that recorded it: racy, so
        // it is re-read.
        assert_eq!(c.hash(&file).unwrap().0, *blake3::hash(b"one").as_bytes());
    }

    #[test]
    fn a_racy_entry_not_seen_again_is_not_carried_over_as_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cache_path = dir.path().join("stat");
        let racy = dir.path().join("racy.txt");
        let other = dir.path().join("other.txt");
        std::fs::write(&racy, "one").unwrap();
        std::fs::write(&other, "x").unwrap();
        let c = StatCache::load(&cache_path);
        make_racy(&cache_path, &racy);
        c.hash(&racy).unwrap();
        c.save().unwrap();
        // A run that looks only at another file saves under a later stamp.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let c = StatCache::load(&cache_path);
        c.hash(&other).unwrap();
        c.save().unwrap();
        let c = StatCache::load(&cache_path);
        assert!(
            !c.loaded.contains_key(racy.as_os_str().as_bytes()),
            "a racily clean entry was re-saved as trusted"
        );
        assert!(c.loaded.contains_key(other.as_os_str().as_bytes()));
    }

    /// A trusted hit marks the entry current: `current` then serves it with no `stat`, until
    /// `stale` (a gate wrote the file) or `stale_where`; a racy or changed file is never
    /// current, and a fresh run starts with nothing current.
    #[test]
    fn current_entries_are_served_until_made_stale() {
        let dir = tempfile::tempdir().unwrap();
        let cache_path = dir.path().join("stat");
        let a = dir.path().join("a.txt");
        let b = dir.path().join("b.txt");
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        // Older than the first run's stamp by more than a timestamp tick: trusted when saved.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let c = StatCache::load(&cache_path);
        c.hash(&a).unwrap();
        c.hash(&b).unwrap();
        c.save().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let c = StatCache::load(&cache_path);
        assert_eq!(
            c.current(&a),
            None,
            "nothing is current before it is looked at"
        );
        let (h, stat) = c.hash(&a).unwrap();
        assert_eq!(c.current(&a), Some((h, stat)));
        std::fs::write(&b, "changed").unwrap();
        c.hash(&b).unwrap();
        assert_eq!(c.current(&b), None, "a changed file is not current");
        c.stale(&a);
        assert_eq!(c.current(&a), None);
        c.hash(&a).unwrap();
        c.stale_where(|p| p.ends_with("a.txt"));
        assert_eq!(c.current(&a), None);
        let c = c.next_run();
        assert_eq!(c.current(&a), None, "a new run starts with nothing current");
    }

    /// Relative paths are relative to the root the cache was saved for: a cache from another
    /// root serves nothing (a file of the same name there is another file).
    #[test]
    fn a_cache_saved_for_another_root_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache_path = dir.path().join("stat");
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "one").unwrap();
        let c = StatCache::load(&cache_path).for_root(dir.path());
        c.hash(&file).unwrap();
        c.save().unwrap();
        let c = StatCache::load(&cache_path).for_root(dir.path());
        assert!(c.loaded.contains_key(file.as_os_str().as_bytes()));
        let c = StatCache::load(&cache_path).for_root(Path::new("/elsewhere"));
        assert!(c.loaded.iter().next().is_none());
    }

    /// Entries are saved in path order whatever order they were hashed in (the next run reads
    /// them in about that order).
    #[test]
    fn entries_are_saved_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        let cache_path = dir.path().join("stat");
        let names = [
            "b.txt", "c/x.txt", "a.txt", "c.txt", "e.txt", "d.txt", "c/a.txt", "f", "0", "z",
        ];
        std::fs::create_dir(dir.path().join("c")).unwrap();
        for n in names {
            std::fs::write(dir.path().join(n), n).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let c = StatCache::load(&cache_path);
        for n in names {
            c.hash(&dir.path().join(n)).unwrap();
        }
        c.save().unwrap();
        let c = StatCache::load(&cache_path);
        let loaded: Vec<&[u8]> = c.loaded.iter().map(|(k, _)| k).collect();
        let mut sorted = loaded.clone();
        sorted.sort_unstable();
        assert_eq!(loaded.len(), names.len());
        assert_eq!(loaded, sorted);
    }

    /// The format before relative paths is read as an empty cache, with no warning.
    #[test]
    fn the_old_format_is_an_empty_cache_quietly() {
        let dir = tempfile::tempdir().unwrap();
        let cache_path = dir.path().join("stat");
        std::fs::write(&cache_path, b"RUNNER-STAT-1\nwhatever").unwrap();
        let c = StatCache::load(&cache_path);
        assert!(c.load_warning.is_none());
        assert!(c.loaded.iter().next().is_none());
    }

    #[test]
    fn corrupt_file_is_a_warning_and_an_empty_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache_path = dir.path().join("stat");
        std::fs::write(&cache_path, b"RUNNER-STAT-2\ngarbage").unwrap();
        let c = StatCache::load(&cache_path);
        assert!(c.load_warning.is_some());
    }
}
