//! `--dry-run` and `explain`: what would run and why, without running anything. Both return
//! data; the command line prints it.

use std::collections::BTreeMap;

use crate::exec::runtime::Ran;
use crate::exec::{RunOptions, Scheduler};
use crate::fingerprint::{CacheKey, KeyMaterial};
use crate::workspace::{Prepared, Workspace};

/// What the plan expects of a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prediction {
    /// Replayed from the cache (restored if its artifacts are not on disk).
    Cached,
    /// Executed.
    Runs,
    /// Executed only if what a need that runs writes differs from what this gate's entry
    /// was stored with (early cutoff): known after the need ran.
    Depends,
    /// Skipped by `skip_unless_env`.
    Skip,
    /// Ends `error` without running: a runtime input failed, so it has no key.
    Error,
    /// Not run: a need is predicted to end `error` or not to run.
    NotRun,
}

impl Prediction {
    /// The word the plan prints.
    #[must_use]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Prediction::Cached => "cached",
            Prediction::Runs => "run",
            Prediction::Depends => "maybe",
            Prediction::Skip => "skip",
            Prediction::Error => "error",
            Prediction::NotRun => "not_run",
        }
    }
}

/// A gate's artifacts after the run: path -> hex hash (None: absent).
type ArtifactHashes = BTreeMap<String, Option<String>>;

/// One gate of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedGate {
    /// The gate's name.
    pub gate: String,
    /// What the run will do with it.
    pub prediction: Prediction,
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
        environment: &p.environment,
        runtime: &p.runtime,
    }
}

