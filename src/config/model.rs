//! The validated configuration: what the rest of the runner works from.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use super::threshold_expr::{BaselineExpr, ThresholdExpr};
use crate::kinds::GateKind;
use crate::vocab::{MetricPath, Mode};

/// A loaded and validated gates.toml.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file as the user named it, for messages.
    pub file_name: String,
    /// The config file's folder: every relative path resolves against it.
    pub root: PathBuf,
    /// The file's text when this process parsed it, for diagnostics that come later (globs
    /// matching nothing); empty when the config came from the snapshot, which a no-op run
    /// does without holding the text (26 MB at 100,000 gates): `source_text` reads it then.
    pub source: String,
    /// `[settings]`, with defaults filled in.
    pub settings: Settings,
    /// In declaration order.
    pub gates: Vec<Gate>,
}

impl Config {
    /// The config file's text: the one parsed in this process, else read again (the config
    /// came from the snapshot; empty when the file cannot be read).
    #[must_use]
    pub fn source_text(&self) -> std::borrow::Cow<'_, str> {
        if !self.source.is_empty() {
            return std::borrow::Cow::Borrowed(&self.source);
        }
        let name = std::path::Path::new(&self.file_name)
            .file_name()
            .unwrap_or_default();
        std::borrow::Cow::Owned(std::fs::read_to_string(self.root.join(name)).unwrap_or_default())
    }

    /// The gates by name, for code that looks up many names (one lookup each, not a pass
    /// over every gate: log pruning asks of every log, a report of every gate it lists).
    #[must_use]
    pub fn gates_by_name(&self) -> std::collections::HashMap<&str, &Gate> {
        self.gates.iter().map(|g| (g.name.as_str(), g)).collect()
    }
}

/// `[settings]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Absolute.
    pub cache_dir: PathBuf,
    /// Absolute.
    pub history: PathBuf,
    /// 0 = number of CPUs.
    pub jobs: usize,
    /// Green days after which observational gates graduate, unless a gate sets its own; 0 =
    /// never (default 7).
    pub graduate_after_days: u32,
    /// `[settings.remote_cache]`; None when the table is absent (no remote cache).
    pub remote_cache: Option<RemoteCacheSettings>,
    /// `[settings.signing]`; None when the table is absent (nothing is signed or checked).
    pub signing: Option<SigningSettings>,
    /// What a gate's process sees of the caller's environment (default strict).
    pub env_mode: EnvMode,
    /// `[settings.resources]`: (name, how many gates using it may run at once), sorted by
    /// name; every count is at least 1.
    pub resources: Vec<(String, u32)>,
    /// `[settings.cache]`: the local cache's budget (defaults when the table is absent).
    pub cache: CacheSettings,
}

impl Settings {
    /// How many gates using `resource` may run at once; None when it is not declared.
    #[must_use]
    pub fn resource_limit(&self, resource: &str) -> Option<u32> {
        self.resources
            .iter()
            .find(|(name, _)| name == resource)
            .map(|(_, n)| *n)
    }
}

/// `[settings.cache]` (SPEC 11): the budget of the local cache folder. Past it, the least
/// recently used entries are evicted at the end of a run (docs/caching.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// Bytes the cache folder may take (default 5 GiB): its entries and the files directly in
    /// it (index, stat and listing caches, ledger, report), not its logs, which are bounded
    /// on their own (`cache::evict`).
    pub max_size: u64,
    /// Entries not used for this long are evicted (default 30 days).
    pub max_age: Duration,
}

impl Default for CacheSettings {
    /// 5 GiB and 30 days: docs/caching.md says why.
    fn default() -> Self {
        CacheSettings {
            max_size: 5 << 30,
            max_age: Duration::from_secs(30 * 86_400),
        }
    }
}

/// `[settings] env_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnvMode {
    /// A gate sees its `env` (keyed), its `pass_env` (not keyed) and a documented base
    /// (PATH, HOME, locale, CI identity...), nothing else.
    #[default]
    Strict,
    /// A gate sees the caller's whole environment (only `env` is keyed).
    Loose,
}

