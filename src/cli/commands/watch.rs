//! `runner watch [GATE...] [--tag T]`: run the selection, then wait for file changes (inotify,
//! debounced) and re-run only the gates whose inputs changed, plus the gates that need them.
//!
//! One stat cache and one listing cache stay in memory from run to run. Changes made while a
//! run goes on are queued and picked up when it ends. A changed config is reloaded; a config
//! with errors is reported and the last good one kept. Ctrl-C takes the running gates down
//! (the runner's signal handling) and ends the watch. After each run the screen shows the
//! last result of every gate, failures first.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher as _};
use time::OffsetDateTime;

use crate::affected::Matchers;
use crate::cli::args::WatchArgs;
use crate::cli::ci_logs::CiSystem;
use crate::cli::error::{CmdResult, Error};
use crate::cli::progress::{Logs, Progress};
use crate::history::RunPlace;
use crate::run::{Outputs, RunRequest};
use crate::vocab::Status;
use crate::workspace::{self, Selection, WarmCaches, Workspace};

/// The longest a burst of changes is collected before the run starts.
const MAX_BATCH: Duration = Duration::from_secs(2);

/// A gate's last result, for the screen.
struct Last {
    status: Status,
    cached: bool,
    duration_ms: u64,
    reason: Option<String>,
}

/// The watch's state between runs.
struct Watch {
    config_path: PathBuf,
    ws: Workspace,
    matchers: Matchers,
    warm: Option<WarmCaches>,
    last: BTreeMap<String, Last>,
    /// By gate index: its last result here lets dependents run (`Last::status`), kept beside
    /// `last` so a re-run's settled gates are a copy, not a walk over every gate's name.
    passed: Vec<bool>,
    args: WatchArgs,
    now: Option<OffsetDateTime>,
    /// The branch and machine recorded with metric values.
    place: RunPlace,
    /// The branch whose runs make baselines.
    base_branch: String,
    /// Every gate's declared artifacts: changes to them are the gates' own writes. Built once
    /// per config, not per change.
    artifacts: std::collections::HashSet<String>,
}

/// The artifacts `config`'s gates declare.
fn artifacts_of(config: &crate::config::Config) -> std::collections::HashSet<String> {
    config
        .gates
        .iter()
        .flat_map(|g| g.artifacts.iter().cloned())
        .collect()
}

/// Run, then re-run what changes affect until interrupted.
pub(super) fn watch(config: &Path, args: WatchArgs, now: Option<OffsetDateTime>) -> CmdResult {
    crate::proc::signals::install();
    let ws = Workspace::open(config)?;
    let root = ws.config.root.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx)
        .map_err(|e| Error::Usage(format!("cannot watch {}: {e}", root.display())))?;
    watcher
        .watch(&root, RecursiveMode::Recursive)
        .map_err(|e| Error::Usage(format!("cannot watch {}: {e}", root.display())))?;
    let env = |k: &str| std::env::var(k).ok();
    let place = RunPlace::detect(&root, &env);
    let base_branch = crate::history::branch::base(&root, None, &env);
    let mut w = Watch {
        artifacts: artifacts_of(&ws.config),
        place,
        base_branch,
        config_path: config.to_path_buf(),
        matchers: Matchers::new(&ws.config),
        ws,
        warm: None,
        last: BTreeMap::new(),
        passed: Vec::new(),
        args,
        now,
    };
    // The first run: the whole selection. An unknown gate or tag ends the watch here.
    w.run(None, "start")?;
    say(WAITING);
    loop {
        let Some(changed) = next_batch(&rx, &w, w.args.debounce) else {
            return Err(Error::Usage("the file watcher stopped".to_owned()));
        };
        if changed.iter().any(|p| w.matchers.is_config(p)) {
            let what = format!("changed {}", w.ws.config.file_name);
            match Workspace::open(&w.config_path) {
                Ok(ws) => {
                    w.matchers = Matchers::new(&ws.config);
                    w.artifacts = artifacts_of(&ws.config);
                    w.ws = ws;
                    w.last.retain(|name, _| w.ws.graph.index(name).is_some());
                    w.passed = vec![false; w.ws.config.gates.len()];
                    for (name, last) in &w.last {
                        if let Some(g) = w.ws.graph.index(name) {
                            w.passed[g] = last.status.satisfies_needs();
                        }
                    }
                    // The cache's settings may have changed with the config.
                    if let Some(warm) = &mut w.warm {
                        warm.cache = None;
                    }
                    let _ = w.run(None, &format!("{what}: config reloaded"));
                    say(WAITING);
                }
                Err(e) => {
                    let e = Error::from(e);
                    let mut err = std::io::stderr().lock();
                    let _ = err.write_all(e.render().as_bytes());
                    let _ = writeln!(
                        err,
                        "watch: the config has errors; keeping the last good one until it is fixed"
                    );
                    drop(err);
                    say(WAITING);
                }
            }
            continue;
        }
        let touched = w
            .matchers
            .touched(&w.ws.config, &w.ws.graph, &changed, false);
        if touched.gates.is_empty() {
            continue;
        }
        let what = describe(
            &touched
                .files
                .iter()
                .filter(|(_, gates)| !gates.is_empty())
                .map(|(path, _)| path.as_str())
                .collect::<Vec<_>>(),
        );
        let _ = w.run(Some(touched.selected()), &what);
        say(WAITING);
    }
}

