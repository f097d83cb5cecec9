//! A loaded config with its graph (`Workspace`), and the state a run or a plan starts from
//! (`Prepared`): the selected gates, their expanded inputs, the fingerprinter and the cache.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::slice::ParallelSliceMut as _;

use crate::cache::Cache;
use crate::config::{Config, LoadError};
use crate::diag::Diagnostic;
use crate::exec::environment::GateEnvironment;
use crate::exec::runtime::RuntimeInputs;
use crate::fingerprint::{self, Fingerprinter, ListingCache, StatCache};
use crate::graph::GateGraph;
use crate::shard::Shard;

/// Why a workspace could not be opened or a selection prepared.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The config could not be read, or has problems (every one of them, with its text).
    #[error(transparent)]
    Config(#[from] LoadError),
    /// The gates asked for do not exist, or no gate has the tag.
    #[error("{0}")]
    Selection(String),
}

/// A loaded config with its graph: what every subcommand starts from.
pub(crate) struct Workspace {
    pub config: Config,
    pub graph: GateGraph,
}

impl Workspace {
    /// Load and validate the config at `path`, and build its graph. Every problem of every
    /// class is reported in one pass: with a problem in the file, the cycles of the gates that
    /// could be read and their globs that match nothing are reported with it.
    pub(crate) fn open(path: &Path) -> Result<Self, WorkspaceError> {
        let config = match crate::config::load(path) {
            Ok(config) => config,
            Err(LoadError::Invalid {
                file,
                source_text,
                mut diagnostics,
                partial: Some(partial),
            }) => {
                if let Err(cycles) = GateGraph::build(&partial) {
                    diagnostics.extend(cycles);
                }
                diagnostics.extend(empty_globs(&partial));
                sort(&mut diagnostics);
                return Err(LoadError::Invalid {
                    file,
                    source_text,
                    diagnostics,
                    partial: None,
                }
                .into());
            }
            Err(e) => return Err(e.into()),
        };
        match GateGraph::build(&config) {
            Ok(graph) => Ok(Workspace { config, graph }),
            Err(mut diagnostics) => {
                diagnostics.extend(empty_globs(&config));
                sort(&mut diagnostics);
                Err(invalid(&config, diagnostics).into())
            }
        }
    }
}

/// The globs of every gate that match no file (a config error unless `allow_empty`).
fn empty_globs(config: &Config) -> Vec<Diagnostic> {
    let all: BTreeSet<usize> = (0..config.gates.len()).collect();
    fingerprint::expand(config, &all).err().unwrap_or_default()
}

/// Problems in the order of their places in the file.
fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
}

/// Diagnostics found after loading, as the same error loading gives.
fn invalid(config: &Config, diagnostics: Vec<Diagnostic>) -> LoadError {
    LoadError::Invalid {
        file: config.file_name.clone(),
        source_text: config.source_text().into_owned(),
        diagnostics,
        partial: None,
    }
}

/// What to select: named gates (or all), tags, a shard.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selection {
    pub gates: Vec<String>,
    pub tags: Vec<String>,
    pub shard: Option<Shard>,
    /// Only these gates may be roots (`--affected`, `watch`): applied after the names and
    /// tags; what they need is still added.
    pub only: Option<BTreeSet<usize>>,
    /// `--balance duration`: the shard is chosen by these recorded durations (gate name ->
    /// milliseconds; see `shard::balanced`) instead of the name's hash.
    pub balance: Option<BTreeMap<String, u64>>,
    /// Gates known to have passed (or skipped) and not affected since (`watch` keeps them):
    /// not added for what needs them; the run takes their artifacts on disk as they are, as a
    /// need outside the run. This keeps a watch re-run to what a change affects, not the whole
    /// upstream of it. By gate index (empty: none), so that a watch at 100,000 gates builds it
    /// in microseconds.
    pub settled: Vec<bool>,
}

