//! `--dry-run` and `explain`: what would run and why, without running anything.

use std::collections::BTreeMap;

use crate::exec::{RunOptions, Scheduler};
use crate::run::{Prepared, Workspace};

/// Print, per selected gate in order: run or cached, and why.
pub fn print(ws: &Workspace, p: &Prepared, opts: &RunOptions) {
    let noop = |_: crate::exec::Event<'_>| {};
    let scheduler = Scheduler {
        config: &ws.config,
        graph: &ws.graph,
        inputs: &p.inputs,
        fp: &p.fp,
        cache: &p.cache,
        opts,
        observer: &noop,
    };
    let mut will_run: BTreeMap<usize, bool> = BTreeMap::new();
    for g in ws
        .graph
        .topo_order()
        .into_iter()
        .filter(|g| p.selected.contains(g))
    {
        let gate = &ws.config.gates[g];
        let upstream_runs: Vec<&str> = ws
            .graph
            .needs(g)
            .filter(|n| will_run.get(n) == Some(&true))
            .map(|n| ws.config.gates[n].name.as_str())
            .collect();
        let (runs, why) = if !upstream_runs.is_empty() {
            (
                true,
                format!(
                    "after {} (hit if their artifacts come out the same)",
                    upstream_runs.join(", ")
                ),
            )
        } else if !gate.cacheable() {
            (true, "never cached".to_owned())
        } else if opts.no_cache {
            (true, "--no-cache".to_owned())
        } else {
            let material = scheduler.material(g);
            let key = material.key();
            if p.cache.contains(gate, &key) {
                (false, format!("cache hit {}", &key.hex()[..12]))
            } else {
                let why = match p.cache.last_material(&gate.name) {
                    Some((_, old)) => {
                        let d = material.diff(&old);
                        if d.is_empty() {
                            "entry missing".to_owned()
                        } else {
                            d.join("; ")
                        }
                    }
                    None => "never stored".to_owned(),
                };
                (true, format!("cache miss: {why}"))
            }
        };
        will_run.insert(g, runs);
        println!(
            "{:<6} {}  {why}",
            if runs { "run" } else { "cached" },
            gate.name
        );
    }
}

/// `runner explain GATE`: the key's inputs, and what changed since the last stored run.
pub fn explain(ws: &Workspace, p: &Prepared, gate_index: usize, opts: &RunOptions) {
    let noop = |_: crate::exec::Event<'_>| {};
    let scheduler = Scheduler {
        config: &ws.config,
        graph: &ws.graph,
        inputs: &p.inputs,
        fp: &p.fp,
        cache: &p.cache,
        opts,
        observer: &noop,
    };
    let gate = &ws.config.gates[gate_index];
    let material = scheduler.material(gate_index);
    let key = material.key();
    println!("gate {} ({})", gate.name, gate.kind.name());
    println!("key  {}", key.hex());
    println!(
        "cacheable: {}",
        if gate.cacheable() {
            "yes"
        } else {
            "no (cache = false or http)"
        }
    );
    println!("settings: {}", material.kind);
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
    match p.cache.last_material(&gate.name) {
        None => println!("last stored run: none (the gate has not been cached yet)"),
        Some((old_key, _)) if old_key == key => {
            println!("last stored run: same key, the next run is a cache hit")
        }
        Some((old_key, old)) => {
            println!("last stored run: key {} differs:", &old_key.hex()[..16]);
            for line in material.diff(&old) {
                println!("  - {line}");
            }
        }
    }
}