impl Watch {
    /// One run of the selection (restricted to `only` when given). Errors of the selection are
    /// returned (the first run ends the watch on them); later ones are reported and waited out.
    fn run(&mut self, only: Option<BTreeSet<usize>>, why: &str) -> Result<(), Error> {
        let started = Instant::now();
        // `RUNNER_TIMINGS`: where the time from the batch to the gates goes.
        let timings = crate::cli::timings::Timings::from_env();
        // A re-run after a change: the gates it affects (and what needs them); what they need
        // and the change did not affect is not judged again when its last result here let
        // dependents run (its artifacts are on disk as that run left them).
        let settled: Vec<bool> = match &only {
            None => Vec::new(),
            Some(affected) => {
                let mut settled = self.passed.clone();
                for &g in affected {
                    if let Some(s) = settled.get_mut(g) {
                        *s = false;
                    }
                }
                settled
            }
        };
        let selection = Selection {
            gates: self.args.gates.clone(),
            tags: self.args.tags.clone(),
            shard: None,
            only,
            balance: None,
            settled,
        };
        let prepared = match workspace::prepare_reusing(
            &self.ws,
            &selection,
            &|phase, _| timings.mark(phase),
            self.warm.take(),
        ) {
            Ok(p) => p,
            Err(e) => {
                let e = Error::from(e);
                if self.last.is_empty() {
                    return Err(e);
                }
                let _ = std::io::stderr().lock().write_all(e.render().as_bytes());
                return Ok(());
            }
        };
        if prepared.selected.is_empty() {
            self.warm = Some(prepared.into_caches());
            return Ok(());
        }
        say(&format!(
            "watch: running {} gate{} ({why})",
            prepared.selected.len(),
            if prepared.selected.len() == 1 {
                ""
            } else {
                "s"
            }
        ));
        let req = RunRequest {
            jobs: self.args.jobs,
            no_cache: false,
            trace: false,
            verbose: false,
            now: self.now.unwrap_or_else(OffsetDateTime::now_utc),
            outputs: Outputs::default(),
            skip_exit_code: None,
            place: self.place.clone(),
            base_branch: self.base_branch.clone(),
            retries: None,
            profile: None,
            keep_warm: true,
        };
        let progress = Progress::new(
            prepared.selected.len(),
            false,
            Logs {
                grouped: false,
                ci: CiSystem::Plain,
            },
        );
        let observer = |e: crate::exec::Event<'_>| progress.on_event(&e);
        let mut result = crate::run::run(&self.ws, prepared, &req, &observer, &|phase| {
            timings.mark(phase);
        });
        progress.finish();
        self.warm = result.warm.take();
        for w in result.warnings.iter().chain(&result.output_warnings) {
            eprintln!("warning: {w}");
        }
        self.passed.resize(self.ws.config.gates.len(), false);
        for g in &result.report.gates {
            if let Some(i) = self.ws.graph.index(&g.name) {
                self.passed[i] = g.status.satisfies_needs();
            }
            self.last.insert(
                g.name.clone(),
                Last {
                    status: g.status,
                    cached: g.cached,
                    duration_ms: g.duration_ms,
                    reason: g.reason.clone(),
                },
            );
        }
        self.screen(&format!(
            "watch: {} gate{} ran in {:.2}s ({why}): {}",
            result.report.gates.len(),
            if result.report.gates.len() == 1 {
                ""
            } else {
                "s"
            },
            started.elapsed().as_secs_f64(),
            result.report.summary
        ));
        Ok(())
    }

