//! Keeping the local cache within `[settings.cache]`: least-recently-used eviction, the walk
//! that keeps the ledger true, and the end-of-run maintenance that runs them within a time
//! budget.
//!
//! Rules, in one place:
//!
//! - An entry's *last use* is its last store or hit as recorded in the ledger (a hit is
//!   recorded at most once per `USE_RESOLUTION_MS` per checkout, see `index`).
//! - Entries unused for longer than `max_age` are evicted; then, while the entries and the
//!   cache folder's own files (index, stat and listing caches, report; not the logs, bounded
//!   on their own) take more than the target (`max_size`, or 90% of it at the end of a run so
//!   that eviction does not run again on the next one), the least recently used go first.
//! - Never evicted: an entry another runner has just written. An entry is a candidate only
//!   once the ledger lists it (a finished run recorded storing it, or a walk found it), and a
//!   file written less than `GRACE` ago that no finished run recorded as it is now (found by a
//!   walk, or written again since) is kept: its writer may still be running, or a runner
//!   waiting on the gate's lock may be about to replay it. Removing is `unlink`: a runner that
//!   has the entry open keeps reading its bytes.
//! - At the end of a run, nothing is read but the ledger's header unless there are uses to
//!   record or the header says the cache is over budget, holds an entry past `max_age`, or is
//!   due for a walk; the walk and the eviction then stop after `RUN_BUDGET`, and the next run
//!   goes on where this one stopped.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::ledger::{self, Ledger, LedgerRecord, SHARDS};
use crate::config::CacheSettings;
use crate::vocab::CacheKey;

/// A hit is recorded in the ledger when the checkout's last record of it is older than this:
/// LRU order needs no finer grain than an hour against budgets kept for weeks, and a no-op run
/// within the hour writes nothing.
pub(crate) const USE_RESOLUTION_MS: u64 = 3_600_000;

/// An entry file younger than this that no finished run recorded as it is now is never
/// removed: another runner has just written it (and a runner waiting on the gate's lock may be
/// about to replay it).
pub const GRACE: Duration = Duration::from_secs(60);

/// How long the end of a run may spend walking and evicting (the rest waits for the next run).
pub const RUN_BUDGET: Duration = Duration::from_millis(50);

/// How often the ledger is checked against `entries/` by a full walk.
const RESCAN_MS: u64 = 7 * 86_400_000;

/// The share of `max_size` eviction at the end of a run brings the entries down to.
const LOW_WATER_PERCENT: u64 = 90;

/// Eviction is due past this share of the entries' budget, not at 100%: the state files a run
/// writes after its maintenance (the ledger, the stat and listing caches) must still fit under
/// `max_size` (bench/bounds.sh saw a folder end 55 bytes over it when eviction waited for 100%).
const TRIGGER_PERCENT: u64 = 98;

/// A use of an entry this run, recorded in the ledger at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Use {
    /// Stored (or a remote entry kept locally): `size` bytes, of `gate`.
    Stored {
        /// The entry's key.
        key: CacheKey,
        /// The entry file's length.
        size: u64,
        /// The gate it belongs to.
        gate: String,
        /// The entry file's modification time (ms) after it was written.
        written: u64,
    },
    /// Replayed.
    Hit(CacheKey),
}

/// What eviction did (or, dry, would do) to one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evicted {
    /// The entry's key.
    pub key: CacheKey,
    /// Its gate ("" when unknown).
    pub gate: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its last use (ms since the epoch).
    pub used: u64,
}

/// What one maintenance pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// Removed (or, dry, to be removed), least recently used first.
    pub evicted: Vec<Evicted>,
    /// Entries that eviction wanted but kept because another runner has just written them
    /// (younger than `GRACE`, unrecorded).
    pub young: usize,
    /// Entries that eviction wanted but could not remove (or, dry, inspect), each with why
    /// (the file system's error); they stay listed in the ledger.
    pub failed: Vec<(Evicted, String)>,
    /// The entries' bytes afterwards.
    pub total: u64,
    /// Entries afterwards.
    pub count: usize,
    /// The walk or the eviction ran out of time; the next pass goes on.
    pub unfinished: bool,
    /// Logs of gates no longer in gates.toml that were removed.
    pub logs_removed: Vec<String>,
    /// Bytes of the cache folder's own files (index, stat and listing caches, report), which
    /// count against `max_size` too.
    pub state: u64,
}

