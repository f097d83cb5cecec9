//! A run as a library call: schedule the prepared gates, judge them, build the report, append
//! the history and write the report files. It prints nothing: the scheduler's events go to the
//! caller's observer, and warnings come back with the result.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use time::OffsetDateTime;

use crate::config::{Config, Gate};
use crate::exec::{Event, GateRun, RunOptions, Scheduler};
use crate::fingerprint::ListingCache;
use crate::history::{History, RunPlace, samples};
use crate::judge::BaselineSamples;
use crate::profile::CriticalPath;
use crate::report::{
    BaselineReport, ExportedMetric, FindingReport, GateReport, RanAt, Report, TestCaseReport,
    ThresholdReport, UndeclaredReport,
};
use crate::vocab::{Mode, clock};
use crate::workspace::{Prepared, WarmCaches, Workspace};

/// The files a run writes besides the history.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outputs {
    /// The JSON report (default: `<cache_dir>/report.json`).
    pub report: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    pub metrics: Option<PathBuf>,
    /// The self-contained HTML report (`--html`).
    pub html: Option<PathBuf>,
}

/// How to run.
#[derive(Debug, Clone)]
pub(crate) struct RunRequest {
    /// Parallel gates; None = `settings.jobs`, else the number of CPUs.
    pub jobs: Option<usize>,
    pub no_cache: bool,
    /// Run command gates traced and list what they read undeclared: a diagnostic run, which
    /// reads no cache entry, stores none and appends nothing to the history.
    pub trace: bool,
    /// Stream gate output while it runs (through the observer).
    pub verbose: bool,
    /// The run's time, for the history and graduation.
    pub now: OffsetDateTime,
    pub outputs: Outputs,
    /// The exit code to use instead of 78 when every gate skipped (`--skip-exit-code`).
    pub skip_exit_code: Option<i32>,
    /// The branch and machine recorded with metric values.
    pub place: RunPlace,
    /// The branch whose runs make baselines (`--base-branch`, CI variables, the default branch).
    pub base_branch: String,
    /// `--retries N`: for gates that set no `retries` of their own.
    pub retries: Option<u32>,
    /// Write a Chrome trace of the run here, and find its critical path (`--profile`).
    pub profile: Option<PathBuf>,
    /// Give the warmed caches back (`RunResult::warm`) instead of dropping them once saved.
    pub keep_warm: bool,
}

/// What a run gives back: the report (already written), and warnings to show.
pub(crate) struct RunResult {
    pub report: Report,
    /// Warnings about the cache, the history and its state files, found while running.
    pub warnings: Vec<String>,
    /// Warnings about writing the history and the report files, found after judging.
    pub output_warnings: Vec<String>,
    /// The longest path by duration through the run's DAG (with `profile`).
    pub critical_path: Option<CriticalPath>,
    /// The caches the run warmed, for the next run in this process (`watch`): given back only
    /// when asked; otherwise they are dropped as soon as their state is saved.
    pub warm: Option<WarmCaches>,
}

impl RunRequest {
    /// The number of parallel gates.
    #[must_use]
    pub(crate) fn jobs(&self, config: &Config) -> usize {
        self.jobs
            .filter(|j| *j > 0)
            .unwrap_or(match config.settings.jobs {
                0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
                j => j,
            })
    }

    /// The scheduler's options.
    #[must_use]
    pub(crate) fn options(&self, config: &Config) -> RunOptions {
        RunOptions {
            jobs: self.jobs(config),
            no_cache: self.no_cache || self.trace,
            trace: self.trace,
            verbose: self.verbose,
            now: clock::rfc3339(self.now),
            why_ran: self.outputs.html.is_some(),
            baselines: std::sync::Arc::default(),
            retries: self.retries,
            replay_phases: self.profile.is_some(),
        }
    }
}

