//! One line of the history file: its JSON shape, how it is written and how it is read back.

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
    /// Why the no-op guard tripped, when it did: the guard's audit log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<&'a str>,
    pub commit: Option<&'a str>,
    pub run: u64,
    /// The gate's wall time in this run (near 0 for a replay): what `--balance duration`
    /// predicts a shard's time from.
    pub duration_ms: u64,
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
    status: Status,
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
    /// 0 for a line without `run` (written before the field existed): it sorts first.
    pub run: u64,
}

/// Parse one line (without its newline). The error says in words why the line is corrupt.
pub(crate) fn parse(line: &[u8]) -> Result<Entry<'_>, String> {
    let raw: LineIn<'_> = serde_json::from_slice(line).map_err(|e| describe(&e))?;
    let at = parse_at(&raw.at)?;
    Ok(Entry {
        gate: raw.gate,
        at,
        status: raw.status,
        cached: raw.cached.unwrap_or(false),
        guard: raw.guard.is_some(),
        run: raw.run.unwrap_or(0),
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
            guard: None,
            commit: None,
            run: 7,
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
        assert!(entry.cached);
        assert_eq!(entry.run, 7);
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
}
