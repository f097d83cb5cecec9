//! Compaction of the history file: the lines of days older than a horizon become one day
//! record per gate and day (`line::DayOut`), and what the history is read into stays exactly
//! the same.
//!
//! Why nothing is lost: a reader folds each gate's lines into one `graduation::Day` per UTC day
//! and reads streaks, green days, graduation and the last result from those days only; a
//! day's aggregate depends on that gate's lines of that day alone, in file order. A day record
//! is the fold of all of them (`graduation::merge` folds it back in), so a gate's days, the
//! file's highest run and its count of entries are unchanged whatever the horizon. The horizon
//! (30 days by default) only keeps recent lines readable by people (commit, mode, each run).
//!
//! What is kept as it is: corrupt lines, the torn end of a file, a gate's day of one line (it
//! is its own record), and every line of a gate's day when one of them has a field compaction
//! must not fold (`line::has_only_known_fields`). Mostly that is a field the runner writes
//! itself: `metrics`, `branch` and `machine` on the lines of gates with thresholds or exports
//! (baselines and sparklines read them line by line), and `baseline_accepted` (`runner
//! baseline accept`); else a field a later runner wrote, whatever it means. Blank lines go.
//!
//! The file is rewritten crash-safely (a new file, synced, renamed over the old) under an
//! exclusive `flock` on the old file. Every append (a run's lines, `runner baseline accept`)
//! goes through `store::Appender`, which holds a shared `flock` while it writes and, once it
//! holds it, checks that the path still names the file it opened, else opens it again: an
//! append is never written into a file compaction has replaced.
//! Lines appended without the lock (an older runner) are caught by comparing the old file's
//! length before the rename and after it, and copied over.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use time::Date;

use super::graduation::{self, Day, Mark};
use super::line::{self, DayIn, DayOut};

/// What compaction made of a history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Compacted {
    /// The new content.
    pub bytes: Vec<u8>,
    /// Lines of the file (result lines and earlier day records) folded into day records.
    pub folded: usize,
    /// Day records written.
    pub records: usize,
    /// Lines kept as they were.
    pub kept: usize,
}

/// One gate's day being folded.
struct Group {
    gate: Box<str>,
    day: Day,
    /// Result lines it stands for.
    lines: u64,
    /// The highest run of any of them.
    run: u64,
    /// The guard reason of the day's latest result.
    guard: Option<String>,
    /// False once a line of it has a field compaction must not fold (`metrics`, `branch`,
    /// `machine`, `baseline_accepted`, or one this runner does not know).
    plain: bool,
    /// Lines of the file in it (result lines and day records).
    items: usize,
    /// The latest execution with a duration (run, ms of day, duration), by that order.
    duration: Option<(u64, u32, u64)>,
}

impl Group {
    fn fold(
        &mut self,
        day: Day,
        lines: u64,
        run: u64,
        guard: Option<&str>,
        duration: Option<(u64, u32, u64)>,
    ) {
        self.duration = self.duration.max(duration);
        if day.last.ms >= self.day.last.ms {
            self.guard = guard.map(str::to_owned);
        }
        graduation::merge_into(&mut self.day, day);
        self.lines += lines;
        self.run = self.run.max(run);
        self.items += 1;
    }

    /// Becomes a day record: two lines or more, all of them plain (one line is its own
    /// record already, and a result line is no longer than the record it would become).
    fn folds(&self) -> bool {
        self.plain && self.items > 1
    }
}

/// What compaction would make of one gate's UTC day, kept by readers (`History`, and its
/// summary) so that a run knows whether compacting would fold anything without reading the
/// file again: the day's lines of the file (result lines, day records, baseline accepts),
/// counted up to 2, and whether all of them hold only fields compaction may fold. A day
/// folds (`Group::folds`) when it has two lines or more and all are plain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DayLines {
    pub date: Date,
    /// The day's whole lines, up to 2 (two are enough to fold).
    pub lines: u8,
    /// Every one of them holds only fields compaction may fold (`line::has_only_known_fields`).
    pub plain: bool,
}

impl DayLines {
    /// Compaction would fold this day into one record (if it is older than its cutoff).
    #[must_use]
    pub(crate) fn folds(&self) -> bool {
        self.plain && self.lines > 1
    }
}

