//! The history file: streamed into per-gate day aggregates when read, appended to a line at a
//! time when a run ends.
//!
//! Each line carries `run`, a sequence number that grows in the order runs were written:
//! `max(highest run in the file + 1, the run's clock in milliseconds since the epoch)` (a
//! hybrid logical clock). With sane clocks it follows time, so files merged from two places
//! still interleave correctly; when a clock went backwards it still grows, so the order of
//! writing is known (see `graduation` for how that keeps graduations sticky).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::compact::{self, DayLines};
use super::graduation::{self, Day, FlakeRate, Standing};
use super::line::{self, LineOut};
use super::summary;
use super::warning::HistoryWarning;
use crate::config::{Gate, Settings};
use crate::fasthash::FastBuild;
use crate::report::Report;
use crate::vocab::Mode;

/// Where a run ran, recorded with its metric values: values are compared only within a branch
/// and a machine.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunPlace {
    /// The branch the run is on; None when detached or unknown.
    pub branch: Option<String>,
    /// The machine fingerprint (`machine::Machine::id`).
    pub machine: String,
}

impl RunPlace {
    /// The run's branch (CI variables, else `.git`) and this machine's fingerprint, for a
    /// config in `root`.
    #[must_use]
    pub(crate) fn detect(root: &Path, env: &dyn Fn(&str) -> Option<String>) -> RunPlace {
        RunPlace {
            branch: super::branch::current(root, env),
            machine: super::machine::Machine::current(env).id,
        }
    }
}

/// A gate's judged metric values: each threshold's (fixed or baseline) and each export's.
#[must_use]
pub(crate) fn metric_values(
    gate: &crate::report::GateReport,
) -> std::collections::BTreeMap<String, f64> {
    let mut values = std::collections::BTreeMap::new();
    for t in &gate.thresholds {
        if let Some(v) = t.value.filter(|v| v.is_finite()) {
            values.insert(t.metric.clone(), v);
        }
    }
    for e in &gate.exports {
        if e.value.is_finite() {
            values.entry(e.name.clone()).or_insert(e.value);
        }
    }
    values
}

/// Largest single append: whole lines only, so each write stays atomic.
const BATCH_BYTES: usize = 64 * 1024;

/// Corrupt lines reported one by one; past this, one summary line.
const MAX_LINE_WARNINGS: usize = 100;

/// The history file as read: per gate, one aggregate per UTC day it ran.
pub(crate) struct History {
    path: PathBuf,
    gates: HashMap<Box<str>, Vec<Day>, FastBuild>,
    warnings: Vec<HistoryWarning>,
    /// The highest `run` in the file.
    max_run: u64,
    /// Valid lines read.
    entries: usize,
    /// Lines before the part of the file read this time (from the summary).
    lines_before: usize,
    /// Corrupt lines seen in the whole file (their warnings are kept in the summary, so they
    /// are repeated on every run until the lines are fixed).
    corrupt: usize,
    /// The state just before a torn last line, which the summary must not include.
    before_torn: Option<SummaryState>,
    /// The commit appended lines record, looked up once (`find_commit` or `append_run`).
    commit: std::sync::OnceLock<Option<String>>,
    /// When the state read covers the whole file: its inode (0: no file yet) and length. Then
    /// `append_run` can fold its own lines into the summary, and the next run parses nothing.
    whole_file: Option<(u64, u64)>,
    /// Per gate, what compaction would make of each of its days (lines, all plain): it has
    /// work when one older than the horizon folds.
    day_lines: GateLines,
    /// The file's length right after it was last compacted (from the summary; 0: unknown).
    compacted_len: u64,
}

/// Per gate, its days as compaction sees them (`compact::DayLines`), sorted by date.
type GateLines = HashMap<Box<str>, Vec<DayLines>, FastBuild>;

/// What a summary records of the history read so far.
#[derive(Clone)]
struct SummaryState {
    lines: usize,
    corrupt: usize,
    warnings: Vec<HistoryWarning>,
    entries: usize,
    max_run: u64,
    gates: HashMap<Box<str>, Vec<Day>, FastBuild>,
    day_lines: GateLines,
}

impl History {
    /// A history of `path` with nothing read yet.
    fn blank(path: &Path) -> Self {
        History {
            path: path.to_path_buf(),
            gates: HashMap::default(),
            warnings: Vec::new(),
            max_run: 0,
            entries: 0,
            lines_before: 0,
            corrupt: 0,
            before_torn: None,
            commit: std::sync::OnceLock::new(),
            whole_file: None,
            day_lines: HashMap::default(),
            compacted_len: 0,
        }
    }

