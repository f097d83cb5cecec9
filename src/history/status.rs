//! `runner status` and `runner graduate [--write]`: the history read back for people.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::graduation::{Graduation, Standing};
use super::store::History;
use super::write_back;
use crate::config::{Gate, Mode, Settings};
use crate::exit_code;
use crate::run::Workspace;

/// `println!` into the command's output buffer (writing to a `String` cannot fail).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

/// `runner status`: per gate, configured and effective mode, streak, last result, graduation.
#[must_use]
pub fn status_command(ws: &Workspace, now: Option<&str>) -> i32 {
    let Some((history, now)) = open(ws, now) else {
        return exit_code::USAGE;
    };
    emit(|out| status(out, ws, &history, now))
}

/// `runner graduate [--write]`: the observational gates whose history says they graduated.
#[must_use]
pub fn graduate_command(ws: &Workspace, now: Option<&str>, write: bool) -> i32 {
    let Some((history, now)) = open(ws, now) else {
        return exit_code::USAGE;
    };
    emit(|out| graduate(out, ws, &history, now, write))
}

/// Run a command into a buffer, then print it in one go; a closed pipe (`| head`) is not an
/// error worth a panic.
fn emit(command: impl FnOnce(&mut String) -> i32) -> i32 {
    use std::io::Write as _;
    let mut out = String::new();
    let code = command(&mut out);
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    code
}

fn status(out: &mut String, ws: &Workspace, history: &History, now: OffsetDateTime) -> i32 {
    let settings = &ws.config.settings;
    let entries = history.entries();
    say!(
        out,
        "history: {} ({entries} entr{}), as of {}\n",
        shown(history.path(), &ws.config.root),
        if entries == 1 { "y" } else { "ies" },
        crate::run::rfc3339(now.replace_nanosecond(0).unwrap_or(now))
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
    exit_code::SUCCESS
}

fn graduate(
    out: &mut String,
    ws: &Workspace,
    history: &History,
    now: OffsetDateTime,
    write: bool,
) -> i32 {
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
        return exit_code::SUCCESS;
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
        return exit_code::SUCCESS;
    }
    let names: Vec<&str> = due.iter().map(|(g, _)| g.name.as_str()).collect();
    match write_config(ws, &names) {
        Ok(()) => {
            for (gate, grad) in &due {
                say!(out, "graduated: {} ({})", gate.name, because(gate, grad));
            }
            say!(out, "wrote {}", ws.config.file_name);
            exit_code::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", ws.config.file_name);
            exit_code::USAGE
        }
    }
}

/// The clock and the history, with the history's warnings printed; `None` on a bad `--now`.
fn open(ws: &Workspace, now: Option<&str>) -> Option<(History, OffsetDateTime)> {
    let now = match crate::run::now(now) {
        Ok(t) => t.to_offset(time::UtcOffset::UTC),
        Err(e) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    let history = History::load(&ws.config.settings.history);
    for w in history.warnings() {
        eprintln!("warning: {w}");
    }
    Some((history, now))
}

/// Rewrite the config file with `gates` made blocking, checked by loading the result first.
fn write_config(ws: &Workspace, gates: &[&str]) -> Result<(), String> {
    let path = config_path(ws);
    let source = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let Some(edited) = write_back::set_blocking(&source, gates).map_err(|e| e.to_string())? else {
        return Ok(());
    };
    // Never write a file the runner would then refuse, or one that did not change what we meant.
    let config =
        crate::config::parse(&ws.config.file_name, &edited, &ws.config.root).map_err(|d| {
            format!(
                "the edited file does not load ({} problems); it was left unchanged",
                d.len()
            )
        })?;
    if let Some(g) = config
        .gates
        .iter()
        .find(|g| gates.contains(&g.name.as_str()) && g.mode != Mode::Blocking)
    {
        return Err(format!(
            "gate `{}` did not become blocking; the file was left unchanged",
            g.name
        ));
    }
    let target = std::fs::canonicalize(&path).unwrap_or(path);
    let permissions = std::fs::metadata(&target).map(|m| m.permissions()).ok();
    crate::bincodec::write_atomic(&target, edited.as_bytes()).map_err(|e| e.to_string())?;
    // The file is replaced by a new one: give it the old one's permissions back.
    if let Some(p) = permissions {
        std::fs::set_permissions(&target, p).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn config_path(ws: &Workspace) -> PathBuf {
    let name = Path::new(&ws.config.file_name)
        .file_name()
        .map_or_else(|| "gates.toml".into(), PathBuf::from);
    ws.config.root.join(name)
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
                "{} {}{}",
                l.status.as_str(),
                crate::run::rfc3339(l.at),
                if l.cached { " (cached)" } else { "" }
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