/// Note one whole, valid line of a gate on `date` (UTC) in the gate's days, kept sorted by
/// date: `plain` when it holds only fields compaction may fold. Appends in time order cost
/// O(1).
pub(crate) fn note(days: &mut Vec<DayLines>, date: Date, plain: bool) {
    let i = match days.last() {
        Some(d) if d.date == date => days.len() - 1,
        Some(d) if d.date > date => match days.binary_search_by_key(&date, |d| d.date) {
            Ok(i) => i,
            Err(i) => {
                days.insert(
                    i,
                    DayLines {
                        date,
                        lines: 0,
                        plain: true,
                    },
                );
                i
            }
        },
        _ => {
            days.push(DayLines {
                date,
                lines: 0,
                plain: true,
            });
            days.len() - 1
        }
    };
    let day = &mut days[i];
    day.lines = day.lines.saturating_add(1).min(2);
    day.plain &= plain;
}

/// Would compacting at `cutoff` fold anything: has a gate a day before it with two plain lines
/// or more? Exactly what `compact` folds, for files whose lines were all noted.
pub(crate) fn folds_before<'a>(
    gates: impl IntoIterator<Item = &'a Vec<DayLines>>,
    cutoff: Date,
) -> bool {
    gates.into_iter().any(|days| {
        days.iter()
            .take_while(|d| d.date < cutoff)
            .any(DayLines::folds)
    })
}

