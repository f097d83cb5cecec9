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
use crate::fingerprint::{
    ArtifactSpec, CacheKey, ExpandedInputs, FileStat, Fingerprinter, KeyMaterial,
};
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
    /// Say why each gate that runs was not replayed (`GateRun::why`): reads the gate's last
    /// stored entry to diff its key, so only when asked (`--html`).
    pub why_ran: bool,
    /// Per gate name: the history's samples for each of its baseline thresholds, in order.
    pub baselines: std::sync::Arc<std::collections::HashMap<String, Vec<judge::BaselineSamples>>>,
    /// `--retries N`: retries of every gate that sets no `retries` of its own.
    pub retries: Option<u32>,
    /// Time the phases inside a replay (`--profile`): one allocation per gate otherwise kept
    /// for nothing (19 MB of a 100,000-gate no-op).
    pub replay_phases: bool,
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
    /// The gate's log, when it has one (for `Event::Finished`; not kept past it).
    pub log: Option<PathBuf>,
    /// Why the no-op guard tripped, when it did.
    pub guard: Option<String>,
    /// What a built-in check found wrong, and where.
    pub findings: Vec<Finding>,
    /// Under `--trace-inputs`: the files it read that its key does not hold.
    pub undeclared_reads: Vec<UndeclaredRead>,
    /// The test cases of its `junit` file, when it was read (fresh or restored from the cache).
    pub tests: Vec<TestCase>,
    /// Why it ran rather than replayed (`RunOptions::why_ran`): the `explain` diff.
    pub why: Option<String>,
    /// How many times it ran in this run (0: never started, a replay or not run).
    pub attempts: u32,
    /// It passed only on a retry.
    pub flaky: bool,
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
    /// Why it runs rather than replays, when `RunOptions::why_ran` asks.
    why: Option<String>,
    /// What the worker does with it.
    stage: Stage,
    /// The gate's lock, once taken (by the `Lookup` stage).
    lock: Option<super::lock::GateLock>,
    /// The gate lock was taken and the caches looked up: the `Run` stage goes straight on.
    looked_up: bool,
    /// `Event::WaitingForResource` was sent while it waited in this run's queue.
    announced: bool,
    /// What the `Lookup` stage spent its time on (`--profile`).
    phases: Phases,
}

/// What a worker does with a job. A gate that uses no resource goes straight to `Run`; one
/// that uses some is looked up first (`Lookup`: the gate lock, then the caches, so a hit never
/// waits for a resource) and comes back to the coordinator, which sends it to `Run` once this
/// run holds fewer than each resource's count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Lookup,
    Run,
}

/// What a worker hands back.
enum Step {
    /// The gate's result.
    Done(GateRun),
    /// Looked up and missed: it waits for its resources.
    Miss(Job),
}

/// The results of a run, by place among the selected gates. Most results of a no-op are
/// plain replays (a status, a key, a duration, nothing else): kept in 64 bytes, not as a
/// 360-byte `GateRun` of empty fields (37 MB of a 100,000-gate no-op).
pub(crate) struct GateRuns {
    /// The selected gates, ascending.
    gates: Vec<usize>,
    slots: Vec<Slot>,
}

enum Slot {
    Empty,
    Plain(PlainRun),
    Full(Box<GateRun>),
}

/// A `GateRun` whose every other field is empty.
struct PlainRun {
    status: Status,
    cached: bool,
    flaky: bool,
    attempts: u32,
    duration: Duration,
    key: Option<CacheKey>,
}

impl PlainRun {
    fn of(run: &GateRun) -> Option<Self> {
        let plain = run.reason.is_none()
            && run.thresholds.is_empty()
            && run.metrics.is_none()
            && run.log.is_none()
            && run.guard.is_none()
            && run.findings.is_empty()
            && run.undeclared_reads.is_empty()
            && run.tests.is_empty()
            && run.why.is_none()
            && run.timing.is_none();
        plain.then_some(PlainRun {
            status: run.status,
            cached: run.cached,
            flaky: run.flaky,
            attempts: run.attempts,
            duration: run.duration,
            key: run.key,
        })
    }

