//! `runner run`: open, select, prepare, then plan (`--dry-run`) or run, and print the outcome.

use std::io::Write as _;
use std::path::Path;

use time::OffsetDateTime;

use crate::cli::args::{Balance, RunArgs};
use crate::cli::ci_logs::CiSystem;
use crate::cli::error::{CmdResult, Done};
use crate::cli::progress::{Logs, Progress};
use crate::cli::timings::Timings;
use crate::history::RunPlace;
use crate::report::Report;
use crate::run::{Outputs, RunRequest};
use crate::vocab::exit_code::Outcome;
use crate::vocab::{Mode, Status};
use crate::workspace::{self, Selection, Workspace};

pub(super) fn run(config: &Path, args: RunArgs, now: Option<OffsetDateTime>) -> CmdResult {
    let timings = Timings::from_env();
    crate::proc::signals::install();
    let started = std::time::Instant::now();
    let ws = Workspace::open(config)?;
    timings.mark("config");
    let affected = if args.affected {
        let a = super::affected::compute(&ws, args.base.clone(), args.head.clone())?;
        timings.mark("affected");
        Some(a)
    } else {
        None
    };
    let selection = Selection {
        gates: args.gates,
        tags: args.tags,
        shard: args.shard,
        only: affected.as_ref().map(|a| a.touched.selected()),
        balance: (args.balance == Balance::Duration)
            .then(|| crate::history::recorded_durations(&ws.config.settings.history)),
        settled: Vec::new(),
    };
    if let (Some(shard), Some(durations)) = (args.shard, &selection.balance)
        && !args.quiet
    {
        eprintln!(
            "{}",
            super::shards::note(&ws, &selection, shard, durations)?
        );
    }
    let prepared = workspace::prepare(&ws, &selection, &|phase, _| timings.mark(phase))?;
    timings.mark("fingerprint");
    let env = |k: &str| std::env::var(k).ok();
    let ci = CiSystem::detect(&|k| std::env::var(k).ok());
    let logs = Logs {
        grouped: args.log_order.grouped(ci),
        ci,
    };
    let req = RunRequest {
        jobs: args.jobs,
        no_cache: args.no_cache,
        trace: args.trace_inputs,
        // Grouped logs are read from the log files when gates finish: nothing to stream.
        verbose: args.verbose && !logs.grouped,
        now: now.unwrap_or_else(OffsetDateTime::now_utc),
        outputs: Outputs {
            report: args.report,
            junit: args.junit,
            summary: args.summary,
            metrics: args.metrics,
            html: args.html,
        },
        skip_exit_code: args.skip_exit_code,
        place: RunPlace::detect(&ws.config.root, &env),
        base_branch: crate::history::branch::base(
            &ws.config.root,
            args.base_branch.as_deref(),
            &env,
        ),
        retries: args.retries,
        profile: args.profile.clone(),
        keep_warm: false,
    };
    if args.dry_run {
        if let Some(a) = &affected {
            let _ = write!(std::io::stdout(), "{}", super::affected::explain(&ws, a));
        }
        // One write per buffer, not per line (stdout is line-buffered: 100,000 lines were
        // 100,000 system calls).
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for p in crate::plan::plan(&ws, &prepared, &req.options(&ws.config)) {
            let _ = writeln!(out, "{:<6} {}  {}", p.prediction.as_str(), p.gate, p.why);
        }
        let _ = out.flush();
        return Ok(Done::Success);
    }
    if let Some(a) = &affected
        && !args.quiet
    {
        eprintln!("{}", super::affected::summary(&ws, a));
    }
    let progress = Progress::new(prepared.selected.len(), args.quiet, logs);
    let observer = |e: crate::exec::Event<'_>| progress.on_event(&e);
    let result = crate::run::run(&ws, prepared, &req, &observer, &|phase| {
        timings.mark(phase);
    });
    progress.finish();
    let report = &result.report;
    for w in &result.warnings {
        eprintln!("warning: {w}");
    }
    for g in report.gates.iter().filter(|g| {
        g.mode == Mode::Observational && matches!(g.status, Status::Fail | Status::Error)
    }) {
        eprintln!(
            "warning: observational gate `{}` {}: {}",
            g.name,
            g.status.as_str(),
            g.reason.as_deref().unwrap_or("")
        );
    }
    if !args.quiet {
        baseline_notes(report);
    }
    for w in &result.output_warnings {
        eprintln!("warning: {w}");
    }
    for g in report
        .gates
        .iter()
        .filter(|g| !g.undeclared_reads.is_empty())
    {
        eprintln!(
            "gate `{}` read {} file{} its key does not hold:",
            g.name,
            g.undeclared_reads.len(),
            if g.undeclared_reads.len() == 1 {
                ""
            } else {
                "s"
            }
        );
        for u in &g.undeclared_reads {
            match &u.suggestion {
                Some(glob) => eprintln!("  {}  (add to inputs: \"{glob}\")", u.path),
                None => eprintln!(
                    "  {}  (outside the repository: declare its folder in tool_dirs if it is a tool)",
                    u.path
                ),
            }
        }
    }
    if args.trace_inputs {
        eprintln!(
            "note: --trace-inputs is a diagnostic run: no cache entry was read or stored, and nothing was appended to the history"
        );
    }
    if report.outcome == Outcome::Skipped {
        // Every gate skipped: say why, even under -q (a 78 with no word is a mystery in CI).
        for g in &report.gates {
            eprintln!(
                "note: gate `{}` {}",
                g.name,
                g.reason.as_deref().unwrap_or("skipped")
            );
        }
    }
    timings.cpu();
    progress.before_summary();
    // `run` keeps SIGPIPE ignored (see `cli::main`): a closed stdout is not worth a panic.
    let _ = writeln!(
        std::io::stdout(),
        "{} gate{}: {}{} in {:.2}s -> exit {}{}",
        report.gates.len(),
        if report.gates.len() == 1 { "" } else { "s" },
        report.summary,
        failures_clause(report),
        started.elapsed().as_secs_f64(),
        report.exit_code,
        result
            .critical_path
            .as_ref()
            .map(|c| format!("; {}", c.describe(&ws.config)))
            .unwrap_or_default()
    );
    progress.after_summary();
    Ok(Done::Run(report.exit_code))
}

/// Thresholds against a baseline that could not fail the gate: a limit broken while only
/// observed (too few samples), or no comparable baseline at all.
fn baseline_notes(report: &Report) {
    for g in &report.gates {
        for t in &g.thresholds {
            let Some(b) = &t.baseline else { continue };
            if b.observed_only && (!b.holds || b.value.is_none()) {
                eprintln!(
                    "note: gate `{}`: {}",
                    g.name,
                    crate::report::markdown::threshold_text(t)
                );
            }
        }
    }
}

/// `; 1 blocking failure, 2 observed` (fail, error or not run, by effective mode); empty when
/// nothing failed.
fn failures_clause(report: &Report) -> String {
    let failed = |mode: Mode| {
        report
            .gates
            .iter()
            .filter(|g| g.mode == mode && g.status.is_failure())
            .count()
    };
    let (blocking, observed) = (failed(Mode::Blocking), failed(Mode::Observational));
    if blocking + observed == 0 {
        return String::new();
    }
    format!(
        "; {blocking} blocking failure{}, {observed} observed",
        if blocking == 1 { "" } else { "s" }
    )
}