    /// Read the history file (missing = empty). Corrupt lines are skipped, one warning each.
    #[must_use]
    pub(crate) fn load(path: &Path) -> Self {
        let mut history = History::blank(path);
        match File::open(path) {
            Ok(file) => history.read_with_summary(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => history.whole_file = Some((0, 0)),
            Err(e) => history.warnings.push(HistoryWarning::Unopenable {
                file: shown(path),
                error: e.to_string(),
            }),
        }
        history
    }

    /// Read the lines appended since the saved summary (all of them when there is none or it
    /// is stale), then save a new summary if enough new bytes were read.
    fn read_with_summary(&mut self, mut file: File) {
        let summary_path = summary::path_of(&self.path);
        let mut start = 0u64;
        if let Some(s) = summary::load::<FastBuild>(&summary_path, &mut file) {
            start = s.offset;
            self.entries = s.entries;
            self.max_run = s.max_run;
            self.gates = s.gates;
            self.lines_before = s.lines;
            self.corrupt = s.corrupt;
            self.day_lines = s.day_lines;
            self.compacted_len = s.compacted_len;
            let file = shown(&self.path);
            self.warnings = s
                .warnings
                .into_iter()
                .map(|(line, why)| HistoryWarning::CorruptLine {
                    file: file.clone(),
                    line,
                    why,
                })
                .collect();
        }
        if file.seek(SeekFrom::Start(start)).is_err() {
            return;
        }
        let consumed = self.read(BufReader::with_capacity(1 << 16, &mut file));
        // Only what was read up to the last newline is summarised; a torn last line is read
        // again next time.
        let offset = start + consumed;
        if self.before_torn.is_none()
            && let Ok(meta) = file.metadata()
            && meta.len() == offset
        {
            self.whole_file = Some((meta.ino(), offset));
        }
        if consumed > 0
            && let Ok(meta) = file.metadata()
            && let Ok(tail_hash) = summary::tail_hash(&mut file, offset)
        {
            let torn = self.before_torn.take();
            let state = torn.as_ref().map_or_else(
                || SummaryState {
                    lines: self.lines_before,
                    corrupt: self.corrupt,
                    warnings: Vec::new(),
                    entries: self.entries,
                    max_run: self.max_run,
                    gates: std::mem::take(&mut self.gates),
                    day_lines: std::mem::take(&mut self.day_lines),
                },
                Clone::clone,
            );
            let warnings = if torn.is_some() {
                &state.warnings
            } else {
                &self.warnings
            };
            let s = summary::Summary {
                inode: meta.ino(),
                offset,
                tail_hash,
                lines: state.lines,
                corrupt: state.corrupt,
                warnings: summarised_warnings(warnings),
                entries: state.entries,
                max_run: state.max_run,
                gates: state.gates,
                day_lines: state.day_lines,
                compacted_len: self.compacted_len,
            };
            summary::save(&summary_path, &s);
            if torn.is_none() {
                self.gates = s.gates;
                self.day_lines = s.day_lines;
            }
        }
    }

    /// The state to summarise after `lines` lines (cloned: only needed before a torn line).
    fn summary_state(&self, lines: usize) -> SummaryState {
        SummaryState {
            lines,
            corrupt: self.corrupt,
            warnings: self.warnings.clone(),
            entries: self.entries,
            max_run: self.max_run,
            gates: self.gates.clone(),
            day_lines: self.day_lines.clone(),
        }
    }

    /// Read lines; returns the bytes consumed up to and including the last complete line.
    fn read(&mut self, mut reader: impl BufRead) -> u64 {
        let mut buf = Vec::with_capacity(256);
        let mut consumed = 0u64;
        let mut number = self.lines_before;
        let mut corrupt = self.corrupt;
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if buf.ends_with(b"\n") {
                        consumed += n as u64;
                    } else {
                        // A torn last line: summarise what came before it, then read it.
                        self.corrupt = corrupt;
                        self.before_torn = Some(self.summary_state(number));
                    }
                }
                Err(e) => {
                    self.warnings.push(HistoryWarning::Unreadable {
                        file: shown(&self.path),
                        after_line: number,
                        error: e.to_string(),
                    });
                    break;
                }
            }
            number += 1;
            let whole = buf.ends_with(b"\n");
            let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let entry = line::parse(text);
            if let Ok(entry) = &entry
                && whole
            {
                // What compaction sees of the gate's day (which leaves a torn line alone).
                let days = match self.day_lines.get_mut(entry.gate.as_ref()) {
                    Some(days) => days,
                    None => self
                        .day_lines
                        .entry(entry.gate.as_ref().into())
                        .or_default(),
                };
                compact::note(days, entry.at.date(), line::has_only_known_fields(text));
            }
            match entry {
                // `runner baseline accept`: not a result; only baselines read it.
                Ok(entry) if entry.accept => self.entries += 1,
                Ok(entry) => {
                    self.max_run = self.max_run.max(entry.run);
                    let days = match self.gates.get_mut(entry.gate.as_ref()) {
                        Some(days) => days,
                        None => self.gates.entry(entry.gate.as_ref().into()).or_default(),
                    };
                    if let Some(day) = entry.day {
                        // A day record (`compact`): the whole day at once.
                        self.entries += usize::try_from(day.lines).unwrap_or(usize::MAX);
                        graduation::merge(days, compact::day_of_record(&entry, day));
                    } else {
                        self.entries += 1;
                        graduation::record(
                            days,
                            entry.at,
                            entry.run,
                            entry.status,
                            entry.cached,
                            entry.guard,
                            entry.flaky,
                        );
                    }
                }
                Err(why) => {
                    corrupt += 1;
                    if corrupt <= MAX_LINE_WARNINGS {
                        self.warnings.push(HistoryWarning::CorruptLine {
                            file: shown(&self.path),
                            line: number,
                            why: why.to_string(),
                        });
                    }
                }
            }
        }
        self.corrupt = corrupt;
        if corrupt > MAX_LINE_WARNINGS {
            self.warnings.push(HistoryWarning::MoreCorrupt {
                file: shown(&self.path),
                count: corrupt - MAX_LINE_WARNINGS,
            });
        }
        self.lines_before = number;
        consumed
    }

    /// The commit this run's lines record (CI variables, else one bounded `git` call), looked
    /// up once; call it early from a background thread to take the `git` call off the end of
    /// the run.
    pub(crate) fn find_commit(&self) -> Option<String> {
        self.commit
            .get_or_init(|| super::commit::current(self.path.parent().unwrap_or(Path::new("."))))
            .clone()
    }

    /// Problems met while reading (corrupt lines), one line each.
    #[must_use]
    pub(crate) fn warnings(&self) -> Vec<String> {
        self.warnings.iter().map(ToString::to_string).collect()
    }

    /// The gate's mode now: blocking once an observational gate graduated.
    #[must_use]
    pub(crate) fn effective_mode(
        &self,
        gate: &Gate,
        settings: &Settings,
        now: OffsetDateTime,
    ) -> Mode {
        match gate.mode {
            Mode::Blocking => Mode::Blocking,
            Mode::Observational if self.standing(gate, settings, now).graduated.is_some() => {
                Mode::Blocking
            }
            Mode::Observational => Mode::Observational,
        }
    }

    /// Streak, graduation and last result of a gate at `now`. Graduation is only computed for
    /// observational gates with N > 0.
    #[must_use]
    pub(crate) fn standing(
        &self,
        gate: &Gate,
        settings: &Settings,
        now: OffsetDateTime,
    ) -> Standing {
        let n = match gate.mode {
            Mode::Observational => gate.graduate_after(settings),
            Mode::Blocking => 0,
        };
        graduation::standing(
            self.gates
                .get(gate.name.as_str())
                .map_or(&[], Vec::as_slice),
            now,
            n,
        )
    }

    /// How many of the gate's executions in its latest days up to `now` were flaky passes,
    /// over at least its last `window` runs (`graduation::flake_rate`).
    #[must_use]
    pub(crate) fn flake_rate(&self, gate: &Gate, now: OffsetDateTime, window: u32) -> FlakeRate {
        graduation::flake_rate(
            self.gates
                .get(gate.name.as_str())
                .map_or(&[], Vec::as_slice),
            now,
            window,
        )
    }

    /// Valid lines read.
    #[must_use]
    pub(crate) fn entries(&self) -> usize {
        self.entries
    }

    /// The history file.
    #[must_use]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// After a run's lines were appended: compact the file when it is past
    /// `AUTO_COMPACT_BYTES`, has doubled since it was last compacted (when the summary
    /// remembers that), and compacting at `HORIZON` would fold something: a gate's day older
    /// than the horizon has two lines or more, all of them plain. A file with nothing to fold
    /// is never rewritten, however large (days of one line, metric days; a CI cache restore
    /// loses the summary, and with it the length of the last compaction). None when it was not
    /// due. Either way, the temporary files of a compaction that was killed an hour or more
    /// ago go.
    pub(crate) fn compact_if_due(
        &self,
        now: OffsetDateTime,
    ) -> Option<std::io::Result<Option<compact::Report>>> {
        compact::remove_stale_temporaries(&self.path);
        self.compact_past(now, AUTO_COMPACT_BYTES)
    }

    /// `compact_if_due` with another size than `AUTO_COMPACT_BYTES`.
    fn compact_past(
        &self,
        now: OffsetDateTime,
        size: u64,
    ) -> Option<std::io::Result<Option<compact::Report>>> {
        let len = std::fs::metadata(&self.path).ok()?.len();
        let cutoff = (now.to_offset(time::UtcOffset::UTC) - HORIZON).date();
        let due = len > size
            && len > self.compacted_len.saturating_mul(2)
            && compact::folds_before(self.day_lines.values(), cutoff);
        due.then(|| compact_history(&self.path, now, HORIZON))
    }

    /// The sequence number of a run writing at `now`: above every run in the file, and the
    /// clock in milliseconds when that is higher.
    #[must_use]
    pub(crate) fn next_run(&self, now: OffsetDateTime) -> u64 {
        let clock = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        self.max_run.saturating_add(1).max(clock)
    }

    /// Append one line per judged gate of `report`, through `Appender`: each line goes out in a
    /// single `write` on a file opened for appending, so concurrent runners never interleave or
    /// tear lines, and never into a file compaction has replaced; the file is never rewritten.
    ///
    /// # Errors
    /// When the history's folder or file cannot be created, opened or written.
    pub(crate) fn append_run(
        &mut self,
        report: &Report,
        now: OffsetDateTime,
        place: &RunPlace,
    ) -> std::io::Result<()> {
        if report.gates.is_empty() {
            return Ok(());
        }
        let commit = self.find_commit();
        // Whole seconds in UTC, as in SPEC 6's examples (and the reader's fast path).
        let utc = now.to_offset(time::UtcOffset::UTC);
        let at = crate::vocab::clock::rfc3339(utc.replace_nanosecond(0).unwrap_or(utc));
        let run = self.next_run(now);
        let mut out = Appender::open(&self.path)?;
        let foldable = !out.newline_first
            && self.whole_file.is_some_and(|(ino, len)| {
                len == out.start_len && (ino == out.ino || (ino, len) == (0, 0))
            });
        // Whole lines are batched into writes of at most 64 KiB: one write(2) on a file opened
        // with O_APPEND lands in one piece, so lines still never interleave or tear, and a run
        // of 10,000 gates costs a few dozen system calls instead of 10,000.
        let mut batch: Vec<u8> = Vec::with_capacity(BATCH_BYTES);
        // Per gate, whether its line is plain (compaction may fold it): it has no metrics.
        let mut plain = Vec::with_capacity(report.gates.len());
        for gate in &report.gates {
            let metrics = metric_values(gate);
            let metrics = (!metrics.is_empty()).then_some(&metrics);
            let record = LineOut {
                at: &at,
                gate: &gate.name,
                status: gate.status,
                mode: gate.mode,
                cached: gate.cached,
                flaky: gate.flaky,
                guard: gate.guard.as_deref(),
                commit: commit.as_deref(),
                run,
                branch: metrics.and(place.branch.as_deref()),
                machine: metrics.map(|_| place.machine.as_str()),
                metrics,
                duration_ms: gate.duration_ms,
            };
            let bytes = record.to_bytes();
            plain.push(metrics.is_none());
            debug_assert_eq!(
                metrics.is_none(),
                line::has_only_known_fields(&bytes[..bytes.len() - 1]),
                "{bytes:?}"
            );
            if !batch.is_empty() && batch.len() + bytes.len() > BATCH_BYTES {
                out.append(&batch)?;
                batch.clear();
            }
            batch.extend_from_slice(&bytes);
        }
        if !batch.is_empty() {
            out.append(&batch)?;
        }
        let end = out.start_len + out.written;
        if foldable {
            self.fold_into_summary(&mut out.file, end, report, &plain, &at, run);
        }
        Ok(())
    }

    /// Record `runner baseline accept GATE --reason TEXT`: one line, appended like a run's
    /// (through `Appender`, under the same protocol), after which the gate's baselines start
    /// anew.
    ///
    /// # Errors
    /// When the history's folder or file cannot be created, opened or written.
    pub(crate) fn append_accept(
        &mut self,
        gate: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> std::io::Result<()> {
        let utc = now.to_offset(time::UtcOffset::UTC);
        let at = crate::vocab::clock::rfc3339(utc.replace_nanosecond(0).unwrap_or(utc));
        let run = self.next_run(now);
        let bytes = line::AcceptOut {
            at: &at,
            gate,
            baseline_accepted: reason,
            run,
        }
        .to_bytes();
        Appender::open(&self.path)?.append(&bytes)?;
        self.max_run = self.max_run.max(run);
        Ok(())
    }

    /// After appending this run's lines to a file this history had read whole: if the file is
    /// exactly what was read plus what was written (no other runner appended in between),
    /// record the lines from memory and save the summary at the new end, so the next run
    /// parses none of them. Anything else leaves the summary as it was (the next run reads
    /// the new lines, as before).
    fn fold_into_summary(
        &mut self,
        file: &mut File,
        end: u64,
        report: &Report,
        plain: &[bool],
        at: &str,
        run: u64,
    ) {
        let Ok(meta) = file.metadata() else { return };
        let Ok(at) = line::parse_at(at) else { return };
        if meta.len() != end {
            return;
        }
        for (gate, &plain) in report.gates.iter().zip(plain) {
            let lines = match self.day_lines.get_mut(gate.name.as_str()) {
                Some(lines) => lines,
                None => self.day_lines.entry(gate.name.as_str().into()).or_default(),
            };
            compact::note(lines, at.date(), plain);
            let days = match self.gates.get_mut(gate.name.as_str()) {
                Some(days) => days,
                None => self.gates.entry(gate.name.as_str().into()).or_default(),
            };
            graduation::record(
                days,
                at,
                run,
                gate.status,
                gate.cached,
                gate.guard.is_some(),
                gate.flaky,
            );
            self.entries += 1;
            self.lines_before += 1;
            self.max_run = self.max_run.max(run);
        }
        let Ok(tail_hash) = summary::tail_hash(file, end) else {
            return;
        };
        let s = summary::Summary {
            inode: meta.ino(),
            offset: end,
            tail_hash,
            lines: self.lines_before,
            corrupt: self.corrupt,
            warnings: summarised_warnings(&self.warnings),
            entries: self.entries,
            max_run: self.max_run,
            gates: std::mem::take(&mut self.gates),
            day_lines: std::mem::take(&mut self.day_lines),
            compacted_len: self.compacted_len,
        };
        summary::save(&summary::path_of(&self.path), &s);
        self.gates = s.gates;
        self.day_lines = s.day_lines;
        self.whole_file = Some((meta.ino(), end));
    }
}