impl EnvMode {
    /// The word `gates.toml` spells it with (`strict`, `loose`); it enters every key.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EnvMode::Strict => "strict",
            EnvMode::Loose => "loose",
        }
    }
}

/// `[settings.remote_cache]` (SPEC 10).
#[derive(Debug, Clone)]
pub struct RemoteCacheSettings {
    /// The server's base URL; `RUNNER_REMOTE_CACHE_URL` overrides it, and without either the
    /// remote is off.
    pub url: Option<String>,
    /// Sent as `?teamId=` (default `runner`).
    pub team: String,
    /// The variable holding the bearer token (default `RUNNER_REMOTE_CACHE_TOKEN`).
    pub token_env: String,
    /// Look entries up in the remote (default true).
    pub read: bool,
    /// Upload entries to the remote (default false); writes also need `[settings.signing]` and
    /// its key.
    pub write: bool,
    /// Per-request timeout (default 10 s); past it the remote costs a warning and is turned off.
    pub timeout: Duration,
}

/// `[settings.signing]` (SPEC 10).
#[derive(Debug, Clone)]
pub struct SigningSettings {
    /// The variable holding the secret key's path or the key itself, base64 (default
    /// `RUNNER_SIGNING_KEY`).
    pub key_env: String,
    /// Paths relative to the config folder.
    pub trusted_keys: Vec<String>,
}

/// One entry of `inputs`.
#[derive(Debug, Clone)]
pub struct InputGlob {
    /// The glob without its leading `!`.
    pub pattern: String,
    /// `"!glob"`: excludes what it matches.
    pub exclude: bool,
    /// Where it is written, for "matches no file".
    pub span: Range<usize>,
}

/// `needs = [{ gate = "test", artifacts = [".coverage"] }]`: only these artifacts of the need
/// enter this gate's key (a timestamped report beside them does not defeat early cutoff).
#[derive(Debug, Clone)]
pub struct NarrowedNeed {
    /// The needed gate.
    pub gate: String,
    /// Its artifacts that enter the key.
    pub artifacts: Vec<String>,
    /// Where the need is written, for messages.
    pub span: Range<usize>,
}

/// One threshold: `metric = "<op> <limit>"`.
#[derive(Debug, Clone)]
pub struct Threshold {
    /// Dotted path into the metrics JSON (`a.b[2].c`).
    pub metric: MetricPath,
    /// The comparison the metric's value must pass.
    pub expr: ThresholdExpr,
}

/// How a baseline sums up its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Statistic {
    /// The middle value (the mean of the two middle ones for an even count).
    #[default]
    Median,
    /// The arithmetic mean.
    Mean,
    /// The smallest sample.
    Min,
    /// The largest sample.
    Max,
}

impl Statistic {
    /// Every statistic, as written in gates.toml.
    pub const ALL: [(&'static str, Statistic); 4] = [
        ("median", Statistic::Median),
        ("mean", Statistic::Mean),
        ("min", Statistic::Min),
        ("max", Statistic::Max),
    ];

    /// The name as written in gates.toml.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::Median => "median",
            Statistic::Mean => "mean",
            Statistic::Min => "min",
            Statistic::Max => "max",
        }
    }
}

/// A threshold against the metric's own history: `p95_ms = "<= baseline * 1.10"` or the table
/// `{ max_regression = "10%", window = 20, branch = "main", min_samples = 5, min_delta = 2.0,
/// statistic = "median" }`.
#[derive(Debug, Clone)]
pub struct BaselineThreshold {
    /// Dotted path into the metrics JSON.
    pub metric: MetricPath,
    /// The comparison, and how the limit follows the baseline.
    pub expr: BaselineExpr,
    /// How many of the latest comparable passing runs make the baseline (default 20).
    pub window: u32,
    /// The branch whose runs make the baseline; None = the run's base branch (`--base-branch`,
    /// `GITHUB_BASE_REF`, else the repository's default branch).
    pub branch: Option<String>,
    /// Fewer comparable samples than this: the threshold is judged but only observed (default 5).
    pub min_samples: u32,
    /// A change smaller than this (absolute, in the metric's unit) never fails (default 0).
    pub min_delta: f64,
    /// How the samples are summed up (default median).
    pub statistic: Statistic,
}