/// What the eviction step asks of the file system about one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Removal {
    /// Removed (or would be, dry).
    Removed,
    /// Already gone.
    Gone,
    /// Kept: written less than `GRACE` ago by a runner that has not recorded it.
    Young,
    /// Kept: it could not be removed (or inspected), for this reason.
    Failed(String),
}

/// What the eviction step did: `Pass`'s `evicted`, `young` and `failed`, and whether it ran
/// out of time.
#[derive(Debug, Default)]
pub(crate) struct Eviction {
    pub evicted: Vec<Evicted>,
    pub young: usize,
    pub failed: Vec<(Evicted, String)>,
    pub unfinished: bool,
}

/// The eviction step over `ledger`, a pure core: entries in order of last use, evicted while
/// older than `cutoff` (ms) or while the total exceeds `target`; `remove` does (or checks) the
/// removal, `out_of_time` stops early.
pub(crate) fn evict(
    ledger: &mut Ledger,
    target: u64,
    cutoff: u64,
    mut remove: impl FnMut(&CacheKey, &LedgerRecord) -> Removal,
    mut out_of_time: impl FnMut() -> bool,
) -> Eviction {
    let mut order: Vec<(u64, CacheKey)> =
        ledger.records.iter().map(|(k, r)| (r.used, *k)).collect();
    order.sort_unstable();
    let mut total = ledger.total();
    let mut done = Eviction::default();
    let evicted = |key: CacheKey, record: &LedgerRecord| Evicted {
        key,
        gate: record.gate.to_string(),
        size: record.size,
        used: record.used,
    };
    for (used, key) in order {
        if used >= cutoff && total <= target {
            return done;
        }
        if out_of_time() {
            done.unfinished = true;
            return done;
        }
        let Some(record) = ledger.records.get(&key) else {
            continue;
        };
        match remove(&key, record) {
            Removal::Young => done.young += 1,
            Removal::Failed(why) => done.failed.push((evicted(key, record), why)),
            outcome => {
                if let Some(record) = ledger.records.remove(&key) {
                    total = total.saturating_sub(record.size);
                    if outcome == Removal::Removed {
                        done.evicted.push(evicted(key, &record));
                    }
                }
            }
        }
    }
    done
}

/// The local cache's folders.
pub(crate) struct Folders {
    /// `<cache_dir>`.
    pub root: PathBuf,
    /// `<cache_dir>/entries`.
    pub entries: PathBuf,
    /// `<cache_dir>/logs`.
    pub logs: PathBuf,
}

impl Folders {
    /// The folders of the cache in `cache_dir`.
    #[must_use]
    pub(crate) fn of(cache_dir: &Path) -> Self {
        Folders {
            root: cache_dir.to_path_buf(),
            entries: cache_dir.join("entries"),
            logs: cache_dir.join("logs"),
        }
    }

    /// Bytes of the cache folder's own files (index, stat and listing caches, report, the
    /// ledger): the part of `max_size` the entries cannot have. A few `stat` calls.
    fn state_bytes(&self) -> u64 {
        std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len())
            .sum::<u64>()
    }

    /// The bytes `max_size` leaves the entries.
    fn entries_budget(&self, settings: &CacheSettings) -> u64 {
        settings.max_size.saturating_sub(self.state_bytes())
    }

    /// Past this many bytes of entries, eviction is due (`TRIGGER_PERCENT`).
    fn entries_trigger(&self, settings: &CacheSettings) -> u64 {
        self.entries_budget(settings) / 100 * TRIGGER_PERCENT
    }

    fn entry(&self, key: &CacheKey) -> PathBuf {
        let hex = key.hex();
        self.entries.join(&hex[..2]).join(hex)
    }
}

