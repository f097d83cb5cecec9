//! `runner run --affected`: ask git what changed, match it against the gates, and say which
//! changed file selected which gate (`--dry-run`) or, in one line, how many (a run).

use std::fmt::Write as _;

use crate::affected::{self, Affected, Why};
use crate::cli::error::Error;
use crate::workspace::Workspace;

/// The affected gates of the diff `base`..`head` (see `crate::affected` for the rule).
pub(super) fn compute(
    ws: &Workspace,
    base: Option<String>,
    head: Option<String>,
) -> Result<Affected, Error> {
    let req = affected::Request { base, head };
    affected::affected(&ws.config, &ws.graph, &req, &|k| std::env::var(k).ok())
        .map_err(|e| Error::Usage(format!("--affected: {e}")))
}

/// Where the changes were measured: `origin/main (merge base 1a2b3c4d) and the work tree`.
fn span(a: &Affected) -> String {
    let short = a.merge_base.get(..12).unwrap_or(&a.merge_base);
    match &a.head {
        Some(head) => format!("{} (merge base {short})..{head}", a.base),
        None => format!(
            "{} (merge base {short}) and the work tree, untracked files included",
            a.base
        ),
    }
}

/// One line for a run: `affected: 3 changed files since ... select 2 gates (+1 needing them)`.
pub(super) fn summary(ws: &Workspace, a: &Affected) -> String {
    let files = a.touched.files.len();
    let dependents = a
        .touched
        .gates
        .values()
        .filter(|w| matches!(w, Why::Needs(_)))
        .count();
    let direct = a.touched.gates.len() - dependents;
    let mut line = format!(
        "affected: {files} changed file{} since {} select {direct} of {} gate{}",
        if files == 1 { "" } else { "s" },
        span(a),
        ws.config.gates.len(),
        if ws.config.gates.len() == 1 { "" } else { "s" },
    );
    if dependents > 0 {
        let _ = write!(line, " (+{dependents} needing them)");
    }
    if a.touched.config_changed {
        line.push_str(" (the config changed: every gate)");
    }
    line
}

/// The `--dry-run` explanation: each changed file and the gates it selects, the gates selected
/// whatever changed, and the dependents added.
pub(super) fn explain(ws: &Workspace, a: &Affected) -> String {
    let name = |g: usize| ws.config.gates[g].name.as_str();
    let mut out = format!("{}\n", summary(ws, a));
    for (path, gates) in &a.touched.files {
        let gates = if a.touched.config_changed && gates.len() == ws.config.gates.len() {
            "every gate (the config changed)".to_owned()
        } else if gates.is_empty() {
            "no gate".to_owned()
        } else {
            gates
                .iter()
                .map(|&g| name(g))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "  changed {path} -> {gates}");
    }
    for (&g, why) in &a.touched.gates {
        match why {
            Why::Always(reason) => {
                let _ = writeln!(out, "  always  {} ({reason})", name(g));
            }
            Why::Needs(of) => {
                let _ = writeln!(out, "  needs   {} (needs {})", name(g), name(*of));
            }
            Why::Files(_) | Why::Config => {}
        }
    }
    out
}