/// The default `window` of a baseline threshold.
pub(crate) const BASELINE_WINDOW: u32 = 20;
/// The default `min_samples` of a baseline threshold.
pub(crate) const BASELINE_MIN_SAMPLES: u32 = 5;

/// A validated gate.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The gate's name: the key of its `[gates.<name>]` table.
    pub name: String,
    /// `description`: free text for people reading gates.toml; None when not set.
    pub description: Option<String>,
    /// The kind and its kind-specific settings (`command` with `run` by default).
    pub kind: GateKind,
    /// `kind` serialised as it enters the cache key (`{"kind":"command","run":"..."}`), made
    /// once when the config is loaded (and kept in the config snapshot), not per run.
    pub kind_json: String,
    /// The configured mode (default blocking); the effective mode may differ after graduation.
    pub mode: Mode,
    /// Names of the gates that must pass or skip first, deduplicated, in written order.
    pub needs: Vec<String>,
    /// The `inputs` globs, in written order: they select the files that enter the cache key.
    pub inputs: Vec<InputGlob>,
    /// `allow_empty = true`: an input glob that matches no file is not a config error.
    pub allow_empty: bool,
    /// Leave out the files git ignores from the globs' matches (default true); a file named
    /// exactly is never left out.
    pub gitignore: bool,
    /// Sorted, deduplicated.
    pub env: Box<[String]>,
    /// Needs whose artifacts enter the key only in part (`needs = [{ gate, artifacts }]`).
    pub narrowed: Box<[NarrowedNeed]>,
    /// Folders outside the repository whose files the gate may read without declaring them
    /// (toolchains, package caches): `--trace-inputs` does not list them. Absolute or `~/...`.
    pub tool_dirs: Box<[String]>,
    /// Commands whose output enters the key (`inputs = [{ run = "mypy --version" }]`), in
    /// order, deduplicated.
    pub runtime_inputs: Box<[String]>,
    /// Variables passed to the gate's process but not keyed (tokens, paths of caches):
    /// exact names, or a prefix ending in `*`. Sorted, deduplicated.
    pub pass_env: Box<[String]>,
    /// As declared, relative to the config folder and normalised (no `.`/`..`): paths named
    /// exactly (a file, or a folder meaning everything under it), globs (`dist/**`) and
    /// exclusions (`!dist/tmp/**`). For built-in kinds this always includes the JSON artifact
    /// they write.
    pub artifacts: Vec<String>,
    /// The JSON file thresholds read (one of `artifacts` or another file).
    pub metrics: Option<String>,
    /// `junit = "out/pytest.xml"` (command gates): the `JUnit` XML the command writes, one of
    /// `artifacts`. Its test cases are counted into the metrics as `junit.*`, its failed tests
    /// named in the reason and its cases carried into the report.
    pub junit: Option<String>,
    /// How long the gate may run before its process group is killed (default 30 minutes).
    pub timeout: Duration,
    /// `retries = N`: how many times a failed attempt is run again; None = the run's
    /// `--retries` (else 0). Never part of the key.
    pub retries: Option<u32>,
    /// `uses = ["db"]`: the resources of `[settings.resources]` the gate holds while it runs,
    /// sorted and deduplicated (the order every runner acquires them in). Never part of the key.
    pub uses: Box<[String]>,
    /// False when the gate sets `cache = false`: its runs are neither stored nor replayed.
    pub cache: bool,
    /// `tags`, for selecting gates with `--tag`.
    pub tags: Box<[String]>,
    /// (variable, value) pairs that must all hold in the environment, else the gate ends `skip`.
    pub skip_unless_env: Box<[(String, String)]>,
    /// This gate's own `graduate_after_days`; None = the settings' value.
    pub graduate_after_days: Option<u32>,
    /// The `thresholds` table's fixed limits, in written order.
    pub thresholds: Box<[Threshold]>,
    /// The `thresholds` table's limits against the metric's history, in written order.
    pub baselines: Box<[BaselineThreshold]>,
    /// `export = {"pqc.verify.latency" = "verify_p95_ms"}`: (exported name, metric path).
    pub export: Box<[(String, MetricPath)]>,
    /// Span of the gate's table header, for messages about the gate as a whole.
    pub span: Range<usize>,
}

