//! `runner status`, `runner graduate [--write]` and `runner history compact`: the history read
//! back for people, and kept small.

use std::fmt::Write as _;
use std::path::Path;

use time::OffsetDateTime;

use crate::cli::error::{CmdResult, Done, Error};
use crate::config::{Gate, Settings};
use crate::history::{FlakeRate, Graduation, History, Standing};
use crate::vocab::{Mode, clock};
use crate::workspace::Workspace;

/// `println!` into the command's output buffer (writing to a `String` cannot fail).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

/// `runner status`: per gate, configured and effective mode, streak, last result, graduation,
/// and, when a gate passed only on a retry lately, how many of its latest runs did.
pub(crate) fn status(ws: &Workspace, now: Option<OffsetDateTime>) -> CmdResult {
    let (history, now) = open(ws, now);
    emit(|out| status_into(out, ws, &history, now))
}

/// `runner graduate [--write]`: the observational gates whose history says they graduated.
pub(crate) fn graduate(ws: &Workspace, now: Option<OffsetDateTime>, write: bool) -> CmdResult {
    let (history, now) = open(ws, now);
    emit(|out| graduate_into(out, ws, &history, now, write))
}

/// `runner history compact [--older-than D]`: fold the lines of days older than `older_than`
/// into day records.
pub(crate) fn compact(
    ws: &Workspace,
    now: Option<OffsetDateTime>,
    older_than: std::time::Duration,
) -> CmdResult {
    let now = super::clock(now);
    let path = &ws.config.settings.history;
    let shown = shown(path, &ws.config.root);
    let older_than = time::Duration::try_from(older_than)
        .map_err(|_| Error::Usage("--older-than is too long".to_owned()))?;
    let report = crate::history::compact_history(path, now, older_than)
        .map_err(|e| Error::Usage(format!("cannot compact the history {shown}: {e}")))?;
    let Some(r) = report else {
        println!("no history at {shown}: nothing to compact");
        return Ok(Done::Success);
    };
    let day = (now - older_than).date();
    println!(
        "compacted {shown}: {} lines of days before {day} folded into {} day records; {} -> {}",
        r.folded,
        r.records,
        crate::vocab::size::human(r.before),
        crate::vocab::size::human(r.after)
    );
    if r.caught_up > 0 {
        println!(
            "({} bytes appended by another runner meanwhile were kept)",
            r.caught_up
        );
    }
    Ok(Done::Success)
}

/// Run a command into a buffer, then print it in one go; a closed pipe (`| head`) is not an
/// error worth a panic.
fn emit(command: impl FnOnce(&mut String) -> CmdResult) -> CmdResult {
    use std::io::Write as _;
    let mut out = String::new();
    let result = command(&mut out);
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    result
}

fn status_into(
    out: &mut String,
    ws: &Workspace,
    history: &History,
    now: OffsetDateTime,
) -> CmdResult {
    let settings = &ws.config.settings;
    let entries = history.entries();
    say!(
        out,
        "history: {} ({entries} entr{}), as of {}\n",
        shown(history.path(), &ws.config.root),
        if entries == 1 { "y" } else { "ies" },
        clock::rfc3339(now.replace_nanosecond(0).unwrap_or(now))
    );
    // The flake rates, as a last column only when a gate passed on a retry lately: a
    // repository that never retries sees the table it always saw.
    let rates: Vec<FlakeRate> = ws
        .config
        .gates
        .iter()
        .map(|g| history.flake_rate(g, now, FLAKE_WINDOW))
        .collect();
    let flaky_column = rates.iter().any(|r| r.flaky > 0);
    let mut header = vec!["GATE", "MODE", "EFFECTIVE", "STREAK", "LAST", "GRADUATION"];
    if flaky_column {
        header.push("FLAKY");
    }
    let mut rows: Vec<Vec<String>> = vec![header.into_iter().map(str::to_owned).collect()];
    let mut due = 0;
    for (gate, rate) in ws.config.gates.iter().zip(rates) {
        let standing = history.standing(gate, settings, now);
        let effective = history.effective_mode(gate, settings, now);
        due += usize::from(gate.mode == Mode::Observational && effective == Mode::Blocking);
        let mut row = vec![
            gate.name.clone(),
            gate.mode.as_str().to_owned(),
            effective.as_str().to_owned(),
            streak_text(gate, settings, &standing),
            last_text(&standing),
            standing
                .graduated
                .map_or_else(|| "-".to_owned(), |g| format!("graduated on {}", g.on)),
        ];
        if flaky_column {
            row.push(flaky_text(rate));
        }
        rows.push(row);
    }
    print_table(out, &rows);
    metrics_into(out, ws);
    if due > 0 {
        say!(
            out,
            "\n{due} graduated gate{s} still observational in {}: `runner graduate --write` makes {it} blocking there",
            ws.config.file_name,
            s = if due == 1 { " is" } else { "s are" },
            it = if due == 1 { "it" } else { "them" },
        );
    }
    Ok(Done::Success)
}

/// How many latest runs a metric's sparkline shows.
const SPARK_RUNS: usize = 20;

