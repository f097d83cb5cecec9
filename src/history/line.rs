//! One line of the history file: its JSON shape, how it is written and how it is read back.
//!
//! A line is one gate's result in one run, or (after `compact`) a *day record*: one gate's
//! whole UTC day, whose `at`, `status`, `cached` and `guard` are those of the day's latest
//! result (so a reader that does not know `day` still sees a plausible line) and whose `day`
//! object holds what streaks and graduation read of the others: how many lines it stands
//! for, the day's first pass and first failure in run order, and its highest run.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::vocab::Mode;
use crate::vocab::Status;

/// A line as written: SPEC 6's fields plus `run`, the run's sequence number.
#[derive(Debug, Serialize)]
pub(crate) struct LineOut<'a> {
    pub at: &'a str,
    pub gate: &'a str,
    pub status: Status,
    /// The effective mode the gate was judged under.
    pub mode: Mode,
    pub cached: bool,
    /// Passed only on a retry (absent when false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub flaky: bool,
    /// Why the no-op guard tripped, when it did: the guard's audit log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<&'a str>,
    pub commit: Option<&'a str>,
    pub run: u64,
    /// The gate's wall time in this run (near 0 for a replay): what `--balance duration`
    /// predicts a shard's time from.
    pub duration_ms: u64,
    /// The gate's judged metric values (thresholds and exports), for baselines and sparklines;
    /// only on lines of gates that have some.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<&'a std::collections::BTreeMap<String, f64>>,
    /// The branch the run was on (only with `metrics`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<&'a str>,
    /// The machine fingerprint (only with `metrics`): values from other machines are not
    /// compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<&'a str>,
}

/// `runner baseline accept GATE --reason TEXT`: a line that starts the gate's baselines anew.
/// It has no `status`: it is not a result, and streaks and `runner status` skip it.
#[derive(Debug, Serialize)]
pub(crate) struct AcceptOut<'a> {
    pub at: &'a str,
    pub gate: &'a str,
    /// Why the new baseline was accepted.
    pub baseline_accepted: &'a str,
    pub run: u64,
}

impl AcceptOut<'_> {
    /// The whole line, newline included.
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

impl LineOut<'_> {
    /// The whole line, newline included, ready for a single `write`.
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain strings, enums, bools and numbers cannot fail.
        let mut bytes = serde_json::to_vec(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// A line as read. `at`, `gate` and `status` are required; the other fields are checked when
/// present (a wrong type makes the line corrupt) and unknown fields are ignored, so lines
/// written by hand or by an older runner (without `run`) still count.
#[derive(Debug, Deserialize)]
struct LineIn<'a> {
    #[serde(borrow)]
    at: Cow<'a, str>,
    #[serde(borrow)]
    gate: Cow<'a, str>,
    /// Required, except on a `baseline_accepted` line.
    #[serde(default)]
    status: Option<Status>,
    #[serde(default, borrow)]
    baseline_accepted: Option<Cow<'a, str>>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "read only to reject a line whose mode is not a mode"
    )]
    mode: Option<Mode>,
    #[serde(default)]
    cached: Option<bool>,
    #[serde(default, borrow)]
    #[expect(
        dead_code,
        reason = "read only to reject a line whose commit is not a string"
    )]
    commit: Option<Cow<'a, str>>,
    #[serde(default)]
    run: Option<u64>,
    #[serde(default, borrow)]
    guard: Option<Cow<'a, str>>,
    #[serde(default)]
    flaky: Option<bool>,
    #[serde(default)]
    duration_ms: Option<u64>,
    #[serde(default)]
    day: Option<DayIn>,
}

/// The `day` object of a day record.
#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct DayIn {
    /// How many result lines the record stands for (at least 1).
    pub lines: u64,
    /// The day's first pass in run order: `[run, ms since UTC midnight]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<(u64, u32)>,
    /// The day's first fail or error in run order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad: Option<(u64, u32)>,
    /// The highest run of a pass, fail or error that day, when not the record's `run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_run: Option<u64>,
    /// The day's first flaky pass (a pass that needed a retry) in run order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flaky: Option<(u64, u32)>,
    /// The day's executions (not replays) that ended pass, fail or error; absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub executed: u32,
    /// Those of them that were flaky passes; absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flaky_passes: u32,
    /// The day's latest execution with a duration (`ExecutedDuration::latest`):
    /// `[run, ms since UTC midnight, duration in ms]`, for balanced shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<(u64, u32, u64)>,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A day record as written by `compact`: the day's latest result, then `day`.