/// Compact `text` (a whole history file): every gate's days before `cutoff` become day
/// records, first in the file (by day, then gate), then every other line in its order.
#[must_use]
pub(crate) fn compact(text: &[u8], cutoff: Date) -> Compacted {
    let body_end = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let (body, tail) = text.split_at(body_end);
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<(Box<str>, Date), usize> = HashMap::new();
    // Per line: its bytes (newline included) and the group it was folded into, if any.
    let mut lines: Vec<(&[u8], Option<usize>)> = Vec::new();
    for raw in body.split_inclusive(|&b| b == b'\n') {
        let content = raw.strip_suffix(b"\n").unwrap_or(raw);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry = match line::parse(content) {
            Ok(e) if e.at.date() < cutoff => e,
            _ => {
                lines.push((raw, None));
                continue;
            }
        };
        let date = entry.at.date();
        let (day, count) = match entry.day {
            Some(d) => (day_of_record(&entry, d), d.lines),
            None => (
                Day::of_entry(
                    entry.at,
                    entry.run,
                    entry.status,
                    entry.cached,
                    entry.guard,
                    entry.flaky,
                ),
                1,
            ),
        };
        let plain = line::has_only_known_fields(content);
        let key = (Box::<str>::from(entry.gate.as_ref()), date);
        let g = match index.get(&key) {
            Some(&g) => {
                groups[g].fold(
                    day,
                    count,
                    entry.run,
                    entry.guard_text.as_deref(),
                    entry.executed_duration(),
                );
                g
            }
            None => {
                groups.push(Group {
                    gate: key.0.clone(),
                    day,
                    lines: count,
                    run: entry.run,
                    guard: entry.guard_text.as_deref().map(str::to_owned),
                    plain: true,
                    items: 1,
                    duration: entry.executed_duration(),
                });
                index.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[g].plain &= plain;
        lines.push((raw, Some(g)));
    }
    let mut out = Compacted::default();
    let mut order: Vec<&Group> = groups.iter().filter(|g| g.folds()).collect();
    order.sort_by(|a, b| (a.day.date, &a.gate).cmp(&(b.day.date, &b.gate)));
    for g in order {
        let at = crate::vocab::clock::rfc3339(graduation::at_of(g.day.date, g.day.last.ms));
        let record = DayOut {
            at: &at,
            gate: &g.gate,
            status: g.day.last.status,
            cached: g.day.last.cached,
            guard: if g.day.last.guard {
                Some(g.guard.as_deref().unwrap_or(""))
            } else {
                None
            },
            flaky: g.day.last.flaky,
            run: g.run,
            day: DayIn {
                lines: g.lines,
                pass: g.day.pass.map(|m| (m.run, m.ms)),
                bad: g.day.bad.map(|m| (m.run, m.ms)),
                max_run: (g.day.max_run != g.run).then_some(g.day.max_run),
                flaky: g.day.flaky.map(|m| (m.run, m.ms)),
                executed: g.day.executed,
                flaky_passes: g.day.flaky_passes,
                duration: g.duration,
            },
        };
        out.bytes.extend_from_slice(&record.to_bytes());
        out.records += 1;
    }
    for (raw, group) in lines {
        if group.is_some_and(|g| groups[g].folds()) {
            out.folded += 1;
        } else {
            out.bytes.extend_from_slice(raw);
            out.kept += 1;
        }
    }
    out.bytes.extend_from_slice(tail);
    out
}

/// The day a day record stands for.
pub(super) fn day_of_record(entry: &line::Entry<'_>, d: DayIn) -> Day {
    let mark = |m: Option<(u64, u32)>| m.map(|(run, ms)| Mark { run, ms });
    let mut day = Day::of_entry(
        entry.at,
        0,
        entry.status,
        entry.cached,
        entry.guard,
        entry.flaky,
    );
    day.pass = mark(d.pass);
    day.bad = mark(d.bad);
    day.flaky = mark(d.flaky);
    day.executed = d.executed;
    day.flaky_passes = d.flaky_passes;
    day.max_run = d.max_run.unwrap_or(entry.run);
    day
}

/// What compacting the history file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Report {
    /// Bytes before and after.
    pub before: u64,
    /// Bytes after (lines appended meanwhile included).
    pub after: u64,
    /// Lines folded into day records, and the records.
    pub folded: usize,
    /// Day records written.
    pub records: usize,
    /// Bytes appended by other runners while compacting, copied over.
    pub caught_up: u64,
    /// The file was replaced. False when compacting would not change a byte: then it is left
    /// as it is (same inode, same modification time).
    pub rewritten: bool,
}

/// `flock` `op` on `file`, retried when a signal interrupts it.
pub(crate) fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor `file` owns for the whole call; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Does `path` still name the file `file` has open?
pub(crate) fn still_named(path: &Path, file: &File) -> io::Result<bool> {
    let open = file.metadata()?;
    Ok(match std::fs::metadata(path) {
        Ok(named) => named.ino() == open.ino() && named.dev() == open.dev(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    })
}

/// The name compaction's temporary file starts with, beside the history.
const TMP_PREFIX: &str = ".tmp-history-";

/// A temporary file of compaction older than this is a killed compaction's: no compaction
/// takes that long (32 MiB is rewritten in about a second).
const STALE_TMP: std::time::Duration = std::time::Duration::from_secs(3600);

/// Remove compaction's temporary files (`.tmp-history-*`) beside the history at `path` that
/// are older than an hour. A compaction killed before its rename leaves one, which nothing
/// reads; a younger one may be a running compaction's. Best effort: called by every
/// compaction and at the end of every run that appends (`History::compact_if_due`).
pub(crate) fn remove_stale_temporaries(path: &Path) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let ours = e
            .file_name()
            .as_encoded_bytes()
            .starts_with(TMP_PREFIX.as_bytes())
            && e.file_type().is_ok_and(|t| t.is_file());
        let old = || {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_TMP)
        };
        if ours && old() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Compact the history file at `path` in place (see the module's text); a file compaction
/// would not change is not rewritten. None when there is no file.
pub(crate) fn compact_file(path: &Path, cutoff: Date) -> io::Result<Option<Report>> {
    remove_stale_temporaries(path);
    let mut old = loop {
        let file = match OpenOptions::new().read(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        flock(&file, libc::LOCK_EX)?;
        // Another compaction may have replaced the file while this one waited.
        if still_named(path, &file)? {
            break file;
        }
    };
    let mut text = Vec::new();
    old.read_to_end(&mut text)?;
    let before = text.len() as u64;
    let compacted = compact(&text, cutoff);
    if compacted.bytes == text {
        return Ok(Some(Report {
            before,
            after: before,
            folded: 0,
            records: 0,
            caught_up: 0,
            rewritten: false,
        }));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut new = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .permissions(old.metadata()?.permissions())
        .tempfile_in(dir)?;
    new.write_all(&compacted.bytes)?;
    // Lines an appender wrote without the lock (an older runner) while this one worked.
    let mut read = before;
    let mut copy_appended = |to: &mut dyn io::Write, read: &mut u64| -> io::Result<u64> {
        let len = old.metadata()?.len();
        if len <= *read {
            return Ok(0);
        }
        old.seek(SeekFrom::Start(*read))?;
        let mut more = Vec::new();
        (&old).take(len - *read).read_to_end(&mut more)?;
        to.write_all(&more)?;
        *read += more.len() as u64;
        Ok(more.len() as u64)
    };
    let mut caught_up = copy_appended(new.as_file_mut(), &mut read)?;
    new.as_file().sync_all()?;
    let new_file = new.persist(path).map_err(|e| e.error)?;
    let mut after = new_file.metadata()?.len();
    // Anything that still landed in the old file between the last check and the rename.
    let mut appender = OpenOptions::new().append(true).open(path)?;
    let late = copy_appended(&mut appender, &mut read)?;
    caught_up += late;
    after += late;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    drop(old);
    Ok(Some(Report {
        before,
        after,
        folded: compacted.folded,
        records: compacted.records,
        caught_up,
        rewritten: true,
    }))
}
