//! The scheduler: walks the DAG, replays cache hits in place, runs misses on `-j` workers, and
//! judges every gate. A gate starts only when all its needs have passed or skipped.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::environment::GateEnvironment;
use super::event::Event;
use super::runtime::RuntimeInputs;
use super::timeline::{GateTiming, Lane, Phase, Phases};
use super::trace_inputs::UndeclaredRead;
use crate::cache::{Cache, Lookup};
use crate::config::{Config, Gate};
use crate::fingerprint::{CacheKey, ExpandedInputs, FileStat, Fingerprinter, KeyMaterial};
use crate::graph::GateGraph;
use crate::judge::{self, Execution, TestCase, ThresholdResult};
use crate::kinds::{BuiltinContext, BuiltinError, Finding, GateKind};
use crate::proc::{self, CommandSpec, ProcessEnd};
use crate::vocab::{Mode, Status};

/// Knobs of one run.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    /// Parallel gates (at least 1).
    pub jobs: usize,
    /// Do not read the cache (results are still stored).
    pub no_cache: bool,
    /// Stream gate output while it runs.
    pub verbose: bool,
    /// RFC 3339 time of the run, recorded in cache entries.
    pub now: String,
    /// Run command gates traced and list the files they read undeclared (`--trace-inputs`):
    /// nothing is read from the cache or stored.
    pub trace: bool,
}

/// One gate's result in a run.
#[derive(Debug, Clone)]
pub(crate) struct GateRun {
    pub index: usize,
    pub status: Status,
    pub reason: Option<String>,
    pub cached: bool,
    pub duration: Duration,
    pub key: Option<CacheKey>,
    pub thresholds: Vec<ThresholdResult>,
    pub metrics: Option<serde_json::Value>,
    /// The gate's log, when it has one.
    pub log: Option<PathBuf>,
    /// Why the no-op guard tripped, when it did.
    pub guard: Option<String>,
    /// What a built-in check found wrong, and where.
    pub findings: Vec<Finding>,
    /// Under `--trace-inputs`: the files it read that its key does not hold.
    pub undeclared_reads: Vec<UndeclaredRead>,
    /// The test cases of its `junit` file, when it was read (fresh or restored from the cache).
    pub tests: Vec<TestCase>,
    /// Where and when it ran, and its phases (`--profile`).
    pub timing: Option<GateTiming>,
}

/// Everything a run works with; borrowed for the duration of `run`.
pub(crate) struct Scheduler<'a> {
    pub config: &'a Config,
    pub graph: &'a GateGraph,
    pub inputs: &'a ExpandedInputs,
    pub fp: &'a Fingerprinter,
    pub cache: &'a Cache,
    pub opts: &'a RunOptions,
    pub observer: &'a (dyn Fn(Event<'_>) + Sync),
    /// Each gate's effective mode (by index), for the events: a failure of an observational
    /// gate is shown as a warning.
    pub modes: &'a [Mode],
    /// What gates' processes see of the caller's environment.
    pub environment: &'a GateEnvironment,
    /// The outputs of the selected gates' runtime inputs.
    pub runtime: &'a RuntimeInputs,
}

struct Job {
    index: usize,
    key: CacheKey,
    material: KeyMaterial,
}

/// Ready gates decided on one thread below this many; rayon's split costs more than it saves.
const PARALLEL_PREPARE: usize = 32;

enum Prepared {
    Done(GateRun),
    Run(Job),
}