#[derive(Debug, Serialize)]
pub(crate) struct DayOut<'a> {
    pub at: &'a str,
    pub gate: &'a str,
    pub status: Status,
    pub cached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<&'a str>,
    /// The day's latest result was a flaky pass.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub flaky: bool,
    /// The highest run of any line of the day.
    pub run: u64,
    pub day: DayIn,
}

impl DayOut<'_> {
    /// The whole line, newline included.
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// The fields compaction may fold into a day record: those of every result line, and a day
/// record's own. A line with any other field is never compacted, and what it carries is kept
/// as it is: mostly fields the runner writes itself, `metrics`, `branch` and `machine` (the
/// judged values baselines and sparklines read line by line, and where they were measured) and
/// `baseline_accepted` (`runner baseline accept`); also a later runner's field.
const FOLDABLE_FIELDS: [&[u8]; 11] = [
    b"at",
    b"gate",
    b"status",
    b"mode",
    b"cached",
    b"commit",
    b"run",
    b"guard",
    b"flaky",
    b"duration_ms",
    b"day",
];

/// Does a valid line (one `parse` accepts) hold `status` and no field but `FOLDABLE_FIELDS`, so
/// that compaction may fold it? Compaction and the readers that predict it (`History`) ask
/// this of every line, so it scans the line's top-level keys instead of parsing it again. A
/// key is compared as written: one spelled with an escape is not a foldable field.
pub(crate) fn has_only_known_fields(line: &[u8]) -> bool {
    let mut depth = 0usize;
    // The next string at depth 1 is a key: after the object's `{` or a `,` at depth 1.
    let mut key_next = false;
    let mut status = false;
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < line.len() && line[i] != b'"' {
                    i += if line[i] == b'\\' { 2 } else { 1 };
                }
                if key_next {
                    let key = &line[start..i.min(line.len())];
                    if !FOLDABLE_FIELDS.contains(&key) {
                        return false;
                    }
                    status |= key == b"status";
                    key_next = false;
                }
            }
            open @ (b'{' | b'[') => {
                depth += 1;
                key_next = depth == 1 && open == b'{';
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' => key_next = depth == 1,
            _ => {}
        }
        i += 1;
    }
    status
}

/// A valid line, reduced to what streaks and `runner status` need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    pub gate: Cow<'a, str>,
    /// UTC.
    pub at: OffsetDateTime,
    pub status: Status,
    pub cached: bool,
    /// The line records a no-op guard trip.
    pub guard: bool,
    /// The line records a pass that needed a retry.
    pub flaky: bool,
    /// A `runner baseline accept` line: not a result (its `status` is a placeholder).
    pub accept: bool,
    /// 0 for a line without `run` (written before the field existed): it sorts first. For a
    /// day record, the highest run of its lines.
    pub run: u64,
    /// The guard's reason, when the line has one.
    pub guard_text: Option<Cow<'a, str>>,
    /// Set on a day record: the rest of the day.
    pub day: Option<DayIn>,
    /// The gate's wall time in the run, when the line records it.
    pub duration_ms: Option<u64>,
}

impl Entry<'_> {
    /// The execution with a duration this line stands for, as `[run, ms since UTC midnight,
    /// duration in ms]`: its own (not a replay; pass, fail or error), or a day record's latest.
    #[must_use]
    pub(crate) fn executed_duration(&self) -> Option<(u64, u32, u64)> {
        if let Some(day) = &self.day {
            return day.duration;
        }
        let ms = self.duration_ms?;
        let executed =
            !self.cached && matches!(self.status, Status::Pass | Status::Fail | Status::Error);
        executed.then(|| (self.run, super::graduation::ms_of_day(self.at), ms))
    }
}

/// Parse one line (without its newline). The error says in words why the line is corrupt.
pub(crate) fn parse(line: &[u8]) -> Result<Entry<'_>, String> {
    let raw: LineIn<'_> = serde_json::from_slice(line).map_err(|e| describe(&e))?;
    let at = parse_at(&raw.at)?;
    let accept = raw.baseline_accepted.is_some();
    let status = match raw.status {
        Some(status) => status,
        None if accept => Status::Skip,
        None => return Err("missing field `status`".to_owned()),
    };
    if let Some(day) = &raw.day {
        let in_day = |m: Option<(u64, u32)>| m.is_none_or(|(_, ms)| ms < 86_400_000);
        if day.lines == 0 || !in_day(day.pass) || !in_day(day.bad) || !in_day(day.flaky) {
            return Err("`day` is not a day record".to_owned());
        }
    }
    Ok(Entry {
        accept,
        gate: raw.gate,
        at,
        status,
        cached: raw.cached.unwrap_or(false),
        guard: raw.guard.is_some(),
        flaky: raw.flaky.unwrap_or(false),
        run: raw.run.unwrap_or(0),
        guard_text: raw.guard,
        day: raw.day,
        duration_ms: raw.duration_ms,
    })
}

