//! The versioned run report (SPEC 5): the public shape every format is derived from.

use serde::{Deserialize, Serialize};

use crate::vocab::{Label, Mode, Status, exit_code};

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub version: u32,
    pub exit_code: i32,
    pub started_at: String,
    pub duration_ms: u64,
    pub summary: Summary,
    pub labels: Vec<String>,
    pub gates: Vec<GateReport>,
}

/// Counts by status, plus how many were replayed from the cache.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub skip: usize,
    pub error: usize,
    pub not_run: usize,
    pub cached: usize,
}

/// One gate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GateReport {
    pub name: String,
    pub kind: String,
    pub status: Status,
    /// Effective mode (blocking once an observational gate graduated).
    pub mode: Mode,
    pub configured_mode: Mode,
    pub cached: bool,
    pub duration_ms: u64,
    pub key: Option<String>,
    pub reason: Option<String>,
    pub artifacts: Vec<String>,
    pub thresholds: Vec<ThresholdReport>,
    /// `export` mappings resolved to values (SPEC 9).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<ExportedMetric>,
}

/// One judged threshold.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ThresholdReport {
    pub metric: String,
    pub op: String,
    pub limit: f64,
    pub value: Option<f64>,
    pub pass: bool,
}

/// An exported metric: its Prometheus name and value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExportedMetric {
    pub name: String,
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
    /// (`smoke-failed:<gate>` for each failed observational gate) and the exit code are
    /// derived here, and only here.
    #[must_use]
    pub fn from_gates(gates: Vec<GateReport>, started_at: &str, duration_ms: u128) -> Self {
        let mut summary = Summary::default();
        let mut labels = Vec::new();
        for g in &gates {
            summary.add(g.status, g.cached);
            if g.mode == Mode::Observational && matches!(g.status, Status::Fail | Status::Error) {
                labels.push(Label::SmokeFailed(g.name.clone()).to_string());
            }
        }
        Report {
            version: 1,
            exit_code: exit_code::for_run(gates.iter().map(|g| (g.mode, g.status))),
            started_at: started_at.to_owned(),
            duration_ms: u64::try_from(duration_ms).unwrap_or(u64::MAX),
            summary,
            labels,
            gates,
        }
    }
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
