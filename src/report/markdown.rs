//! The Markdown summary (`--summary`, and `$GITHUB_STEP_SUMMARY`): a heading, one line of
//! totals, a table of gates, the reasons of the gates that did not pass, then the labels.

use std::fmt::Write as _;

use super::{GateReport, Report, ThresholdReport};
use crate::vocab::Mode;
use crate::vocab::Status;
use crate::vocab::exit_code::Outcome;

/// Render the summary of a run. A pure function of the report.
#[must_use]
pub fn render(report: &Report) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## {}\n", heading(report.outcome));
    let s = &report.summary;
    let _ = writeln!(
        md,
        "{} gate{}: {} pass, {} fail, {} skip, {} error, {} not run · {} cached · {} · exit {} · started {}\n",
        report.gates.len(),
        if report.gates.len() == 1 { "" } else { "s" },
        s.pass,
        s.fail,
        s.skip,
        s.error,
        s.not_run,
        s.cached,
        duration(report.duration_ms),
        report.exit_code,
        escape(&report.started_at),
    );
    md.push_str("| Gate | Status | Mode | Time | Cached | Thresholds |\n");
    md.push_str("|:-----|:-------|:-----|-----:|:------:|:-----------|\n");
    for g in &report.gates {
        let thresholds = if g.thresholds.is_empty() {
            "—".to_owned()
        } else {
            g.thresholds
                .iter()
                .map(|t| escape(&threshold_text(t)))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            escape(&g.name),
            status_cell(g),
            mode_cell(g),
            duration(g.duration_ms),
            if g.cached { "yes" } else { "no" },
            thresholds,
        );
    }
    let described: Vec<&GateReport> = report
        .gates
        .iter()
        .filter(|g| g.description.is_some())
        .collect();
    if !described.is_empty() {
        md.push_str("\n**Gates**\n\n");
        for g in described {
            let _ = writeln!(
                md,
                "- `{}`: {}",
                g.name.replace('`', "'"),
                escape(g.description.as_deref().unwrap_or_default())
            );
        }
    }
    let details: Vec<&GateReport> = report
        .gates
        .iter()
        .filter(|g| g.status != Status::Pass && g.reason.is_some())
        .collect();
    if !details.is_empty() {
        md.push_str("\n**Why**\n\n");
        for g in details {
            let reason = g.reason.as_deref().unwrap_or_default();
            let _ = writeln!(
                md,
                "- `{}` ({}): {}",
                g.name,
                g.status.as_str(),
                escape(reason)
            );
        }
    }
    md.push('\n');
    if report.labels.is_empty() {
        md.push_str("**Labels:** none\n");
    } else {
        let labels: Vec<String> = report.labels.iter().map(|l| format!("`{l}`")).collect();
        let _ = writeln!(md, "**Labels:** {}", labels.join(", "));
    }
    md
}

/// One judged threshold as `metric op limit: value ✓` (or `✗`; `missing` when absent). A
/// threshold against a baseline also says the baseline, where it comes from and the change:
/// `p95_ms <= 110 (<= baseline * 1.1; median of 20 runs on main: 100): 115 (+15.0%) ✗`; one
/// that is only observed is marked `⚠` when its limit did not hold.
#[must_use]
pub fn threshold_text(t: &ThresholdReport) -> String {
    let people = crate::vocab::metric_path::for_people;
    let value = t.value.map_or_else(|| "missing".to_owned(), people);
    let Some(b) = &t.baseline else {
        let limit = t.limit.map_or_else(|| "?".to_owned(), people);
        let mark = if t.pass { "✓" } else { "✗" };
        return format!("{} {} {limit}: {value} {mark}", t.metric, t.op);
    };
    let mark = match (t.pass, b.holds) {
        (false, _) => "✗",
        (true, false) => "⚠",
        (true, true) => "✓",
    };
    let change = b
        .change_pct
        .map_or_else(String::new, |c| format!(" ({c:+.1}%)"));
    let base = b.value.map_or_else(String::new, |v| {
        format!(
            "; {} of {} run{} on {}: {}",
            b.statistic,
            b.samples,
            if b.samples == 1 { "" } else { "s" },
            b.branch,
            people(v)
        )
    });
    let note = b
        .note
        .as_ref()
        .map_or_else(String::new, |n| format!("; {n}"));
    match t.limit {
        Some(limit) => format!(
            "{} {} {} ({}{base}{note}): {value}{change} {mark}",
            t.metric,
            t.op,
            people(limit),
            b.expr
        ),
        None => format!(
            "{} {} (on {}{note}): {value} {mark}",
            t.metric, b.expr, b.branch
        ),
    }
}

fn heading(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "✅ runner: no blocking gate failed",
        Outcome::Fail => "❌ runner: a blocking gate did not pass",
        Outcome::Skipped => "⏭️ runner: every gate was skipped",
    }
}

/// The status with a marker; an observational failure is a warning, not a cross.
fn status_cell(g: &GateReport) -> String {
    let marker = match (g.status, g.mode) {
        (Status::Pass, _) => "✅",
        (Status::Fail | Status::Error, Mode::Observational) => "⚠️",
        (Status::Fail, Mode::Blocking) => "❌",
        (Status::Error, Mode::Blocking) => "💥",
        (Status::Skip, _) => "⏭️",
        (Status::NotRun, _) => "⛔",
    };
    let word = if g.status == Status::NotRun {
        "not run"
    } else {
        g.status.as_str()
    };
    if g.flaky {
        return format!("{marker} {word} (flaky: attempt {})", g.attempts);
    }
    format!("{marker} {word}")
}

/// The effective mode, noting a graduation (effective differs from configured).
fn mode_cell(g: &GateReport) -> String {
    if g.mode == g.configured_mode {
        g.mode.as_str().to_owned()
    } else {
        format!("{} (graduated)", g.mode.as_str())
    }
}

/// `143 ms`, `2.35 s`, `1m 05s`.
#[must_use]
pub fn duration(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{}.{:02} s", ms / 1000, (ms % 1000) / 10),
        _ => format!("{}m {:02}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// Make free text safe inside a table cell: `|` is escaped, line breaks become `<br>`, and a
/// `<` that could open an HTML tag becomes `&lt;` (a bare `<=` is left as it is).
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '|' => out.push_str("\\|"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("<br>"),
            '<' if chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')) =>
            {
                out.push_str("&lt;");
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_cells() {
        let cases = [
            ("a|b", "a\\|b"),
            ("one\ntwo\r\nthree", "one<br>two<br>three"),
            ("p95 <= 50", "p95 <= 50"),
            ("<script>x</script>", "&lt;script>x&lt;/script>"),
            ("plain", "plain"),
        ];
        for (input, want) in cases {
            assert_eq!(escape(input), want, "{input:?}");
        }
    }

    #[test]
    fn durations() {
        let cases = [
            (0, "0 ms"),
            (143, "143 ms"),
            (2351, "2.35 s"),
            (65_000, "1m 05s"),
            (3_600_000, "60m 00s"),
        ];
        for (ms, want) in cases {
            assert_eq!(duration(ms), want);
        }
    }

    #[test]
    fn threshold_lines() {
        let t = |value, pass| ThresholdReport {
            metric: "p95".into(),
            op: "<=".into(),
            limit: Some(50.0),
            baseline: None,
            value,
            pass,
        };
        assert_eq!(threshold_text(&t(Some(0.58), true)), "p95 <= 50: 0.58 ✓");
        assert_eq!(threshold_text(&t(Some(80.0), false)), "p95 <= 50: 80 ✗");
        assert_eq!(threshold_text(&t(None, false)), "p95 <= 50: missing ✗");
    }
}