/// Run the prepared gates. `observer` sees every event (the progress display); `mark` is told
/// when each phase ends (for `RUNNER_TIMINGS`).
pub(crate) fn run(
    ws: &Workspace,
    prepared: Prepared,
    req: &RunRequest,
    observer: &(dyn Fn(Event<'_>) + Sync),
    mark: &dyn Fn(&str),
) -> RunResult {
    let started = Instant::now();
    let mut opts = req.options(&ws.config);
    opts.baselines = std::sync::Arc::new(baseline_inputs(ws, &prepared, req));
    prepared.cache.set_clock(req.now);
    if !req.no_cache && !req.trace {
        // Download, in parallel, the remote entries of gates whose keys are known up front.
        prepared.cache.prefetch(
            &ws.config,
            &ws.graph,
            &prepared.selected,
            &prepared.inputs,
            &prepared.fp,
        );
    }
    // The history and the commit are needed only after the gates: read them meanwhile (on a
    // no-op run the scheduler's coordinator leaves a core to spare). With an observational
    // gate selected, the history is read first: whether it graduated decides how its failure
    // is shown while the run goes on.
    let history_path = ws.config.settings.history.clone();
    let observational = prepared
        .selected
        .iter()
        .any(|&g| ws.config.gates[g].mode == Mode::Observational);
    let early = observational.then(|| History::load(&history_path));
    let modes: Vec<Mode> = ws
        .config
        .gates
        .iter()
        .map(|g| match &early {
            Some(h) => h.effective_mode(g, &ws.config.settings, req.now),
            None => g.mode,
        })
        .collect();
    let history_loader = std::thread::spawn(move || {
        let history = early.unwrap_or_else(|| History::load(&history_path));
        history.find_commit();
        history
    });
    let scheduler = Scheduler {
        config: &ws.config,
        graph: &ws.graph,
        inputs: &prepared.inputs,
        fp: &prepared.fp,
        cache: &prepared.cache,
        opts: &opts,
        observer,
        modes: &modes,
        environment: &prepared.environment,
        runtime: &prepared.runtime,
    };
    let gate_runs = scheduler.run(&prepared.selected);
    mark("schedule");
    // The runs are made whole (`GateRun`s) only once the gates' caches are dropped below,
    // unless the profile needs them now: at 100,000 gates they take 36 MB.
    let (early, gate_runs) = if req.profile.is_some() {
        (Some(gate_runs.into_runs().collect::<Vec<_>>()), None)
    } else {
        (None, Some(gate_runs))
    };
    let mut profile_warnings = Vec::new();
    let critical_path = req.profile.as_ref().and_then(|path| {
        let runs = early.as_deref().unwrap_or_default();
        let critical = crate::profile::critical_path(&ws.graph, runs);
        let workers = opts.jobs.max(1).min(prepared.selected.len().max(1));
        let trace = crate::profile::trace(&ws.config, runs, started, workers, critical.as_ref());
        if let Err(e) = crate::profile::write(path, &trace) {
            profile_warnings.push(format!("cannot write the profile {}: {e}", path.display()));
        }
        critical
    });
    if let Err(e) = prepared.fp.save() {
        prepared
            .cache
            .warn(format!("cannot save the stat cache: {e}"));
    }
    // The gates are decided: what follows (reports, the cache's budget) reads no file
    // through the memo, so it is not held through the run's peak.
    prepared.fp.release_memo();
    if let Some(listings) = &prepared.listings
        && let Err(e) = listings.save()
    {
        prepared
            .cache
            .warn(format!("cannot save the listing cache: {e}"));
    }
    if req.keep_warm {
        prepared.cache.save();
    } else {
        prepared.cache.save_and_release_index();
    }
    mark("save state");
    // What only the gates needed (the stat and listing caches, the expanded inputs: 94 MB at
    // 100,000 gates) goes before the reports are built, unless a next run in this process
    // wants it.
    let Prepared {
        cache,
        fp,
        listings,
        ..
    } = prepared;
    let keep = req.keep_warm.then_some((fp, listings));
    // Each run made whole only as its report is made (not all 100,000 at once).
    let runs: Box<dyn Iterator<Item = GateRun>> = match (early, gate_runs) {
        (Some(runs), _) => Box::new(runs.into_iter()),
        (None, Some(gate_runs)) => Box::new(gate_runs.into_runs()),
        (None, None) => Box::new(std::iter::empty()),
    };
    let mut history = history_loader
        .join()
        .unwrap_or_else(|_| History::load(&ws.config.settings.history));
    let effective = |g: &Gate| history.effective_mode(g, &ws.config.settings, req.now);
    let mut report = Report::from_gates(
        gate_reports(
            &ws.config,
            runs,
            &effective,
            opts.why_ran.then_some(started),
        ),
        &clock::rfc3339(req.now),
        started.elapsed().as_millis(),
    );
    // The report says what the run came to and the code the process uses, both.
    report.exit_code = report.outcome.process_code(req.skip_exit_code);
    let warnings = cache
        .take_warnings()
        .into_iter()
        .chain(history.warnings())
        .collect();
    mark("judge");
    let mut output_warnings = write_outputs(ws, req, &report, &mut history);
    output_warnings.extend(profile_warnings);
    mark("reports");
    // Last, once the report is written (it counts against the budget when in the cache
    // folder): record this run's uses in the cache's ledger; evict when due.
    cache.finish(&ws.config);
    output_warnings.extend(cache.take_warnings());
    mark("cache budget");
    RunResult {
        report,
        warnings,
        output_warnings,
        critical_path,
        warm: keep.map(|(fp, listings)| WarmCaches {
            stat: fp.into_stat_cache().next_run(),
            listings: listings.map(ListingCache::next_run),
            cache: Some(cache),
        }),
    }
}

/// How many recorded values of a gate are read back for its baselines (before filtering by
/// status, branch and machine).
const BASELINE_READ_BACK: usize = 1000;

/// For each selected gate with baseline thresholds, the history's samples of each (read back
/// from the end of the history, only when there is such a gate).
fn baseline_inputs(
    ws: &Workspace,
    prepared: &Prepared,
    req: &RunRequest,
) -> HashMap<String, Vec<BaselineSamples>> {
    let gates: Vec<&Gate> = prepared
        .selected
        .iter()
        .map(|&g| &ws.config.gates[g])
        .filter(|g| !g.baselines.is_empty())
        .collect();
    if gates.is_empty() {
        return HashMap::new();
    }
    let names: Vec<&str> = gates.iter().map(|g| g.name.as_str()).collect();
    let read = samples::read_back(
        &ws.config.settings.history,
        Some(&names),
        BASELINE_READ_BACK,
        samples::Until::Accepted,
    );
    let none = samples::GateValues::default();
    gates
        .iter()
        .map(|g| {
            let values = read.get(&g.name).unwrap_or(&none);
            let per_rule = g
                .baselines
                .iter()
                .map(|rule| {
                    let branch = rule.branch.as_deref().unwrap_or(&req.base_branch);
                    values.baseline_samples(rule.metric.as_str(), branch, &req.place.machine)
                })
                .collect();
            (g.name.clone(), per_rule)
        })
        .collect()
}

/// After judging: history, the report files, and the report's signature. Each failure to write
/// is a warning: the gates were judged, and the exit code stands. A traced run appends nothing
/// to the history: it ran gates under a tracer (which may be refused, ending them `error`),
/// a diagnostic that must not count for or against green days and graduation.
fn write_outputs(
    ws: &Workspace,
    req: &RunRequest,
    report: &Report,
    history: &mut History,
) -> Vec<String> {
    let (outputs, now) = (&req.outputs, req.now);
    let mut warnings = Vec::new();
    // A traced run appends nothing (it ran under a tracer, on request).
    if !req.trace {
        if let Err(e) = history.append_run(report, now, &req.place) {
            warnings.push(format!(
                "cannot append to the history {}: {e}",
                ws.config.settings.history.display()
            ));
        } else if let Some(Err(e)) = history.compact_if_due(now) {
            warnings.push(format!(
                "cannot compact the history {}: {e}; it stays as it was",
                ws.config.settings.history.display()
            ));
        }
    }
    let report_path = outputs
        .report
        .clone()
        .unwrap_or_else(|| ws.config.settings.cache_dir.join("report.json"));
    if let Err(e) = crate::report::json::write(report, &report_path) {
        warnings.push(format!(
            "cannot write the report {}: {e}",
            report_path.display()
        ));
    }
    let formats = crate::report::formats::Requested {
        junit: outputs.junit.clone(),
        summary: outputs.summary.clone(),
        metrics: outputs.metrics.clone(),
    };
    warnings.extend(crate::report::formats::write_requested(
        report, &ws.config, &formats,
    ));
    if let Some(path) = &outputs.html {
        // After the history append: the page's graduation progress counts this run.
        if let Err(e) = crate::bincodec::write_atomic_shared_with(path, |out| {
            crate::page::write(&ws.config, report, history, now, out)
        }) {
            warnings.push(format!(
                "cannot write the HTML report {}: {e}",
                path.display()
            ));
        }
    }
    if let Some(w) = crate::report::signature::sign_if_configured(&ws.config, &report_path) {
        warnings.push(w);
    }
    warnings
}

/// The report's view of each gate's run.
#[must_use]
pub(crate) fn gate_reports(
    config: &Config,
    runs: impl Iterator<Item = GateRun>,
    effective_mode: &dyn Fn(&Gate) -> Mode,
    timeline_from: Option<Instant>,
) -> Vec<GateReport> {
    let ms_since = |origin: Instant, t: Instant| {
        u64::try_from(t.saturating_duration_since(origin).as_millis()).unwrap_or(u64::MAX)
    };
    runs.map(|r| {
        let gate = &config.gates[r.index];
        let exports = r.metrics.as_ref().map_or_else(Vec::new, |m| {
            gate.export
                .iter()
                .filter_map(|(name, path)| {
                    let value = path.lookup(m)?.as_f64()?;
                    Some(ExportedMetric {
                        name: name.replace('.', "_"),
                        value,
                    })
                })
                .collect()
        });
        GateReport {
            name: gate.name.clone(),
            kind: gate.kind.name().to_owned(),
            status: r.status,
            mode: effective_mode(gate),
            configured_mode: gate.mode,
            cached: r.cached,
            flaky: r.flaky,
            attempts: r.attempts,
            duration_ms: u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
            key: r.key.map(|k| k.hex()),
            reason: r.reason.clone(),
            description: gate.description.clone(),
            why: r.why.clone(),
            ran: timeline_from
                .zip(r.timing.as_ref())
                .map(|(origin, t)| RanAt {
                    lane: match t.lane {
                        crate::exec::Lane::Worker(w) => format!("worker {}", w + 1),
                        crate::exec::Lane::Scheduler(_) => "scheduler".to_owned(),
                    },
                    start_ms: ms_since(origin, t.start),
                    end_ms: ms_since(origin, t.end),
                }),
            undeclared_reads: r
                .undeclared_reads
                .iter()
                .map(|u| UndeclaredReport {
                    path: u.path.clone(),
                    suggestion: u.suggestion.clone(),
                })
                .collect(),
            guard: r.guard.clone(),
            findings: r
                .findings
                .iter()
                .map(|f| FindingReport {
                    file: f.file.clone(),
                    line: f.line,
                    message: f.message.clone(),
                })
                .collect(),
            artifacts: gate.artifacts.clone(),
            thresholds: r
                .thresholds
                .iter()
                .map(|t| ThresholdReport {
                    metric: t.metric.clone(),
                    op: t.op.as_str().to_owned(),
                    limit: t.limit,
                    value: t.value,
                    pass: t.pass,
                    baseline: t.baseline.as_ref().map(|b| BaselineReport {
                        expr: b.expr.clone(),
                        statistic: b.statistic.to_owned(),
                        branch: b.branch.clone(),
                        window: b.window,
                        samples: b.samples,
                        min_samples: b.min_samples,
                        other_machines: b.other_machines,
                        value: b.value,
                        change_pct: b.change_pct,
                        holds: b.holds,
                        observed_only: b.observed_only,
                        note: b.note.clone(),
                    }),
                })
                .collect(),
            exports,
            tests: r
                .tests
                .iter()
                .map(|t| TestCaseReport {
                    name: t.name.clone(),
                    classname: t.classname.clone(),
                    status: t.status,
                    message: t.message.clone(),
                    time_ms: t.time_ms,
                })
                .collect(),
        }
    })
    .collect()
}