/// Milliseconds since the epoch of a file time (0 before the epoch).
fn ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Was the file modified less than `GRACE` ago (by the wall clock, whatever the run's clock)?
fn young(meta: &std::fs::Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_none_or(|age| age < GRACE)
}

/// Remove one entry unless another runner has just written it (see the module's rules); with
/// `dry`, only check.
fn remove_entry(folders: &Folders, key: &CacheKey, record: &LedgerRecord, dry: bool) -> Removal {
    let path = folders.entry(key);
    let meta = match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Removal::Gone,
        Err(e) => return Removal::Failed(e.to_string()),
        Ok(meta) => meta,
    };
    let recorded = record.written != 0 && meta.modified().map_or(0, ms) == record.written;
    if !recorded && young(&meta) {
        return Removal::Young;
    }
    if dry {
        return Removal::Removed;
    }
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Removal::Gone,
        Err(e) => Removal::Failed(e.to_string()),
        Ok(()) => Removal::Removed,
    }
}

/// Read shard folders from `ledger.walk_next` on, bringing the ledger in line with them, until
/// all are read or `out_of_time`. Entries the ledger does not know join it with their file's
/// modification time as last use; records whose file is gone leave it.
pub(crate) fn walk(folders: &Folders, ledger: &mut Ledger, mut out_of_time: impl FnMut() -> bool) {
    // The shard folders that exist, listed once: a small cache has few, and the others cost
    // nothing to walk.
    let existing: HashSet<u32> = std::fs::read_dir(&folders.entries)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            (name.len() == 2)
                .then(|| u32::from_str_radix(name, 16).ok())
                .flatten()
        })
        .collect();
    let first = ledger.walk_next;
    let mut found = HashSet::new();
    while ledger.walk_next < SHARDS {
        let shard = ledger.walk_next;
        if existing.contains(&shard) {
            if out_of_time() {
                break;
            }
            let dir = folders.entries.join(format!("{shard:02x}"));
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = e.file_name();
                let Some(key) = name.to_str().and_then(CacheKey::from_hex) else {
                    continue;
                };
                let Ok(meta) = e.metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                found.insert(key);
                let used = meta.modified().map_or(0, ms);
                let record = ledger.records.entry(key).or_insert_with(|| LedgerRecord {
                    size: meta.len(),
                    used,
                    gate: "".into(),
                    written: 0,
                });
                record.size = meta.len();
            }
        }
        ledger.walk_next += 1;
    }
    let walked = first..ledger.walk_next;
    ledger
        .records
        .retain(|k, _| !walked.contains(&u32::from(k.0[0])) || found.contains(k));
}

/// Remove the logs of gates `known` does not name (older than `GRACE`: a checkout sharing the
/// folder may be running one). Returns the gates whose logs went.
pub(crate) fn prune_logs(
    folders: &Folders,
    known: &dyn Fn(&str) -> bool,
    dry: bool,
) -> Vec<String> {
    let mut removed = Vec::new();
    for e in std::fs::read_dir(&folders.logs)
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name();
        let Some(gate) = name.to_str().and_then(|n| n.strip_suffix(".log")) else {
            continue;
        };
        if known(gate) || e.metadata().map_or(true, |m| !m.is_file() || young(&m)) {
            continue;
        }
        if dry || std::fs::remove_file(e.path()).is_ok() {
            removed.push(gate.to_owned());
        }
    }
    removed.sort();
    removed
}

/// Is anything due for the cache whose ledger header is `head` at `now`?
fn due(head: Option<ledger::Head>, settings: &CacheSettings, now: u64, folders: &Folders) -> bool {
    let Some(head) = head else {
        // No ledger: a walk is due when there are entries to find.
        return folders.entries.is_dir();
    };
    head.total > folders.entries_trigger(settings)
        || (head.count > 0 && head.oldest < cutoff(settings, now))
        || head.walk_next < SHARDS
        || head.walked_at.saturating_add(RESCAN_MS) < now
}