impl Gate {
    /// Replayed from the cache unless `cache = false` or its kind measures the machine
    /// (`Kind::measures`: SPEC 7, http is never cached). Built-in kinds that only read files
    /// (schema, policy, checklist) replay like commands.
    #[must_use]
    pub fn cacheable(&self) -> bool {
        self.cache && !self.kind.measures()
    }

    /// The `skip_unless_env` conditions that `env` does not meet, as `NAME=value`; empty when
    /// the gate is not skipped.
    pub fn unmet_conditions(&self, env: impl Fn(&str) -> Option<String>) -> Vec<String> {
        self.skip_unless_env
            .iter()
            .filter(|(k, v)| env(k).as_deref() != Some(v.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    /// The positive entries of `artifacts` (paths and globs; exclusions left out).
    pub fn artifact_entries(&self) -> impl Iterator<Item = &str> {
        self.artifacts
            .iter()
            .map(String::as_str)
            .filter(|a| !a.starts_with('!'))
    }

    /// The exclusions of `artifacts`, without their `!`.
    pub fn artifact_exclusions(&self) -> impl Iterator<Item = &str> {
        self.artifacts.iter().filter_map(|a| a.strip_prefix('!'))
    }

    /// Every artifact is a path named exactly (no glob, no exclusion), as every gate's were
    /// before artifact sets. Such a path may still be a folder on disk.
    #[must_use]
    pub fn exact_artifacts(&self) -> bool {
        self.artifacts
            .iter()
            .all(|a| !a.starts_with('!') && !is_glob(a))
    }

    /// The artifacts of `need` that enter this gate's key: all it declares, unless this gate
    /// narrowed them (the need's exclusions apply either way).
    #[must_use]
    pub fn keyed_artifacts_of<'a>(&self, need: &'a Gate) -> Vec<&'a str> {
        match self.narrowed.iter().find(|n| n.gate == need.name) {
            Some(n) => need
                .artifact_entries()
                .filter(|a| n.artifacts.iter().any(|k| k == a))
                .collect(),
            None => need.artifact_entries().collect(),
        }
    }

    /// Days of green streak after which this (observational) gate graduates; 0 = never.
    #[must_use]
    pub fn graduate_after(&self, settings: &Settings) -> u32 {
        self.graduate_after_days
            .unwrap_or(settings.graduate_after_days)
    }
}

/// Does an `artifacts` or `inputs` entry hold a wildcard (`*`, `?`, `[`, `{`)? Without one it
/// names a path exactly.
#[must_use]
pub fn is_glob(entry: &str) -> bool {
    entry.contains(['*', '?', '[', '{'])
}

#[cfg(test)]
mod tests {
    #[test]
    fn gates_by_name_finds_every_gate_by_its_name_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = crate::config::parse(
            "gates.toml",
            "version = 1\n[gates.build]\nrun = \"true\"\n[gates.lint-all]\nrun = \"true\"\n",
            dir.path(),
        )
        .expect("config");
        let by_name = config.gates_by_name();
        assert_eq!(by_name.len(), 2);
        for gate in &config.gates {
            assert!(
                std::ptr::eq(by_name[gate.name.as_str()], gate),
                "{}",
                gate.name
            );
        }
        assert!(!by_name.contains_key("lint") && !by_name.contains_key("build.log"));
    }
}
