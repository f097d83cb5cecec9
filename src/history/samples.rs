//! Metric values read back from the end of the history: the samples baselines are made of, and
//! the series `runner status` and the HTML report draw as sparklines.
//!
//! Only lines carrying `metrics` (gates with thresholds or exports) or `baseline_accepted` are
//! parsed, found by a byte search, so a large history of gates without metrics costs a scan of
//! its tail and nothing more. Reading goes backwards from the end in chunks and stops for a gate
//! at its latest `runner baseline accept`, and for all of them once each has enough values or
//! `MAX_READ` bytes were read: a history of years costs what its recent part costs.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use crate::judge::{BaselineSamples, Sample};
use crate::vocab::Status;

/// One run's values of a gate, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Values {
    pub run: u64,
    pub at: String,
    pub status: Status,
    pub cached: bool,
    pub branch: Option<String>,
    pub machine: Option<String>,
    pub metrics: BTreeMap<String, f64>,
}

/// A `runner baseline accept` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Accepted {
    pub run: u64,
    pub at: String,
    pub reason: String,
}

/// What was read back for one gate.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GateValues {
    /// Its recorded values since its latest accept, oldest first.
    pub values: Vec<Values>,
    /// Its latest accept, when reading reached it.
    pub accepted: Option<Accepted>,
}

impl GateValues {
    /// The samples of `metric` for a baseline on `branch`: its values in runs where the gate
    /// passed and ran (a replay measured nothing new), oldest first, each with its machine;
    /// `machine` is this run's. A run whose branch was unknown (no repository, a detached HEAD
    /// without CI variables) counts as one on `branch`.
    #[must_use]
    pub(crate) fn baseline_samples(
        &self,
        metric: &str,
        branch: &str,
        machine: &str,
    ) -> BaselineSamples {
        BaselineSamples {
            branch: branch.to_owned(),
            machine: machine.to_owned(),
            samples: self
                .values
                .iter()
                .filter(|v| v.status == Status::Pass && !v.cached)
                .filter(|v| v.branch.as_deref().is_none_or(|b| b == branch))
                .filter_map(|v| {
                    Some(Sample {
                        value: *v.metrics.get(metric)?,
                        machine: v.machine.clone().unwrap_or_default(),
                    })
                })
                .collect(),
        }
    }

    /// The values of `metric` in the recorded runs (any status, branch or machine), oldest
    /// first: a sparkline's points.
    #[must_use]
    pub(crate) fn series(&self, metric: &str) -> Vec<f64> {
        self.values
            .iter()
            .filter(|v| !v.cached)
            .filter_map(|v| v.metrics.get(metric).copied())
            .collect()
    }
}

#[derive(Deserialize)]
struct Line {
    at: String,
    gate: String,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    cached: bool,
    #[serde(default)]
    run: u64,
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    machine: Option<String>,
    #[serde(default)]
    metrics: Option<BTreeMap<String, f64>>,
    #[serde(default)]
    baseline_accepted: Option<String>,
}

/// Where reading back stops for a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// At its latest `runner baseline accept` (baselines).
    Accepted,
    /// Only at `per_gate` values (sparklines show the runs before an accept too).
    Count,
}

/// The values of `gates` (every gate when None), newest `per_gate` of each at most, stopping
/// at each gate's latest accept when `until` says so. A missing or unreadable file gives
/// nothing.
#[must_use]
pub(crate) fn read_back(
    path: &Path,
    gates: Option<&[&str]>,
    per_gate: usize,
    until: Until,
) -> HashMap<String, GateValues> {
    let mut out: HashMap<String, GateValues> = HashMap::new();
    let mut done: HashMap<String, bool> = HashMap::new();
    let wanted = |g: &str| gates.is_none_or(|gs| gs.contains(&g));
    let all_done = |done: &HashMap<String, bool>| {
        gates.is_some_and(|gs| gs.iter().all(|g| done.get(*g).copied().unwrap_or(false)))
    };
    // A missing or unreadable file gives what was read of it: nothing, or the newest part.
    let _ = super::backward::batches(
        path,
        super::backward::MAX_READ,
        super::backward::CHUNK,
        |body| {
            for text in body.split(|&b| b == b'\n').rev() {
                take_line(text, &wanted, per_gate, until, &mut out, &mut done);
            }
            !all_done(&done)
        },
    );
    for v in out.values_mut() {
        v.values.reverse();
    }
    out
}

