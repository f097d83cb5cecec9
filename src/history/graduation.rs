//! Green days, streaks and graduation (SPEC 6), computed from one gate's per-day aggregates.
//!
//! The rules, in one place:
//!
//! - A *green day* is a UTC calendar day with at least one `pass`, no `fail` or `error`, and no
//!   flaky pass (a pass that needed a retry, `retries`). Days with only `skip` or `not_run`,
//!   days with a flaky pass (and no `fail` or `error`), and days without runs neither count nor
//!   break: graduation needs a gate that passes without retries.
//! - The *streak* at `now` is the number of green days since the last day with a `fail` or
//!   `error`, counting only entries at or before `now` (a line stamped in the future counts
//!   once its time comes).
//! - Entries are ordered by `(run, at)`: `run` is the run's sequence number, which only grows
//!   in the order runs were written (see `store`). Days come from `at`; the order of writing
//!   decides what a graduation saw.
//! - A gate *graduates* on the first day whose first pass (in run order) brought its streak to
//!   N, counting only entries written before that pass. Graduation is sticky: nothing written
//!   later demotes the gate, not a later failure, and not a failure stamped in the past by a
//!   runner whose clock was behind. No state besides the history itself is needed.

use time::{Date, OffsetDateTime};

use crate::config::{Gate, Settings};
use crate::vocab::{Mode, Status};

/// A point in the history order: the run's sequence number, then the time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Mark {
    pub run: u64,
    /// Milliseconds since UTC midnight.
    pub ms: u32,
}

/// What one UTC day of one gate holds: enough to count streaks, not every entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Day {
    pub date: Date,
    /// The first `pass` of the day in history order (a flaky pass is not one).
    pub pass: Option<Mark>,
    /// The first `fail` or `error` of the day in history order.
    pub bad: Option<Mark>,
    /// The first flaky pass of the day in history order: from then on the day is not green.
    pub flaky: Option<Mark>,
    /// The highest run number of a pass, flaky pass or bad entry of the day.
    pub max_run: u64,
    /// Entries of the day that executed the gate (not replayed; `pass`, `fail` or `error`).
    pub executed: u32,
    /// Those of them that were flaky passes.
    pub flaky_passes: u32,
    /// The latest entry of the day by time (ties: the later line).
    pub last: LastOfDay,
}

/// The latest entry of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LastOfDay {
    pub ms: u32,
    pub status: Status,
    pub cached: bool,
    /// The no-op guard tripped (the line has a `guard` reason).
    pub guard: bool,
    /// A pass that needed a retry.
    pub flaky: bool,
}

/// A gate's last result, for `runner status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LastResult {
    pub status: Status,
    pub at: OffsetDateTime,
    pub cached: bool,
    /// The no-op guard tripped.
    pub guard: bool,
    /// A pass that needed a retry.
    pub flaky: bool,
}

/// How often a gate's executions needed a retry to pass, over its latest days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FlakeRate {
    /// Flaky passes among `runs`.
    pub flaky: u32,
    /// Executions (not replays) that ended `pass`, `fail` or `error`, over whole days.
    pub runs: u32,
}

/// When and how a gate graduated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Graduation {
    /// The day its streak reached N.
    pub on: Date,
    /// The first green day of that streak.
    pub since: Date,
}

/// A gate's standing at a given `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Standing {
    /// Green days since the last fail or error.
    pub streak: u32,
    /// Set when the gate graduated at or before `now` (only computed for N > 0).
    pub graduated: Option<Graduation>,
    /// The latest entry at or before `now`.
    pub last: Option<LastResult>,
}

impl Standing {
    /// `5/7 green days` for an observational gate that graduates after N > 0 days; None for
    /// blocking gates and gates that never graduate.
    #[must_use]
    pub(crate) fn progress(&self, gate: &Gate, settings: &Settings) -> Option<String> {
        match (gate.mode, gate.graduate_after(settings)) {
            (Mode::Blocking, _) | (_, 0) => None,
            (Mode::Observational, n) => Some(format!("{}/{n} green days", self.streak)),
        }
    }
}