/// Per selected gate in topological order: what `runner run` will do with it, and why. The
/// plan follows the run's own rules: `skip_unless_env` first (a skipped gate's artifacts are
/// removed), then the cache, with the artifacts a replayed need will restore (not the ones on
/// disk now) in its dependents' keys.
#[must_use]
pub(crate) fn plan(ws: &Workspace, p: &Prepared, opts: &RunOptions) -> Vec<PlannedGate> {
    let noop = |_: crate::exec::Event<'_>| {};
    let scheduler = scheduler(ws, p, opts, &noop);
    // Per gate decided so far: its prediction, and the artifact hashes it will leave (None:
    // unknown until it ran).
    let mut decided: BTreeMap<usize, (Prediction, Option<ArtifactHashes>)> = BTreeMap::new();
    let mut out = Vec::new();
    for g in ws
        .graph
        .topo_order()
        .into_iter()
        .filter(|g| p.selected.contains(g))
    {
        let gate = &ws.config.gates[g];
        let unmet = gate.unmet_conditions(|k| std::env::var(k).ok());
        if !unmet.is_empty() {
            // Its artifacts are removed: its paths named exactly are absent, its globs match
            // nothing.
            let absent = gate
                .artifact_entries()
                .filter(|a| !crate::config::is_glob(a))
                .map(|a| (a.to_owned(), None))
                .collect();
            decided.insert(g, (Prediction::Skip, Some(absent)));
            out.push(PlannedGate {
                gate: gate.name.clone(),
                prediction: Prediction::Skip,
                why: format!("skipped: requires {}", unmet.join(", ")),
            });
            continue;
        }
        // As the run decides: a need that ends `error` or does not run leaves this gate
        // unrun, then a runtime input that fails ends it `error` (its artifacts removed).
        let absent: ArtifactHashes = gate.artifacts.iter().map(|a| (a.clone(), None)).collect();
        let blocked: Vec<String> = ws
            .graph
            .needs(g)
            .filter_map(|n| {
                let (prediction, _) = decided.get(&n)?;
                let word = match prediction {
                    Prediction::Error => "error",
                    Prediction::NotRun => "not run",
                    _ => return None,
                };
                Some(format!("`{}` ({word})", ws.config.gates[n].name))
            })
            .collect();
        if !blocked.is_empty() {
            decided.insert(g, (Prediction::NotRun, Some(absent)));
            out.push(PlannedGate {
                gate: gate.name.clone(),
                prediction: Prediction::NotRun,
                why: format!("not run: needs {} which would not pass", blocked.join(", ")),
            });
            continue;
        }
        if let Some(why) = p.runtime.failure(g) {
            decided.insert(g, (Prediction::Error, Some(absent)));
            out.push(PlannedGate {
                gate: gate.name.clone(),
                prediction: Prediction::Error,
                why: format!("{why}; the run would end it `error` without running it (no key)"),
            });
            continue;
        }
        let upstream_of = |n: usize| decided.get(&n).and_then(|(_, hashes)| hashes.clone());
        let material = scheduler.material_with(g, &upstream_of);
        let last = p.cache.last_material(&gate.name);
        // What changed in the gate's own part of the key (everything but its needs' outputs).
        let own_changes = last.as_ref().map(|(_, old)| {
            let mut own = material.clone();
            own.upstream.clone_from(&old.upstream);
            own.diff(old)
        });
        let unknown_needs: Vec<&str> = ws
            .graph
            .needs(g)
            .filter(|n| decided.get(n).is_some_and(|(_, hashes)| hashes.is_none()))
            .map(|n| ws.config.gates[n].name.as_str())
            .collect();
        let (prediction, why) = if !gate.cacheable() {
            (Prediction::Runs, "never cached".to_owned())
        } else if opts.no_cache {
            (Prediction::Runs, "--no-cache".to_owned())
        } else if !unknown_needs.is_empty() {
            match own_changes {
                Some(changes) if changes.is_empty() => (
                    Prediction::Depends,
                    format!(
                        "after {} runs: cached if its artifacts come out the same",
                        unknown_needs.join(", ")
                    ),
                ),
                Some(changes) => (
                    Prediction::Runs,
                    format!(
                        "cache miss: {}; and after {}",
                        changes.join("; "),
                        unknown_needs.join(", ")
                    ),
                ),
                None => (
                    Prediction::Runs,
                    format!("never stored; after {}", unknown_needs.join(", ")),
                ),
            }
        } else {
            let key = material.key();
            if p.cache.contains(gate, &key) {
                (
                    Prediction::Cached,
                    format!("cache hit {}", &key.hex()[..12]),
                )
            } else {
                let why = match &last {
                    Some((_, old)) => {
                        let d = material.diff(old);
                        if d.is_empty() {
                            "entry missing".to_owned()
                        } else {
                            d.join("; ")
                        }
                    }
                    None => "never stored".to_owned(),
                };
                (Prediction::Runs, format!("cache miss: {why}"))
            }
        };
        let hashes = match prediction {
            Prediction::Cached => p.cache.stored_artifacts(gate, &material.key()),
            _ => None,
        };
        decided.insert(g, (prediction, hashes));
        out.push(PlannedGate {
            gate: gate.name.clone(),
            prediction,
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
    /// The key; Err says why there is none (a runtime input failed: the run ends the gate
    /// `error`).
    pub key: Result<CacheKey, String>,
    /// The key's material (without the runtime inputs when one failed).
    pub material: KeyMaterial,
    /// Each runtime input: its output, or why it failed.
    pub runtime: Vec<Ran>,
    /// The last stored run's key, and what differs from it (empty when nothing does).
    pub last: Option<(CacheKey, Vec<String>)>,
    /// An entry for `key` is in the cache (from the last stored run or an earlier one).
    pub stored: bool,
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
    let key = match p.runtime.failure(gate_index) {
        Some(why) => Err(why),
        None => Ok(material.key()),
    };
    let last = p
        .cache
        .last_material(&gate.name)
        .map(|(old_key, old)| (old_key, material.diff(&old)));
    let stored = key
        .as_ref()
        .is_ok_and(|key| gate.cacheable() && p.cache.contains(gate, key));
    Explanation {
        stored,
        gate: gate.name.clone(),
        kind: gate.kind.name(),
        cacheable: gate.cacheable(),
        key,
        material,
        runtime: p.runtime.of(gate_index).to_vec(),
        last,
    }
}
