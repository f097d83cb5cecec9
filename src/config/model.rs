//! The validated configuration: what the rest of the runner works from.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use super::threshold_expr::ThresholdExpr;
use crate::kinds::GateKind;
use crate::vocab::{MetricPath, Mode};

/// A loaded and validated gates.toml.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file as the user named it, for messages.
    pub file_name: String,
    /// The config file's folder: every relative path resolves against it.
    pub root: PathBuf,
    /// The file's text, kept for diagnostics that come later (globs matching nothing).
    pub source: String,
    pub settings: Settings,
    /// In declaration order.
    pub gates: Vec<Gate>,
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
    pub graduate_after_days: u32,
    pub remote_cache: Option<RemoteCacheSettings>,
    pub signing: Option<SigningSettings>,
}

/// `[settings.remote_cache]` (SPEC 10).
#[derive(Debug, Clone)]
pub struct RemoteCacheSettings {
    pub url: Option<String>,
    pub team: String,
    pub token_env: String,
    pub read: bool,
    pub write: bool,
    pub timeout: Duration,
}

/// `[settings.signing]` (SPEC 10).
#[derive(Debug, Clone)]
pub struct SigningSettings {
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

/// One threshold: `metric = "<op> <limit>"`.
#[derive(Debug, Clone)]
pub struct Threshold {
    /// Dotted path into the metrics JSON (`a.b[2].c`).
    pub metric: MetricPath,
    pub expr: ThresholdExpr,
}

/// A validated gate.
#[derive(Debug, Clone)]
pub struct Gate {
    pub name: String,
    pub description: Option<String>,
    pub kind: GateKind,
    /// `kind` serialised as it enters the cache key (`{"kind":"command","run":"..."}`), made
    /// once when the config is loaded (and kept in the config snapshot), not per run.
    pub kind_json: String,
    pub mode: Mode,
    pub needs: Vec<String>,
    pub inputs: Vec<InputGlob>,
    pub allow_empty: bool,
    /// Sorted, deduplicated.
    pub env: Vec<String>,
    /// Relative to the config folder, normalised (no `.`/`..`). For built-in kinds this always
    /// includes the JSON artifact they write.
    pub artifacts: Vec<String>,
    /// The JSON file thresholds read (one of `artifacts` or another file).
    pub metrics: Option<String>,
    pub timeout: Duration,
    pub cache: bool,
    pub tags: Vec<String>,
    pub skip_unless_env: Vec<(String, String)>,
    pub graduate_after_days: Option<u32>,
    pub thresholds: Vec<Threshold>,
    /// `export = {"pqc.verify.latency" = "verify_p95_ms"}`: (exported name, metric path).
    pub export: Vec<(String, MetricPath)>,
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

    /// Days of green streak after which this (observational) gate graduates; 0 = never.
    #[must_use]
    pub fn graduate_after(&self, settings: &Settings) -> u32 {
        self.graduate_after_days
            .unwrap_or(settings.graduate_after_days)
    }
}
