//! `runner baseline show GATE` and `runner baseline accept GATE [--reason TEXT]`.

use time::OffsetDateTime;

use crate::cli::error::{CmdResult, Done, Error};
use crate::cli::sparkline::sparkline;
use crate::config::Gate;
use crate::history::machine::Machine;
use crate::history::{History, branch, samples};
use crate::judge::baseline;
use crate::vocab::metric_path::for_people;
use crate::workspace::Workspace;

/// How many recorded values are read back (before filtering by status, branch, machine).
const READ_BACK: usize = 1000;

/// The gate, if it has thresholds against a baseline; else a usage error saying what to do.
fn gate_with_baselines<'a>(ws: &'a Workspace, name: &str) -> Result<&'a Gate, Error> {
    let Some(gate) = ws.config.gates.iter().find(|g| g.name == name) else {
        let names: Vec<&str> = ws.config.gates.iter().map(|g| g.name.as_str()).collect();
        return Err(Error::Usage(format!(
            "unknown gate `{name}` in {} ({})",
            ws.config.file_name,
            crate::diag::suggest(name, &names)
        )));
    };
    if gate.baselines.is_empty() {
        return Err(Error::Usage(format!(
            "gate `{name}` has no threshold against a baseline\n  hint: add one to its thresholds, such as p95_ms = \"<= baseline * 1.10\""
        )));
    }
    Ok(gate)
}

/// `runner baseline show GATE`.
pub(super) fn show(ws: &Workspace, name: &str, base_branch: Option<&str>) -> CmdResult {
    let gate = gate_with_baselines(ws, name)?;
    let env = |k: &str| std::env::var(k).ok();
    let machine = Machine::current(&env);
    let base = branch::base(&ws.config.root, base_branch, &env);
    let read = samples::read_back(
        &ws.config.settings.history,
        Some(&[name]),
        READ_BACK,
        samples::Until::Accepted,
    );
    let values = read.get(name).cloned().unwrap_or_default();
    println!("gate `{name}`");
    println!("machine: {} ({})", machine.id, machine.description);
    match &values.accepted {
        Some(a) => println!("since: baseline accepted at {} ({})", a.at, a.reason),
        None => println!("since: the start of the history"),
    }
    for rule in &gate.baselines {
        let metric = rule.metric.as_str();
        let branch = rule.branch.as_deref().unwrap_or(&base);
        println!();
        println!(
            "{metric} {}: the {} of the latest {} comparable passing runs on {branch} (min_samples {}, min_delta {})",
            rule.expr,
            rule.statistic.as_str(),
            rule.window,
            rule.min_samples,
            crate::judge::fmt_num(rule.min_delta)
        );
        // The latest recorded value, judged against the runs before it.
        let latest = values
            .values
            .iter()
            .rev()
            .find(|v| !v.cached && v.metrics.contains_key(metric));
        let before = samples::GateValues {
            values: values
                .values
                .iter()
                .filter(|v| latest.is_none_or(|l| v.run < l.run))
                .cloned()
                .collect(),
            accepted: None,
        };
        let input = before.baseline_samples(metric, branch, &machine.id);
        let comparable: Vec<f64> = input
            .samples
            .iter()
            .filter(|s| s.machine == machine.id)
            .map(|s| s.value)
            .collect();
        let used = &comparable[comparable.len().saturating_sub(rule.window as usize)..];
        println!(
            "  samples: {}{}  {}",
            used.len(),
            match input.samples.len() - comparable.len() {
                0 => String::new(),
                n => format!(" ({n} from other machines left out)"),
            },
            sparkline(used, 40)
        );
        if !used.is_empty() {
            let shown: Vec<String> = used.iter().map(|v| for_people(*v)).collect();
            println!("  values, oldest first: {}", shown.join(", "));
        }
        let Some(latest) = latest else {
            println!("  latest: no recorded value yet");
            continue;
        };
        let value = latest.metrics[metric];
        let (limit, pass, j) = baseline::judge(rule, value, &input);
        match (j.value, limit) {
            (Some(b), Some(l)) => println!(
                "  baseline: {}  limit: {} {}",
                for_people(b),
                rule.expr.op,
                for_people(l)
            ),
            _ => println!("  baseline: none"),
        }
        let change = j
            .change_pct
            .map_or_else(String::new, |c| format!(" ({c:+.1}%)"));
        let verdict = match (pass, j.holds) {
            (false, _) => "fails",
            (true, false) => "would fail",
            (true, true) => "passes",
        };
        println!(
            "  latest: {}{change} at {} on {} ({}): {verdict}{}",
            for_people(value),
            latest.at,
            latest.branch.as_deref().unwrap_or("an unknown branch"),
            latest.status.as_str(),
            j.note.map_or_else(String::new, |n| format!(" ({n})"))
        );
    }
    Ok(Done::Success)
}

/// `runner baseline accept GATE [--reason TEXT]`.
pub(super) fn accept(
    ws: &Workspace,
    name: &str,
    reason: Option<&str>,
    now: Option<OffsetDateTime>,
) -> CmdResult {
    let gate = gate_with_baselines(ws, name)?;
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("no reason given");
    let mut history = History::load(&ws.config.settings.history);
    history
        .append_accept(name, reason, super::clock(now))
        .map_err(|e| {
            Error::Usage(format!(
                "cannot append to the history {}: {e}",
                ws.config.settings.history.display()
            ))
        })?;
    let min = gate
        .baselines
        .iter()
        .map(|b| b.min_samples)
        .max()
        .unwrap_or(1);
    println!(
        "baselines of `{name}` start anew ({reason}): its thresholds against a baseline are observed only until {min} passing run{} made the new one",
        if min == 1 { "" } else { "s" }
    );
    Ok(Done::Success)
}
