//! The ledger of the local cache: every entry's size, last use and gate, so that the cache's
//! size is known and the least recently used entries can be found without walking
//! `entries/` (at 20,000 entries a walk stats 20,000 files).
//!
//! `<cache>/ledger.bin` (beside `entries/`, which holds key-named entry files only) is a `bincodec` file whose first fields (after the magic) are a fixed
//! header: total bytes, entry count, oldest use, walk state. A run reads only those bytes to
//! decide whether anything is due (`read_head`); the whole file is read and written only when
//! a run has uses or stores to record, or maintenance to do, and then under an exclusive
//! `flock` on `<cache>/ledger.lock`, so concurrent runners never lose each other's records.
//!
//! The ledger is a cache of what `entries/` holds, never the truth: an entry it does not know
//! (written by an older runner, or by a runner killed before it recorded it) is found by the
//! next walk (`walk_next`), which runs a few shard folders per run; an entry it lists that is
//! gone is dropped by the walk or when eviction finds it missing. Deleting it costs one walk.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read as _};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

use crate::bincodec::{self, DecodeError, Reader, Writer};
use crate::vocab::CacheKey;

const MAGIC: &[u8] = b"RUNNER-LEDGER-1\n";
/// The header's fields after the magic: total, count, oldest, `walk_next`, `walked_at`.
const HEAD_FIELDS: usize = 5;
/// The shard folders of `entries/` (`00` to `ff`).
pub(crate) const SHARDS: u32 = 256;

/// What the ledger knows of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LedgerRecord {
    /// The entry file's length in bytes.
    pub size: u64,
    /// The last recorded use (a store or a hit), ms since the epoch. For an entry found by a
    /// walk: its file's modification time.
    pub used: u64,
    /// The gate whose run it holds; empty when found by a walk.
    pub gate: Box<str>,
    /// The entry file's modification time (ms) when a finished run recorded storing it; 0 when
    /// found by a walk. A file whose time differs was written again since (by a runner that
    /// has not recorded it yet).
    pub written: u64,
}

/// The whole ledger, in memory.
#[derive(Debug, Default, Clone)]
pub(crate) struct Ledger {
    /// Key -> record.
    pub records: HashMap<CacheKey, LedgerRecord>,
    /// The next shard folder the walk reads (`SHARDS`: no walk in progress).
    pub walk_next: u32,
    /// When the last complete walk ended (ms since the epoch; 0: never).
    pub walked_at: u64,
}

/// The ledger's header: enough to decide whether a run has maintenance to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Head {
    /// Bytes of all entries.
    pub total: u64,
    /// Entries.
    pub count: u64,
    /// The oldest last use (ms; 0 when empty).
    pub oldest: u64,
    /// As in `Ledger`.
    pub walk_next: u32,
    /// As in `Ledger`.
    pub walked_at: u64,
}

impl Ledger {
    /// A ledger that knows nothing yet: its first walk starts at shard 0.
    #[must_use]
    pub(crate) fn empty() -> Self {
        Ledger {
            records: HashMap::new(),
            walk_next: 0,
            walked_at: 0,
        }
    }

    /// Bytes of all entries.
    #[must_use]
    pub(crate) fn total(&self) -> u64 {
        self.records.values().map(|r| r.size).sum()
    }

    /// The header as written.
    #[must_use]
    pub(crate) fn head(&self) -> Head {
        Head {
            total: self.total(),
            count: self.records.len() as u64,
            oldest: self.records.values().map(|r| r.used).min().unwrap_or(0),
            walk_next: self.walk_next,
            walked_at: self.walked_at,
        }
    }

    /// Record a store (or a remote entry kept locally) at `now`, of a file written at
    /// `written` (its modification time, ms).
    pub(crate) fn stored(&mut self, key: CacheKey, size: u64, gate: &str, now: u64, written: u64) {
        let record = self.records.entry(key).or_insert_with(|| LedgerRecord {
            size,
            used: now,
            gate: gate.into(),
            written,
        });
        record.size = size;
        record.used = record.used.max(now);
        record.written = written;
        if record.gate.is_empty() {
            record.gate = gate.into();
        }
    }

    /// Record a hit at `now`. An entry the ledger does not list is left alone: it was evicted
    /// (the hit came from the index, with the artifacts already on disk) or is not known yet
    /// (the walk will find it).
    pub(crate) fn used(&mut self, key: &CacheKey, now: u64) {
        if let Some(record) = self.records.get_mut(key) {
            record.used = record.used.max(now);
        }
    }
}

/// Where the ledger of the cache folder `cache` lives.
#[must_use]
pub(crate) fn path(cache: &Path) -> PathBuf {
    cache.join("ledger.bin")
}