impl Scheduler<'_> {
    /// Run the `selected` gates (which must include everything they need). Results come back
    /// in declaration order.
    pub(crate) fn run(&self, selected: &BTreeSet<usize>) -> Vec<GateRun> {
        let mut waiting: HashMap<usize, usize> = selected
            .iter()
            .map(|&g| {
                (
                    g,
                    self.graph.needs(g).filter(|n| selected.contains(n)).count(),
                )
            })
            .collect();
        let mut ready: BinaryHeap<Reverse<usize>> = waiting
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(g, _)| Reverse(*g))
            .collect();
        let mut results: BTreeMap<usize, GateRun> = BTreeMap::new();
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let job_rx = Mutex::new(job_rx);
        let (done_tx, done_rx) = mpsc::channel::<GateRun>();
        let workers = self.opts.jobs.max(1).min(selected.len().max(1));

        std::thread::scope(|s| {
            for worker in 0..workers {
                let done_tx = done_tx.clone();
                let job_rx = &job_rx;
                s.spawn(move || {
                    loop {
                        let job = match job_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        let start = Instant::now();
                        let mut run = self.execute(&job);
                        run.timing = Some(GateTiming {
                            lane: Lane::Worker(worker),
                            start,
                            end: Instant::now(),
                            phases: run.timing.take().map(|t| t.phases).unwrap_or_default(),
                        });
                        if done_tx.send(run).is_err() {
                            return;
                        }
                    }
                });
            }
            let mut in_flight = 0usize;
            loop {
                while !ready.is_empty() {
                    // Every ready gate is decided at once, in parallel when there are many: on
                    // a no-op run deciding (key, cache lookup, judging the replay) is all the
                    // work there is, and one thread doing it for thousands of gates left the
                    // other cores idle.
                    let batch: Vec<usize> =
                        std::iter::from_fn(|| ready.pop().map(|r| r.0)).collect();
                    let decided: Vec<Prepared> = if batch.len() >= PARALLEL_PREPARE {
                        batch
                            .par_iter()
                            .map(|&g| self.prepare(g, &results))
                            .collect()
                    } else {
                        batch.iter().map(|&g| self.prepare(g, &results)).collect()
                    };
                    for (g, prepared) in batch.into_iter().zip(decided) {
                        match prepared {
                            Prepared::Done(run) => {
                                self.complete(
                                    run,
                                    selected,
                                    &mut waiting,
                                    &mut ready,
                                    &mut results,
                                );
                            }
                            Prepared::Run(job) => {
                                (self.observer)(Event::Started {
                                    gate: &self.config.gates[g].name,
                                });
                                if job_tx.send(job).is_ok() {
                                    in_flight += 1;
                                }
                            }
                        }
                    }
                }
                if in_flight == 0 {
                    break;
                }
                let Ok(run) = done_rx.recv() else { break };
                in_flight -= 1;
                self.complete(run, selected, &mut waiting, &mut ready, &mut results);
            }
            drop(job_tx);
        });
        results.into_values().collect()
    }

    fn complete(
        &self,
        run: GateRun,
        selected: &BTreeSet<usize>,
        waiting: &mut HashMap<usize, usize>,
        ready: &mut BinaryHeap<Reverse<usize>>,
        results: &mut BTreeMap<usize, GateRun>,
    ) {
        (self.observer)(Event::Finished {
            gate: &self.config.gates[run.index].name,
            blocking: self.modes.get(run.index) != Some(&Mode::Observational),
            status: run.status,
            cached: run.cached,
            duration: run.duration,
            reason: run.reason.as_deref(),
            log: run.log.as_deref(),
        });
        for d in self
            .graph
            .dependents(run.index)
            .filter(|d| selected.contains(d))
        {
            if let Some(n) = waiting.get_mut(&d) {
                *n -= 1;
                if *n == 0 {
                    ready.push(Reverse(d));
                }
            }
        }
        results.insert(run.index, run);
    }

    fn finished(&self, index: usize, status: Status, reason: String) -> GateRun {
        GateRun {
            index,
            status,
            reason: Some(reason),
            cached: false,
            duration: Duration::ZERO,
            key: None,
            thresholds: Vec::new(),
            metrics: None,
            log: None,
            guard: None,
            findings: Vec::new(),
            undeclared_reads: Vec::new(),
            tests: Vec::new(),
            timing: Some(GateTiming::on_scheduler(Instant::now())),
        }
    }

    /// The key material of a gate whose needs are done.
    #[must_use]
    pub(crate) fn material(&self, g: usize) -> KeyMaterial {
        self.material_with(g, &|_| None)
    }

    /// The key material of a gate, with the artifact hashes of some needs given (`--dry-run`
    /// predicting what they will be after the run) instead of read from disk.
    #[must_use]
    pub(crate) fn material_with(
        &self,
        g: usize,
        upstream_of: &dyn Fn(usize) -> Option<BTreeMap<String, Option<String>>>,
    ) -> KeyMaterial {
        let gate = &self.config.gates[g];
        let upstream = self
            .graph
            .needs(g)
            .map(|n| {
                let need = &self.config.gates[n];
                let keyed = gate.keyed_artifacts_of(need);
                let hashes = match upstream_of(n) {
                    Some(mut predicted) => {
                        predicted.retain(|a, _| keyed.contains(&a.as_str()));
                        predicted
                    }
                    None => self.fp.hashes_of(keyed),
                };
                (need.name.clone(), hashes)
            })
            .collect();
        let runtime = self.runtime.outputs(g).unwrap_or_default();
        self.fp
            .material(gate, &self.keyed_files(g), upstream, runtime)
    }

    /// The key of a gate whose needs are done: `material(g).key()`, without building the
    /// material when no path needs escaping.
    #[must_use]
    pub(crate) fn key(&self, g: usize) -> CacheKey {
        let gate = &self.config.gates[g];
        let needs: Vec<&Gate> = self.graph.needs(g).map(|n| &self.config.gates[n]).collect();
        let runtime = self.runtime.outputs(g).unwrap_or_default();
        self.fp
            .key(gate, &self.keyed_files(g), &needs, &runtime)
            .unwrap_or_else(|| self.material(g).key())
    }

    /// The files whose content enters a gate's key: its inputs and the files its kind reads,
    /// sorted by bytes.
    fn keyed_files(&self, g: usize) -> std::borrow::Cow<'_, [PathBuf]> {
        let inputs = self.inputs.files.get(&g).map_or(&[][..], Vec::as_slice);
        let referenced = self.config.gates[g].kind.referenced_files();
        if referenced.is_empty() {
            return std::borrow::Cow::Borrowed(inputs);
        }
        let mut all: Vec<PathBuf> = inputs.to_vec();
        all.extend(referenced.iter().map(PathBuf::from));
        crate::fingerprint::sort_paths(&mut all);
        std::borrow::Cow::Owned(all)
    }

    /// Decide a ready gate: `not_run`, skip, cache hit, or a job to run.
    fn prepare(&self, g: usize, results: &BTreeMap<usize, GateRun>) -> Prepared {
        let gate = &self.config.gates[g];
        // `skip_unless_env` first: a skipped gate is skipped whatever its needs did.
        let unmet = gate.unmet_conditions(|k| std::env::var(k).ok());
        if !unmet.is_empty() {
            self.clear_artifacts(gate);
            return Prepared::Done(self.finished(
                g,
                Status::Skip,
                format!("skipped: requires {}", unmet.join(", ")),
            ));
        }
        let blocked: Vec<String> = self
            .graph
            .needs(g)
            .filter_map(|n| results.get(&n))
            .filter(|r| !r.status.satisfies_needs())
            .map(|r| {
                format!(
                    "`{}` ({})",
                    self.config.gates[r.index].name,
                    r.status.as_str()
                )
            })
            .collect();
        if !blocked.is_empty() {
            self.clear_artifacts(gate);
            return Prepared::Done(self.finished(
                g,
                Status::NotRun,
                format!("not run: needs {} which did not pass", blocked.join(", ")),
            ));
        }
        if let Err(why) = self.runtime.outputs(g) {
            self.clear_artifacts(gate);
            return Prepared::Done(self.finished(g, Status::Error, why));
        }
        let started = Instant::now();
        let key = self.key(g);
        if gate.cacheable() && !self.opts.no_cache {
            // Local only: the remote is asked on a worker (`execute`), so a round trip to it
            // never holds up this thread.
            let looked_up = Instant::now();
            let hit = matches!(
                self.cache.lookup_local(gate, &key, self.fp),
                Lookup::Hit { .. }
            );
            if hit {
                let lookup = Phase {
                    name: "cache lookup and restore",
                    start: looked_up,
                    end: Instant::now(),
                };
                return Prepared::Done(self.replayed(g, key, started).with_phase(lookup));
            }
        }
        // A miss: the material is stored with the entry, and the key stored is the material's
        // own (the same as `key` unless a file changed in between).
        let material = self.material(g);
        Prepared::Run(Job {
            index: g,
            key: material.key(),
            material,
        })
    }

    /// Run a command gate under the tracer: how it ended, and what it read undeclared.
    fn traced(
        &self,
        g: usize,
        run: &str,
        log: &Path,
        env: &proc::SpawnEnv,
    ) -> (ProcessEnd, Vec<UndeclaredRead>) {
        let gate = &self.config.gates[g];
        let vars: Vec<(std::ffi::OsString, std::ffi::OsString)> = if env.clear {
            env.vars.clone()
        } else {
            std::env::vars_os()
                .chain(env.vars.iter().cloned())
                .collect()
        };
        let mut vars = vars;
        vars.push(("RUNNER_GATE".into(), gate.name.clone().into()));
        if let Some(dir) = log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let output = match std::fs::File::create(log).or_else(|_| tempfile::tempfile()) {
            Ok(f) => f,
            Err(e) => {
                return (
                    ProcessEnd::SpawnFailed(format!("cannot create log: {e}")),
                    Vec::new(),
                );
            }
        };
        match proc::trace::run_traced(run, &self.config.root, &vars, output, gate.timeout) {
            Ok(traced) => {
                let end = match traced.exit {
                    proc::trace::TracedExit::Exited(code) => ProcessEnd::Exited(code),
                    proc::trace::TracedExit::Signaled(sig) => ProcessEnd::Signaled(sig),
                    proc::trace::TracedExit::TimedOut => ProcessEnd::TimedOut(gate.timeout),
                };
                let reads = super::trace_inputs::undeclared(
                    self.config,
                    self.graph,
                    g,
                    &self.keyed_files(g),
                    &traced.reads,
                );
                (end, reads)
            }
            Err(e) => (
                ProcessEnd::SpawnFailed(format!("--trace-inputs: {e}")),
                Vec::new(),
            ),
        }
    }

    /// The inputs whose content differs now from the content the key was made from (deleted
    /// ones included). Inputs rewritten with the same bytes are re-recorded (new stat, same
    /// hash) and not listed.
    fn changed_inputs(&self, inputs: &[PathBuf], before: &[Option<FileStat>]) -> Vec<String> {
        let now = self.fp.fresh_stats(inputs);
        let mut changed = Vec::new();
        for ((path, was), is) in inputs.iter().zip(before).zip(&now) {
            if was == is {
                continue;
            }
            let old = self.fp.file(path).map(|(h, _)| h);
            let new = is.as_ref().and_then(|stat| {
                crate::fingerprint::hash_file(&self.config.root.join(path), stat.size).ok()
            });
            if old.is_some() && old == new {
                // Same bytes: learn the new stat so the next run does not hash it again.
                self.fp.record(path);
            } else {
                changed.push(crate::fingerprint::path_string(path));
            }
        }
        changed
    }

    /// Remove a gate's declared artifacts (files; never a folder), so that nothing on disk
    /// after the run comes from an earlier one unless restored: before the gate runs, and
    /// when it is skipped or not run (Bazel does this for every action's outputs).
    fn clear_artifacts(&self, gate: &Gate) {
        for a in &gate.artifacts {
            let path = self.config.root.join(a);
            if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
                let _ = std::fs::remove_file(&path);
            }
            self.fp.invalidate(Path::new(a));
        }
    }

    /// A gate replayed from the cache, judged.
    fn replayed(&self, g: usize, key: CacheKey, started: Instant) -> GateRun {
        let gate = &self.config.gates[g];
        // The hit left every artifact in place, verified by hash.
        let mut phases = Phases::default();
        let verdict = phases.time("judge", || {
            judge::judge_with(gate, &self.config.root, &Execution::Succeeded, |_| true)
        });
        let mut timing = GateTiming::on_scheduler(started);
        timing.phases = phases.0;
        GateRun {
            index: g,
            status: verdict.status,
            reason: verdict.reason,
            cached: true,
            duration: started.elapsed(),
            key: Some(key),
            thresholds: verdict.thresholds,
            metrics: verdict.metrics,
            log: Some(self.cache.log_path(&gate.name)),
            guard: verdict.guard,
            findings: Vec::new(),
            undeclared_reads: Vec::new(),
            tests: verdict.tests,
            timing: Some(timing),
        }
    }

    /// Run one gate on a worker, store it if it succeeded, and judge it. A cacheable gate is
    /// first looked up in the remote cache (after the local miss in `prepare`).
    fn execute(&self, job: &Job) -> GateRun {
        let gate = &self.config.gates[job.index];
        let mut phases = Phases::default();
        let locking = Instant::now();
        // One runner at a time runs a gate on this checkout; a second one waits, then replays
        // the first one's result when it was stored.
        let lock = super::lock::GateLock::acquire(
            &super::lock::dir(&self.config.root),
            &gate.name,
            || (self.observer)(Event::Waiting { gate: &gate.name }),
        );
        let waited = lock.as_ref().is_some_and(|(_, waited)| *waited);
        if waited {
            phases.0.push(Phase {
                name: "wait for another runner",
                start: locking,
                end: Instant::now(),
            });
        }
        if waited && gate.cacheable() && !self.opts.no_cache {
            let started = Instant::now();
            if let Lookup::Hit { .. } = self.cache.lookup_local(gate, &job.key, self.fp) {
                return self.replayed(job.index, job.key, started).after(phases);
            }
        }
        if gate.cacheable() && !self.opts.no_cache {
            let started = Instant::now();
            let hit = phases.time("remote cache lookup", || {
                self.cache.lookup_remote(gate, &job.key, self.fp)
            });
            if let Lookup::Hit { .. } = hit {
                return self.replayed(job.index, job.key, started).after(phases);
            }
        }
        let inputs = self
            .inputs
            .files
            .get(&job.index)
            .map_or(&[][..], Vec::as_slice);
        let log = self.cache.log_path(&gate.name);
        let started = Instant::now();
        // Besides the inputs, the other files the key holds: the needed gates' artifacts (a
        // second runner re-running an upstream gate rewrites them under this gate's feet)
        // and the files a built-in kind refers to. Their stats are the ones the key was
        // hashed with (memoised by the fingerprinter).
        let also_keyed: Vec<PathBuf> = self
            .graph
            .needs(job.index)
            .flat_map(|n| self.config.gates[n].artifacts.iter().map(PathBuf::from))
            .chain(gate.kind.referenced_files().into_iter().map(PathBuf::from))
            .collect();
        let before = (
            self.fp.known_stats(inputs),
            self.fp.known_stats(&also_keyed),
        );
        // What the gate is about to write must come from this run: last run's artifacts go.
        self.clear_artifacts(gate);
        let env = self.environment.for_gate(gate);
        let mut undeclared_reads = Vec::new();
        let running = Instant::now();
        let (execution, findings) = match &gate.kind {
            GateKind::Command(command) => {
                let stream =
                    |gate: &str, line: &[u8]| (self.observer)(Event::Output { gate, line });
                let end = if self.opts.trace {
                    let (end, reads) = self.traced(job.index, &command.run, &log, &env);
                    undeclared_reads = reads;
                    end
                } else {
                    proc::command::run(&CommandSpec {
                        run: &command.run,
                        cwd: &self.config.root,
                        gate: &gate.name,
                        log: &log,
                        timeout: gate.timeout,
                        grace: proc::GRACE,
                        env: &env,
                        stream: self.opts.verbose.then_some(&stream),
                    })
                };
                (command_execution(&end), Vec::new())
            }
            kind => self.builtin(gate, kind, inputs, &log, &env),
        };
        phases.0.push(Phase {
            name: "run",
            start: running,
            end: Instant::now(),
        });
        if matches!(execution, Execution::Skipped(_)) {
            // Exit 78: what a skipped gate left behind is not a result.
            self.clear_artifacts(gate);
        }
        for a in &gate.artifacts {
            self.fp.invalidate(Path::new(a));
        }
        // An input whose content changed while the gate ran: most likely the gate itself (a
        // formatter or linter writing its fixes). The verdict was made on other content than
        // the key's: an error, never cached. A rewrite with the same bytes is no change.
        let rewritten = self.changed_inputs(inputs, &before.0);
        let execution = if rewritten.is_empty() || matches!(execution, Execution::Broken(_)) {
            execution
        } else {
            Execution::Broken(format!(
                "gate `{}` changed its own inputs while it ran: {} (likely cause: a formatter or \
                 linter writing its fixes, e.g. `fix = true` in its config, or a generator writing \
                 into its inputs; if another process edited them, run again)",
                gate.name,
                rewritten.join(", ")
            ))
        };
        let artifacts_present = gate
            .artifacts
            .iter()
            .all(|a| self.config.root.join(a).is_file());
        let before = (self.fp.known_stats(inputs), before.1);
        // A traced run is not stored: it ran under a tracer, on request.
        if matches!(execution, Execution::Succeeded)
            && gate.cacheable()
            && artifacts_present
            && !self.opts.trace
        {
            // The file set too: a file created mid-run that the globs match is in neither the
            // key nor `before`, yet the gate may have read it (found by the reliability tests:
            // its output was then replayed after the file was gone).
            let same_files = gate.inputs.is_empty()
                || crate::fingerprint::expand(self.config, &BTreeSet::from([job.index]))
                    .is_ok_and(|now| now.files.get(&job.index).is_some_and(|f| f == inputs));
            let after = (
                self.fp.fresh_stats(inputs),
                self.fp.fresh_stats(&also_keyed),
            );
            if same_files && after == before {
                phases.time("cache store", || {
                    self.cache
                        .store(gate, &job.key, &job.material, self.fp, &self.opts.now);
                });
            } else {
                self.cache.warn(format!(
                    "an input of gate `{}` changed while it ran (or a needed gate's artifact); \
                     its result is not cached",
                    gate.name
                ));
            }
        }
        let verdict = phases.time("judge", || {
            judge::judge(gate, &self.config.root, &execution)
        });
        if matches!(verdict.status, Status::Fail | Status::Error)
            && let Some(hint) = self.environment.hint(gate)
        {
            self.cache.warn(hint);
        }
        GateRun {
            index: job.index,
            status: verdict.status,
            reason: verdict.reason,
            cached: false,
            duration: started.elapsed(),
            key: Some(job.key),
            thresholds: verdict.thresholds,
            metrics: verdict.metrics,
            log: Some(log),
            guard: verdict.guard,
            findings,
            undeclared_reads,
            tests: verdict.tests,
            timing: Some(GateTiming {
                lane: Lane::scheduler(),
                start: locking,
                end: Instant::now(),
                phases: phases.0,
            }),
        }
    }

    /// Evaluate a built-in kind in process and write its JSON artifact.
    fn builtin(
        &self,
        gate: &Gate,
        kind: &GateKind,
        inputs: &[PathBuf],
        log_path: &Path,
        env: &proc::SpawnEnv,
    ) -> (Execution, Vec<Finding>) {
        if let Some(dir) = log_path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // As for commands (see `process::run`): an unwritable cache folder costs the log, not
        // the verdict.
        let mut log = match std::fs::File::create(log_path).or_else(|_| tempfile::tempfile()) {
            Ok(f) => std::io::BufWriter::new(f),
            Err(e) => {
                let why = format!("cannot create log {}: {e}", log_path.display());
                return (Execution::Broken(why), Vec::new());
            }
        };
        let mut ctx = BuiltinContext {
            root: &self.config.root,
            inputs,
            log: &mut log,
            env,
        };
        let result = kind.evaluate(&mut ctx);
        let mut findings = Vec::new();
        let execution = match result {
            Ok(outcome) => {
                let Some(artifact) = gate.metrics.as_deref() else {
                    let why = "built-in gate without an artifact path".to_owned();
                    return (Execution::Broken(why), Vec::new());
                };
                let path = self.config.root.join(artifact);
                let text = serde_json::to_vec_pretty(&outcome.artifact).unwrap_or_default();
                if let Err(e) = crate::bincodec::write_atomic_shared(&path, &text) {
                    return (
                        Execution::Broken(format!("cannot write {artifact}: {e}")),
                        Vec::new(),
                    );
                }
                findings = outcome.findings;
                if outcome.judged == 0 {
                    // The no-op guard: a check of nothing must not pass (nor fail: nothing
                    // was judged, so the verdict is an error).
                    Execution::Guard(format!(
                        "no-op guard: the {} check judged 0 {}; a gate that checked nothing cannot pass",
                        kind.name(),
                        kind.items()
                    ))
                } else if outcome.passed {
                    Execution::Succeeded
                } else {
                    Execution::Failed(
                        outcome
                            .reason
                            .unwrap_or_else(|| format!("{} check failed", kind.name())),
                    )
                }
            }
            Err(e @ BuiltinError::UserFile { .. }) => Execution::Broken(e.to_string()),
            Err(BuiltinError::Other(why)) => Execution::Broken(why),
        };
        if let Execution::Failed(why) | Execution::Broken(why) | Execution::Guard(why) = &execution
        {
            let _ = writeln!(log, "{why}");
        }
        let _ = log.flush();
        (execution, findings)
    }
}

