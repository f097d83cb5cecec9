//! The history summary: the per-gate day aggregates of the history file up to a byte offset,
//! saved beside it so a run parses only the lines appended since (the file only grows).
//!
//! Without it every run would re-read the whole history, which grows by one line per gate per
//! run: at 10,000 gates that is seconds after a few weeks. The summary is a cache, never the
//! truth: if the history was rewritten, truncated or replaced (its inode, length or the bytes
//! just before the offset differ), it is ignored and the file is read in full.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use time::Date;

use super::compact::DayLines;
use super::graduation::{Day, LastOfDay, Mark};
use crate::bincodec::{self, Reader, Writer};
use crate::vocab::Status;

const MAGIC: &[u8] = b"RUNNER-HISTORY-SUMMARY-7\n";
/// How many bytes before the offset must match for the summary to be trusted.
const TAIL: u64 = 256;

/// The aggregated state of the history file's first `offset` bytes.
pub(crate) struct Summary<S> {
    pub inode: u64,
    pub offset: u64,
    pub tail_hash: [u8; 32],
    pub lines: usize,
    /// Corrupt lines in the summarised part: line number and reason (at most 100).
    pub corrupt: usize,
    pub warnings: Vec<(usize, String)>,
    pub entries: usize,
    pub max_run: u64,
    pub gates: HashMap<Box<str>, Vec<Day>, S>,
    /// Per gate, what compaction would make of each of its days in the summarised part
    /// (`compact::DayLines`), sorted by date.
    pub day_lines: HashMap<Box<str>, Vec<DayLines>, S>,
    /// The file's length right after its last compaction (0: unknown). Compaction runs again
    /// on its own only once the file has doubled since.
    pub compacted_len: u64,
}

/// Where the summary of `history` lives.
pub(crate) fn path_of(history: &Path) -> PathBuf {
    let mut name = history
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(".summary");
    history.with_file_name(name)
}

/// BLAKE3 of the `TAIL` bytes before `offset` in `file`.
pub(crate) fn tail_hash(file: &mut std::fs::File, offset: u64) -> std::io::Result<[u8; 32]> {
    let start = offset.saturating_sub(TAIL);
    file.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity(usize::try_from(offset - start).unwrap_or(0));
    file.by_ref().take(offset - start).read_to_end(&mut buf)?;
    Ok(*blake3::hash(&buf).as_bytes())
}

/// Load a summary that still describes `file`'s first bytes; None when absent or stale.
pub(crate) fn load<S: BuildHasher + Default>(
    summary_path: &Path,
    file: &mut std::fs::File,
) -> Option<Summary<S>> {
    let data = std::fs::read(summary_path).ok()?;
    let summary: Summary<S> = decode(&data).ok()?;
    let meta = file.metadata().ok()?;
    if meta.ino() != summary.inode || meta.len() < summary.offset {
        return None;
    }
    (tail_hash(file, summary.offset).ok()? == summary.tail_hash).then_some(summary)
}

/// Save a summary (best effort: it is only a cache).
pub(crate) fn save<S>(summary_path: &Path, s: &Summary<S>) {
    let mut w = Writer::new(MAGIC);
    w.u64(s.inode);
    w.u64(s.offset);
    w.raw(&s.tail_hash);
    w.u64(s.lines as u64);
    w.u64(s.corrupt as u64);
    w.u32(u32::try_from(s.warnings.len()).unwrap_or(u32::MAX));
    for (line, why) in &s.warnings {
        w.u64(*line as u64);
        w.bytes(why.as_bytes());
    }
    w.u64(s.entries as u64);
    w.u64(s.max_run);
    w.u64(s.compacted_len);
    w.u64(s.gates.len() as u64);
    for (gate, days) in &s.gates {
        w.bytes(gate.as_bytes());
        w.u32(u32::try_from(days.len()).unwrap_or(u32::MAX));
        for d in days {
            w.i64(i64::from(d.date.to_julian_day()));
            mark(&mut w, d.pass);
            mark(&mut w, d.bad);
            mark(&mut w, d.flaky);
            w.u64(d.max_run);
            w.u32(d.executed);
            w.u32(d.flaky_passes);
            w.u32(d.last.ms);
            w.u32(
                status_code(d.last.status)
                    | (u32::from(d.last.cached) << 8)
                    | (u32::from(d.last.guard) << 9)
                    | (u32::from(d.last.flaky) << 10),
            );
        }
    }
    w.u64(s.day_lines.len() as u64);
    for (gate, days) in &s.day_lines {
        w.bytes(gate.as_bytes());
        w.u32(u32::try_from(days.len()).unwrap_or(u32::MAX));
        for d in days {
            // RFC 3339 years (0000 to 9999) have Julian days from 1,721,060 to 5,373,484: 24
            // bits, with the line count (2 bits) and the plain bit below them.
            let day = u32::try_from(d.date.to_julian_day()).unwrap_or(0);
            w.u32((day << 8) | u32::from(d.lines) | (u32::from(d.plain) << 2));
        }
    }
    let _ = bincodec::write_atomic(summary_path, &w.finish());
}

