//! `runner run`: config -> graph -> selection -> fingerprint -> scheduler -> judge -> report.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cache::Cache;
use crate::config::{Config, Mode};
use crate::exec::{GateRun, RunOptions, Scheduler};
use crate::fingerprint::{self, Fingerprinter, ListingCache, StatCache};
use crate::graph::GateGraph;
use crate::report::{ExportedMetric, GateReport, Report, Summary, ThresholdReport};
use crate::{exit_code, judge, report};

/// What `runner run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub config: PathBuf,
    pub gates: Vec<String>,
    pub tags: Vec<String>,
    pub jobs: Option<usize>,
    pub no_cache: bool,
    pub dry_run: bool,
    pub verbose: bool,
    pub quiet: bool,
    pub now: Option<String>,
    pub report: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    pub metrics: Option<PathBuf>,
    /// `K/N` as typed.
    pub shard: Option<String>,
    pub skip_exit_code: Option<i32>,
}

/// A loaded config with its graph: what every subcommand starts from.
pub struct Workspace {
    pub config: Config,
    pub graph: GateGraph,
}

/// Load and validate; on a config error, print every problem and return exit code 2.
pub fn open(config: &Path) -> Result<Workspace, i32> {
    let config = match crate::config::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{}", e.render());
            return Err(exit_code::USAGE);
        }
    };
    match GateGraph::build(&config) {
        Ok(graph) => Ok(Workspace { config, graph }),
        Err(diags) => {
            print_diagnostics(&config, &diags);
            Err(exit_code::USAGE)
        }
    }
}

/// Print diagnostics against the config text, then the summary line.
pub fn print_diagnostics(config: &Config, diags: &[crate::diag::Diagnostic]) {
    for d in diags {
        eprintln!("{}", d.render(&config.source));
    }
    let n = diags.len();
    eprintln!(
        "error: {n} problem{} in {}; nothing ran",
        if n == 1 { "" } else { "s" },
        config.file_name
    );
}

/// The gates a run covers: named ones (or all), filtered by tags and shard, plus everything
/// they need.
pub fn select(
    ws: &Workspace,
    names: &[String],
    tags: &[String],
    shard: Option<&str>,
) -> Result<BTreeSet<usize>, String> {
    let mut roots = Vec::new();
    for name in names {
        match ws.graph.index(name) {
            Some(i) => roots.push(i),
            None => {
                let known: Vec<&str> = ws.config.gates.iter().map(|g| g.name.as_str()).collect();
                return Err(format!(
                    "unknown gate `{name}`; {}",
                    crate::diag::suggest(name, &known)
                ));
            }
        }
    }
    if names.is_empty() {
        roots = (0..ws.config.gates.len()).collect();
    }
    if !tags.is_empty() {
        roots.retain(|&i| ws.config.gates[i].tags.iter().any(|t| tags.contains(t)));
        if roots.is_empty() {
            return Err(format!("no gate has tag {}", tags.join(" or ")));
        }
    }
    if let Some(spec) = shard {
        let shard = crate::shard::Shard::parse(spec)?;
        roots.retain(|&i| shard.owns(&ws.config.gates[i].name));
    }
    Ok(ws.graph.with_needs(&roots))
}

/// The clock: `--now`, else `RUNNER_NOW`, else the system time.
pub fn now(flag: Option<&str>) -> Result<time::OffsetDateTime, String> {
    let text = flag
        .map(str::to_owned)
        .or_else(|| std::env::var("RUNNER_NOW").ok());
    match text {
        Some(t) => time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
            .map_err(|e| format!("--now / RUNNER_NOW `{t}` is not an RFC 3339 time ({e}); write e.g. 2026-11-24T10:00:00Z")),
        None => Ok(time::OffsetDateTime::now_utc()),
    }
}

/// RFC 3339 text of a time.
#[must_use]
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Prepared state for running or planning.
pub struct Prepared {
    pub selected: BTreeSet<usize>,
    pub inputs: fingerprint::ExpandedInputs,
    pub fp: Fingerprinter,
    pub cache: Cache,
    pub listings: ListingCache,
}

