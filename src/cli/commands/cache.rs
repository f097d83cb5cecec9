//! `runner cache prune` and `runner cache stats`: the local cache's budget, on demand.

use std::fmt::Write as _;
use std::time::Duration;

use time::OffsetDateTime;

use crate::cache::{self, Pass};
use crate::cli::error::{CmdResult, Done, Error};
use crate::config::CacheSettings;
use crate::vocab::{clock, duration, size};
use crate::workspace::Workspace;

/// Evicted entries listed one per line; past this, a count.
const LISTED: usize = 50;

/// Runs whose history lines give the hit rate.
const RECENT_RUNS: usize = 10;

/// `runner cache prune [--max-size S] [--max-age D] [--dry-run]`.
pub(super) fn prune(
    ws: &Workspace,
    now: Option<OffsetDateTime>,
    max_size: Option<u64>,
    max_age: Option<Duration>,
    dry_run: bool,
) -> CmdResult {
    let settings = CacheSettings {
        max_size: max_size.unwrap_or(ws.config.settings.cache.max_size),
        max_age: max_age.unwrap_or(ws.config.settings.cache.max_age),
    };
    let now = super::clock(now);
    let by_name = ws.config.gates_by_name();
    let known = |gate: &str| by_name.contains_key(gate);
    let cache_dir = &ws.config.settings.cache_dir;
    let pass = cache::prune(cache_dir, &settings, ms(now), &known, dry_run).map_err(|e| {
        Error::Usage(format!(
            "cannot prune the cache {}: {e}",
            cache_dir.display()
        ))
    })?;
    let mut out = String::new();
    describe(&mut out, &pass, &settings, dry_run);
    print!("{out}");
    Ok(Done::Success)
}