/// The header of the ledger in `cache`, read from its first bytes only (not verified: a
/// hint; the full read under the lock verifies). None when absent or not a ledger.
#[must_use]
pub(crate) fn read_head(cache: &Path) -> Option<Head> {
    let mut buf = [0u8; MAGIC.len() + 8 * HEAD_FIELDS];
    File::open(path(cache)).ok()?.read_exact(&mut buf).ok()?;
    let body = buf.strip_prefix(MAGIC)?;
    let mut r = Reader::from_body(body);
    head_of(&mut r).ok()
}

fn head_of(r: &mut Reader<'_>) -> Result<Head, DecodeError> {
    Ok(Head {
        total: r.u64()?,
        count: r.u64()?,
        oldest: r.u64()?,
        walk_next: u32::try_from(r.u64()?)
            .map_err(|_| DecodeError::Invalid)?
            .min(SHARDS),
        walked_at: r.u64()?,
    })
}

/// The whole ledger of `cache`: None when there is none; an error when it is damaged (the
/// caller starts a new one, which the walk fills).
pub(crate) fn load(cache: &Path) -> Result<Option<Ledger>, DecodeError> {
    let data = match std::fs::read(path(cache)) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(_) => return Err(DecodeError::Truncated),
    };
    let mut r = Reader::open(&data, MAGIC)?;
    let head = head_of(&mut r)?;
    let n = usize::try_from(r.u64()?).map_err(|_| DecodeError::Invalid)?;
    let mut records = HashMap::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        let key = CacheKey(r.raw(32)?.try_into().map_err(|_| DecodeError::Truncated)?);
        let size = r.u64()?;
        let used = r.u64()?;
        let gate = std::str::from_utf8(r.bytes()?)
            .map_err(|_| DecodeError::Invalid)?
            .into();
        let written = r.u64()?;
        records.insert(
            key,
            LedgerRecord {
                size,
                used,
                gate,
                written,
            },
        );
    }
    if !r.is_empty() {
        return Err(DecodeError::Invalid);
    }
    Ok(Some(Ledger {
        records,
        walk_next: head.walk_next,
        walked_at: head.walked_at,
    }))
}

/// Write the ledger (a temporary file renamed over it).
pub(crate) fn save(cache: &Path, ledger: &Ledger) -> io::Result<()> {
    let head = ledger.head();
    let mut w = Writer::new(MAGIC);
    for v in [
        head.total,
        head.count,
        head.oldest,
        u64::from(head.walk_next),
        head.walked_at,
    ] {
        w.u64(v);
    }
    w.u64(ledger.records.len() as u64);
    for (key, record) in &ledger.records {
        w.raw(&key.0);
        w.u64(record.size);
        w.u64(record.used);
        w.bytes(record.gate.as_bytes());
        w.u64(record.written);
    }
    bincodec::write_atomic(&path(cache), &w.finish())
}

/// The exclusive lock on a cache's ledger; released when dropped.
#[derive(Debug)]
pub(crate) struct LedgerLock {
    _file: File,
}

/// Take the ledger lock of `cache` (waiting for another runner's maintenance, which is
/// bounded in time). The lock file is never removed (see `exec::lock` for why).
pub(crate) fn lock(cache: &Path) -> io::Result<LedgerLock> {
    std::fs::create_dir_all(cache)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(cache.join("ledger.lock"))?;
    loop {
        // SAFETY: flock on a descriptor this function owns; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(LedgerLock { _file: file });
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_head() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        assert!(read_head(dir.path()).is_none());
        let mut l = Ledger::empty();
        l.stored(CacheKey([1; 32]), 100, "a", 10, 11);
        l.stored(CacheKey([2; 32]), 50, "b", 20, 21);
        l.used(&CacheKey([1; 32]), 30);
        l.used(&CacheKey([3; 32]), 40);
        l.walk_next = 7;
        save(dir.path(), &l).unwrap();
        let head = read_head(dir.path()).unwrap();
        assert_eq!(
            head,
            Head {
                total: 150,
                count: 2,
                oldest: 20,
                walk_next: 7,
                walked_at: 0
            }
        );
        let back = load(dir.path()).unwrap().unwrap();
        assert_eq!(back.records, l.records);
        assert_eq!(back.records[&CacheKey([1; 32])].used, 30);
        let mut bytes = std::fs::read(path(dir.path())).unwrap();
        let last = bytes.len() - 40;
        bytes[last] ^= 1;
        std::fs::write(path(dir.path()), bytes).unwrap();
        assert!(load(dir.path()).is_err());
    }
}