/// The gates a run covers: named ones (or all), filtered by tags and shard, plus everything
/// they need.
pub(crate) fn select(ws: &Workspace, sel: &Selection) -> Result<BTreeSet<usize>, WorkspaceError> {
    let roots = roots(ws, sel)?;
    // A gate skipped by `skip_unless_env` is decided before its needs: what only it needs
    // does not run.
    let skips = |g: usize| {
        !ws.config.gates[g]
            .unmet_conditions(|k| std::env::var(k).ok())
            .is_empty()
    };
    let settled = |g: usize| sel.settled.get(g).copied().unwrap_or(false);
    let mut selected = ws.graph.with_needs_of(&roots, |g| skips(g) || settled(g));
    if !sel.settled.is_empty() {
        selected.retain(|&g| !settled(g) || roots.binary_search(&g).is_ok());
    }
    Ok(selected)
}

/// The gates a selection asks for before what they need is added: named ones (or all),
/// filtered by tags, `only` and the shard.
pub(crate) fn roots(ws: &Workspace, sel: &Selection) -> Result<Vec<usize>, WorkspaceError> {
    let mut roots = Vec::new();
    for name in &sel.gates {
        match ws.graph.index(name) {
            Some(i) => roots.push(i),
            None => {
                let known: Vec<&str> = ws.config.gates.iter().map(|g| g.name.as_str()).collect();
                return Err(WorkspaceError::Selection(format!(
                    "unknown gate `{name}`; {}",
                    crate::diag::suggest(name, &known)
                )));
            }
        }
    }
    if sel.gates.is_empty() {
        roots = (0..ws.config.gates.len()).collect();
    }
    if !sel.tags.is_empty() {
        roots.retain(|&i| ws.config.gates[i].tags.iter().any(|t| sel.tags.contains(t)));
        if roots.is_empty() {
            return Err(WorkspaceError::Selection(format!(
                "no gate has tag {}",
                sel.tags.join(" or ")
            )));
        }
    }
    if let Some(only) = &sel.only {
        roots.retain(|i| only.contains(i));
    }
    roots.sort_unstable();
    roots.dedup();
    if let Some(shard) = sel.shard {
        match &sel.balance {
            Some(durations) => {
                let gates: Vec<(&str, Option<u64>)> = roots
                    .iter()
                    .map(|&i| {
                        let name = ws.config.gates[i].name.as_str();
                        (name, durations.get(name).copied())
                    })
                    .collect();
                let shards = crate::shard::balanced(&gates, shard.n);
                roots = roots
                    .into_iter()
                    .zip(shards)
                    .filter(|(_, s)| *s == shard.k - 1)
                    .map(|(g, _)| g)
                    .collect();
            }
            None => roots.retain(|&i| shard.owns(&ws.config.gates[i].name)),
        }
    }
    Ok(roots)
}

/// What `runner check` verifies beyond loading: every gate's globs expand (one matching
/// nothing is a config error). Nothing is run: not the gates, not their runtime inputs
/// (checking an untrusted pull request's gates.toml must not execute its commands).
pub(crate) fn check(ws: &Workspace) -> Result<(), WorkspaceError> {
    let selected = select(ws, &Selection::default())?;
    fingerprint::expand(&ws.config, &selected).map_err(|diags| invalid(&ws.config, diags))?;
    Ok(())
}

/// Prepared state for running or planning.
pub(crate) struct Prepared {
    pub selected: BTreeSet<usize>,
    pub inputs: fingerprint::ExpandedInputs,
    pub fp: Fingerprinter,
    pub cache: Cache,
    /// None once saved: a run that hands no caches on saves it as soon as the inputs are
    /// expanded, so it is not held through the gates (13 MB at 100,000 gates).
    pub listings: Option<ListingCache>,
    /// What gates' processes see of the caller's environment.
    pub environment: GateEnvironment,
    /// The outputs of the selected gates' runtime inputs (run once each).
    pub runtime: RuntimeInputs,
}

/// Select, expand inputs (a glob matching nothing is a config error), and hash inputs and
/// artifacts in parallel through the stat cache. `timings` receives phase names and durations
/// (for `RUNNER_TIMINGS`).
pub(crate) fn prepare(
    ws: &Workspace,
    sel: &Selection,
    timings: &dyn Fn(&str, std::time::Duration),
) -> Result<Prepared, WorkspaceError> {
    let mut prepared = prepare_reusing(ws, sel, timings, None)?;
    if let Some(listings) = prepared.listings.take()
        && let Err(e) = listings.save()
    {
        prepared
            .cache
            .warn(format!("cannot save the listing cache: {e}"));
    }
    Ok(prepared)
}