/// An `at` value as the reader takes it: UTC.
pub(crate) fn parse_at(at: &str) -> Result<OffsetDateTime, String> {
    match parse_utc_fast(at.as_bytes()) {
        Some(t) => Ok(t),
        None => Ok(OffsetDateTime::parse(at, &Rfc3339)
            .map_err(|_| format!("`at` is not an RFC 3339 time: {at:?}"))?
            .to_offset(time::UtcOffset::UTC)),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the form the runner writes, without the general RFC 3339 parser
/// (a large history is mostly this). Anything else, or anything out of range, is `None`.
fn parse_utc_fast(at: &[u8]) -> Option<OffsetDateTime> {
    let [
        y1,
        y2,
        y3,
        y4,
        b'-',
        m1,
        m2,
        b'-',
        d1,
        d2,
        b'T',
        h1,
        h2,
        b':',
        i1,
        i2,
        b':',
        s1,
        s2,
        b'Z',
    ] = *at
    else {
        return None;
    };
    let digits = |ds: &[u8]| {
        ds.iter().try_fold(0u16, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u16::from(d - b'0'))
        })
    };
    let year = i32::from(digits(&[y1, y2, y3, y4])?);
    let [month, day, hour, minute, second] = [[m1, m2], [d1, d2], [h1, h2], [i1, i2], [s1, s2]]
        .map(|p| digits(&p).and_then(|n| u8::try_from(n).ok()));
    let month = time::Month::try_from(month?).ok()?;
    let date = time::Date::from_calendar_date(year, month, day?).ok()?;
    let time = time::Time::from_hms(hour?, minute?, second?).ok()?;
    Some(date.with_time(time).assume_utc())
}

