//! `--dry-run` and `explain`: what would run and why, without running anything. Both return
//! data; the command line prints it.

use std::collections::BTreeMap;

use crate::exec::{RunOptions, Scheduler};
use crate::fingerprint::{CacheKey, KeyMaterial};
use crate::workspace::{Prepared, Workspace};

/// One gate of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedGate {
    pub gate: String,
    /// Whether it would execute (false: replayed from the cache).
    pub runs: bool,
    /// Why, in words.
    pub why: String,
}

fn scheduler<'a>(
    ws: &'a Workspace,
    p: &'a Prepared,
    opts: &'a RunOptions,
    noop: &'a (dyn Fn(crate::exec::Event<'_>) + Sync),
) -> Scheduler<'a> {
    Scheduler {
        config: &ws.config,
        graph: &ws.graph,
        inputs: &p.inputs,
        fp: &p.fp,
        cache: &p.cache,
        opts,
        observer: noop,
        modes: &[],
    }
}

/// Per selected gate in topological order: run or cached, and why.
#[must_use]
pub(crate) fn plan(ws: &Workspace, p: &Prepared, opts: &RunOptions) -> Vec<PlannedGate> {
    let noop = |_: crate::exec::Event<'_>| {};
    let scheduler = scheduler(ws, p, opts, &noop);
    let mut will_run: BTreeMap<usize, bool> = BTreeMap::new();
    let mut out = Vec::new();
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
        out.push(PlannedGate {
            gate: gate.name.clone(),
            runs,
            why,
        });
    }
    out
}

/// What `runner explain GATE` shows.
#[derive(Debug, Clone)]
pub(crate) struct Explanation {
    pub gate: String,
    pub kind: &'static str,
    pub cacheable: bool,
    pub key: CacheKey,
    pub material: KeyMaterial,
    /// The last stored run's key, and what differs from it (empty when nothing does).
    pub last: Option<(CacheKey, Vec<String>)>,
}

/// The key's inputs of one gate, and what changed since its last stored run.
#[must_use]
pub(crate) fn explain(
    ws: &Workspace,
    p: &Prepared,
    gate_index: usize,
    opts: &RunOptions,
) -> Explanation {
    let noop = |_: crate::exec::Event<'_>| {};
    let scheduler = scheduler(ws, p, opts, &noop);
    let gate = &ws.config.gates[gate_index];
    let material = scheduler.material(gate_index);
    let key = material.key();
    let last = p
        .cache
        .last_material(&gate.name)
        .map(|(old_key, old)| (old_key, material.diff(&old)));
    Explanation {
        gate: gate.name.clone(),
        kind: gate.kind.name(),
        cacheable: gate.cacheable(),
        key,
        material,
        last,
    }
}