    fn into_run(self, index: usize) -> GateRun {
        GateRun {
            index,
            status: self.status,
            reason: None,
            cached: self.cached,
            duration: self.duration,
            key: self.key,
            thresholds: Vec::new(),
            metrics: None,
            log: None,
            guard: None,
            findings: Vec::new(),
            undeclared_reads: Vec::new(),
            tests: Vec::new(),
            why: None,
            attempts: self.attempts,
            flaky: self.flaky,
            timing: None,
        }
    }
}

impl GateRuns {
    /// Room for the results of `selected`.
    fn new(selected: &BTreeSet<usize>) -> Self {
        GateRuns {
            gates: selected.iter().copied().collect(),
            slots: std::iter::repeat_with(|| Slot::Empty)
                .take(selected.len())
                .collect(),
        }
    }

    /// Keep `run` (a gate outside the selection is not kept: none reaches here).
    fn insert(&mut self, run: GateRun) {
        let Ok(at) = self.gates.binary_search(&run.index) else {
            return;
        };
        self.slots[at] = match PlainRun::of(&run) {
            Some(plain) => Slot::Plain(plain),
            None => Slot::Full(Box::new(run)),
        };
    }

    /// The status of gate `g`'s result, once it has one.
    fn status(&self, g: usize) -> Option<Status> {
        let at = self.gates.binary_search(&g).ok()?;
        match &self.slots[at] {
            Slot::Empty => None,
            Slot::Plain(p) => Some(p.status),
            Slot::Full(r) => Some(r.status),
        }
    }

    /// The runs in gate order, each plain one made whole again as it is reached.
    pub(crate) fn into_runs(self) -> impl Iterator<Item = GateRun> {
        self.gates
            .into_iter()
            .zip(self.slots)
            .filter_map(|(g, slot)| match slot {
                Slot::Empty => None,
                Slot::Plain(p) => Some(p.into_run(g)),
                Slot::Full(r) => Some(*r),
            })
    }
}

/// Ready gates decided on one thread below this many; rayon's split costs more than it saves.
const PARALLEL_PREPARE: usize = 32;

enum Prepared {
    Done(GateRun),
    Run(Job),
}

/// The resources this run's gates hold, and the gates waiting for theirs (by index: the first
/// declared goes first when several could).
#[derive(Default)]
struct Resources {
    /// Resource -> gates of this run holding it.
    held: HashMap<String, u32>,
    /// Gates holding their resources, by index.
    holders: BTreeSet<usize>,
    /// Looked-up gates waiting for their resources, by index.
    queue: BTreeMap<usize, Job>,
}

