//! Property tests of compaction (SPEC 11): over random histories (random statuses, days and
//! times of day, ties, clocks that went backwards, runs of concurrent writers interleaved,
//! offsets other than UTC, flaky passes, corrupt lines, lines with fields of a later runner), compacting at
//! any horizon, then appending and compacting again, gives exactly what a reader gets from the
//! original: every gate's days, streaks, green days, graduation dates and last result at any
//! time, the entry count and the highest run; lines with unknown fields are kept byte for byte.

use std::io::Cursor;
use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;
use time::macros::datetime;
use time::{Date, Duration};

use super::History;
use crate::history::compact::{compact, folds_before};
use crate::history::durations;
use crate::history::graduation;

const GATES: [&str; 3] = ["a", "b", "c.d"];
const STATUSES: [&str; 5] = ["pass", "fail", "error", "skip", "not_run"];

/// One generated line.
#[derive(Debug, Clone)]
enum Gen {
    Result {
        gate: usize,
        /// Days after 2026-09-01.
        day: i64,
        /// Seconds after midnight (few values, so ties happen).
        second: i64,
        millis: Option<u16>,
        /// Written with a +02:00 offset (the UTC day may differ from the written one).
        offset: bool,
        status: usize,
        cached: Option<bool>,
        guard: Option<u8>,
        /// None: a line of an old runner, without `run`.
        run: Option<u64>,
        /// A field of a later runner.
        metrics: Option<u8>,
        /// `"flaky": true` (a pass that needed a retry; written on any status, read on passes).
        flaky: bool,
        /// `duration_ms` (balanced shards read the latest executed one).
        duration: Option<u16>,
    },
    Corrupt(u8),
    Blank,
}

fn line() -> impl Strategy<Value = Gen> {
    let result = (
        0..GATES.len(),
        0i64..40,
        prop_oneof![Just(0i64), Just(36_000), Just(86_399), 0i64..86_400],
        proptest::option::weighted(0.2, 0u16..1000),
        proptest::bool::weighted(0.1),
        0..STATUSES.len(),
        proptest::option::of(any::<bool>()),
        proptest::option::weighted(0.1, 0u8..3),
        proptest::option::weighted(0.9, 0u64..30),
        proptest::option::weighted(0.1, 0u8..100),
        (
            proptest::bool::weighted(0.15),
            proptest::option::weighted(0.7, 0u16..5),
        ),
    )
        .prop_map(
            |(
                gate,
                day,
                second,
                millis,
                offset,
                status,
                cached,
                guard,
                run,
                metrics,
                (flaky, duration),
            )| {
                Gen::Result {
                    gate,
                    day,
                    second,
                    millis,
                    offset,
                    status,
                    cached,
                    guard,
                    run,
                    metrics,
                    flaky,
                    duration,
                }
            },
        );
    prop_oneof![
        20 => result,
        1 => (0u8..4).prop_map(Gen::Corrupt),
        1 => Just(Gen::Blank),
    ]
}

/// Concurrent writers: each writes runs in order, with its own clock (skewed by whole days),
/// and their lines interleave in the file. `lines` gives each writer's lines in order; the
/// interleaving picks the writer of each next line.
fn history() -> impl Strategy<Value = Vec<Gen>> {
    (
        vec(vec(line(), 0..25), 1..4),
        vec(0usize..4, 0..100),
        vec(-3i64..3, 4),
    )
        .prop_map(|(writers, picks, skews)| {
            let mut writers: Vec<std::vec::IntoIter<Gen>> = writers
                .into_iter()
                .enumerate()
                .map(|(w, lines)| {
                    let skew = skews[w];
                    lines
                        .into_iter()
                        .map(|mut g| {
                            if let Gen::Result { day, run, .. } = &mut g {
                                *day = (*day + skew).max(0);
                                // Each writer's runs grow; writers share the number space.
                                *run = run.map(|r| r * 4 + w as u64);
                            }
                            g
                        })
                        .collect::<Vec<_>>()
                        .into_iter()
                })
                .collect();
            let mut out = Vec::new();
            for p in picks {
                let n = writers.len();
                if let Some(g) = writers[p % n].next() {
                    out.push(g);
                }
            }
            for w in &mut writers {
                out.extend(w.by_ref());
            }
            out
        })
}