/// Milliseconds since UTC midnight of a UTC time.
pub(crate) fn ms_of_day(t: OffsetDateTime) -> u32 {
    let (h, m, s, ms) = t.time().as_hms_milli();
    ((u32::from(h) * 60 + u32::from(m)) * 60 + u32::from(s)) * 1000 + u32::from(ms)
}

/// Fold one entry into a gate's days, kept sorted by date. Appends in time order cost O(1).
/// `flaky` marks a pass that needed a retry (ignored on other statuses).
pub(crate) fn record(
    days: &mut Vec<Day>,
    at: OffsetDateTime,
    run: u64,
    status: Status,
    cached: bool,
    guard: bool,
    flaky: bool,
) {
    let date = at.date();
    let ms = ms_of_day(at);
    let flaky = flaky && status == Status::Pass;
    let last = LastOfDay {
        ms,
        status,
        cached,
        guard,
        flaky,
    };
    let index = match days.last() {
        Some(d) if d.date == date => days.len() - 1,
        Some(d) if d.date > date => match days.binary_search_by_key(&date, |d| d.date) {
            Ok(i) => i,
            Err(i) => {
                days.insert(i, Day::new(date, last));
                i
            }
        },
        _ => {
            days.push(Day::new(date, last));
            days.len() - 1
        }
    };
    let day = &mut days[index];
    let mark = Mark { run, ms };
    let slot = match status {
        Status::Pass if flaky => Some(&mut day.flaky),
        Status::Pass => Some(&mut day.pass),
        Status::Fail | Status::Error => Some(&mut day.bad),
        Status::Skip | Status::NotRun => None,
    };
    if let Some(slot) = slot {
        if slot.is_none_or(|m| mark < m) {
            *slot = Some(mark);
        }
        day.max_run = day.max_run.max(run);
        if !cached {
            day.executed = day.executed.saturating_add(1);
            day.flaky_passes = day.flaky_passes.saturating_add(u32::from(flaky));
        }
    }
    if ms >= day.last.ms {
        day.last = last;
    }
}

/// Fold a whole day (a day record, or the fold of some of the day's lines) into a gate's days,
/// as if its lines were recorded one by one where the day stands in the file.
pub(crate) fn merge(days: &mut Vec<Day>, day: Day) {
    match days.binary_search_by_key(&day.date, |d| d.date) {
        Ok(i) => merge_into(&mut days[i], day),
        Err(i) => days.insert(i, day),
    }
}

/// Fold `day` into `into`, the same date, `day` coming later in the file: first marks are the
/// smaller, the highest run the larger, and its latest entry wins ties (as `record` does).
pub(crate) fn merge_into(into: &mut Day, day: Day) {
    let first = |a: Option<Mark>, b: Option<Mark>| match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    into.pass = first(into.pass, day.pass);
    into.bad = first(into.bad, day.bad);
    into.flaky = first(into.flaky, day.flaky);
    into.max_run = into.max_run.max(day.max_run);
    into.executed = into.executed.saturating_add(day.executed);
    into.flaky_passes = into.flaky_passes.saturating_add(day.flaky_passes);
    if day.last.ms >= into.last.ms {
        into.last = day.last;
    }
}

impl Day {
    /// The day of a single entry, as `record` would make it in an empty history.
    pub(crate) fn of_entry(
        at: OffsetDateTime,
        run: u64,
        status: Status,
        cached: bool,
        guard: bool,
        flaky: bool,
    ) -> Self {
        let mut days = Vec::with_capacity(1);
        record(&mut days, at, run, status, cached, guard, flaky);
        // `record` always leaves one day in an empty list.
        days.pop().unwrap_or_else(|| {
            let last = LastOfDay {
                ms: ms_of_day(at),
                status,
                cached,
                guard,
                flaky,
            };
            Day::new(at.date(), last)
        })
    }