impl Scheduler<'_> {
    /// Run the `selected` gates (which must include everything they need). Results come back
    /// in declaration order.
    pub(crate) fn run(&self, selected: &BTreeSet<usize>) -> GateRuns {
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
        // By gate index, boxed: a `BTreeMap` of 360-byte runs, its nodes half full after
        // inserts in index order, took 68 MB of a 100,000-gate no-op.
        let mut results = GateRuns::new(selected);
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let job_rx = Mutex::new(job_rx);
        let (done_tx, done_rx) = mpsc::channel::<Step>();
        let workers = self.opts.jobs.max(1).min(selected.len().max(1));
        let mut resources = Resources::default();

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
                        let mut step = self.work(job);
                        if let Step::Done(run) = &mut step {
                            // The gate's whole time on this worker; phases recorded earlier
                            // (a lookup stage on another worker) widen it.
                            let earlier = run.timing.take();
                            run.timing = Some(GateTiming {
                                lane: Lane::Worker(worker),
                                start: earlier.as_ref().map_or(start, |t| t.start.min(start)),
                                end: Instant::now(),
                                phases: earlier.map(|t| t.phases).unwrap_or_default(),
                            });
                        }
                        if done_tx.send(step).is_err() {
                            return;
                        }
                    }
                });
            }
            let mut in_flight = 0usize;
            let send = |job: Job, in_flight: &mut usize| {
                if job_tx.send(job).is_ok() {
                    *in_flight += 1;
                }
            };
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
                            Prepared::Run(mut job) => {
                                (self.observer)(Event::Started {
                                    gate: &self.config.gates[g].name,
                                });
                                if !self.config.gates[g].uses.is_empty() {
                                    job.stage = Stage::Lookup;
                                }
                                send(job, &mut in_flight);
                            }
                        }
                    }
                }
                // Gates whose resources are free start; the others stay queued, holding no
                // worker, until a holder finishes.
                for job in self.admit(&mut resources) {
                    send(job, &mut in_flight);
                }
                if in_flight == 0 {
                    // Nothing runs, so this run holds nothing and `admit` took every queued
                    // gate (each count is at least 1). Were one left, it runs rather than end
                    // without a result.
                    let Some((_, mut job)) = resources.queue.pop_first() else {
                        break;
                    };
                    job.stage = Stage::Run;
                    send(job, &mut in_flight);
                }
                let Ok(step) = done_rx.recv() else { break };
                in_flight -= 1;
                match step {
                    Step::Done(run) => {
                        self.release(&mut resources, run.index);
                        self.complete(run, selected, &mut waiting, &mut ready, &mut results);
                    }
                    Step::Miss(job) => {
                        resources.queue.insert(job.index, job);
                    }
                }
            }
            drop(job_tx);
        });
        results
    }

    /// The queued jobs whose resources this run can hold now, reserved and ready for `Run`;
    /// the first time a job must wait, its wait is announced.
    fn admit(&self, resources: &mut Resources) -> Vec<Job> {
        let settings = &self.config.settings;
        let mut admitted = Vec::new();
        let indexes: Vec<usize> = resources.queue.keys().copied().collect();
        for index in indexes {
            let gate = &self.config.gates[index];
            let exhausted = gate.uses.iter().find(|r| {
                let held = resources.held.get(r.as_str()).copied().unwrap_or(0);
                settings
                    .resource_limit(r)
                    .is_some_and(|limit| held >= limit)
            });
            if let Some(resource) = exhausted {
                if let Some(job) = resources.queue.get_mut(&index)
                    && !job.announced
                {
                    job.announced = true;
                    (self.observer)(Event::WaitingForResource {
                        gate: &gate.name,
                        resource,
                        other_runner: false,
                    });
                }
                continue;
            }
            let Some(mut job) = resources.queue.remove(&index) else {
                continue;
            };
            for r in &gate.uses {
                *resources.held.entry(r.clone()).or_insert(0) += 1;
            }
            resources.holders.insert(index);
            if job.announced {
                (self.observer)(Event::Acquired { gate: &gate.name });
            }
            job.stage = Stage::Run;
            admitted.push(job);
        }
        admitted
    }

    /// A gate that held resources in this run finished: they are free for the queued ones.
    fn release(&self, resources: &mut Resources, index: usize) {
        if !resources.holders.remove(&index) {
            return;
        }
        for r in &self.config.gates[index].uses {
            if let Some(n) = resources.held.get_mut(r) {
                *n = n.saturating_sub(1);
            }
        }
    }

    fn complete(
        &self,
        run: GateRun,
        selected: &BTreeSet<usize>,
        waiting: &mut HashMap<usize, usize>,
        ready: &mut BinaryHeap<Reverse<usize>>,
        results: &mut GateRuns,
    ) {
        (self.observer)(Event::Finished {
            gate: &self.config.gates[run.index].name,
            blocking: self.modes.get(run.index) != Some(&Mode::Observational),
            status: run.status,
            cached: run.cached,
            flaky: run.flaky,
            attempts: run.attempts,
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
        // The event was the log path's one reader: a path per gate is not kept for the report.
        let mut run = run;
        run.log = None;
        results.insert(run);
    }

    fn finished(&self, index: usize, status: Status, reason: String) -> GateRun {
        let plain = PlainRun {
            status,
            cached: false,
            flaky: false,
            attempts: 0,
            duration: Duration::ZERO,
            key: None,
        };
        GateRun {
            reason: Some(reason),
            timing: Some(GateTiming::on_scheduler(Instant::now())),
            ..plain.into_run(index)
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
                        let keyed = ArtifactSpec::of_entries(need, keyed);
                        predicted.retain(|a, _| keyed.contains(a));
                        predicted
                    }
                    None => self.fp.artifact_hashes_of(need, &keyed),
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
        let inputs = self.inputs.of(g);
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
    fn prepare(&self, g: usize, results: &GateRuns) -> Prepared {
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
            .filter_map(|n| results.status(n).map(|status| (n, status)))
            .filter(|(_, status)| !status.satisfies_needs())
            .map(|(n, status)| format!("`{}` ({})", self.config.gates[n].name, status.as_str()))
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
                let run = self.replayed(g, key, started);
                return Prepared::Done(if self.opts.replay_phases {
                    run.with_phase(lookup)
                } else {
                    run
                });
            }
        }
        // A miss: the material is stored with the entry, and the key stored is the material's
        // own (the same as `key` unless a file changed in between).
        let material = self.material(g);
        let why = self.opts.why_ran.then(|| self.why_it_runs(gate, &material));
        Prepared::Run(Job {
            index: g,
            key: material.key(),
            material,
            why,
            stage: Stage::Run,
            lock: None,
            looked_up: false,
            announced: false,
            phases: Phases::default(),
        })
    }

    /// Why a gate runs rather than replays, in the words of `explain`.
    fn why_it_runs(&self, gate: &Gate, material: &KeyMaterial) -> String {
        if !gate.cache {
            return "cache = false".to_owned();
        }
        if !gate.cacheable() {
            return format!(
                "a `{}` gate measures this machine: never replayed",
                gate.kind.name()
            );
        }
        if self.opts.trace {
            return "--trace-inputs: traced runs read nothing from the cache".to_owned();
        }
        if self.opts.no_cache {
            return "--no-cache".to_owned();
        }
        match self.cache.last_material(&gate.name) {
            None => "cache miss: never stored".to_owned(),
            Some((_, old)) => {
                let diff = material.diff(&old);
                if diff.is_empty() {
                    "cache miss: the entry for this key is gone (pruned or evicted)".to_owned()
                } else {
                    format!("cache miss: {}", diff.join("; "))
                }
            }
        }
    }

    /// Run a command gate under the tracer: how it ended, and what it read undeclared. The
    /// gate gets what an untraced run gives it (`RUNNER_GATE`, `RUNNER_BIN`), and `stream`
    /// its output lines as they come (`-v`).
    fn traced(
        &self,
        g: usize,
        run: &str,
        log: &Path,
        env: &proc::SpawnEnv,
        stream: Option<proc::command::LineSink<'_>>,
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
        // Set last, as an untraced run sets them (a runner run by a gate sees its own).
        vars.retain(|(name, _)| name != "RUNNER_GATE" && name != "RUNNER_BIN");
        vars.push(("RUNNER_GATE".into(), gate.name.clone().into()));
        if let Some(exe) = proc::command::runner_bin() {
            vars.push(("RUNNER_BIN".into(), exe.clone().into_os_string()));
        }
        let output = match proc::command::create_log(log) {
            Ok(f) => f,
            Err(e) => {
                return (
                    ProcessEnd::SpawnFailed(format!("cannot create log: {e}")),
                    Vec::new(),
                );
            }
        };
        let traced = proc::command::logged(log, &gate.name, stream, || {
            proc::trace::run_traced(run, &self.config.root, &vars, output, gate.timeout)
        });
        match traced {
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

    /// Remove what a gate's artifacts match (files and links, never a folder; excluded files
    /// stay), so that nothing on disk after the run comes from an earlier one unless
    /// restored: before the gate runs, and when it is skipped or not run (Bazel does this for
    /// every action's outputs).
    fn clear_artifacts(&self, gate: &Gate) {
        for m in self.fp.artifact_members(&ArtifactSpec::of(gate)) {
            let _ = std::fs::remove_file(self.config.root.join(&m.path));
            self.fp.invalidate(&m.path);
        }
        for a in gate.artifact_entries() {
            self.fp.invalidate(Path::new(a));
        }
    }

    /// The history's samples for gate `g`'s baseline thresholds.
    fn baselines_of(&self, g: usize) -> &[judge::BaselineSamples] {
        self.opts
            .baselines
            .get(&self.config.gates[g].name)
            .map_or(&[], Vec::as_slice)
    }

    /// The files a gate's artifacts are now: each path named exactly, and what its folders and
    /// globs match (the stats of these are compared before and after a dependent runs).
    fn artifact_files(&self, gate: &Gate) -> Vec<PathBuf> {
        if gate.exact_artifacts() {
            return gate.artifacts.iter().map(PathBuf::from).collect();
        }
        self.fp
            .artifact_members(&ArtifactSpec::of(gate))
            .into_iter()
            .filter(|m| matches!(m.found, crate::fingerprint::Found::File { .. }))
            .map(|m| m.path)
            .collect()
    }

    /// A gate replayed from the cache, judged.
    fn replayed(&self, g: usize, key: CacheKey, started: Instant) -> GateRun {
        let gate = &self.config.gates[g];
        // The hit left every artifact in place, verified by hash.
        let mut phases = Phases::default();
        let judge = || {
            judge::judge_with(
                gate,
                &self.config.root,
                &Execution::Succeeded,
                self.baselines_of(g),
                |_| true,
            )
        };
        let verdict = if self.opts.replay_phases {
            phases.time("judge", judge)
        } else {
            judge()
        };
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
            why: None,
            attempts: 0,
            flaky: false,
            // Where and when a replay was decided is drawn only by the HTML report and the
            // profile: without them a replay keeps none (it is then a `PlainRun`).
            timing: (self.opts.why_ran || self.opts.replay_phases).then_some(timing),
        }
    }

    /// A job on a worker: its stage.
    fn work(&self, mut job: Job) -> Step {
        if job.stage == Stage::Lookup {
            return match self.look_up(&mut job) {
                Some(run) => Step::Done(run),
                None => Step::Miss(job),
            };
        }
        Step::Done(self.execute(job))
    }

    /// Take the gate's lock, then look it up where `prepare` did not: after waiting for
    /// another runner (which may have stored the result), and in the remote cache. A hit is
    /// the gate's result; None means it must run.
    fn look_up(&self, job: &mut Job) -> Option<GateRun> {
        job.looked_up = true;
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
        job.lock = lock.map(|(lock, _)| lock);
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
                return Some(self.replayed(job.index, job.key, started).after(phases));
            }
        }
        if gate.cacheable() && !self.opts.no_cache {
            let started = Instant::now();
            let hit = phases.time("remote cache lookup", || {
                self.cache.lookup_remote(gate, &job.key, self.fp)
            });
            if let Lookup::Hit { .. } = hit {
                return Some(self.replayed(job.index, job.key, started).after(phases));
            }
        }
        job.phases = phases;
        None
    }

    /// One slot of each resource the gate uses, across runners on this checkout (this run's
    /// own count was kept by the coordinator before the job came here).
    fn hold_resources(&self, gate: &Gate) -> Option<super::lock::ResourceSlots> {
        if gate.uses.is_empty() {
            return None;
        }
        let uses: Vec<(&str, u32)> = gate
            .uses
            .iter()
            .map(|r| {
                let limit = self.config.settings.resource_limit(r).unwrap_or(1);
                (r.as_str(), limit)
            })
            .collect();
        let acquired = super::lock::acquire_resources(
            &super::lock::dir(&self.config.root),
            &uses,
            &mut |resource| {
                (self.observer)(Event::WaitingForResource {
                    gate: &gate.name,
                    resource,
                    other_runner: true,
                });
            },
        );
        if acquired.waited {
            (self.observer)(Event::Acquired { gate: &gate.name });
        }
        for (resource, why) in acquired.unlocked {
            self.cache.warn(format!(
                "cannot lock resource `{resource}` ({why}): its limit holds within this run only"
            ));
        }
        Some(acquired.slots)
    }

    /// Run one gate on a worker (again after each failed attempt, up to its retries), store
    /// it if it succeeded, and judge it. A cacheable gate is first looked up in the remote
    /// cache (after the local miss in `prepare`) unless the `Lookup` stage did it.
    fn execute(&self, mut job: Job) -> GateRun {
        if !job.looked_up
            && let Some(run) = self.look_up(&mut job)
        {
            return run;
        }
        let mut phases = std::mem::take(&mut job.phases);
        let gate = &self.config.gates[job.index];
        let inputs = self.inputs.of(job.index);
        let log = self.cache.log_path(&gate.name);
        // Besides the inputs, the other files the key holds: the needed gates' artifacts (a
        // second runner re-running an upstream gate rewrites them under this gate's feet)
        // and the files a built-in kind refers to. Their stats are the ones the key was
        // hashed with (memoised by the fingerprinter).
        let also_keyed: Vec<PathBuf> = self
            .graph
            .needs(job.index)
            .flat_map(|n| self.artifact_files(&self.config.gates[n]))
            .chain(gate.kind.referenced_files().into_iter().map(PathBuf::from))
            .collect();
        let before = (
            self.fp.known_stats(inputs),
            self.fp.known_stats(&also_keyed),
        );
        // The attempt logs of an earlier run are not this run's.
        self.cache.remove_attempt_logs(&gate.name);
        let attempts = gate
            .retries
            .or(self.opts.retries)
            .unwrap_or(0)
            .saturating_add(1);
        let resources = self.hold_resources(gate);
        // The gate's time is its attempts', not its waits'.
        let started = Instant::now();
        let mut attempt = 1;
        let (execution, findings, undeclared_reads, verdict, missing) = loop {
            let running = Instant::now();
            let (execution, findings, reads, timed_out) =
                self.attempt(job.index, inputs, &before.0, &log);
            phases.0.push(Phase {
                name: "run",
                start: running,
                end: Instant::now(),
            });
            // A declared path, folder or glob that matches nothing after a successful run.
            let missing = if matches!(execution, Execution::Succeeded) {
                self.fp.missing_artifacts(gate)
            } else {
                Vec::new()
            };
            let verdict = phases.time("judge", || {
                judge::judge_with(
                    gate,
                    &self.config.root,
                    &execution,
                    self.baselines_of(job.index),
                    |a| !missing.iter().any(|m| m == a),
                )
            });
            // Retried: a failure of the gate itself (an exit, a signal, a failed check or
            // threshold) and a timeout. Never what the runner decided it cannot judge (spawn
            // failure, no-op guard, inputs rewritten, artifacts missing, a skip).
            let retry = verdict.status == Status::Fail || timed_out;
            if !retry || attempt >= attempts {
                break (execution, findings, reads, verdict, missing);
            }
            let kept = self.cache.attempt_log_path(&gate.name, attempt);
            if let Some(dir) = kept.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let kept_ok = std::fs::rename(&log, &kept).is_ok();
            (self.observer)(Event::Retrying {
                gate: &gate.name,
                attempt,
                attempts,
                reason: verdict.reason.as_deref(),
                log: if kept_ok { &kept } else { &log },
            });
            attempt += 1;
        };
        drop(resources);
        let artifacts_present = missing.is_empty();
        let before = (self.fp.known_stats(inputs), before.1);
        // A traced run is not stored: it ran under a tracer, on request. A pass that needed a
        // retry is stored like any other: what is stored is its last attempt, which passed.
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
                    .is_ok_and(|now| now.get(job.index) == Some(inputs));
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
        if matches!(verdict.status, Status::Fail | Status::Error)
            && let Some(hint) = self.environment.hint(gate)
        {
            self.cache.warn(hint);
        }
        let reason = verdict.reason.map(|why| {
            if attempt > 1 {
                format!("{why} (attempt {attempt} of {attempts})")
            } else {
                why
            }
        });
        GateRun {
            index: job.index,
            status: verdict.status,
            reason,
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
            why: job.why.clone(),
            attempts: attempt,
            flaky: verdict.status == Status::Pass && attempt > 1,
            timing: Some(GateTiming {
                lane: Lane::scheduler(),
                start: phases.0.first().map_or(started, |p| p.start.min(started)),
                end: Instant::now(),
                phases: phases.0,
            }),
        }
    }

    /// One attempt of a gate: last run's artifacts removed, the command or built-in run, and
    /// how it ended (with what a built-in found, what a traced command read undeclared, and
    /// whether it timed out). An input whose content changed while it ran makes it `Broken`.
    fn attempt(
        &self,
        g: usize,
        inputs: &[PathBuf],
        before: &[Option<FileStat>],
        log: &Path,
    ) -> (Execution, Vec<Finding>, Vec<UndeclaredRead>, bool) {
        let gate = &self.config.gates[g];
        // What the gate is about to write must come from this attempt: earlier ones' go.
        self.clear_artifacts(gate);
        let env = self.environment.for_gate(gate);
        let mut undeclared_reads = Vec::new();
        let mut timed_out = false;
        let (execution, findings) = match &gate.kind {
            GateKind::Command(command) => {
                let stream =
                    |gate: &str, line: &[u8]| (self.observer)(Event::Output { gate, line });
                let end = if self.opts.trace {
                    let (end, reads) = self.traced(
                        g,
                        &command.run,
                        log,
                        &env,
                        self.opts.verbose.then_some(&stream),
                    );
                    undeclared_reads = reads;
                    end
                } else {
                    proc::command::run(&CommandSpec {
                        run: &command.run,
                        cwd: &self.config.root,
                        gate: &gate.name,
                        log,
                        timeout: gate.timeout,
                        grace: proc::GRACE,
                        env: &env,
                        stream: self.opts.verbose.then_some(&stream),
                    })
                };
                timed_out = matches!(end, ProcessEnd::TimedOut(_));
                (command_execution(&end), Vec::new())
            }
            kind => self.builtin(gate, kind, inputs, log, &env),
        };
        if matches!(execution, Execution::Skipped(_)) {
            // Exit 78: what a skipped gate left behind is not a result.
            self.clear_artifacts(gate);
        }
        self.fp.invalidate_artifacts(gate);
        // An input whose content changed while the gate ran: most likely the gate itself (a
        // formatter or linter writing its fixes). The verdict was made on other content than
        // the key's: an error, never cached. A rewrite with the same bytes is no change.
        let rewritten = self.changed_inputs(inputs, before);
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
        (execution, findings, undeclared_reads, timed_out)
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
        // As for commands (`proc::command::create_log`): an unwritable cache folder costs the
        // log, not the verdict.
        let mut log = match proc::command::create_log(log_path) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(index: usize, status: Status) -> GateRun {
        PlainRun {
            status,
            cached: true,
            flaky: false,
            attempts: 0,
            duration: Duration::from_millis(3),
            key: Some(CacheKey([7; 32])),
        }
        .into_run(index)
    }

    /// A plain replay is kept compact and comes back field for field; a run with anything
    /// more is kept whole; statuses are seen as they arrive; the runs come back in gate order.
    #[test]
    fn results_keep_plain_runs_compact_and_give_every_run_back() {
        let selected: BTreeSet<usize> = [2, 5, 9].into();
        let mut results = GateRuns::new(&selected);
        assert_eq!(results.status(5), None);
        let mut failed = run(9, Status::Fail);
        failed.reason = Some("exit 1".to_owned());
        results.insert(failed);
        results.insert(run(2, Status::Pass));
        results.insert(run(42, Status::Pass));
        assert!(matches!(results.slots[0], Slot::Plain(_)));
        assert!(matches!(results.slots[2], Slot::Full(_)));
        assert_eq!(results.status(2), Some(Status::Pass));
        assert_eq!(results.status(9), Some(Status::Fail));
        assert_eq!(results.status(5), None);
        assert_eq!(results.status(42), None, "not selected");
        let runs: Vec<GateRun> = results.into_runs().collect();
        let got: Vec<(usize, Status, Option<&str>)> = runs
            .iter()
            .map(|r| (r.index, r.status, r.reason.as_deref()))
            .collect();
        assert_eq!(
            got,
            [(2, Status::Pass, None), (9, Status::Fail, Some("exit 1"))]
        );
        let back = &runs[0];
        assert!(back.cached && back.attempts == 0 && !back.flaky);
        assert_eq!(back.duration, Duration::from_millis(3));
        assert_eq!(back.key, Some(CacheKey([7; 32])));
    }
}