/// Past this size, a run compacts the history on its own (`History::compact_if_due`): 32 MiB
/// is read in about a quarter of a second when no summary helps (a fresh clone, a CI job), and
/// is a few weeks of a 2,000-gate repository's lines.
pub(crate) const AUTO_COMPACT_BYTES: u64 = 32 << 20;

/// Lines of days older than this are compacted unless asked otherwise.
pub(crate) const HORIZON: time::Duration = time::Duration::days(30);

/// Compact the history at `path`: the lines of UTC days before the day `older_than` before
/// `now` become day records (`compact`). Then a summary of the new file is written, which
/// remembers its length. A file compaction would not change is left as it is, and its
/// summary too. None when there is no history.
///
/// # Errors
/// When the file cannot be locked, read, written or renamed (it is then left as it was).
pub(crate) fn compact_history(
    path: &Path,
    now: OffsetDateTime,
    older_than: time::Duration,
) -> std::io::Result<Option<compact::Report>> {
    let cutoff = (now.to_offset(time::UtcOffset::UTC) - older_than).date();
    let report = compact::compact_file(path, cutoff)?;
    if let Some(r) = report.as_ref().filter(|r| r.rewritten) {
        let mut history = History::blank(path);
        history.compacted_len = r.after;
        if let Ok(file) = File::open(path) {
            history.read_with_summary(file);
        }
    }
    Ok(report)
}