/// Last uses before this (ms) are past `max_age`.
fn cutoff(settings: &CacheSettings, now: u64) -> u64 {
    now.saturating_sub(u64::try_from(settings.max_age.as_millis()).unwrap_or(u64::MAX))
}

/// The end of a run: record `uses` in the ledger, then walk and evict as far as `RUN_BUDGET`
/// allows, when anything is due. None when nothing was (the usual no-op: one small read).
pub(crate) fn maintain(
    folders: &Folders,
    uses: &[Use],
    settings: &CacheSettings,
    now: u64,
    known_gate: &dyn Fn(&str) -> bool,
) -> io::Result<Option<Pass>> {
    if uses.is_empty() && !due(ledger::read_head(&folders.root), settings, now, folders) {
        return Ok(None);
    }
    let started = Instant::now();
    let _lock = ledger::lock(&folders.root)?;
    let mut ledger = ledger::load(&folders.root)
        .ok()
        .flatten()
        .unwrap_or_else(Ledger::empty);
    for u in uses {
        match u {
            Use::Stored {
                key,
                size,
                gate,
                written,
            } => ledger.stored(*key, *size, gate, now, *written),
            Use::Hit(key) => ledger.used(key, now),
        }
    }
    if ledger.walk_next >= SHARDS && ledger.walked_at.saturating_add(RESCAN_MS) < now {
        ledger.walk_next = 0;
    }
    let mut pass = Pass::default();
    if ledger.walk_next < SHARDS {
        walk(folders, &mut ledger, || started.elapsed() > RUN_BUDGET / 2);
        if ledger.walk_next >= SHARDS {
            ledger.walked_at = now;
            pass.logs_removed = prune_logs(folders, known_gate, false);
        } else {
            pass.unfinished = true;
        }
    }
    // Over budget: down to the low-water mark; within it, only what is past max_age.
    let budget = folders.entries_budget(settings);
    let target = if ledger.total() > folders.entries_trigger(settings) {
        budget / 100 * LOW_WATER_PERCENT
    } else {
        u64::MAX
    };
    let done = evict(
        &mut ledger,
        target,
        cutoff(settings, now),
        |key, record| remove_entry(folders, key, record, false),
        || started.elapsed() > RUN_BUDGET,
    );
    pass.evicted = done.evicted;
    pass.young = done.young;
    pass.failed = done.failed;
    pass.unfinished |= done.unfinished;
    pass.total = ledger.total();
    pass.count = ledger.records.len();
    pass.state = folders.state_bytes();
    ledger::save(&folders.root, &ledger)?;
    Ok(Some(pass))
}

/// `runner cache prune`: a full walk, then eviction down to `max_size` (not the low-water
/// mark) and of everything past `max_age`, without a time budget; with `dry`, nothing is
/// removed or written. Logs of gates no longer in gates.toml go too.
pub fn prune(
    cache_dir: &Path,
    settings: &CacheSettings,
    now: u64,
    known_gate: &dyn Fn(&str) -> bool,
    dry: bool,
) -> io::Result<Pass> {
    let folders = Folders::of(cache_dir);
    let _lock = ledger::lock(&folders.root)?;
    let mut ledger = ledger::load(&folders.root)
        .ok()
        .flatten()
        .unwrap_or_else(Ledger::empty);
    ledger.walk_next = 0;
    walk(&folders, &mut ledger, || false);
    ledger.walked_at = now;
    let done = evict(
        &mut ledger,
        folders.entries_budget(settings),
        cutoff(settings, now),
        |key, record| remove_entry(&folders, key, record, dry),
        || false,
    );
    let logs_removed = prune_logs(&folders, known_gate, dry);
    if !dry {
        ledger::save(&folders.root, &ledger)?;
    }
    Ok(Pass {
        total: ledger.total(),
        count: ledger.records.len(),
        evicted: done.evicted,
        young: done.young,
        failed: done.failed,
        unfinished: false,
        logs_removed,
        state: folders.state_bytes(),
    })
}

