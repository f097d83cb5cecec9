//! `runner check`, `runner list` and `runner explain`: the config and the cache key, read back.

use time::OffsetDateTime;

use crate::cli::error::{CmdResult, Done, Error};
use crate::exec::RunOptions;
use crate::history::History;
use crate::workspace::{self, Selection, Workspace};

/// `runner check`: load, build the graph and expand every input glob; run nothing (not even
/// runtime inputs).
pub(super) fn check(ws: &Workspace) -> CmdResult {
    workspace::check(ws)?;
    let (gates, edges) = (ws.config.gates.len(), ws.graph.edge_count());
    println!(
        "{}: ok, {gates} gate{}, {edges} edge{}",
        ws.config.file_name,
        if gates == 1 { "" } else { "s" },
        if edges == 1 { "" } else { "s" },
    );
    Ok(Done::Success)
}

/// `runner list`: gates with kind, modes, needs and tags.
pub(super) fn list(ws: &Workspace, now: Option<OffsetDateTime>) -> CmdResult {
    let history = History::load(&ws.config.settings.history);
    let now = super::clock(now);
    println!(
        "{:<24} {:<10} {:<14} {:<14} {:<24} {:<16} DESCRIPTION",
        "GATE", "KIND", "MODE", "EFFECTIVE", "NEEDS", "TAGS"
    );
    for g in &ws.config.gates {
        println!(
            "{:<24} {:<10} {:<14} {:<14} {:<24} {:<16} {}",
            g.name,
            g.kind.name(),
            g.mode.as_str(),
            history.effective_mode(g, &ws.config.settings, now).as_str(),
            if g.needs.is_empty() {
                "-".to_owned()
            } else {
                g.needs.join(",")
            },
            if g.tags.is_empty() {
                "-".to_owned()
            } else {
                g.tags.join(",")
            },
            g.description.as_deref().unwrap_or("-")
        );
    }
    Ok(Done::Success)
}

/// `runner explain GATE`: the key's inputs, and what changed since the last stored run.
pub(super) fn explain(ws: &Workspace, gate: &str) -> CmdResult {
    let sel = Selection {
        gates: vec![gate.to_owned()],
        ..Selection::default()
    };
    let prepared = workspace::prepare(ws, &sel, &|_, _| {})?;
    let index = ws
        .graph
        .index(gate)
        .ok_or_else(|| Error::Usage(format!("unknown gate `{gate}`")))?;
    let opts = RunOptions {
        jobs: 1,
        no_cache: false,
        verbose: false,
        now: String::new(),
        trace: false,
        why_ran: false,
        baselines: std::sync::Arc::default(),
        retries: None,
        replay_phases: false,
    };
    let e = crate::plan::explain(ws, &prepared, index, &opts);
    let material = &e.material;
    println!("gate {} ({})", e.gate, e.kind);
    if let Some(d) = &ws.config.gates[index].description {
        println!("description: {d}");
    }
    match &e.key {
        Ok(key) => println!("key  {}", key.hex()),
        Err(why) => println!(
            "key  none: {why}; `runner run` would end this gate `error` without running it"
        ),
    }
    println!(
        "cacheable: {}",
        if e.cacheable {
            "yes"
        } else {
            "no (cache = false, or its kind measures the machine)"
        }
    );
    println!("settings: {}", material.kind);
    println!("env_mode: {}", material.env_mode);
    println!(
        "artifacts: {}",
        if material.artifacts.is_empty() {
            "(none)".to_owned()
        } else {
            material.artifacts.join(", ")
        }
    );
    println!("inputs ({}):", material.inputs.len());
    for (path, hash) in &material.inputs {
        println!("  {path}  {}", &hash[..hash.len().min(16)]);
    }
    println!("env ({}):", material.env.len());
    for (name, value) in &material.env {
        println!("  {name}={}", value.as_deref().unwrap_or("(unset)"));
    }
    println!("runtime inputs ({}):", e.runtime.len());
    for (command, output) in &e.runtime {
        match output {
            Ok(output) => println!(
                "  {command}  {}  {:?}",
                &output.hash[..output.hash.len().min(16)],
                output.shown
            ),
            Err(why) => println!("  {command}  FAILED: {why}"),
        }
    }
    println!("needs ({}):", material.upstream.len());
    for (need, arts) in &material.upstream {
        for (path, hash) in arts {
            println!(
                "  {need}: {path}  {}",
                hash.as_deref().map_or("(absent)", |h| &h[..16])
            );
        }
        if arts.is_empty() {
            println!("  {need}: (no artifacts)");
        }
    }
    let Ok(key) = &e.key else {
        if let Some((old_key, _)) = &e.last {
            println!(
                "last stored run: key {} (not compared: this gate has no key while a runtime input fails)",
                &old_key.hex()[..16]
            );
        } else {
            println!("last stored run: none (the gate has not been cached yet)");
        }
        return Ok(Done::Success);
    };
    match &e.last {
        None => println!("last stored run: none (the gate has not been cached yet)"),
        Some((old_key, _)) if old_key == key => {
            println!("last stored run: same key, the next run is a cache hit");
        }
        Some((old_key, diff)) => {
            if e.stored {
                println!(
                    "an entry for this key is stored (from an earlier run): the next run is a cache hit"
                );
            }
            println!("last stored run: key {} differs:", &old_key.hex()[..16]);
            for line in diff {
                println!("  - {line}");
            }
        }
    }
    Ok(Done::Success)
}