    fn new(date: Date, last: LastOfDay) -> Self {
        Day {
            date,
            pass: None,
            bad: None,
            flaky: None,
            max_run: 0,
            executed: 0,
            flaky_passes: 0,
            last,
        }
    }
}

/// The flaky passes among a gate's executions in its latest whole days up to `now`'s day,
/// going back until the days hold at least `window` executions (or the history ends): the
/// rate over its last `runs` runs, with `runs` >= `window` when there were that many.
pub(crate) fn flake_rate(days: &[Day], now: OffsetDateTime, window: u32) -> FlakeRate {
    let today = now.to_offset(time::UtcOffset::UTC).date();
    let mut rate = FlakeRate::default();
    for day in days.iter().rev().filter(|d| d.date <= today) {
        if rate.runs >= window {
            break;
        }
        rate.runs = rate.runs.saturating_add(day.executed);
        rate.flaky = rate.flaky.saturating_add(day.flaky_passes);
    }
    rate
}

/// The streak, graduation (for `n` > 0) and last result of a gate at `now` (UTC).
pub(crate) fn standing(days: &[Day], now: OffsetDateTime, n: u32) -> Standing {
    let now = now.to_offset(time::UtcOffset::UTC);
    let today = now.date();
    let now_ms = ms_of_day(now);
    let mut streak = 0u32;
    let mut since: Option<Date> = None;
    let mut graduated = None;
    let mut last = None;
    let mut max_run_before = 0u64;
    for (i, day) in days.iter().enumerate() {
        if day.date > today {
            break;
        }
        // Only today's entries can lie after `now`.
        let visible = |m: &Mark| day.date < today || m.ms <= now_ms;
        let pass = day.pass.filter(visible);
        let bad = day.bad.filter(visible);
        let flaky = day.flaky.filter(visible);
        if n > 0
            && graduated.is_none()
            && let Some(p) = pass
            && bad.is_none_or(|b| b > p)
            && flaky.is_none_or(|f| f > p)
        {
            // The streak this pass extended, as written before it. When every earlier day was
            // written before it (the usual case), that is the running streak.
            let (before, first) = if max_run_before <= p.run {
                (streak, since)
            } else {
                streak_as_written_before(&days[..i], p.run)
            };
            if before + 1 >= n {
                graduated = Some(Graduation {
                    on: day.date,
                    since: first.unwrap_or(day.date),
                });
            }
        }
        if bad.is_some() {
            streak = 0;
            since = None;
        } else if pass.is_some() && flaky.is_none() {
            streak += 1;
            since.get_or_insert(day.date);
        }
        max_run_before = max_run_before.max(day.max_run);
        if day.date < today || day.last.ms <= now_ms {
            last = Some(LastResult {
                status: day.last.status,
                at: at_of(day.date, day.last.ms),
                cached: day.last.cached,
                guard: day.last.guard,
                flaky: day.last.flaky,
            });
        }
    }
    Standing {
        streak,
        graduated,
        last,
    }
}

/// The streak over `days` counting only entries of runs up to `run`, and its first green day.
fn streak_as_written_before(days: &[Day], run: u64) -> (u32, Option<Date>) {
    let mut streak = 0;
    let mut since = None;
    for day in days {
        if day.bad.is_some_and(|b| b.run <= run) {
            streak = 0;
            since = None;
        } else if day.pass.is_some_and(|p| p.run <= run) && day.flaky.is_none_or(|f| f.run > run) {
            streak += 1;
            since.get_or_insert(day.date);
        }
    }
    (streak, since)
}