/// The stat and listing caches a run leaves, for the next run in this process (`watch`), and
/// the cache with its index (read once, not per change: at 100,000 gates reading it took
/// 40 ms of every re-run).
pub(crate) struct WarmCaches {
    pub stat: StatCache,
    /// None: load it again.
    pub listings: Option<ListingCache>,
    /// None: open it again (the config changed, and with it maybe the cache's settings).
    pub cache: Option<Cache>,
}

impl Prepared {
    /// The caches this run warmed, ready for the next run (`next_run` applied).
    #[must_use]
    pub(crate) fn into_caches(self) -> WarmCaches {
        WarmCaches {
            stat: self.fp.into_stat_cache().next_run(),
            listings: self.listings.map(ListingCache::next_run),
            cache: Some(self.cache),
        }
    }
}

/// `prepare`, starting from the caches an earlier run in this process left (`None`: load them
/// from their files).
pub(crate) fn prepare_reusing(
    ws: &Workspace,
    sel: &Selection,
    timings: &dyn Fn(&str, std::time::Duration),
    warm: Option<WarmCaches>,
) -> Result<Prepared, WorkspaceError> {
    let selected = select(ws, sel)?;
    let t = Instant::now();
    let (stat, listings, cache) = match warm {
        Some(w) => (Some(w.stat), w.listings, w.cache),
        None => (None, None, None),
    };
    let settings = &ws.config.settings;
    // The stat cache is read and decoded on its own thread while the inputs are expanded: the
    // expansion does not use it, and reading it alone took a tenth of a 2,500-gate no-op.
    let (stat, expanded) = std::thread::scope(|s| {
        let stat = s.spawn(|| {
            stat.unwrap_or_else(|| StatCache::load(&settings.cache_dir.join("stat-cache.bin")))
        });
        let listings = listings
            .unwrap_or_else(|| ListingCache::load(&settings.cache_dir.join("listing-cache.bin")));
        let inputs = fingerprint::expand_cached(&ws.config, &selected, &listings);
        timings("expand", t.elapsed());
        let t = Instant::now();
        let stat = stat.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        timings("stat cache load", t.elapsed());
        (stat, inputs.map(|i| (i, listings)))
    });
    let (inputs, listings) = expanded.map_err(|diags| invalid(&ws.config, diags))?;
    let t = Instant::now();
    let cache_folder: Vec<PathBuf> = settings
        .cache_dir
        .strip_prefix(&ws.config.root)
        .ok()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .into_iter()
        .collect();
    let fp = Fingerprinter::new(&ws.config.root, stat, settings.env_mode).skipping(cache_folder);
    // Borrowed, not copied: at 100,000 gates these are half a million paths.
    let mut files: Vec<&Path> = selected
        .iter()
        .flat_map(|&g| {
            let gate = &ws.config.gates[g];
            gate.artifact_entries()
                .filter(|a| !crate::config::is_glob(a))
                .chain(gate.kind.referenced_files())
                .map(Path::new)
        })
        .collect();
    files.extend(inputs.all_files());
    files.par_sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    // By bytes too: `Path`'s own equality walks both paths' components from the end whenever
    // they differ, which all neighbours but duplicates do (9 million instructions, a tenth of
    // a 2,500-gate no-op).
    files.dedup_by(|a, b| a.as_os_str() == b.as_os_str());
    fp.prehash(&files);
    timings("prehash", t.elapsed());
    let cache = cache.unwrap_or_else(|| {
        Cache::open(&ws.config.root, &settings.cache_dir).with_remote(&ws.config)
    });
    let environment = GateEnvironment::from_process(settings.env_mode);
    let t = Instant::now();
    let runtime = RuntimeInputs::run(&ws.config, &selected, &environment);
    timings("runtime inputs", t.elapsed());
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
        listings: Some(listings),
        environment,
        runtime,
    })
}