fn render(lines: &[Gen]) -> String {
    let mut text = String::new();
    for g in lines {
        match g {
            Gen::Result {
                gate,
                day,
                second,
                millis,
                offset,
                status,
                cached,
                guard,
                run,
                metrics,
                flaky,
                duration,
            } => {
                let t = datetime!(2026-09-01 00:00 UTC)
                    + Duration::days(*day)
                    + Duration::seconds(*second)
                    + Duration::milliseconds(i64::from(millis.unwrap_or(0)));
                let at = if *offset {
                    crate::vocab::clock::rfc3339(t.to_offset(time::macros::offset!(+2)))
                } else {
                    crate::vocab::clock::rfc3339(t)
                };
                text += &format!(
                    "{{\"at\":\"{at}\",\"gate\":\"{}\",\"status\":\"{}\",\"mode\":\"observational\"",
                    GATES[*gate], STATUSES[*status]
                );
                if let Some(c) = cached {
                    text += &format!(",\"cached\":{c}");
                }
                if let Some(g) = guard {
                    text += &format!(",\"guard\":\"no-op guard {g}\"");
                }
                text += ",\"commit\":null";
                if let Some(r) = run {
                    text += &format!(",\"run\":{r}");
                }
                if *flaky {
                    text += ",\"flaky\":true";
                }
                if let Some(d) = duration {
                    text += &format!(",\"duration_ms\":{d}");
                }
                if let Some(m) = metrics {
                    text += &format!(",\"metrics\":{{\"p95\":{m}}}");
                }
                text += "}\n";
            }
            Gen::Corrupt(0) => text += "garbage\n",
            Gen::Corrupt(1) => text += "{\"at\":\"2026-09-02T10:00:00Z\",\"gate\":\"a\"}\n",
            Gen::Corrupt(2) => {
                text += "{\"at\":\"2026-09-02T10:00:00Z\",\"gate\":\"a\",\"status\":\"green\"}\n";
            }
            Gen::Corrupt(_) => {
                text += "{\"at\":\"yesterday\",\"gate\":\"a\",\"status\":\"pass\"}\n";
            }
            Gen::Blank => text += "\n",
        }
    }
    text
}

fn read(text: &[u8]) -> History {
    let mut h = History::blank(Path::new("h.jsonl"));
    h.read(Cursor::new(text.to_vec()));
    h
}

/// Everything a reader gives back, compared.
fn assert_same(original: &History, compacted: &History) {
    assert_eq!(compacted.entries, original.entries, "entries");
    assert_eq!(compacted.max_run, original.max_run, "highest run");
    assert_eq!(compacted.corrupt, original.corrupt, "corrupt lines");
    assert_eq!(
        compacted.warnings.len(),
        original.warnings.len(),
        "warnings"
    );
    assert_eq!(compacted.gates, original.gates, "days");
    for gate in GATES {
        let days = |h: &History| h.gates.get(gate).cloned().unwrap_or_default();
        let (before, after) = (days(original), days(compacted));
        for n in [0, 1, 2, 3, 7] {
            for day in [0, 5, 20, 39, 45] {
                for hour in [0, 10, 23] {
                    let now = datetime!(2026-09-01 00:00 UTC)
                        + Duration::days(day)
                        + Duration::hours(hour);
                    assert_eq!(
                        graduation::standing(&after, now, n),
                        graduation::standing(&before, now, n),
                        "gate {gate}, N = {n}, at {now}"
                    );
                    assert_eq!(
                        graduation::flake_rate(&after, now, n * 3),
                        graduation::flake_rate(&before, now, n * 3),
                        "flake rate of gate {gate} over {} runs at {now}",
                        n * 3
                    );
                }
            }
        }
    }
}