/// Select, expand inputs (a glob matching nothing is a config error), and hash inputs and
/// artifacts in parallel through the stat cache.
pub fn prepare(
    ws: &Workspace,
    names: &[String],
    tags: &[String],
    shard: Option<&str>,
) -> Result<Prepared, i32> {
    let selected = select(ws, names, tags, shard).map_err(|e| {
        eprintln!("error: {e}");
        exit_code::USAGE
    })?;
    let t = Instant::now();
    let listings = ListingCache::load(&ws.config.settings.cache_dir.join("listing-cache.bin"));
    let inputs = fingerprint::expand_cached(&ws.config, &selected, &listings).map_err(|diags| {
        print_diagnostics(&ws.config, &diags);
        exit_code::USAGE
    })?;
    let trace = std::env::var_os("RUNNER_TIMINGS").is_some();
    if trace {
        eprintln!("timing:   expand {:.2} ms", t.elapsed().as_secs_f64() * 1e3);
    }
    let t = Instant::now();
    let settings = &ws.config.settings;
    let stat = StatCache::load(&settings.cache_dir.join("stat-cache.bin"));
    let fp = Fingerprinter::new(&ws.config.root, stat);
    if trace {
        eprintln!(
            "timing:   stat cache load {:.2} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    let t = Instant::now();
    let mut files: Vec<PathBuf> = selected
        .iter()
        .flat_map(|&g| {
            let gate = &ws.config.gates[g];
            gate.artifacts
                .iter()
                .map(String::as_str)
                .chain(gate.kind.referenced_files())
                .map(PathBuf::from)
        })
        .collect();
    files.extend(inputs.files.values().flatten().cloned());
    fingerprint::sort_paths(&mut files);
    fp.prehash(&files);
    if trace {
        eprintln!(
            "timing:   prehash {:.2} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    let cache = Cache::open(&ws.config.root, &settings.cache_dir).with_remote(&ws.config);
    if let Some(w) = fp.stat_warning() {
        cache.warn(format!("stat cache {w}"));
    }
    if let Some(w) = &listings.load_warning {
        cache.warn(format!("listing cache {w}"));
    }
    Ok(Prepared {
        selected,
        inputs,
        fp,
        cache,
        listings,
    })
}

/// Phase timings on stderr when `RUNNER_TIMINGS` is set (for benchmarks and profiling).
struct Timings {
    on: bool,
    start: Instant,
    last: std::cell::Cell<Instant>,
}

impl Timings {
    fn new() -> Self {
        let now = Instant::now();
        Timings {
            on: std::env::var_os("RUNNER_TIMINGS").is_some(),
            start: now,
            last: std::cell::Cell::new(now),
        }
    }

    fn mark(&self, phase: &str) {
        if self.on {
            let now = Instant::now();
            eprintln!(
                "timing: {phase:<12} {:>8.2} ms (total {:>8.2} ms)",
                (now - self.last.get()).as_secs_f64() * 1e3,
                (now - self.start).as_secs_f64() * 1e3
            );
            self.last.set(now);
        }
    }

    /// The runner's own CPU time (all threads, not the gates' processes), at the end.
    fn cpu(&self) {
        if self.on {
            // SAFETY: getrusage fills the zeroed struct it is given.
            let usage = unsafe {
                let mut usage: libc::rusage = std::mem::zeroed();
                libc::getrusage(libc::RUSAGE_SELF, &raw mut usage);
                usage
            };
            let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
            eprintln!(
                "timing: runner cpu   user {:.2} ms, sys {:.2} ms (gates' processes excluded)",
                ms(usage.ru_utime),
                ms(usage.ru_stime)
            );
        }
    }
}

/// `runner run`.
pub fn run(req: &RunRequest) -> i32 {
    let timings = Timings::new();
    crate::exec::signals::install();
    let started = Instant::now();
    let clock = match now(req.now.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::USAGE;
        }
    };
    let ws = match open(&req.config) {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    timings.mark("config");
    let prepared = match prepare(&ws, &req.gates, &req.tags, req.shard.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    timings.mark("fingerprint");
    let jobs = req
        .jobs
        .filter(|j| *j > 0)
        .unwrap_or(match ws.config.settings.jobs {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            j => j,
        });
    let opts = RunOptions {
        jobs,
        no_cache: req.no_cache,
        verbose: req.verbose,
        now: rfc3339(clock),
    };
    if req.dry_run {
        crate::plan::print(&ws, &prepared, &opts);
        return exit_code::SUCCESS;
    }
    if !req.no_cache {
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
    // no-op run the scheduler's coordinator leaves a core to spare).
    let history_path = ws.config.settings.history.clone();
    let history_loader = std::thread::spawn(move || {
        let history = crate::history::History::load(&history_path);
        history.find_commit();
        history
    });
    let progress = report::progress::Progress::new(prepared.selected.len(), req.quiet);
    let observer = |e: crate::exec::Event<'_>| progress.on_event(&e);
    let scheduler = Scheduler {
        config: &ws.config,
        graph: &ws.graph,
        inputs: &prepared.inputs,
        fp: &prepared.fp,
        cache: &prepared.cache,
        opts: &opts,
        observer: &observer,
    };
    let runs = scheduler.run(&prepared.selected);
    progress.finish();
    timings.mark("schedule");
    if let Err(e) = prepared.fp.save() {
        prepared
            .cache
            .warn(format!("cannot save the stat cache: {e}"));
    }
    if let Err(e) = prepared.listings.save() {
        prepared
            .cache
            .warn(format!("cannot save the listing cache: {e}"));
    }
    prepared.cache.save();
    timings.mark("save state");
    let mut history = history_loader
        .join()
        .unwrap_or_else(|_| crate::history::History::load(&ws.config.settings.history));
    let effective = |g: &crate::config::Gate| history.effective_mode(g, &ws.config.settings, clock);
    let report = build_report(
        &ws.config,
        &runs,
        &effective,
        &rfc3339(clock),
        started.elapsed().as_millis(),
    );
    for w in prepared
        .cache
        .take_warnings()
        .into_iter()
        .chain(history.warnings())
    {
        eprintln!("warning: {w}");
    }
    for g in report.gates.iter().filter(|g| {
        g.mode == Mode::Observational
            && matches!(g.status, judge::Status::Fail | judge::Status::Error)
    }) {
        eprintln!(
            "warning: observational gate `{}` {}: {}",
            g.name,
            g.status.as_str(),
            g.reason.as_deref().unwrap_or("")
        );
    }
    timings.mark("judge");
    finish(&ws, req, &report, &mut history, clock);
    timings.mark("reports");
    timings.cpu();
    let _ = writeln!(
        std::io::stdout(),
        "{} gates: {} in {:.2}s -> exit {}",
        report.gates.len(),
        report.summary,
        started.elapsed().as_secs_f64(),
        report.exit_code
    );
    match (report.exit_code, req.skip_exit_code) {
        (exit_code::ALL_SKIPPED, Some(code)) => code,
        (code, _) => code,
    }
}

/// After judging: history, the report files, and the report's signature. Each failure to write
/// is a warning: the gates were judged, and the exit code stands.
fn finish(
    ws: &Workspace,
    req: &RunRequest,
    report: &Report,
    history: &mut crate::history::History,
    clock: time::OffsetDateTime,
) {
    if let Err(e) = history.append_run(report, clock) {
        eprintln!(
            "warning: cannot append to the history {}: {e}",
            ws.config.settings.history.display()
        );
    }
    let report_path = req
        .report
        .clone()
        .unwrap_or_else(|| ws.config.settings.cache_dir.join("report.json"));
    if let Err(e) = report::json::write(report, &report_path) {
        eprintln!(
            "warning: cannot write the report {}: {e}",
            report_path.display()
        );
    }
    let formats = report::formats::Requested {
        junit: req.junit.clone(),
        summary: req.summary.clone(),
        metrics: req.metrics.clone(),
    };
    for w in report::formats::write_requested(report, &ws.config, &formats) {
        eprintln!("warning: {w}");
    }
    if let Some(w) = crate::signing::sign_report_if_configured(&ws.config, &report_path) {
        eprintln!("warning: {w}");
    }
}

/// Build the SPEC 5 report from the scheduler's results.
#[must_use]
pub fn build_report(
    config: &Config,
    runs: &[GateRun],
    effective_mode: &dyn Fn(&crate::config::Gate) -> Mode,
    started_at: &str,
    duration_ms: u128,
) -> Report {
    let mut summary = Summary::default();
    let mut labels = Vec::new();
    let gates: Vec<GateReport> = runs
        .iter()
        .map(|r| {
            let gate = &config.gates[r.index];
            let mode = effective_mode(gate);
            summary.add(r.status, r.cached);
            if mode == Mode::Observational
                && matches!(r.status, judge::Status::Fail | judge::Status::Error)
            {
                labels.push(format!("smoke-failed:{}", gate.name));
            }
            let exports = r.metrics.as_ref().map_or_else(Vec::new, |m| {
                gate.export
                    .iter()
                    .filter_map(|(name, path)| {
                        let steps = judge::parse_metric_path(path).ok()?;
                        let value = judge::lookup(m, &steps)?.as_f64()?;
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
                mode,
                configured_mode: gate.mode,
                cached: r.cached,
                duration_ms: u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
                key: r.key.map(|k| k.hex()),
                reason: r.reason.clone(),
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
                    })
                    .collect(),
                exports,
            }
        })
        .collect();
    let exit_code = exit_code::for_run(gates.iter().map(|g| (g.mode, g.status)));
    Report {
        version: 1,
        exit_code,
        started_at: started_at.to_owned(),
        duration_ms: u64::try_from(duration_ms).unwrap_or(u64::MAX),
        summary,
        labels,
        gates,
    }
}
