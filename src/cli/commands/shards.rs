//! `runner shards N`: how `--shard K/N` splits the gates (by name, or balanced by the
//! recorded durations), or the CI matrix of the N shards (`--json`).

use std::collections::BTreeMap;
use std::io::Write as _;

use crate::cli::args::{Balance, ShardsArgs};
use crate::cli::error::{CmdResult, Done, Error};
use crate::shard::Shard;
use crate::workspace::{self, Selection, Workspace};

/// Print the shards, or the matrix.
pub(super) fn shards(ws: &Workspace, args: &ShardsArgs) -> CmdResult {
    let n = args.n;
    if args.json {
        // The matrix needs no history: each job computes its own shard, from the same inputs.
        let include: Vec<serde_json::Value> = (1..=n)
            .map(|k| serde_json::json!({ "shard": format!("{k}/{n}") }))
            .collect();
        let _ = writeln!(
            std::io::stdout(),
            "{}",
            serde_json::json!({ "include": include })
        );
        return Ok(Done::Success);
    }
    let durations = (args.balance == Balance::Duration)
        .then(|| crate::history::recorded_durations(&ws.config.settings.history));
    let mut out = std::io::stdout().lock();
    for k in 1..=n {
        let sel = Selection {
            gates: args.gates.clone(),
            tags: args.tags.clone(),
            shard: Some(Shard { k, n }),
            only: None,
            balance: durations.clone(),
            settled: Vec::new(),
        };
        let roots = workspace::roots(ws, &sel)?;
        let names: Vec<&str> = roots
            .iter()
            .map(|&g| ws.config.gates[g].name.as_str())
            .collect();
        let line = match &durations {
            Some(d) => format!(
                "shard {k}/{n}: {} gate{}, {}: {}",
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                prediction(&names, d),
                names.join(", ")
            ),
            None => format!(
                "shard {k}/{n}: {} gate{}: {}",
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
        };
        let _ = writeln!(out, "{line}");
    }
    Ok(Done::Success)
}

/// `predicted 41.2 s (2 without a recorded duration)`.
fn prediction(names: &[&str], durations: &BTreeMap<String, u64>) -> String {
    let known: u64 = names.iter().filter_map(|n| durations.get(*n)).sum();
    let unknown = names
        .iter()
        .filter(|n| !durations.contains_key(**n))
        .count();
    #[allow(clippy::cast_precision_loss)]
    let secs = known as f64 / 1000.0;
    if unknown == 0 {
        format!("predicted {secs:.1} s")
    } else {
        format!("predicted {secs:.1} s ({unknown} without a recorded duration)")
    }
}

/// The line a balanced shard's run prints first: what it predicts, so shards that did not
/// start from the same history can be told apart in the logs.
pub(super) fn note(
    ws: &Workspace,
    sel: &Selection,
    shard: Shard,
    durations: &BTreeMap<String, u64>,
) -> Result<String, Error> {
    let roots = workspace::roots(ws, sel)?;
    let names: Vec<&str> = roots
        .iter()
        .map(|&g| ws.config.gates[g].name.as_str())
        .collect();
    Ok(format!(
        "shard {}/{} balanced by duration ({} gates in the history): {} gate{}, {}",
        shard.k,
        shard.n,
        durations.len(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        prediction(&names, durations)
    ))
}
