//! A history file read from its end back, a chunk at a time, each byte read and handed on
//! once: the readers of its recent part (`samples`, `recent`) stop as soon as they have what
//! they need, so a history of years costs what its recent part costs.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::path::Path;

/// Read back at most this much from the end.
pub(super) const MAX_READ: u64 = 64 << 20;
/// The step of reading backwards.
pub(super) const CHUNK: u64 = 1 << 20;

/// Hand `batch` the whole lines of the last `max_read` bytes of the file at `path`, a chunk of
/// `chunk` bytes at a time, newest chunk first; within a batch the lines are in file order,
/// separated by `\n`. A line cut by a chunk's start is handed on whole with the chunk before it;
/// unless reading reaches the file's start, the first line of what is read is not handed on
/// (reading cannot tell whether it is whole).
/// Stops when `batch` returns false.
pub(super) fn batches(
    path: &Path,
    max_read: u64,
    chunk: u64,
    mut batch: impl FnMut(&[u8]) -> bool,
) -> io::Result<()> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let floor = len.saturating_sub(max_read);
    let mut end = len;
    // The start of the chunk read last, up to its first newline: the end of a line that began
    // in an earlier chunk.
    let mut carry: Vec<u8> = Vec::new();
    while end > floor {
        let start = end.saturating_sub(chunk.max(1)).max(floor);
        let mut text = vec![0u8; usize::try_from(end - start).unwrap_or(0)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut text)?;
        text.extend_from_slice(&carry);
        // The first line may be cut, unless the chunk starts the file.
        let (head, body) = if start == 0 {
            (&[][..], &text[..])
        } else {
            match text.iter().position(|&b| b == b'\n') {
                Some(i) => (&text[..i], &text[i + 1..]),
                None => (&text[..], &[][..]),
            }
        };
        if !batch(body) {
            return Ok(());
        }
        carry = head.to_vec();
        end = start;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines `batches` hands on, newest first.
    fn lines_back(path: &Path, max_read: u64, chunk: u64) -> Vec<String> {
        let mut lines = Vec::new();
        batches(path, max_read, chunk, |body| {
            for line in body.split(|&b| b == b'\n').rev() {
                if !line.is_empty() {
                    lines.push(String::from_utf8(line.to_vec()).unwrap());
                }
            }
            true
        })
        .unwrap();
        lines
    }

    #[test]
    fn every_line_is_handed_on_once_and_whole_wherever_the_chunks_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let want: Vec<String> = (0..40)
            .map(|i| format!("line {i} {}", "x".repeat(i % 7)))
            .collect();
        std::fs::write(&path, want.join("\n") + "\n").unwrap();
        let newest_first: Vec<String> = want.iter().rev().cloned().collect();
        for chunk in [0, 1, 2, 5, 9, 10, 11, 64, 1 << 20] {
            assert_eq!(
                lines_back(&path, MAX_READ, chunk),
                newest_first,
                "chunk {chunk}"
            );
        }
        // The last bytes only: the lines that begin after the first byte read (the one there
        // may be cut: reading cannot tell).
        for max_read in [13, 24, 25, 26, 40] {
            let fit: Vec<String> = newest_first
                .iter()
                .scan(0, |used, l| {
                    *used += l.len() + 1;
                    (*used < max_read).then(|| l.clone())
                })
                .collect();
            for chunk in [1, 4, 1 << 20] {
                assert_eq!(
                    lines_back(&path, max_read as u64, chunk),
                    fit,
                    "{max_read} {chunk}"
                );
            }
        }
        assert!(batches(&dir.path().join("absent"), MAX_READ, CHUNK, |_| true).is_err());
    }

    #[test]
    fn reading_stops_when_the_reader_has_enough() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        std::fs::write(&path, "a\nb\nc\nd\n").unwrap();
        let mut seen = 0;
        batches(&path, MAX_READ, 2, |_| {
            seen += 1;
            seen < 2
        })
        .unwrap();
        assert_eq!(seen, 2, "no batch after the reader said stop");
    }
}