/// The UTC time `ms` milliseconds after midnight of `date`.
pub(crate) fn at_of(date: Date, ms: u32) -> OffsetDateTime {
    date.midnight().assume_utc() + time::Duration::milliseconds(i64::from(ms))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    /// One history entry: (day of November 2026, hour, run, status).
    type E = (u8, u8, u64, Status);

    fn days(entries: &[E]) -> Vec<Day> {
        let mut days = Vec::new();
        for &(day, hour, run, status) in entries {
            let at = datetime!(2026-11-01 00:00 UTC)
                + time::Duration::days(i64::from(day) - 1)
                + time::Duration::hours(i64::from(hour));
            record(&mut days, at, run, status, false, false, false);
        }
        days
    }

    fn nov(day: u8) -> Date {
        Date::from_calendar_date(2026, time::Month::November, day).unwrap()
    }

    use Status::{Error, Fail, NotRun, Pass, Skip};

    struct Case {
        name: &'static str,
        entries: &'static [E],
        /// Day of November 2026 and hour.
        now: (u8, u8),
        n: u32,
        streak: u32,
        /// (graduated on, streak since).
        graduated: Option<(u8, u8)>,
    }

    const CASES: &[Case] = &[
        Case {
            name: "empty",
            entries: &[],
            now: (10, 12),
            n: 3,
            streak: 0,
            graduated: None,
        },
        Case {
            name: "consecutive passes",
            entries: &[(1, 10, 1, Pass), (2, 10, 2, Pass)],
            now: (2, 12),
            n: 3,
            streak: 2,
            graduated: None,
        },
        Case {
            name: "days without runs neither count nor break",
            entries: &[(1, 10, 1, Pass), (5, 10, 2, Pass), (9, 10, 3, Pass)],
            now: (20, 0),
            n: 7,
            streak: 3,
            graduated: None,
        },
        Case {
            name: "skip-only and not_run-only days neither count nor break",
            entries: &[
                (1, 10, 1, Pass),
                (2, 10, 2, Skip),
                (3, 10, 3, NotRun),
                (4, 10, 4, Pass),
            ],
            now: (4, 12),
            n: 7,
            streak: 2,
            graduated: None,
        },
        Case {
            name: "several passes in a day count once",
            entries: &[(1, 8, 1, Pass), (1, 9, 2, Pass), (1, 10, 3, Pass)],
            now: (1, 12),
            n: 2,
            streak: 1,
            graduated: None,
        },
        Case {
            name: "a fail resets",
            entries: &[
                (1, 10, 1, Pass),
                (2, 10, 2, Pass),
                (3, 10, 3, Fail),
                (4, 10, 4, Pass),
            ],
            now: (4, 12),
            n: 7,
            streak: 1,
            graduated: None,
        },
        Case {
            name: "an error resets",
            entries: &[(1, 10, 1, Pass), (2, 10, 2, Error)],
            now: (3, 0),
            n: 7,
            streak: 0,
            graduated: None,
        },
        Case {
            name: "a pass and a fail the same day: not green, and it resets",
            entries: &[
                (1, 10, 1, Pass),
                (2, 9, 2, Fail),
                (2, 10, 3, Pass),
                (3, 10, 4, Pass),
            ],
            now: (3, 12),
            n: 7,
            streak: 1,
            graduated: None,
        },
        Case {
            name: "graduates the day the streak reaches N",
            entries: &[(1, 10, 1, Pass), (2, 10, 2, Pass), (4, 10, 3, Pass)],
            now: (4, 12),
            n: 3,
            streak: 3,
            graduated: Some((4, 1)),
        },
        Case {
            name: "not yet: the pass is after now",
            entries: &[(1, 10, 1, Pass), (2, 10, 2, Pass), (3, 10, 3, Pass)],
            now: (3, 9),
            n: 3,
            streak: 2,
            graduated: None,
        },
        Case {
            name: "sticky: later fails keep it graduated",
            entries: &[
                (1, 10, 1, Pass),
                (2, 10, 2, Pass),
                (3, 10, 3, Fail),
                (4, 10, 4, Fail),
            ],
            now: (4, 12),
            n: 2,
            streak: 0,
            graduated: Some((2, 1)),
        },
        Case {
            name: "sticky within the day: a fail after the graduating pass",
            entries: &[(1, 10, 1, Pass), (2, 10, 2, Pass), (2, 14, 3, Fail)],
            now: (2, 15),
            n: 2,
            streak: 0,
            graduated: Some((2, 1)),
        },
        Case {
            name: "a fail before the pass on the same day blocks graduation",
            entries: &[(1, 10, 1, Pass), (2, 9, 2, Fail), (2, 10, 3, Pass)],
            now: (2, 12),
            n: 2,
            streak: 0,
            graduated: None,
        },
        Case {
            name: "graduation counts from the last reset",
            entries: &[
                (1, 10, 1, Pass),
                (2, 10, 2, Fail),
                (3, 10, 3, Pass),
                (4, 10, 4, Pass),
            ],
            now: (5, 0),
            n: 2,
            streak: 2,
            graduated: Some((4, 3)),
        },
        Case {
            name: "N = 0 never graduates",
            entries: &[(1, 10, 1, Pass), (2, 10, 2, Pass)],
            now: (3, 0),
            n: 0,
            streak: 2,
            graduated: None,
        },
        Case {
            name: "N = 1 graduates on the first green day",
            entries: &[(1, 10, 1, Skip), (2, 10, 2, Pass)],
            now: (3, 0),
            n: 1,
            streak: 1,
            graduated: Some((2, 2)),
        },
        Case {
            name: "future entries are ignored until their time",
            entries: &[
                (1, 10, 1, Pass),
                (2, 10, 2, Pass),
                (28, 10, 3, Fail),
                (3, 10, 4, Pass),
            ],
            now: (3, 12),
            n: 7,
            streak: 3,
            graduated: None,
        },
        Case {
            name: "a future entry counts once its time has come",
            entries: &[
                (1, 10, 1, Pass),
                (2, 10, 2, Pass),
                (28, 10, 3, Fail),
                (3, 10, 4, Pass),
            ],
            now: (28, 12),
            n: 7,
            streak: 0,
            graduated: None,
        },
        Case {
            name: "a future pass does not graduate early",
            entries: &[(1, 10, 1, Pass), (28, 10, 2, Pass), (2, 10, 3, Pass)],
            now: (2, 12),
            n: 3,
            streak: 2,
            graduated: None,
        },
        Case {
            name: "lines out of order in the file count on their own days",
            entries: &[
                (3, 10, 3, Pass),
                (1, 10, 1, Pass),
                (2, 10, 2, Fail),
                (4, 10, 4, Pass),
            ],
            now: (4, 12),
            n: 7,
            streak: 2,
            graduated: None,
        },
        Case {
            name: "a clock behind writes a fail into the past: the streak drops, graduation stays",
            entries: &[
                (1, 10, 1, Pass),
                (2, 10, 2, Pass),
                (3, 10, 3, Pass),
                (2, 11, 4, Fail),
            ],
            now: (3, 12),
            n: 3,
            streak: 1,
            graduated: Some((3, 1)),
        },
        Case {
            name: "a fail written before the graduating pass still resets",
            entries: &[
                (1, 10, 1, Pass),
                (2, 10, 3, Fail),
                (3, 10, 4, Pass),
                (4, 10, 5, Pass),
            ],
            now: (4, 12),
            n: 3,
            streak: 2,
            graduated: None,
        },
        Case {
            name: "a pass written late into the past counts for later graduations only",
            entries: &[
                (1, 10, 1, Pass),
                (3, 10, 2, Pass),
                (2, 10, 3, Pass),
                (4, 10, 4, Pass),
            ],
            now: (4, 12),
            n: 3,
            streak: 4,
            graduated: Some((4, 1)),
        },
        Case {
            name: "lines without run (0) and ties keep working",
            entries: &[(1, 10, 0, Pass), (2, 10, 0, Pass), (2, 11, 0, Fail)],
            now: (3, 0),
            n: 2,
            streak: 0,
            graduated: Some((2, 1)),
        },
    ];

    #[test]
    fn streak_and_graduation_table() {
        for case in CASES {
            let days = days(case.entries);
            let now = datetime!(2026-11-01 00:00 UTC)
                + time::Duration::days(i64::from(case.now.0) - 1)
                + time::Duration::hours(i64::from(case.now.1));
            let got = standing(&days, now, case.n);
            assert_eq!(got.streak, case.streak, "{}: streak", case.name);
            assert_eq!(
                got.graduated.map(|g| (g.on, g.since)),
                case.graduated.map(|(on, since)| (nov(on), nov(since))),
                "{}: graduation",
                case.name
            );
        }
    }

    /// (day of November 2026, hour, run, status, flaky).
    fn flaky_days(entries: &[(u8, u8, u64, Status, bool)]) -> Vec<Day> {
        let mut days = Vec::new();
        for &(day, hour, run, status, flaky) in entries {
            let at = datetime!(2026-11-01 00:00 UTC)
                + time::Duration::days(i64::from(day) - 1)
                + time::Duration::hours(i64::from(hour));
            record(&mut days, at, run, status, false, false, flaky);
        }
        days
    }

    #[test]
    fn flaky_passes_make_no_green_day_and_break_nothing() {
        let at = |day: u8, hour: u8| {
            datetime!(2026-11-01 00:00 UTC)
                + time::Duration::days(i64::from(day) - 1)
                + time::Duration::hours(i64::from(hour))
        };
        // Day 2 only passed on retries: it neither counts nor breaks the streak.
        let d = flaky_days(&[
            (1, 10, 1, Pass, false),
            (2, 10, 2, Pass, true),
            (3, 10, 3, Pass, false),
        ]);
        let s = standing(&d, at(3, 12), 3);
        assert_eq!((s.streak, s.graduated), (2, None));
        assert!(!s.last.unwrap().flaky);
        let s = standing(&d, at(2, 12), 3);
        assert_eq!(s.streak, 1);
        assert!(s.last.unwrap().flaky, "the last result says it was flaky");
        let mut d = d;
        record(&mut d, at(4, 10), 4, Pass, false, false, false);
        let s = standing(&d, at(4, 12), 3);
        assert_eq!(s.streak, 3);
        assert_eq!(s.graduated.map(|g| (g.on, g.since)), Some((nov(4), nov(1))));
        // A clean pass and a flaky one the same day: the day is not green, whatever the order.
        for (first, second) in [(false, true), (true, false)] {
            let d = flaky_days(&[(1, 10, 1, Pass, first), (1, 11, 2, Pass, second)]);
            assert_eq!(standing(&d, at(1, 12), 0).streak, 0, "{first} {second}");
        }
        // A graduation made by a clean pass stays when a flaky pass follows it (sticky).
        let d = flaky_days(&[(1, 10, 1, Pass, false), (1, 11, 2, Pass, true)]);
        let s = standing(&d, at(1, 12), 1);
        assert_eq!(s.graduated.map(|g| g.on), Some(nov(1)));
        // A flaky pass before the pass of the day blocks it.
        let d = flaky_days(&[(1, 9, 1, Pass, true), (1, 10, 2, Pass, false)]);
        assert_eq!(standing(&d, at(1, 12), 1).graduated, None);
        // A gate that flakes every day never graduates.
        let every: Vec<_> = (1..=9)
            .map(|day| (day, 10, u64::from(day), Pass, true))
            .collect();
        let s = standing(&flaky_days(&every), at(9, 12), 2);
        assert_eq!((s.streak, s.graduated), (0, None));
        // Written before: a flaky pass written earlier than a graduating pass in the past.
        let d = flaky_days(&[
            (1, 10, 1, Pass, false),
            (2, 10, 3, Pass, true),
            (3, 10, 4, Pass, false),
            (2, 9, 5, Pass, false),
        ]);
        assert_eq!(standing(&d, at(3, 12), 3).graduated, None);
    }

    #[test]
    fn the_flake_rate_covers_whole_days_back_to_the_window() {
        let at =
            |day: u8| datetime!(2026-11-01 12:00 UTC) + time::Duration::days(i64::from(day) - 1);
        let mut d = Vec::new();
        // Day 1: 3 runs, 1 flaky; day 2: 2 runs (one replay, not counted) and a skip;
        // day 3: 2 runs, 1 flaky, 1 fail.
        for (day, status, cached, flaky) in [
            (1, Pass, false, true),
            (1, Pass, false, false),
            (1, Fail, false, false),
            (2, Pass, false, false),
            (2, Pass, true, false),
            (2, Skip, false, false),
            (3, Pass, false, true),
            (3, Fail, false, false),
        ] {
            record(
                &mut d,
                at(day),
                u64::from(day),
                status,
                cached,
                false,
                flaky,
            );
        }
        let rate = |now: u8, window: u32| {
            let r = flake_rate(&d, at(now), window);
            (r.flaky, r.runs)
        };
        assert_eq!(rate(3, 1), (1, 2), "the last day covers the window");
        assert_eq!(rate(3, 3), (1, 3));
        assert_eq!(rate(3, 4), (2, 6), "whole days");
        assert_eq!(rate(3, 100), (2, 6), "the whole history");
        assert_eq!(rate(2, 100), (1, 4), "days after now are left out");
        assert_eq!(flake_rate(&[], at(3), 20), FlakeRate::default());
    }

    #[test]
    fn last_result_is_the_latest_entry_at_or_before_now() {
        let mut d = Vec::new();
        record(
            &mut d,
            datetime!(2026-11-01 10:00 UTC),
            1,
            Status::Pass,
            false,
            false,
            false,
        );
        record(
            &mut d,
            datetime!(2026-11-02 10:00 UTC),
            2,
            Status::Fail,
            false,
            false,
            false,
        );
        record(
            &mut d,
            datetime!(2026-11-02 08:00 UTC),
            3,
            Status::Skip,
            true,
            false,
            false,
        );
        record(
            &mut d,
            datetime!(2026-11-05 10:00 UTC),
            4,
            Status::Pass,
            true,
            false,
            false,
        );
        let last = standing(&d, datetime!(2026-11-03 00:00 UTC), 0)
            .last
            .unwrap();
        assert_eq!(
            (last.status, last.at, last.cached),
            (Status::Fail, datetime!(2026-11-02 10:00 UTC), false)
        );
        let last = standing(&d, datetime!(2026-11-05 12:00 UTC), 0)
            .last
            .unwrap();
        assert_eq!((last.status, last.cached), (Status::Pass, true));
        assert_eq!(standing(&d, datetime!(2026-10-30 00:00 UTC), 0).last, None);
    }

    #[test]
    fn days_stay_sorted_and_first_marks_follow_run_order() {
        let mut d = Vec::new();
        record(
            &mut d,
            datetime!(2026-11-03 10:00 UTC),
            5,
            Status::Pass,
            false,
            false,
            false,
        );
        record(
            &mut d,
            datetime!(2026-11-01 10:00 UTC),
            6,
            Status::Pass,
            false,
            false,
            false,
        );
        record(
            &mut d,
            datetime!(2026-11-02 10:00 UTC),
            7,
            Status::Fail,
            false,
            false,
            false,
        );
        record(
            &mut d,
            datetime!(2026-11-03 09:00 UTC),
            8,
            Status::Pass,
            false,
            false,
            false,
        );
        let dates: Vec<Date> = d.iter().map(|d| d.date).collect();
        assert_eq!(dates, vec![nov(1), nov(2), nov(3)]);
        assert_eq!(
            d[2].pass,
            Some(Mark {
                run: 5,
                ms: 10 * 3_600_000
            })
        );
        assert_eq!(d[2].max_run, 8);
        assert_eq!(d[1].bad.map(|m| m.run), Some(7));
    }
}