/// The prune's outcome, for people.
fn describe(out: &mut String, pass: &Pass, settings: &CacheSettings, dry_run: bool) {
    let freed: u64 = pass.evicted.iter().map(|e| e.size).sum();
    let (verb, now) = if dry_run {
        ("would remove", "would leave")
    } else {
        ("removed", "left")
    };
    let _ = writeln!(
        out,
        "budget: {} (max_size; the cache folder's own files take {}), entries unused for {} (max_age)",
        size::human(settings.max_size),
        size::human(pass.state),
        duration::humantime(settings.max_age)
    );
    let _ = writeln!(
        out,
        "{verb} {} entr{} ({}), least recently used first",
        pass.evicted.len(),
        if pass.evicted.len() == 1 { "y" } else { "ies" },
        size::human(freed)
    );
    for e in pass.evicted.iter().take(LISTED) {
        let _ = writeln!(
            out,
            "  {}  {:<24} {:>10}  last used {}",
            &e.key.hex()[..16],
            if e.gate.is_empty() { "?" } else { &e.gate },
            size::human(e.size),
            time_of(e.used)
        );
    }
    if pass.evicted.len() > LISTED {
        let _ = writeln!(out, "  ... and {} more", pass.evicted.len() - LISTED);
    }
    if pass.young > 0 {
        let _ = writeln!(
            out,
            "kept {} entr{} written less than {} ago (another runner may be using {})",
            pass.young,
            if pass.young == 1 { "y" } else { "ies" },
            duration::humantime(cache::GRACE),
            if pass.young == 1 { "it" } else { "them" }
        );
    }
    if !pass.failed.is_empty() {
        let _ = writeln!(
            out,
            "could not remove {} entr{}, kept:",
            pass.failed.len(),
            if pass.failed.len() == 1 { "y" } else { "ies" },
        );
        for (e, why) in pass.failed.iter().take(LISTED) {
            let _ = writeln!(
                out,
                "  {}  {:<24} {:>10}  {why}",
                &e.key.hex()[..16],
                if e.gate.is_empty() { "?" } else { &e.gate },
                size::human(e.size),
            );
        }
        if pass.failed.len() > LISTED {
            let _ = writeln!(out, "  ... and {} more", pass.failed.len() - LISTED);
        }
    }
    if !pass.logs_removed.is_empty() {
        let _ = writeln!(
            out,
            "{verb} the logs of {} gate{} no longer in the config: {}",
            pass.logs_removed.len(),
            if pass.logs_removed.len() == 1 {
                ""
            } else {
                "s"
            },
            pass.logs_removed.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "{now} {} entr{} ({})",
        pass.count,
        if pass.count == 1 { "y" } else { "ies" },
        size::human(pass.total)
    );
}

/// `runner cache stats`.
pub(super) fn stats(ws: &Workspace, now: Option<OffsetDateTime>) -> CmdResult {
    let now = super::clock(now);
    let settings = &ws.config.settings;
    let stats = cache::stats(&settings.cache_dir).map_err(|e| {
        Error::Usage(format!(
            "cannot read the cache {}: {e}",
            settings.cache_dir.display()
        ))
    })?;
    let mut out = String::new();
    let budget = settings.cache.max_size;
    let _ = writeln!(
        out,
        "cache: {}",
        settings
            .cache_dir
            .strip_prefix(&ws.config.root)
            .unwrap_or(&settings.cache_dir)
            .display()
    );
    let used = stats.bytes + stats.state;
    let _ = writeln!(
        out,
        "entries: {} ({}; with the folder's own files {}, {}% of max_size {}{})",
        stats.entries,
        size::human(stats.bytes),
        size::human(used),
        percent(used, budget),
        size::human(budget),
        if used > budget {
            ": over budget, the next run evicts"
        } else {
            ""
        }
    );
    let _ = match stats.oldest_use {
        Some(oldest) => writeln!(
            out,
            "oldest use: {} ({} ago; max_age {})",
            time_of(oldest),
            duration::humantime(Duration::from_secs(ms(now).saturating_sub(oldest) / 1000)),
            duration::humantime(settings.cache.max_age)
        ),
        None => writeln!(out, "oldest use: -"),
    };
    let _ = writeln!(
        out,
        "logs: {} file{} ({})",
        stats.logs.0,
        if stats.logs.0 == 1 { "" } else { "s" },
        size::human(stats.logs.1)
    );
    let _ = match crate::history::recent_hit_rate(&settings.history, RECENT_RUNS) {
        Some(rate) if rate.results > 0 => writeln!(
            out,
            "hit rate: {}% ({} of {} gate results replayed from the cache over the last {} run{})",
            percent(rate.cached, rate.results),
            rate.cached,
            rate.results,
            rate.runs,
            if rate.runs == 1 { "" } else { "s" }
        ),
        _ => writeln!(out, "hit rate: - (no runs in the history)"),
    };
    print!("{out}");
    Ok(Done::Success)
}

/// `part` as a whole percentage of `whole` (0 when `whole` is 0).
fn percent(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        0
    } else {
        u64::try_from(u128::from(part) * 100 / u128::from(whole)).unwrap_or(u64::MAX)
    }
}

/// Milliseconds since the epoch.
fn ms(t: OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// RFC 3339 text of a time in ms since the epoch (whole seconds).
fn time_of(ms: u64) -> String {
    let seconds = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(seconds).map_or_else(|_| "?".to_owned(), clock::rfc3339)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry kept because it could not be removed says why; only the entries another runner
    /// has just written are said to be young.
    #[test]
    fn kept_entries_say_why_they_were_kept() {
        let settings = CacheSettings::default();
        let entry = |k: u8, gate: &str| cache::Evicted {
            key: crate::vocab::CacheKey([k; 32]),
            gate: gate.to_owned(),
            size: 2048,
            used: 0,
        };
        let pass = Pass {
            young: 1,
            failed: vec![(
                entry(0xab, "build"),
                "Permission denied (os error 13)".to_owned(),
            )],
            count: 2,
            ..Pass::default()
        };
        let mut out = String::new();
        describe(&mut out, &pass, &settings, false);
        assert!(
            out.contains(
                "kept 1 entry written less than 1m ago (another runner may be using it)\n"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "could not remove 1 entry, kept:\n  abababababababab  build                       2.0 KiB  Permission denied (os error 13)\n"
            ),
            "{out}"
        );
    }
}
