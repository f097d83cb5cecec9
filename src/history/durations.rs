//! Each gate's recorded duration, for `--shard K/N --balance duration`: the duration of its
//! latest execution (not replayed from the cache; pass, fail or error), read from the end of
//! the history file. "Latest" is the highest run, then the latest time of day, then the
//! longest: an order of the lines' contents, not of their places in the file, so compaction
//! (which moves old days into day records at the file's start) changes no duration. The same
//! file gives the same durations, so every shard of a CI run that starts from the same history
//! splits the gates the same way.

use std::collections::BTreeMap;
use std::path::Path;

use super::line;

/// How much of the end of the history is read: recent runs are the ones that predict.
const TAIL_BYTES: u64 = 16 * 1024 * 1024;

/// Gate name -> milliseconds of its latest execution. Lines without `duration_ms` (written
/// before it existed), replays, skips and gates not run are left out; so are corrupt lines
/// (the history reports those elsewhere).
#[must_use]
pub(crate) fn recorded(path: &Path) -> BTreeMap<String, u64> {
    let len = std::fs::metadata(path).map_or(0, |m| m.len());
    let bytes = crate::proc::tail::tail_bytes_of(path, TAIL_BYTES);
    // A cut first line is not a line.
    let text: &[u8] = if len > TAIL_BYTES {
        bytes
            .iter()
            .position(|b| *b == b'\n')
            .map_or(&[][..], |i| &bytes[i + 1..])
    } else {
        &bytes
    };
    of_text(text)
}

/// `recorded` over a whole text.
#[must_use]
pub(crate) fn of_text(text: &[u8]) -> BTreeMap<String, u64> {
    let mut latest: BTreeMap<String, (u64, i64, u64)> = BTreeMap::new();
    for l in text.split(|b| *b == b'\n') {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        let Ok(entry) = line::parse(l) else {
            continue;
        };
        if entry.accept {
            continue;
        }
        let Some((run, ms_of_day, ms)) = entry.executed_duration() else {
            continue;
        };
        let day = entry.at.date().to_julian_day();
        let order = (run, i64::from(day) * 86_400_000 + i64::from(ms_of_day), ms);
        match latest.get_mut(entry.gate.as_ref()) {
            Some(seen) => *seen = (*seen).max(order),
            None => {
                latest.insert(entry.gate.into_owned(), order);
            }
        }
    }
    latest.into_iter().map(|(g, (_, _, ms))| (g, ms)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_executed_run_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let lines = [
            r#"{"at":"2026-11-01T10:00:00Z","gate":"a","status":"pass","cached":false,"run":1,"duration_ms":100}"#,
            r#"{"at":"2026-11-02T10:00:00Z","gate":"a","status":"fail","cached":false,"run":3,"duration_ms":300}"#,
            r#"{"at":"2026-11-03T10:00:00Z","gate":"a","status":"pass","cached":true,"run":4,"duration_ms":1}"#,
            r#"{"at":"2026-11-01T10:00:00Z","gate":"a","status":"pass","cached":false,"run":2,"duration_ms":200}"#,
            r#"{"at":"2026-11-01T10:00:00Z","gate":"b","status":"skip","cached":false,"run":2,"duration_ms":0}"#,
            r#"{"at":"2026-11-01T10:00:00Z","gate":"c","status":"pass","cached":false,"run":2}"#,
            "not json",
            r#"{"at":"2026-11-01T10:00:00Z","gate":"d","status":"error","cached":false,"run":5,"duration_ms":900}"#,
        ];
        std::fs::write(&path, lines.join("\n")).unwrap();
        let got = recorded(&path);
        assert_eq!(
            got,
            BTreeMap::from([("a".to_owned(), 300), ("d".to_owned(), 900)])
        );
        assert!(recorded(&dir.path().join("missing")).is_empty());
    }
}