/// Per gate with thresholds or exports: each metric's latest recorded values as a sparkline,
/// the latest value and its change against the run before.
fn metrics_into(out: &mut String, ws: &Workspace) {
    let names: Vec<&str> = ws
        .config
        .gates
        .iter()
        .filter(|g| !(g.thresholds.is_empty() && g.baselines.is_empty() && g.export.is_empty()))
        .map(|g| g.name.as_str())
        .collect();
    if names.is_empty() {
        return;
    }
    let read = crate::history::samples::read_back(
        &ws.config.settings.history,
        Some(&names),
        SPARK_RUNS,
        crate::history::samples::Until::Count,
    );
    let mut rows = vec![
        ["GATE", "METRIC", "LAST RUNS", "LATEST"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for name in &names {
        let Some(values) = read.get(*name) else {
            continue;
        };
        let metrics: std::collections::BTreeSet<&String> = values
            .values
            .iter()
            .flat_map(|v| v.metrics.keys())
            .collect();
        for metric in metrics {
            let series = values.series(metric);
            let Some(&latest) = series.last() else {
                continue;
            };
            let change = match series.len().checked_sub(2).map(|i| series[i]) {
                Some(prev) if prev != 0.0 => {
                    format!(" ({:+.1}%)", (latest - prev) / prev.abs() * 100.0)
                }
                _ => String::new(),
            };
            rows.push(vec![
                (*name).to_owned(),
                metric.clone(),
                crate::cli::sparkline::sparkline(&series, SPARK_RUNS),
                format!("{}{change}", crate::vocab::metric_path::for_people(latest)),
            ]);
        }
    }
    if rows.len() > 1 {
        say!(out, "\nmetrics, oldest to newest run:\n");
        print_table(out, &rows);
    }
}

fn graduate_into(
    out: &mut String,
    ws: &Workspace,
    history: &History,
    now: OffsetDateTime,
    write: bool,
) -> CmdResult {
    let settings = &ws.config.settings;
    let due: Vec<(&Gate, Graduation)> = ws
        .config
        .gates
        .iter()
        .filter(|g| g.mode == Mode::Observational)
        .filter_map(|g| {
            history
                .standing(g, settings, now)
                .graduated
                .map(|grad| (g, grad))
        })
        .collect();
    if due.is_empty() {
        say!(
            out,
            "nothing to graduate: no observational gate has reached its green-day streak"
        );
        for gate in ws
            .config
            .gates
            .iter()
            .filter(|g| g.mode == Mode::Observational)
        {
            say!(
                out,
                "  {}: {}",
                gate.name,
                streak_text(gate, settings, &history.standing(gate, settings, now))
            );
        }
        return Ok(Done::Success);
    }
    let because = |gate: &Gate, grad: &Graduation| {
        let n = gate.graduate_after(settings);
        format!("{n}/{n} green days since {}", grad.since)
    };
    if !write {
        for (gate, grad) in &due {
            say!(
                out,
                "due: {} ({}, graduated on {})",
                gate.name,
                because(gate, grad),
                grad.on
            );
        }
        say!(
            out,
            "{} gate{} due; `runner graduate --write` sets mode = \"blocking\" in {}",
            due.len(),
            if due.len() == 1 { "" } else { "s" },
            ws.config.file_name
        );
        return Ok(Done::Success);
    }
    let names: Vec<&str> = due.iter().map(|(g, _)| g.name.as_str()).collect();
    crate::history::write_graduations(&ws.config, &names)
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", ws.config.file_name)))?;
    for (gate, grad) in &due {
        say!(out, "graduated: {} ({})", gate.name, because(gate, grad));
    }
    say!(out, "wrote {}", ws.config.file_name);
    Ok(Done::Success)
}

/// The clock (UTC) and the history, with the history's warnings printed.
fn open(ws: &Workspace, now: Option<OffsetDateTime>) -> (History, OffsetDateTime) {
    let now = super::clock(now);
    let history = History::load(&ws.config.settings.history);
    for w in history.warnings() {
        eprintln!("warning: {w}");
    }
    (history, now)
}

/// The runs `runner status` reports a flake rate over (at least: whole days are counted).
const FLAKE_WINDOW: u32 = 20;

/// `2/23 runs (9%)`: flaky passes among the latest executions; `0/20 runs`; `-` when the gate
/// never executed.
fn flaky_text(rate: FlakeRate) -> String {
    match rate {
        FlakeRate { runs: 0, .. } => "-".to_owned(),
        FlakeRate { flaky: 0, runs } => format!("0/{runs} runs"),
        FlakeRate { flaky, runs } => format!(
            "{flaky}/{runs} runs ({}%)",
            (u64::from(flaky) * 100 + u64::from(runs) / 2) / u64::from(runs)
        ),
    }
}

/// `5/7 green days`, or `-` for blocking gates and gates that never graduate (N = 0).
fn streak_text(gate: &Gate, settings: &Settings, standing: &Standing) -> String {
    standing
        .progress(gate, settings)
        .unwrap_or_else(|| "-".to_owned())
}

/// `pass 2026-11-24T10:00:00Z (cached)`, or `never run`.
fn last_text(standing: &Standing) -> String {
    standing.last.map_or_else(
        || "never run".to_owned(),
        |l| {
            format!(
                "{} {}{}{}{}",
                l.status.as_str(),
                clock::rfc3339(l.at),
                if l.cached { " (cached)" } else { "" },
                if l.guard { " (no-op guard)" } else { "" },
                if l.flaky { " (flaky)" } else { "" }
            )
        },
    )
}

fn print_table(out: &mut String, rows: &[Vec<String>]) {
    let mut widths = vec![0usize; rows.first().map_or(0, Vec::len)];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[i]);
            }
        }
        say!(out, "{}", line.trim_end());
    }
}

/// The history path relative to the config folder when inside it.
fn shown(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
