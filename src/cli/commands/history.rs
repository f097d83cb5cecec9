//! `runner status`, `runner graduate [--write]` and `runner history compact`: the history read
//! back for people, and kept small.

use std::fmt::Write as _;
use std::path::Path;

use time::OffsetDateTime;

use crate::cli::error::{CmdResult, Done, Error};
use crate::config::{Gate, Settings};
use crate::history::{Graduation, History, Standing};
use crate::vocab::{Mode, clock};
use crate::workspace::Workspace;

/// `println!` into the command's output buffer (writing to a `String` cannot fail).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

/// `runner status`: per gate, configured and effective mode, streak, last result, graduation.
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
    let mut rows =
        vec![["GATE", "MODE", "EFFECTIVE", "STREAK", "LAST", "GRADUATION"].map(str::to_owned)];
    let mut due = 0;
    for gate in &ws.config.gates {
        let standing = history.standing(gate, settings, now);
        let effective = history.effective_mode(gate, settings, now);
        due += usize::from(gate.mode == Mode::Observational && effective == Mode::Blocking);
        rows.push([
            gate.name.clone(),
            gate.mode.as_str().to_owned(),
            effective.as_str().to_owned(),
            streak_text(gate, settings, &standing),
            last_text(&standing),
            standing
                .graduated
                .map_or_else(|| "-".to_owned(), |g| format!("graduated on {}", g.on)),
        ]);
    }
    print_table(out, &rows);
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

/// `5/7 green days`, or `-` for blocking gates and gates that never graduate (N = 0).
fn streak_text(gate: &Gate, settings: &Settings, standing: &Standing) -> String {
    match (gate.mode, gate.graduate_after(settings)) {
        (Mode::Blocking, _) | (_, 0) => "-".to_owned(),
        (Mode::Observational, n) => format!("{}/{n} green days", standing.streak),
    }
}

/// `pass 2026-11-24T10:00:00Z (cached)`, or `never run`.
fn last_text(standing: &Standing) -> String {
    standing.last.map_or_else(
        || "never run".to_owned(),
        |l| {
            format!(
                "{} {}{}{}",
                l.status.as_str(),
                clock::rfc3339(l.at),
                if l.cached { " (cached)" } else { "" },
                if l.guard { " (no-op guard)" } else { "" }
            )
        },
    )
}

fn print_table(out: &mut String, rows: &[[String; 6]]) {
    let mut widths = [0usize; 6];
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
