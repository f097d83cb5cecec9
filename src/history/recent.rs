//! The last runs of the history, read from the end of the file: how many of their gate results
//! were replayed from the cache (`runner cache stats`).

use std::collections::HashMap;
use std::path::Path;

use super::backward::{CHUNK, MAX_READ};
use super::line;

/// How the cache did over the last runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HitRate {
    /// Runs counted.
    pub runs: usize,
    /// Gate results in them.
    pub results: u64,
    /// Of which replayed from the cache (`"cached": true`).
    pub cached: u64,
}

/// The hit rate over the last `runs` runs in the history at `path` (by `run` number; lines
/// without one count as one run), from its result lines (day records are old, and skipped).
/// None when the file cannot be read.
#[must_use]
pub(crate) fn recent_hit_rate(path: &Path, runs: usize) -> Option<HitRate> {
    hit_rate_by_chunks(path, runs, CHUNK)
}

/// [`recent_hit_rate`], reading back `chunk` bytes at a time, each parsed once. (Parsing again
/// all that was read at each step took 8 s for `runner cache stats` over 207 MB of history.)
fn hit_rate_by_chunks(path: &Path, runs: usize, chunk: u64) -> Option<HitRate> {
    let mut per_run: HashMap<u64, (u64, u64)> = HashMap::new();
    super::backward::batches(path, MAX_READ, chunk, |body| {
        for (run, (results, cached)) in count(body) {
            let counts = per_run.entry(run).or_default();
            counts.0 += results;
            counts.1 += cached;
        }
        // One run more than asked: the oldest seen may have lines before the read.
        per_run.len() <= runs
    })
    .ok()?;
    let mut newest: Vec<(u64, (u64, u64))> = per_run.into_iter().collect();
    newest.sort_unstable_by_key(|&(run, _)| std::cmp::Reverse(run));
    newest.truncate(runs);
    Some(HitRate {
        runs: newest.len(),
        results: newest.iter().map(|(_, (n, _))| n).sum(),
        cached: newest.iter().map(|(_, (_, c))| c).sum(),
    })
}

/// Per run: (results, cached).
fn count(text: &[u8]) -> HashMap<u64, (u64, u64)> {
    let mut per_run: HashMap<u64, (u64, u64)> = HashMap::new();
    for raw in text.split(|&b| b == b'\n') {
        let Ok(entry) = line::parse(raw.strip_suffix(b"\r").unwrap_or(raw)) else {
            continue;
        };
        if entry.day.is_some() {
            continue;
        }
        let counts = per_run.entry(entry.run).or_default();
        counts.0 += 1;
        counts.1 += u64::from(entry.cached);
    }
    per_run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_runs_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let mut text = String::new();
        for run in 1..=30u64 {
            for gate in 0..4 {
                // Runs 21 to 30 replay gates 0 to 2.
                let cached = run > 20 && gate < 3;
                text += &format!(
                    "{{\"at\":\"2026-11-01T10:00:00Z\",\"gate\":\"g{gate}\",\"status\":\"pass\",\"cached\":{cached},\"run\":{run}}}\n"
                );
            }
        }
        std::fs::write(&path, &text).unwrap();
        assert_eq!(
            recent_hit_rate(&path, 10),
            Some(HitRate {
                runs: 10,
                results: 40,
                cached: 30
            })
        );
        assert_eq!(recent_hit_rate(&path, 100).unwrap().runs, 30);
        assert!(recent_hit_rate(&dir.path().join("absent"), 10).is_none());
        // Read back in chunks that cut lines anywhere (shorter than a line, a line and a bit,
        // a few lines), the counts are the same as from one read of the whole file.
        let line = text.find('\n').unwrap() + 1;
        for chunk in [1, 7, line - 1, line, line + 1, 3 * line + 5, 1 << 20] {
            let chunk = u64::try_from(chunk).unwrap();
            for runs in [1, 10, 29, 30, 100] {
                assert_eq!(
                    hit_rate_by_chunks(&path, runs, chunk),
                    recent_hit_rate(&path, runs),
                    "chunk {chunk}, runs {runs}"
                );
            }
        }
        assert_eq!(
            hit_rate_by_chunks(&path, 10, 7),
            Some(HitRate {
                runs: 10,
                results: 40,
                cached: 30
            })
        );
    }
}
