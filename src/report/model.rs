//! The versioned run report (SPEC 5): the public shape every format is derived from.

use serde::{Deserialize, Serialize};

use crate::vocab::exit_code::Outcome;
use crate::vocab::{Label, Mode, Status, TestStatus};

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Report format version: always 1.
    pub version: u32,
    /// What the run came to: `pass`, `fail` (a blocking gate did not pass) or `skipped` (every
    /// gate skipped).
    #[serde(default)]
    pub outcome: Outcome,
    /// The exit code the process used: SPEC 3's for the outcome (0, 1, 78), or the
    /// `--skip-exit-code` value when every gate skipped.
    pub exit_code: i32,
    /// When the run started, RFC 3339 (`--now` or `RUNNER_NOW` when set); the earliest of merged
    /// shard reports.
    pub started_at: String,
    /// Wall time of the whole run, in milliseconds (the longest shard's when merged).
    pub duration_ms: u64,
    /// Gates by status, and how many were replayed from the cache.
    pub summary: Summary,
    /// Labels for a CI step to put on the pull request: `smoke-failed:<gate>` per observational
    /// gate that ended `fail` or `error`, `flaky:<gate>` per gate that passed only on a retry.
    pub labels: Vec<String>,
    /// Every selected gate, in declaration order.
    pub gates: Vec<GateReport>,
}

/// Counts by status, plus how many were replayed from the cache.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    /// Gates that ended `pass`.
    pub pass: usize,
    /// Gates that ended `fail`.
    pub fail: usize,
    /// Gates that ended `skip`.
    pub skip: usize,
    /// Gates that ended `error`.
    pub error: usize,
    /// Gates that ended `not_run`.
    pub not_run: usize,
    /// Gates replayed from the cache (each also counted under its status).
    pub cached: usize,
}

/// A gate's place in its run: the lane and the span, in milliseconds from the run's start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RanAt {
    /// `worker 1`, `worker 2`, ... for gates a worker ran (or looked up remotely), `scheduler`
    /// for replays, skips and gates not run.
    pub lane: String,
    /// When its work began (its lock, lookups and attempts included).
    pub start_ms: u64,
    /// When it was decided.
    pub end_ms: u64,
}

/// One gate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GateReport {
    /// The gate's name in gates.toml.
    pub name: String,
    /// The gate's kind (`command`, `schema`, `policy`, `checklist`, `http`, `pqc-bench`).
    pub kind: String,
    /// How the gate ended (SPEC 3).
    pub status: Status,
    /// Effective mode (blocking once an observational gate graduated).
    pub mode: Mode,
    /// Mode as written in gates.toml.
    pub configured_mode: Mode,
    /// Replayed from the cache: no process ran.
    pub cached: bool,
    /// Passed only on a retry (`retries`): an earlier attempt failed. Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flaky: bool,
    /// How many times the gate ran in this run, when more than once (`retries`).
    #[serde(default, skip_serializing_if = "is_at_most_one")]
    pub attempts: u32,
    /// The gate's `description`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Wall time of the gate in this run, in milliseconds (0 when it never started).
    pub duration_ms: u64,
    /// Cache key (BLAKE3, hex); None when the gate was `not_run` or skipped by `skip_unless_env`
    /// before its key was computed.
    pub key: Option<String>,
    /// Why the gate did not pass, in words (exit code, threshold, missing artifact, dependency);
    /// None when it passed.
    pub reason: Option<String>,
    /// Declared artifact paths, relative to the config file's folder.
    pub artifacts: Vec<String>,
    /// Every threshold, judged; empty when the gate has none or ended before they were read.
    pub thresholds: Vec<ThresholdReport>,
    /// `export` mappings resolved to values (SPEC 9).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<ExportedMetric>,
    /// Why the no-op guard tripped (the check judged nothing, so the status is `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<String>,
    /// Under `--trace-inputs`: the files the gate read that its key does not hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undeclared_reads: Vec<UndeclaredReport>,
    /// What a built-in check found wrong, and where (for annotations on the diff).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<FindingReport>,
    /// The test cases of the gate's `junit` file, in its order (fresh or restored from the
    /// cache); empty when the gate has none or the file was not read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestCaseReport>,
    /// Why the gate ran rather than replayed from the cache (the `explain` diff); recorded by
    /// runs that write an HTML report (`--html`), else absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Where and when it ran in the run (the HTML timeline's lanes); recorded, like `why`, by
    /// runs that write an HTML report, else absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran: Option<RanAt>,
}

