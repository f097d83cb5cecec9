//! The end of a log: the last bytes of a file, and its last lines, for failure messages, cache
//! entries and the progress display. One helper for every log the runner quotes.

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
}