    /// The last result of every gate, failures first (at most 40 others on a screen).
    fn screen(&self, headline: &str) {
        let mut out = std::io::stdout().lock();
        if std::io::stdout().is_terminal() {
            let _ = write!(out, "\x1b[2J\x1b[H");
        }
        let _ = writeln!(out, "{headline}");
        let mut rows: Vec<(&String, &Last)> = self.last.iter().collect();
        rows.sort_by_key(|(name, l)| (!l.status.is_failure(), *name));
        let failures = rows.iter().filter(|(_, l)| l.status.is_failure()).count();
        let shown = failures + 40;
        for (name, l) in rows.iter().take(shown) {
            let mut line = format!(
                "  {:<7} {name} {:.2}s{}",
                l.status.as_str().to_uppercase(),
                Duration::from_millis(l.duration_ms).as_secs_f64(),
                if l.cached { " (cached)" } else { "" }
            );
            if let Some(reason) = l.reason.as_deref().filter(|_| l.status != Status::Pass) {
                line.push_str(": ");
                line.push_str(reason);
            }
            let _ = writeln!(out, "{line}");
        }
        if rows.len() > shown {
            let _ = writeln!(out, "  ... and {} more", rows.len() - shown);
        }
        let _ = out.flush();
    }
}

/// A line on stdout, flushed.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// What the watch says when it waits.
const WAITING: &str = "watch: waiting for changes (Ctrl-C stops)";

/// `changed src/a.rs`, `3 files changed (src/a.rs, ...)`.
fn describe(changed: &[&str]) -> String {
    match changed {
        [one] => format!("changed {one}"),
        [first, ..] => format!("{} files changed ({first}, ...)", changed.len()),
        [] => "no change".to_owned(),
    }
}

/// The next batch of changed paths (relative to the config folder) that can matter: it
/// starts with the first such event and ends `debounce` after the last one (or `MAX_BATCH`
/// after the first). The runner's own state, `.git` and the gates' declared artifacts are
/// left out. None when the watcher is gone.
fn next_batch(
    rx: &Receiver<notify::Result<notify::Event>>,
    w: &Watch,
    debounce: Duration,
) -> Option<Vec<String>> {
    let root = &w.ws.config.root;
    let settings = &w.ws.config.settings;
    let ignored: Vec<PathBuf> = [settings.cache_dir.clone(), settings.history.clone()]
        .into_iter()
        .chain([root.join(".git"), root.join(".runner")])
        .collect();
    let artifacts = &w.artifacts;
    let relevant = |event: notify::Result<notify::Event>| -> Vec<String> {
        let Ok(event) = event else { return Vec::new() };
        if matches!(event.kind, EventKind::Access(_)) {
            return Vec::new();
        }
        event
            .paths
            .into_iter()
            .filter(|p| !ignored.iter().any(|i| p.starts_with(i)))
            .filter_map(|p| {
                let rel = p.strip_prefix(root).ok()?.to_string_lossy().into_owned();
                (!rel.is_empty() && !artifacts.contains(&rel)).then_some(rel)
            })
            .collect()
    };
    let mut batch: BTreeSet<String> = BTreeSet::new();
    // Wait for the first change that can matter.
    while batch.is_empty() {
        batch.extend(relevant(rx.recv().ok()?));
    }
    let first = Instant::now();
    loop {
        let left = MAX_BATCH.saturating_sub(first.elapsed());
        if left.is_zero() {
            break;
        }
        match rx.recv_timeout(debounce.min(left)) {
            Ok(event) => batch.extend(relevant(event)),
            Err(RecvTimeoutError::Timeout) => break,
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
    Some(batch.into_iter().collect())
}
