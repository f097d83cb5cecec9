//! The end of a log: the last bytes of a file, and its last lines, for failure messages, cache
//! entries and the progress display; and cutting a log down to its end. One helper for every
//! log the runner quotes or keeps.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The last `max` bytes of an open file (all of it when shorter); empty when unreadable.
#[must_use]
pub(crate) fn tail_bytes(file: &mut File, max: u64) -> Vec<u8> {
    let len = file.metadata().map_or(0, |m| m.len());
    let mut buf = Vec::new();
    if file.seek(SeekFrom::Start(len.saturating_sub(max))).is_ok() {
        let _ = file.take(max).read_to_end(&mut buf);
    }
    buf
}

/// The last `max` bytes of the file at `path`; empty when unreadable.
#[must_use]
pub(crate) fn tail_bytes_of(path: &Path, max: u64) -> Vec<u8> {
    File::open(path).map_or_else(|_| Vec::new(), |mut f| tail_bytes(&mut f, max))
}

/// Cut the file at `path` down to at most `max` bytes: its end (from a line start when there is
/// one) behind a first line saying how much was cut, the line included in the `max` bytes, so
/// that whatever keeps the last `max` bytes of a cut log (a cache entry) keeps all of it, that
/// line too. A file no longer than `max` is left alone. True when it was cut. The new file
/// replaces the old by rename, so a process still writing to the old one (a daemon the gate
/// left behind) cannot interleave with it.
pub(crate) fn keep_tail(path: &Path, max: u64) -> std::io::Result<bool> {
    let len = std::fs::metadata(path)?.len();
    if len <= max {
        return Ok(false);
    }
    // The line's length with the most bytes it can name (`len`: it names fewer, never more
    // digits), so that line and end together stay within `max`.
    let room = max.saturating_sub(cut_line(len, max).len() as u64);
    let tail = tail_bytes(&mut File::open(path)?, room);
    let start = match tail.iter().position(|&b| b == b'\n') {
        Some(i) if i + 1 < tail.len() => i + 1,
        _ => 0,
    };
    let kept = &tail[start..];
    let mut out = cut_line(len - kept.len() as u64, max).into_bytes();
    out.extend_from_slice(kept);
    crate::bincodec::write_atomic_shared(path, &out)?;
    Ok(true)
}

/// The first line of a log whose first `cut` bytes were cut, newline included.
fn cut_line(cut: u64, max: u64) -> String {
    format!(
        "[runner: the first {cut} bytes of this log were cut; a log keeps its last {} KiB]\n",
        max >> 10
    )
}

/// The last `lines` lines of `bytes` (lossily decoded), joined by newlines.
#[must_use]
pub(crate) fn last_lines(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The last `lines` lines of a log file (from its last 16 KiB), for failure messages.
#[must_use]
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    last_lines(&tail_bytes_of(path, 16 * 1024), lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_are_the_end_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, &text).unwrap();
        assert_eq!(log_tail(&path, 2), "line 99\nline 100");
        assert_eq!(tail_bytes_of(&path, 9), b"line 100\n");
        assert_eq!(tail_bytes_of(&path, 1 << 20).len(), text.len());
        assert!(tail_bytes_of(&dir.path().join("absent"), 10).is_empty());
        assert_eq!(last_lines(b"", 3), "");
    }

    #[test]
    fn long_logs_keep_their_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let text: String = (1..=1000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, &text).unwrap();
        assert!(!keep_tail(&path, 1 << 20).unwrap(), "short logs stay");
        assert!(keep_tail(&path, 200).unwrap());
        let cut = std::fs::read_to_string(&path).unwrap();
        let mut lines = cut.lines();
        let first = lines.next().unwrap();
        assert!(first.starts_with("[runner: the first "), "{first}");
        let rest: Vec<&str> = lines.collect();
        assert_eq!(rest.last(), Some(&"line 1000"));
        assert!(
            rest[0].starts_with("line "),
            "cut at a line start: {rest:?}"
        );
        let kept: usize = rest.iter().map(|l| l.len() + 1).sum();
        assert!(
            cut.len() <= 200,
            "the cut log, its first line included, fits in the bound: {} bytes",
            cut.len()
        );
        assert!(
            first.contains(&format!("first {} bytes", text.len() - kept)),
            "{first}"
        );
    }
}