fn cutoff(day: i64) -> Date {
    (datetime!(2026-09-01 00:00 UTC) + Duration::days(day)).date()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn compaction_changes_nothing_a_reader_sees(
        first in history(),
        more in history(),
        horizon1 in -1i64..45,
        horizon2 in -1i64..45,
        torn in proptest::option::of(0usize..40),
    ) {
        let mut text = render(&first).into_bytes();
        if let Some(cut) = torn {
            // A torn last line (a runner killed mid-write), kept as it is.
            text.extend_from_slice(&b"{\"at\":\"2026-09-03T10:00:00Z\",\"gate\":\"a\",\"status\":\"pass\"}"[..cut]);
        }
        let original = read(&text);
        let once = compact(&text, cutoff(horizon1));
        assert_same(&original, &read(&once.bytes));
        // A reader knows whether compacting would fold anything (automatic compaction asks),
        // and after it, that it would not again.
        prop_assert_eq!(
            folds_before(original.day_lines.values(), cutoff(horizon1)),
            once.folded > 0
        );
        prop_assert!(!folds_before(read(&once.bytes).day_lines.values(), cutoff(horizon1)));
        // The durations balanced shards read are the same too.
        prop_assert_eq!(durations::of_text(&once.bytes), durations::of_text(&text));
        // Lines with fields the runner does not write are kept byte for byte.
        let once_text = String::from_utf8_lossy(&once.bytes).into_owned();
        for l in String::from_utf8_lossy(&text).lines().filter(|l| l.contains("\"metrics\"")) {
            prop_assert!(once_text.contains(l), "lost {l}");
        }
        // Compacting is stable: again at the same horizon changes nothing.
        let again = compact(&once.bytes, cutoff(horizon1));
        prop_assert_eq!(&again.bytes, &once.bytes);
        // More lines (some into compacted days: clocks behind), then another horizon.
        if torn.is_none() {
            let appended = render(&more);
            let mut full = text.clone();
            full.extend_from_slice(appended.as_bytes());
            let mut partly = once.bytes.clone();
            partly.extend_from_slice(appended.as_bytes());
            let original = read(&full);
            assert_same(&original, &read(&partly));
            let twice = compact(&partly, cutoff(horizon2));
            assert_same(&original, &read(&twice.bytes));
            prop_assert_eq!(
                folds_before(read(&partly).day_lines.values(), cutoff(horizon2)),
                twice.folded > 0
            );
            prop_assert_eq!(durations::of_text(&twice.bytes), durations::of_text(&full));
        }
    }
}

/// The horizon keeps recent lines as they were: only days before the cutoff are folded.
#[test]
fn recent_lines_stay_and_old_days_become_one_record_each() {
    let mut text = String::new();
    for (day, hour, status, run) in [
        (1, 9, "fail", 1),
        (1, 10, "pass", 2),
        (1, 11, "pass", 3),
        (2, 10, "pass", 4),
        (20, 10, "pass", 5),
    ] {
        text += &format!(
            "{{\"at\":\"2026-09-{day:02}T{hour:02}:00:00Z\",\"gate\":\"a\",\"status\":\"{status}\",\"mode\":\"blocking\",\"cached\":false,\"commit\":null,\"run\":{run}}}\n"
        );
    }
    let out = compact(text.as_bytes(), cutoff(10));
    assert_eq!((out.folded, out.records, out.kept), (3, 1, 2));
    let out = String::from_utf8(out.bytes).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "{\"at\":\"2026-09-01T11:00:00Z\",\"gate\":\"a\",\"status\":\"pass\",\"cached\":false,\"run\":3,\"day\":{\"lines\":3,\"pass\":[2,36000000],\"bad\":[1,32400000],\"executed\":3}}"
    );
    // A day of one line is its own record: kept as it is, like the recent ones.
    assert!(lines[1].starts_with("{\"at\":\"2026-09-02T10:00:00Z\""));
    assert!(lines[1].contains("\"mode\":\"blocking\""));
    assert!(lines[2].starts_with("{\"at\":\"2026-09-20T10:00:00Z\""));
}