/// The warnings a summary keeps, as data: the corrupt lines' numbers and reasons.
fn summarised_warnings(warnings: &[HistoryWarning]) -> Vec<(usize, String)> {
    warnings
        .iter()
        .filter(|w| w.is_kept_in_summary())
        .filter_map(|w| match w {
            HistoryWarning::CorruptLine { line, why, .. } => Some((*line, why.clone())),
            _ => None,
        })
        .collect()
}

/// The history file open for appending under compaction's protocol (`compact`'s module text):
/// every line the runner adds to a history goes through one, so none can land in a file
/// compaction has replaced. `open` holds a shared `flock` on the file until it is dropped:
/// compaction holds it exclusively while it rewrites the file, and replaces the file before
/// letting go, so once the lock is held `open` checks that the path still names the file it
/// opened, and opens it again when not. On a file system without `flock` the append goes on
/// unlocked, as before compaction existed.
struct Appender {
    file: File,
    /// The file's inode and length once opened and locked.
    ino: u64,
    start_len: u64,
    /// The file did not end with a newline (a torn or hand-edited last line, which would
    /// swallow the first line written): the first write starts with one.
    newline_first: bool,
    /// Bytes written so far.
    written: u64,
}

impl Appender {
    /// Open (and create, with its folder) the history at `path` for appending.
    fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Each retry means a whole compaction finished meanwhile: a few are plenty.
        for _ in 0..16 {
            let file = OpenOptions::new()
                .append(true)
                .create(true)
                .read(true)
                .open(path)?;
            if compact::flock(&file, libc::LOCK_SH).is_err() || compact::still_named(path, &file)? {
                let newline_first = !ends_with_newline(&file)?;
                let meta = file.metadata()?;
                return Ok(Appender {
                    file,
                    ino: meta.ino(),
                    start_len: meta.len(),
                    newline_first,
                    written: 0,
                });
            }
        }
        Err(std::io::Error::other(
            "the file was replaced 16 times while opening it",
        ))
    }

    /// Append whole lines (newline included) in one `write(2)`.
    fn append(&mut self, lines: &[u8]) -> std::io::Result<()> {
        if std::mem::take(&mut self.newline_first) {
            let mut bytes = Vec::with_capacity(lines.len() + 1);
            bytes.push(b'\n');
            bytes.extend_from_slice(lines);
            write_line(&mut self.file, &bytes)?;
            self.written += bytes.len() as u64;
        } else {
            write_line(&mut self.file, lines)?;
            self.written += lines.len() as u64;
        }
        Ok(())
    }
}