fn take_line(
    text: &[u8],
    wanted: &dyn Fn(&str) -> bool,
    per_gate: usize,
    until: Until,
    out: &mut HashMap<String, GateValues>,
    done: &mut HashMap<String, bool>,
) {
    let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
    if text.is_empty() || !(has(b"\"metrics\"") || has(b"\"baseline_accepted\"")) {
        return;
    }
    // A corrupt line is the main reader's to report; here it is only skipped.
    let Ok(line) = serde_json::from_slice::<Line>(text) else {
        return;
    };
    if !wanted(&line.gate) || done.get(&line.gate).copied().unwrap_or(false) {
        return;
    }
    let entry = out.entry(line.gate.clone()).or_default();
    if let Some(reason) = line.baseline_accepted {
        if entry.accepted.is_none() {
            entry.accepted = Some(Accepted {
                run: line.run,
                at: line.at,
                reason,
            });
        }
        if until == Until::Accepted {
            done.insert(line.gate, true);
        }
        return;
    }
    let (Some(status), Some(metrics)) = (line.status, line.metrics) else {
        return;
    };
    entry.values.push(Values {
        run: line.run,
        at: line.at,
        status,
        cached: line.cached,
        branch: line.branch,
        machine: line.machine,
        metrics,
    });
    if entry.values.len() >= per_gate {
        done.insert(line.gate, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    fn line(gate: &str, run: u64, status: &str, p95: f64) -> String {
        format!(
            "{{\"at\":\"2026-11-01T00:00:00Z\",\"gate\":\"{gate}\",\"status\":\"{status}\",\"mode\":\"blocking\",\"cached\":false,\"commit\":null,\"run\":{run},\"metrics\":{{\"p95_ms\":{p95}}},\"branch\":\"main\",\"machine\":\"m1\"}}\n"
        )
    }

    #[test]
    fn values_come_back_oldest_first_and_stop_at_the_latest_accept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("history.jsonl");
        let mut text = String::new();
        for run in 1..=5 {
            text.push_str(&line("a", run, "pass", run as f64));
        }
        text.push_str("{\"at\":\"2026-11-02T00:00:00Z\",\"gate\":\"a\",\"baseline_accepted\":\"new hardware\",\"run\":6}\n");
        for run in 7..=9 {
            text.push_str(&line("a", run, "pass", run as f64 * 10.0));
            text.push_str(&line("b", run, "fail", 1.0));
            // A gate without metrics: not parsed.
            let _ = writeln!(
                text,
                "{{\"at\":\"2026-11-02T00:00:00Z\",\"gate\":\"c\",\"status\":\"pass\",\"run\":{run}}}"
            );
        }
        std::fs::write(&path, &text).expect("write");
        let got = read_back(&path, None, 100, Until::Accepted);
        let a = &got["a"];
        assert_eq!(
            a.values
                .iter()
                .map(|v| v.metrics["p95_ms"])
                .collect::<Vec<_>>(),
            vec![70.0, 80.0, 90.0]
        );
        assert_eq!(
            a.accepted.as_ref().map(|x| x.reason.as_str()),
            Some("new hardware")
        );
        assert_eq!(got["b"].values.len(), 3);
        assert_eq!(got["b"].values[0].status, Status::Fail);
        assert!(!got.contains_key("c"));
        // Sparklines read past the accept.
        let all = read_back(&path, Some(&["a"]), 100, Until::Count);
        assert_eq!(all["a"].values.len(), 8);
        assert_eq!(all["a"].accepted.as_ref().map(|x| x.run), Some(6));
        // Only the gates asked for, at most `per_gate` of each (the newest).
        let only_b = read_back(&path, Some(&["b"]), 2, Until::Accepted);
        assert_eq!(only_b.len(), 1);
        assert_eq!(
            only_b["b"].values.iter().map(|v| v.run).collect::<Vec<_>>(),
            vec![8, 9]
        );
    }

    #[test]
    fn lines_cut_by_chunk_boundaries_are_read_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("history.jsonl");
        // More than two chunks of lines of varying length.
        let mut text = String::new();
        let mut n = 0;
        while text.len() < 2 * (1 << 20) + 12_345 {
            n += 1;
            text.push_str(&line(&format!("gate-{}", n % 7), n, "pass", n as f64 / 3.0));
        }
        std::fs::write(&path, &text).expect("write");
        let got = read_back(&path, None, usize::MAX, Until::Count);
        let total: usize = got.values().map(|g| g.values.len()).sum();
        assert_eq!(total as u64, n);
        for g in got.values() {
            assert!(g.values.windows(2).all(|w| w[0].run < w[1].run));
        }
    }
}