impl GateRun {
    /// The run with `phase` recorded before its own phases.
    fn with_phase(mut self, phase: Phase) -> Self {
        if let Some(t) = self.timing.as_mut() {
            t.start = t.start.min(phase.start);
            t.phases.insert(0, phase);
        }
        self
    }

    /// The run with `earlier` phases recorded before its own.
    fn after(mut self, earlier: Phases) -> Self {
        for phase in earlier.0.into_iter().rev() {
            self = self.with_phase(phase);
        }
        self
    }
}

/// What a command's end means for judging (SPEC 3).
#[must_use]
pub(crate) fn command_execution(end: &ProcessEnd) -> Execution {
    match end {
        ProcessEnd::Exited(0) => Execution::Succeeded,
        ProcessEnd::Exited(78) => Execution::Skipped("command exited 78 (skip)".to_owned()),
        ProcessEnd::Exited(code) => Execution::Failed(format!("command exited with code {code}")),
        ProcessEnd::Signaled(sig) => {
            Execution::Failed(format!("command was killed by signal {sig}"))
        }
        ProcessEnd::TimedOut(t) => Execution::Broken(format!(
            "timed out after {}",
            crate::vocab::duration::humantime(*t)
        )),
        ProcessEnd::SpawnFailed(why) => Execution::Broken(why.clone()),
    }
}