/// One test case of a gate's `JUnit` XML.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TestCaseReport {
    /// The test's `name`.
    pub name: String,
    /// Its `classname`, when the file gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classname: Option<String>,
    /// How it ended: `pass`, `fail`, `error` or `skip`.
    pub status: TestStatus,
    /// For a failed, errored or skipped test: the first line of its message (or of its text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Its `time`, in milliseconds, when the file gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
}

/// A file a traced gate read without declaring it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UndeclaredReport {
    /// Relative to the config folder inside the repository, else absolute.
    pub path: String,
    /// A glob for `inputs` that covers it (absent outside the repository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

/// One thing a check found wrong, and where.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FindingReport {
    /// The file, relative to the config folder.
    pub file: String,
    /// 1-based line, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// What is wrong, in words.
    pub message: String,
}

/// One judged threshold.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ThresholdReport {
    /// Path into the metrics JSON (`a.b[2].c`).
    pub metric: String,
    /// Comparison operator (`<`, `<=`, `>`, `>=`, `==`, `!=`).
    pub op: String,
    /// The limit: from gates.toml, or computed from the baseline; None for a baseline
    /// threshold without a comparable baseline yet.
    pub limit: Option<f64>,
    /// The metric's value; None when absent or not a number (the gate then ends `error`).
    pub value: Option<f64>,
    /// Whether the threshold passed: `value op limit` holds (for a baseline threshold: or the
    /// change is within `min_delta`, or it is only observed).
    pub pass: bool,
    /// For a threshold against the metric's history: the baseline and how it was judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineReport>,
}

/// A threshold's baseline: the statistic of the metric in the latest comparable passing runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BaselineReport {
    /// The expression, as `<= baseline * 1.1`.
    pub expr: String,
    /// `median`, `mean`, `min` or `max`.
    pub statistic: String,
    /// The branch whose runs make the baseline.
    pub branch: String,
    /// How many latest comparable samples the baseline may use.
    pub window: u32,
    /// How many it used.
    pub samples: usize,
    /// Below this many samples the threshold is only observed.
    pub min_samples: u32,
    /// Samples left out because another machine measured them.
    pub other_machines: usize,
    /// The baseline; None when no comparable sample exists.
    pub value: Option<f64>,
    /// The value's change against the baseline, in percent.
    pub change_pct: Option<f64>,
    /// The limit held (or the change was within `min_delta`).
    pub holds: bool,
    /// Too few comparable samples: judged, but it cannot fail the gate.
    pub observed_only: bool,
    /// Why it is only observed, or why a broken limit did not fail, in words.
    pub note: Option<String>,
}

/// An exported metric: its Prometheus name and value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExportedMetric {
    /// Prometheus metric name: the configured name with dots replaced by `_`.
    pub name: String,
    /// The metric's value, read from the gate's metrics JSON.
    pub value: f64,
}

impl std::fmt::Display for Summary {
    /// `5 pass, 0 fail, 1 skip, 0 error, 0 not run (3 cached)`: the one-line summary.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} pass, {} fail, {} skip, {} error, {} not run ({} cached)",
            self.pass, self.fail, self.skip, self.error, self.not_run, self.cached
        )
    }
}

impl Report {
    /// The report of a run (or of merged shard runs) from its gates: the summary, the labels
    /// (`smoke-failed:<gate>` for each failed observational gate, `flaky:<gate>` for each
    /// flaky pass) and the exit code are derived here, and only here.
    #[must_use]
    pub fn from_gates(gates: Vec<GateReport>, started_at: &str, duration_ms: u128) -> Self {
        let mut summary = Summary::default();
        let mut labels = Vec::new();
        for g in &gates {
            summary.add(g.status, g.cached);
            if g.mode == Mode::Observational && matches!(g.status, Status::Fail | Status::Error) {
                labels.push(Label::SmokeFailed(g.name.clone()).to_string());
            }
            if g.flaky && g.status == Status::Pass {
                labels.push(Label::Flaky(g.name.clone()).to_string());
            }
        }
        let outcome = Outcome::of(gates.iter().map(|g| (g.mode, g.status)));
        Report {
            version: 1,
            outcome,
            exit_code: outcome.code(),
            started_at: started_at.to_owned(),
            duration_ms: u64::try_from(duration_ms).unwrap_or(u64::MAX),
            summary,
            labels,
            gates,
        }
    }
}

/// `attempts` is left out of the JSON when the gate ran once (or not at all).
fn is_at_most_one(n: &u32) -> bool {
    *n <= 1
}

impl Summary {
    /// Count a gate.
    pub fn add(&mut self, status: Status, cached: bool) {
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Skip => self.skip += 1,
            Status::Error => self.error += 1,
            Status::NotRun => self.not_run += 1,
        }
        if cached {
            self.cached += 1;
        }
    }
}