/// What `runner cache stats` shows of the local cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Entries.
    pub entries: usize,
    /// Their bytes.
    pub bytes: u64,
    /// The oldest last use (ms since the epoch), when there are entries.
    pub oldest_use: Option<u64>,
    /// The newest last use.
    pub newest_use: Option<u64>,
    /// Log files and their bytes.
    pub logs: (usize, u64),
    /// Bytes of the cache folder's own files (index, stat and listing caches, report).
    pub state: u64,
}

/// The cache's entries as a full walk finds them, with the ledger's last uses (nothing is
/// written).
pub fn stats(cache_dir: &Path) -> io::Result<Stats> {
    let folders = Folders::of(cache_dir);
    let mut ledger = {
        let _lock = ledger::lock(&folders.root)?;
        ledger::load(&folders.root)
            .ok()
            .flatten()
            .unwrap_or_else(Ledger::empty)
    };
    ledger.walk_next = 0;
    walk(&folders, &mut ledger, || false);
    let uses = ledger.records.values().map(|r| r.used);
    let mut logs = (0, 0);
    for e in std::fs::read_dir(&folders.logs)
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(m) = e.metadata()
            && m.is_file()
        {
            logs.0 += 1;
            logs.1 += m.len();
        }
    }
    Ok(Stats {
        entries: ledger.records.len(),
        bytes: ledger.total(),
        oldest_use: uses.clone().min(),
        newest_use: uses.max(),
        logs,
        state: folders.state_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(records: &[(u8, u64, u64)]) -> Ledger {
        let mut l = Ledger::empty();
        for &(k, size, used) in records {
            l.stored(CacheKey([k; 32]), size, "g", used, used);
        }
        l
    }

    fn keys(evicted: &[Evicted]) -> Vec<u8> {
        evicted.iter().map(|e| e.key.0[0]).collect()
    }

    /// (name, records (key, size, used), target, cutoff, young keys, expected evicted keys).
    type Case = (
        &'static str,
        &'static [(u8, u64, u64)],
        u64,
        u64,
        &'static [u8],
        &'static [u8],
    );

    const CASES: &[Case] = &[
        (
            "within budget, nothing old",
            &[(1, 10, 5), (2, 10, 6)],
            100,
            0,
            &[],
            &[],
        ),
        (
            "least recently used first",
            &[(1, 10, 50), (2, 10, 20), (3, 10, 30)],
            15,
            0,
            &[],
            &[2, 3],
        ),
        (
            "down to the target exactly",
            &[(1, 10, 1), (2, 10, 2), (3, 10, 3)],
            20,
            0,
            &[],
            &[1],
        ),
        (
            "past max_age even within budget",
            &[(1, 10, 1), (2, 10, 9), (3, 10, 3)],
            u64::MAX,
            5,
            &[],
            &[1, 3],
        ),
        (
            "young entries are skipped, older ones go instead",
            &[(1, 10, 1), (2, 10, 2), (3, 10, 3)],
            20,
            0,
            &[1],
            &[2],
        ),
        (
            "everything young: nothing goes",
            &[(1, 10, 1), (2, 10, 2)],
            0,
            0,
            &[1, 2],
            &[],
        ),
        (
            "one big entry",
            &[(1, 100, 1), (2, 10, 2), (3, 10, 3)],
            50,
            0,
            &[],
            &[1],
        ),
    ];

    #[test]
    fn eviction_order_and_budget() {
        for &(name, records, target, cutoff, young, expected) in CASES {
            let mut l = ledger(records);
            let done = evict(
                &mut l,
                target,
                cutoff,
                |k, _| {
                    if young.contains(&k.0[0]) {
                        Removal::Young
                    } else {
                        Removal::Removed
                    }
                },
                || false,
            );
            assert_eq!(keys(&done.evicted), expected, "{name}");
            assert!(!done.unfinished, "{name}");
            if expected.is_empty() && !young.is_empty() {
                assert_eq!(done.young, young.len(), "{name}");
            }
            for e in &done.evicted {
                assert!(
                    !l.records.contains_key(&e.key),
                    "{name}: evicted but still listed"
                );
            }
        }
    }

    #[test]
    fn gone_entries_leave_the_ledger_and_time_runs_out() {
        let mut l = ledger(&[(1, 10, 1), (2, 10, 2), (3, 10, 3)]);
        let done = evict(
            &mut l,
            0,
            0,
            |k, _| {
                if k.0[0] == 1 {
                    Removal::Gone
                } else {
                    Removal::Removed
                }
            },
            || false,
        );
        assert_eq!(
            keys(&done.evicted),
            [2, 3],
            "a gone entry is dropped, not reported"
        );
        assert!(l.records.is_empty());
        let mut l = ledger(&[(1, 10, 1), (2, 10, 2), (3, 10, 3)]);
        let mut calls = 0;
        let done = evict(
            &mut l,
            0,
            0,
            |_, _| Removal::Removed,
            || {
                calls += 1;
                calls > 2
            },
        );
        assert_eq!(keys(&done.evicted), [1, 2]);
        assert!(done.unfinished);
        assert_eq!(l.records.len(), 1);
    }

    #[test]
    fn the_walk_finds_unknown_entries_and_forgets_gone_ones() {
        let dir = tempfile::tempdir().unwrap();
        let folders = Folders::of(dir.path());
        let known = CacheKey([0xab; 32]);
        let mut gone = [0u8; 32];
        gone[0] = 0xab;
        let gone = CacheKey(gone);
        let found = CacheKey([0x01; 32]);
        for (key, len) in [(known, 7), (found, 3)] {
            let path = folders.entry(&key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, vec![0; len]).unwrap();
        }
        std::fs::write(folders.entries.join("ab").join("not-an-entry"), b"x").unwrap();
        let mut l = Ledger::empty();
        l.stored(known, 5, "k", 10, 10);
        l.stored(gone, 5, "g", 10, 10);
        walk(&folders, &mut l, || false);
        assert_eq!(l.walk_next, SHARDS);
        assert_eq!(l.records.len(), 2);
        assert_eq!(l.records[&known].size, 7);
        assert_eq!(&*l.records[&known].gate, "k");
        assert_eq!(l.records[&found].size, 3);
        assert!(
            l.records[&found].used > 0,
            "a found entry's use is its mtime"
        );
        assert!(!l.records.contains_key(&gone));
    }

    /// An entry that cannot be removed is kept with the file system's reason, apart from the
    /// entries another runner has just written, and stays in the ledger.
    #[test]
    fn an_entry_that_cannot_be_removed_is_kept_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let folders = Folders::of(dir.path());
        let (stuck, fresh, old) = (CacheKey([1; 32]), CacheKey([2; 32]), CacheKey([3; 32]));
        // A folder where the entry file should be: `unlink` fails (as root too).
        std::fs::create_dir_all(folders.entry(&stuck).join("in-the-way")).unwrap();
        for key in [fresh, old] {
            let path = folders.entry(&key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"entry").unwrap();
        }
        let mtime = |key: &CacheKey| {
            ms(std::fs::metadata(folders.entry(key))
                .unwrap()
                .modified()
                .unwrap())
        };
        let mut l = Ledger::empty();
        // Recorded as they are now (so not young), but `fresh`: another runner's, unrecorded.
        l.stored(stuck, 5, "stuck", 1, mtime(&stuck));
        l.stored(fresh, 5, "fresh", 2, 0);
        l.stored(old, 5, "old", 3, mtime(&old));
        let done = evict(
            &mut l,
            0,
            0,
            |key, record| remove_entry(&folders, key, record, false),
            || false,
        );
        assert_eq!(keys(&done.evicted), [3]);
        assert_eq!(done.young, 1, "the entry another runner just wrote");
        assert_eq!(done.failed.len(), 1, "{:?}", done.failed);
        let (entry, why) = &done.failed[0];
        assert_eq!((entry.key, entry.gate.as_str()), (stuck, "stuck"));
        assert!(why.contains("directory"), "{why}");
        assert!(l.records.contains_key(&stuck) && l.records.contains_key(&fresh));
    }
}