fn mark(w: &mut Writer, m: Option<Mark>) {
    match m {
        Some(m) => {
            w.u32(1);
            w.u64(m.run);
            w.u32(m.ms);
        }
        None => w.u32(0),
    }
}

fn status_code(s: Status) -> u32 {
    match s {
        Status::Pass => 0,
        Status::Fail => 1,
        Status::Skip => 2,
        Status::Error => 3,
        Status::NotRun => 4,
    }
}

fn status_of(code: u32) -> Option<Status> {
    Some(match code {
        0 => Status::Pass,
        1 => Status::Fail,
        2 => Status::Skip,
        3 => Status::Error,
        4 => Status::NotRun,
        _ => return None,
    })
}

fn decode<S: BuildHasher + Default>(data: &[u8]) -> Result<Summary<S>, bincodec::DecodeError> {
    use bincodec::DecodeError::Truncated;
    let mut r = Reader::open(data, MAGIC)?;
    let inode = r.u64()?;
    let offset = r.u64()?;
    let tail_hash: [u8; 32] = r.raw(32)?.try_into().map_err(|_| Truncated)?;
    let lines = usize::try_from(r.u64()?).map_err(|_| Truncated)?;
    let corrupt = usize::try_from(r.u64()?).map_err(|_| Truncated)?;
    let count = r.u32()?;
    let mut warnings = Vec::with_capacity(count.min(128) as usize);
    for _ in 0..count {
        let line = usize::try_from(r.u64()?).map_err(|_| Truncated)?;
        warnings.push((line, String::from_utf8_lossy(r.bytes()?).into_owned()));
    }
    let entries = usize::try_from(r.u64()?).map_err(|_| Truncated)?;
    let max_run = r.u64()?;
    let compacted_len = r.u64()?;
    let n = r.u64()?;
    let mut gates = HashMap::with_capacity_and_hasher(
        usize::try_from(n).unwrap_or(0).min(1 << 20),
        S::default(),
    );
    for _ in 0..n {
        let gate: Box<str> = std::str::from_utf8(r.bytes()?)
            .map_err(|_| Truncated)?
            .into();
        let count = r.u32()?;
        let mut days = Vec::with_capacity(count.min(1 << 16) as usize);
        for _ in 0..count {
            let date = Date::from_julian_day(i32::try_from(r.i64()?).map_err(|_| Truncated)?)
                .map_err(|_| Truncated)?;
            let pass = read_mark(&mut r)?;
            let bad = read_mark(&mut r)?;
            let flaky = read_mark(&mut r)?;
            let day_max_run = r.u64()?;
            let executed = r.u32()?;
            let flaky_passes = r.u32()?;
            let ms = r.u32()?;
            let code = r.u32()?;
            let status = status_of(code & 0xff).ok_or(Truncated)?;
            days.push(Day {
                date,
                pass,
                bad,
                flaky,
                max_run: day_max_run,
                executed,
                flaky_passes,
                last: LastOfDay {
                    ms,
                    status,
                    cached: (code >> 8) & 1 == 1,
                    guard: (code >> 9) & 1 == 1,
                    flaky: (code >> 10) & 1 == 1,
                },
            });
        }
        gates.insert(gate, days);
    }
    let n = r.u64()?;
    let mut day_lines = HashMap::with_capacity_and_hasher(
        usize::try_from(n).unwrap_or(0).min(1 << 20),
        S::default(),
    );
    for _ in 0..n {
        let gate: Box<str> = std::str::from_utf8(r.bytes()?)
            .map_err(|_| Truncated)?
            .into();
        let count = r.u32()?;
        let mut days = Vec::with_capacity(count.min(1 << 16) as usize);
        for _ in 0..count {
            let code = r.u32()?;
            let date = Date::from_julian_day(i32::try_from(code >> 8).map_err(|_| Truncated)?)
                .map_err(|_| Truncated)?;
            days.push(DayLines {
                date,
                lines: u8::try_from(code & 3).map_err(|_| Truncated)?,
                plain: (code >> 2) & 1 == 1,
            });
        }
        day_lines.insert(gate, days);
    }
    Ok(Summary {
        inode,
        offset,
        tail_hash,
        lines,
        corrupt,
        warnings,
        entries,
        max_run,
        gates,
        day_lines,
        compacted_len,
    })
}

fn read_mark(r: &mut Reader<'_>) -> Result<Option<Mark>, bincodec::DecodeError> {
    Ok(match r.u32()? {
        0 => None,
        _ => Some(Mark {
            run: r.u64()?,
            ms: r.u32()?,
        }),
    })
}