/// One `write(2)` of a whole line. A short write (a full disk) is finished, and reported.
fn write_line(file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    let written = file.write(bytes)?;
    if written < bytes.len() {
        file.write_all(&bytes[written..])?;
    }
    Ok(())
}

fn ends_with_newline(file: &File) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt as _;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, len - 1)?;
    Ok(last[0] == b'\n')
}

/// A path as the user would type it: relative to the current folder when inside it.
fn shown(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use time::macros::datetime;

    use super::*;

    fn read(text: &str) -> History {
        let mut h = History::blank(Path::new("h.jsonl"));
        h.read(Cursor::new(text.as_bytes().to_vec()));
        h
    }

    fn report_of(gates: &[(&str, crate::vocab::Status, bool)]) -> Report {
        Report {
            outcome: crate::vocab::exit_code::Outcome::Pass,
            version: 1,
            exit_code: 0,
            started_at: String::new(),
            duration_ms: 0,
            summary: crate::report::model::Summary::default(),
            labels: Vec::new(),
            gates: gates
                .iter()
                .map(|(name, status, cached)| crate::report::model::GateReport {
                    why: None,
                    ran: None,
                    undeclared_reads: Vec::new(),
                    // Gate `f` passes only on retries.
                    flaky: *name == "f" && *status == crate::vocab::Status::Pass,
                    attempts: 1,
                    tests: Vec::new(),
                    description: None,
                    guard: None,
                    findings: Vec::new(),
                    name: (*name).to_owned(),
                    kind: "command".to_owned(),
                    status: *status,
                    mode: crate::vocab::Mode::Blocking,
                    configured_mode: crate::vocab::Mode::Blocking,
                    cached: *cached,
                    duration_ms: 0,
                    key: None,
                    reason: None,
                    artifacts: Vec::new(),
                    thresholds: Vec::new(),
                    exports: Vec::new(),
                })
                .collect(),
        }
    }

    /// A runner that appends to a history it read whole folds its own lines into the summary:
    /// the next load parses nothing, and holds exactly what a full read of the file gives.
    /// When another writer appended in between, the summary is left for the reader to catch up.
    #[test]
    fn appended_lines_are_folded_into_the_summary_exactly() {
        use crate::vocab::Status;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let day = |d: u8, h: u8| {
            time::macros::datetime!(2026-11-01 00:00 UTC)
                .replace_day(d)
                .unwrap()
                .replace_hour(h)
                .unwrap()
        };
        type Run<'a> = (time::OffsetDateTime, &'a [(&'a str, Status, bool)]);
        let runs: [Run<'_>; 4] = [
            (
                day(1, 9),
                &[("a", Status::Pass, false), ("b", Status::Fail, false)],
            ),
            (
                day(1, 23),
                &[
                    ("a", Status::Pass, true),
                    ("b", Status::Pass, false),
                    ("f", Status::Pass, false),
                ],
            ),
            (
                day(2, 10),
                &[("a", Status::Error, false), ("c", Status::Skip, false)],
            ),
            (
                day(4, 8),
                &[
                    ("a", Status::Pass, false),
                    ("b", Status::NotRun, false),
                    ("f", Status::Pass, false),
                ],
            ),
        ];
        for (i, (at, gates)) in runs.iter().enumerate() {
            let mut h = History::load(&path);
            if i == 2 {
                // Another writer's line lands between this runner's read and its append.
                let mut f = OpenOptions::new().append(true).open(&path).unwrap();
                f.write_all(b"{\"at\":\"2026-11-02T09:00:00Z\",\"gate\":\"z\",\"status\":\"pass\",\"run\":1}\n")
                    .unwrap();
            }
            h.append_run(&report_of(gates), *at, &RunPlace::default())
                .unwrap();
            let len = std::fs::metadata(&path).unwrap().len();
            let mut file = File::open(&path).unwrap();
            let saved = summary::load::<FastBuild>(&summary::path_of(&path), &mut file)
                .expect("a valid summary");
            if i == 2 {
                assert!(saved.offset < len, "folded over another writer's line");
            } else {
                assert_eq!(
                    saved.offset, len,
                    "run {i}: the summary stops short of the end"
                );
            }
            let incremental = History::load(&path);
            let mut full = History::load(Path::new("/nonexistent/none.jsonl"));
            full.read(BufReader::new(File::open(&path).unwrap()));
            assert_eq!(incremental.entries, full.entries, "run {i}");
            assert_eq!(incremental.max_run, full.max_run, "run {i}");
            assert_eq!(incremental.gates, full.gates, "run {i}");
            assert_eq!(incremental.day_lines, full.day_lines, "run {i}");
        }
        // The flaky passes went through the summary.
        let h = History::load(&path);
        let f = &h.gates["f"];
        assert_eq!(f.len(), 2);
        for day in f {
            assert_eq!((day.flaky_passes, day.executed), (1, 1));
            assert!(day.flaky.is_some() && day.pass.is_none() && day.last.flaky);
        }
    }

    #[test]
    fn the_summary_gives_the_same_state_as_a_full_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let line = |day: u32, gate: &str, status: &str, run: u32| {
            format!(
                "{{\"at\":\"2026-11-{day:02}T10:00:00Z\",\"gate\":\"{gate}\",\"status\":\"{status}\",\"run\":{run}}}\n"
            )
        };
        let mut text = line(1, "a", "pass", 1) + "junk\n" + &line(2, "a", "fail", 2);
        std::fs::write(&path, &text).unwrap();
        let first = History::load(&path);
        assert!(summary::path_of(&path).exists(), "a summary is written");
        // Appended lines, then a torn one: the summary must not count the torn line twice.
        text += &(line(3, "a", "pass", 3) + &line(3, "b", "pass", 3));
        text += r#"{"at":"2026-11-04T10:00:00Z","gate":"a","status":"pass","run":4}"#;
        std::fs::write(&path, &text).unwrap();
        // Rewriting the file changed its inode, so the summary is stale: rebuild it by appending
        // instead, as runners do.
        std::fs::remove_file(summary::path_of(&path)).unwrap();
        std::fs::write(
            &path,
            line(1, "a", "pass", 1) + "junk\n" + &line(2, "a", "fail", 2),
        )
        .unwrap();
        let _ = History::load(&path);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        let from = text.find("2026-11-03").map(|i| i - 7).unwrap();
        f.write_all(&text.as_bytes()[from..]).unwrap();
        let incremental = History::load(&path);
        let again = History::load(&path);
        std::fs::remove_file(summary::path_of(&path)).unwrap();
        let full = History::load(&path);
        for h in [&incremental, &again] {
            assert_eq!(h.entries, full.entries);
            assert_eq!(h.max_run, full.max_run);
            assert_eq!(h.gates, full.gates);
            assert_eq!(h.day_lines, full.day_lines);
            assert_eq!(
                h.warnings, full.warnings,
                "corrupt lines are reported on every run"
            );
        }
        assert_eq!(full.entries, 5);
        assert!(first.entries == 2);
    }

    #[test]
    fn corrupt_lines_are_named_and_the_rest_kept() {
        let h = read(concat!(
            "{\"at\":\"2026-11-01T10:00:00Z\",\"gate\":\"a\",\"status\":\"pass\",\"run\":3}\n",
            "garbage\n",
            "\n",
            "{\"at\":\"2026-11-02T10:00:00Z\",\"gate\":\"a\",\"status\":\"pass\",\"run\":9}\r\n",
            "{\"at\":\"2026-11-03T10:00:00Z\",\"gate\":\"a\",\"status\":\"maybe\"}\n",
            "{\"at\":\"2026-11-03T10:00:00Z\",\"gate\":\"b\",\"status\":\"fail\"}",
        ));
        assert_eq!(h.entries, 3);
        assert_eq!(h.max_run, 9);
        assert_eq!(h.warnings().len(), 2, "{:?}", h.warnings);
        assert!(
            h.warnings()[0].starts_with("history h.jsonl:2: skipped a corrupt line: not JSON"),
            "{}",
            h.warnings()[0]
        );
        assert!(
            h.warnings()[1].starts_with("history h.jsonl:5: "),
            "{}",
            h.warnings()[1]
        );
        assert_eq!(h.gates["a"].len(), 2);
        assert_eq!(h.gates["b"].len(), 1);
        assert_eq!(h.next_run(datetime!(1970-01-01 00:00 UTC)), 10);
        assert_eq!(
            h.next_run(datetime!(2026-11-01 00:00 UTC)),
            1_793_491_200_000
        );
    }

    #[test]
    fn warnings_are_capped_with_a_count() {
        let h = read(&"x\n".repeat(MAX_LINE_WARNINGS + 5));
        assert_eq!(h.warnings().len(), MAX_LINE_WARNINGS + 1);
        assert_eq!(
            h.warnings().last().unwrap(),
            "history h.jsonl: 5 more corrupt lines skipped"
        );
    }

    /// Runners appending while the file is compacted over and over: no line is lost or
    /// doubled, and what the history reads as stays the same.
    #[test]
    fn concurrent_appenders_lose_nothing_while_the_file_is_compacted() {
        use crate::vocab::Status;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        // Old lines for compaction to work on (September), 4,000 of them.
        let mut old = String::new();
        for i in 0..4000u64 {
            old += &format!(
                "{{\"at\":\"2026-09-{:02}T10:00:00Z\",\"gate\":\"old{}\",\"status\":\"pass\",\"run\":{i}}}\n",
                1 + i % 28,
                i % 50
            );
        }
        std::fs::write(&path, &old).unwrap();
        let before = History::load(&path);
        let now = datetime!(2026-11-20 10:00 UTC);
        let (writers, appends) = (4, 40);
        let done = std::sync::atomic::AtomicBool::new(false);
        let compactions = std::thread::scope(|s| {
            let compactor = s.spawn(|| {
                let mut n = 0;
                // Compacting from the oldest day on: each pass folds a few more days (and
                // the next ones fold records again).
                while !done.load(std::sync::atomic::Ordering::SeqCst) || n < 3 {
                    let horizon = time::Duration::days(80 - (n % 30));
                    compact_history(&path, now, horizon).unwrap();
                    n += 1;
                }
                n
            });
            let appenders: Vec<_> = (0..writers)
                .map(|w| {
                    let path = &path;
                    s.spawn(move || {
                        for i in 0..appends {
                            let name = format!("w{w}-{i}");
                            let mut h = History::load(path);
                            h.append_run(
                                &report_of(&[(&name, Status::Pass, false)]),
                                now,
                                &RunPlace::default(),
                            )
                            .unwrap();
                        }
                    })
                })
                .collect();
            for a in appenders {
                a.join().unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            compactor.join().unwrap()
        });
        assert!(compactions >= 3);
        let text = std::fs::read_to_string(&path).unwrap();
        for w in 0..writers {
            for i in 0..appends {
                let needle = format!("\"gate\":\"w{w}-{i}\"");
                assert_eq!(text.matches(&needle).count(), 1, "{needle} in\n{text}");
            }
        }
        assert!(text.contains("\"day\":{"), "days were compacted");
        std::fs::remove_file(summary::path_of(&path)).unwrap();
        let after = History::load(&path);
        assert_eq!(after.entries, before.entries + writers * appends);
        for (gate, days) in &before.gates {
            assert_eq!(after.gates.get(gate), Some(days), "{gate}");
        }
    }

    /// Every append (a run's lines, `runner baseline accept`) waits while compaction holds the
    /// file, and then lands in the file compaction left under the name, not in the replaced one.
    #[test]
    fn every_append_waits_for_compaction_and_lands_in_the_new_file() {
        use crate::vocab::Status;
        use std::io::Read as _;
        let now = datetime!(2026-11-20 10:00 UTC);
        for accept in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("h.jsonl");
            let first =
                "{\"at\":\"2026-11-19T10:00:00Z\",\"gate\":\"g\",\"status\":\"pass\",\"run\":1}\n";
            std::fs::write(&path, first).unwrap();
            // What compaction does: the old file locked exclusively while the new one is
            // written, the new one renamed over it, then the lock let go.
            let mut old = File::open(&path).unwrap();
            compact::flock(&old, libc::LOCK_EX).unwrap();
            std::thread::scope(|s| {
                let appender = s.spawn(|| {
                    let mut h = History::load(&path);
                    if accept {
                        h.append_accept("g", "new machine", now)
                    } else {
                        h.append_run(
                            &report_of(&[("g", Status::Pass, false)]),
                            now,
                            &RunPlace::default(),
                        )
                    }
                    .unwrap();
                });
                std::thread::sleep(std::time::Duration::from_millis(300));
                let mut seen = String::new();
                old.read_to_string(&mut seen).unwrap();
                assert_eq!(
                    seen, first,
                    "accept {accept}: appended without waiting for compaction's lock"
                );
                let new = dir.path().join(".tmp-history-test");
                std::fs::write(&new, first).unwrap();
                std::fs::rename(&new, &path).unwrap();
                drop(old);
                appender.join().unwrap();
            });
            let text = std::fs::read_to_string(&path).unwrap();
            let needle = if accept {
                "\"baseline_accepted\":\"new machine\""
            } else {
                "\"run\":1795168800000"
            };
            assert_eq!(
                text.matches(needle).count(),
                1,
                "accept {accept}: the line is in the file under the name:\n{text}"
            );
        }
    }

    /// Past the size, a run compacts on its own once; not again until the file doubles.
    #[test]
    fn automatic_compaction_past_a_size_and_then_after_doubling() {
        use crate::vocab::Status;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let line = |day: u32, run: u32| {
            format!(
                "{{\"at\":\"2026-09-{day:02}T10:00:00Z\",\"gate\":\"a\",\"status\":\"pass\",\"run\":{run}}}\n"
            )
        };
        let text: String = (0..300).map(|i| line(1 + i % 20, i)).collect();
        std::fs::write(&path, &text).unwrap();
        let now = datetime!(2026-11-20 10:00 UTC);
        let mut h = History::load(&path);
        h.append_run(
            &report_of(&[("a", Status::Pass, false)]),
            now,
            &RunPlace::default(),
        )
        .unwrap();
        let standing = |h: &History| graduation::standing(&h.gates["a"], now, 3);
        let expected = standing(&History::load(&path));
        assert!(h.compact_past(now, 1 << 30).is_none(), "under the size");
        let report = h.compact_past(now, 1000).unwrap().unwrap().unwrap();
        assert_eq!((report.folded, report.records), (300, 20));
        let h = History::load(&path);
        assert_eq!(h.compacted_len, report.after);
        assert_eq!(standing(&h), expected);
        assert!(
            h.compact_past(now, 1000).is_none(),
            "not again until it doubles"
        );
    }

    /// Past the size, a run compacts on its own only when that would fold something: a file
    /// whose old days fold no further (days of one line, days with metric values, a day with
    /// a baseline accept) is never rewritten, even when every run starts without the summary
    /// (a CI cache restore); old days that fold are compacted, once.
    #[test]
    fn automatic_compaction_runs_only_when_it_would_fold_something() {
        use crate::vocab::Status;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let line = |day: u32, hour: u32, gate: &str, extra: &str| {
            format!(
                "{{\"at\":\"2026-09-{day:02}T{hour:02}:00:00Z\",\"gate\":\"{gate}\",\"status\":\"pass\",\"run\":{}{extra}}}\n",
                day * 100 + hour
            )
        };
        let mut text = String::new();
        for day in 1..=20 {
            text += &line(day, 9, "once", "");
            text += &line(
                day,
                9,
                "bench",
                ",\"metrics\":{\"p95\":41.0},\"machine\":\"m\"",
            );
            text += &line(
                day,
                15,
                "bench",
                ",\"metrics\":{\"p95\":42.0},\"machine\":\"m\"",
            );
        }
        text += &line(5, 9, "tuned", "");
        text += "{\"at\":\"2026-09-05T10:00:00Z\",\"gate\":\"tuned\",\"baseline_accepted\":\"new machine\",\"run\":510}\n";
        std::fs::write(&path, &text).unwrap();
        let now = datetime!(2026-11-20 10:00 UTC);
        let stamp = |path: &Path| {
            let m = std::fs::metadata(path).unwrap();
            (m.ino(), m.modified().unwrap())
        };
        let inode = stamp(&path).0;
        // Each run: the summary lost (a CI cache restore), a run's line appended, then the
        // decision. The file is far past the size (1,000 bytes here).
        let run = |minute: i64| {
            let _ = std::fs::remove_file(summary::path_of(&path));
            let mut h = History::load(&path);
            let at = now + time::Duration::minutes(minute);
            h.append_run(
                &report_of(&[("once", Status::Pass, false)]),
                at,
                &RunPlace::default(),
            )
            .unwrap();
            let before = stamp(&path);
            let compacted = h.compact_past(at, 1000);
            (before, compacted)
        };
        for minute in 0..3 {
            let (before, compacted) = run(minute);
            assert!(
                compacted.is_none(),
                "run {minute}: nothing to fold, not due"
            );
            assert_eq!(stamp(&path), before, "run {minute}: not rewritten");
            assert_eq!(before.0, inode, "run {minute}: the same file");
        }
        // Asked to, compaction leaves a file it would not change as it is.
        let report = compact_history(&path, now, HORIZON).unwrap().unwrap();
        assert!(!report.rewritten && report.folded == 0, "{report:?}");
        assert_eq!(stamp(&path).0, inode);
        // Two plain lines of one old day: that day folds, once.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all((line(3, 9, "twice", "") + &line(3, 15, "twice", "")).as_bytes())
            .unwrap();
        drop(f);
        let (_, compacted) = run(3);
        let report = compacted.expect("due").unwrap().unwrap();
        assert_eq!((report.folded, report.records), (2, 1));
        assert!(report.rewritten);
        let inode = stamp(&path).0;
        for minute in 4..6 {
            let (before, compacted) = run(minute);
            assert!(compacted.is_none(), "run {minute}: folded already");
            assert_eq!(stamp(&path), before);
            assert_eq!(before.0, inode);
        }
    }

    #[test]
    fn missing_file_is_empty_without_warning() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::load(&dir.path().join("none.jsonl"));
        assert_eq!(h.entries(), 0);
        assert!(h.warnings().is_empty());
    }
}

#[cfg(test)]
#[path = "compact_props.rs"]
mod compact_props;