/// `serde_json`'s message without its "at line 1 column N" tail (the line is named elsewhere).
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text);
    if e.is_syntax() || e.is_eof() {
        format!("not JSON ({text})")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_lines_read_back() {
        let out = LineOut {
            at: "2026-11-24T10:00:00Z",
            gate: "dream-drift",
            status: Status::Pass,
            mode: Mode::Observational,
            cached: true,
            flaky: false,
            guard: None,
            commit: None,
            run: 7,
            metrics: None,
            branch: None,
            machine: None,
            duration_ms: 1234,
        };
        let bytes = out.to_bytes();
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            "{\"at\":\"2026-11-24T10:00:00Z\",\"gate\":\"dream-drift\",\"status\":\"pass\",\
             \"mode\":\"observational\",\"cached\":true,\"commit\":null,\"run\":7,\"duration_ms\":1234}\n"
        );
        let entry = parse(&bytes[..bytes.len() - 1]).unwrap();
        assert_eq!(entry.gate, "dream-drift");
        assert_eq!(entry.status, Status::Pass);
        assert!(entry.cached && !entry.flaky);
        assert_eq!(entry.run, 7);
        let flaky = LineOut {
            cached: false,
            flaky: true,
            ..out
        };
        let bytes = flaky.to_bytes();
        assert!(
            String::from_utf8_lossy(&bytes).contains("\"cached\":false,\"flaky\":true,"),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(parse(&bytes[..bytes.len() - 1]).unwrap().flaky);
    }

    #[test]
    fn corrupt_lines_say_why() {
        let cases: &[(&str, &str)] = &[
            ("garbage", "not JSON"),
            (
                "{\"at\":\"2026-11-24T10:00:00Z\",\"gate\":\"a\"",
                "not JSON",
            ),
            (
                "{\"at\":\"2026-11-24T10:00:00Z\",\"gate\":\"a\"}",
                "missing field `status`",
            ),
            ("{\"gate\":\"a\",\"status\":\"pass\"}", "missing field `at`"),
            (
                "{\"at\":\"2026-11-24T10:00:00Z\",\"gate\":\"a\",\"status\":\"green\"}",
                "unknown variant `green`",
            ),
            (
                "{\"at\":\"yesterday\",\"gate\":\"a\",\"status\":\"pass\"}",
                "not an RFC 3339 time",
            ),
            (
                "{\"at\":\"2026-11-24T10:00:00Z\",\"gate\":\"a\",\"status\":\"pass\",\"mode\":\"soft\"}",
                "unknown variant `soft`",
            ),
            (
                "{\"at\":\"2026-11-24T10:00:00Z\",\"gate\":\"a\",\"status\":\"pass\",\"run\":-1}",
                "invalid value",
            ),
            (
                "{\"at\":\"2026-11-24T10:00:00Z\",\"gate\":\"a\",\"status\":\"pass\",\"flaky\":1}",
                "invalid type",
            ),
            ("[1,2]", "invalid type"),
        ];
        for (line, why) in cases {
            let err = parse(line.as_bytes()).expect_err(line);
            assert!(err.contains(why), "{line}: {err}");
            assert!(!err.contains("at line 1"), "{err}");
        }
    }

    #[test]
    fn the_fast_time_path_agrees_with_rfc3339() {
        for text in [
            "2026-11-24T10:00:00Z",
            "2000-02-29T23:59:59Z",
            "1970-01-01T00:00:00Z",
        ] {
            let full = OffsetDateTime::parse(text, &Rfc3339).unwrap();
            assert_eq!(parse_utc_fast(text.as_bytes()), Some(full), "{text}");
        }
        for text in [
            "2026-02-30T10:00:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T10:00:00+00:00",
            "2026-1x-24T10:00:00Z",
        ] {
            assert_eq!(parse_utc_fast(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn offsets_are_turned_into_utc_and_unknown_fields_ignored() {
        let e =
            parse(br#"{"at":"2026-11-24T01:00:00+02:00","gate":"a","status":"fail","extra":1}"#)
                .unwrap();
        assert_eq!(e.at.date(), time::macros::date!(2026 - 11 - 23));
        assert_eq!(e.at.hour(), 23);
        assert_eq!(e.run, 0);
        assert!(!e.cached);
    }

    /// The scan of top-level keys agrees with a parse that denies every other field, on lines
    /// whose strings and nested objects hold keys, braces, commas, quotes and escapes.
    #[test]
    fn foldable_lines_are_told_by_their_top_level_keys() {
        use serde::de::IgnoredAny;
        /// The reference: `FOLDABLE_FIELDS` as a struct that denies any other.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        #[expect(
            dead_code,
            reason = "read only to learn whether a line has another field"
        )]
        struct Foldable {
            at: IgnoredAny,
            gate: IgnoredAny,
            status: IgnoredAny,
            mode: Option<IgnoredAny>,
            cached: Option<IgnoredAny>,
            commit: Option<IgnoredAny>,
            run: Option<IgnoredAny>,
            guard: Option<IgnoredAny>,
            flaky: Option<IgnoredAny>,
            duration_ms: Option<IgnoredAny>,
            day: Option<IgnoredAny>,
        }
        let head = r#""at":"2026-11-02T10:00:00Z","gate":"g""#;
        let cases: &[(String, bool)] = &[
            (format!(r#"{{{head},"status":"pass"}}"#), true),
            (
                format!(
                    r#"{{{head},"status":"pass","mode":"blocking","cached":false,"commit":null,"run":3,"duration_ms":12}}"#
                ),
                true,
            ),
            (
                format!(
                    r#"{{{head},"status":"fail","flaky":true,"guard":"no \"metrics\", {{x}}: [y], \\","run":3}}"#
                ),
                true,
            ),
            (
                format!(
                    r#"{{{head},"status":"pass","run":9,"day":{{"lines":3,"pass":[2,36000000],"executed":3,"duration":[1,2,3]}}}}"#
                ),
                true,
            ),
            (
                format!(
                    r#"{{{head},"status":"pass","metrics":{{"p95":41.0,"status":1}},"branch":"main","machine":"a1"}}"#
                ),
                false,
            ),
            (
                format!(r#"{{{head},"status":"pass","branch":"main"}}"#),
                false,
            ),
            (
                format!(r#"{{{head},"baseline_accepted":"new machine","run":5}}"#),
                false,
            ),
            (
                format!(r#"{{{head},"status":"pass","later":{{"at":1}}}}"#),
                false,
            ),
            (
                format!(r#"{{ {head} , "status" : "pass" , "x" : [ {{ }} ] }}"#),
                false,
            ),
            (
                format!(r#"{{ {head} , "status" : "skip" , "run" : 1 }}"#),
                true,
            ),
        ];
        for (line, foldable) in cases {
            assert!(parse(line.as_bytes()).is_ok(), "valid: {line}");
            let reference = serde_json::from_str::<Foldable>(line).is_ok();
            assert_eq!(reference, *foldable, "reference on {line}");
            assert_eq!(
                has_only_known_fields(line.as_bytes()),
                *foldable,
                "scan of {line}"
            );
        }
    }
}
