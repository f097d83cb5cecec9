//! Judging a gate: its status from how it ended, its artifacts, its `JUnit` file (`junit`) and
//! its thresholds (SPEC 3).

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::config::threshold_expr::Op;
use crate::config::{Gate, Threshold};
use crate::vocab::Status;

pub(crate) mod baseline;
pub(crate) mod junit;

pub(crate) use baseline::{BaselineJudgement, BaselineSamples, Sample};

use junit::JunitError;
pub(crate) use junit::TestCase;

/// How the gate's work ended, before artifacts and thresholds are looked at.
#[derive(Debug, Clone)]
pub(crate) enum Execution {
    /// Exit 0, or a built-in check that passed (from a fresh run or the cache).
    Succeeded,
    /// Non-zero exit (not 78), or a built-in check that failed; the words say which.
    Failed(String),
    /// Exit 78, or `skip_unless_env` not met.
    Skipped(String),
    /// Could not be judged: spawn failure, timeout, a built-in that could not run.
    Broken(String),
    /// The no-op guard tripped: the check judged nothing (a built-in kind with zero items).
    Guard(String),
}

/// One threshold as judged, in the report's shape.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ThresholdResult {
    pub metric: String,
    pub op: Op,
    /// None for a baseline threshold without a baseline yet.
    pub limit: Option<f64>,
    /// None when the metric was absent or not a number.
    pub value: Option<f64>,
    pub pass: bool,
    /// For a threshold against the metric's history: the baseline and how it was judged.
    pub baseline: Option<BaselineJudgement>,
}

/// The verdict on one gate.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub status: Status,
    pub reason: Option<String>,
    pub thresholds: Vec<ThresholdResult>,
    /// The metrics JSON when it was read (for exports and reports), with the `junit` counts.
    pub metrics: Option<Value>,
    /// Why the no-op guard tripped, when it did (the status is then `error`).
    pub guard: Option<String>,
    /// The test cases of the gate's `junit` file, when it was read.
    pub tests: Vec<TestCase>,
}

/// Judge a gate whose work ended as `execution`; reads metrics under `root`. The caller says
/// which declared artifacts exist: a path, folder or glob that matches something on disk (a
/// cache hit has just verified them all); exclusions (`!...`) always exist.
#[must_use]
pub(crate) fn judge_with(
    gate: &Gate,
    root: &Path,
    execution: &Execution,
    baselines: &[BaselineSamples],
    exists: impl Fn(&str) -> bool,
) -> Verdict {
    let verdict = |status, reason: String| Verdict {
        status,
        reason: Some(reason),
        thresholds: Vec::new(),
        metrics: None,
        guard: None,
        tests: Vec::new(),
    };
    let guard = |why: String| Verdict {
        guard: Some(why.clone()),
        ..verdict(Status::Error, why)
    };
    match execution {
        Execution::Failed(why) => return failed_with_tests(gate, root, why, baselines),
        Execution::Skipped(why) => return verdict(Status::Skip, why.clone()),
        Execution::Broken(why) => return verdict(Status::Error, why.clone()),
        Execution::Guard(why) => return guard(why.clone()),
        Execution::Succeeded => {}
    }
    let missing: Vec<&str> = gate.artifact_entries().filter(|a| !exists(a)).collect();
    if !missing.is_empty() {
        return verdict(
            Status::Error,
            format!("declared artifact missing: {}", missing.join(", ")),
        );
    }
    // The gate's own test report: its cases, or why it cannot be judged.
    let tests = match &gate.junit {
        None => None,
        Some(file) => match junit::read(&root.join(file)) {
            Ok(cases) if cases.is_empty() => {
                return guard(format!(
                    "no-op guard: {file} holds 0 test cases; a gate whose tests ran nothing cannot pass"
                ));
            }
            Ok(cases) => Some(cases),
            Err(JunitError::Empty) => {
                return guard(format!(
                    "no-op guard: {file} is empty, so it holds 0 test cases; a gate whose tests ran nothing cannot pass"
                ));
            }
            Err(JunitError::Unreadable(e)) => {
                return verdict(
                    Status::Error,
                    format!("JUnit file {file}: cannot read: {e}"),
                );
            }
            Err(JunitError::Invalid(why)) => {
                return verdict(
                    Status::Error,
                    format!("JUnit file {file} is not valid JUnit XML: {why}"),
                );
            }
        },
    };
    let counts = tests.as_deref().map(|t| junit::Counts::of(t).to_json());
    if gate.thresholds.is_empty() && gate.baselines.is_empty() {
        // Nothing to judge; the metrics are still read for `export` (best effort: an export
        // that cannot be read is left out, as one whose path is absent), with the test counts.
        let file = gate
            .metrics
            .as_ref()
            .filter(|_| !gate.export.is_empty() || counts.is_some())
            .and_then(|m| read_metrics(&root.join(m)).ok());
        let metrics = match (file, counts) {
            (file, Some(c)) => Some(with_counts(
                file.unwrap_or_else(|| Value::Object(serde_json::Map::new())),
                c,
            )),
            (file, None) => file,
        };
        return Verdict {
            status: Status::Pass,
            reason: None,
            thresholds: Vec::new(),
            metrics,
            guard: None,
            tests: tests.unwrap_or_default(),
        };
    }
    let (metrics, source) = match (&gate.metrics, counts) {
        (Some(metrics_path), counts) => {
            let metrics = match read_metrics(&root.join(metrics_path)) {
                Ok(v) => v,
                // A gate with thresholds whose metrics are empty or not JSON measured nothing.
                Err(MetricsError::Empty) => {
                    return guard(format!(
                        "no-op guard: metrics file {metrics_path} is empty, so no threshold could be judged"
                    ));
                }
                Err(MetricsError::NotJson(e)) => {
                    return guard(format!(
                        "no-op guard: metrics file {metrics_path} is not valid JSON ({e}), so no threshold could be judged"
                    ));
                }
                Err(MetricsError::Unreadable(e)) => {
                    return verdict(
                        Status::Error,
                        format!("metrics file {metrics_path}: cannot read: {e}"),
                    );
                }
            };
            let metrics = match counts {
                Some(c) => with_counts(metrics, c),
                None => metrics,
            };
            (metrics, metrics_path.clone())
        }
        (None, Some(counts)) => (
            with_counts(Value::Object(serde_json::Map::new()), counts),
            format!(
                "the test counts of {}",
                gate.junit.as_deref().unwrap_or("?")
            ),
        ),
        (None, None) => {
            return verdict(
                Status::Error,
                "thresholds set but no metrics file".to_owned(),
            );
        }
    };
    let (results, problem) = check_all(gate, baselines, &metrics, &source);
    let status;
    let reason;
    if let Some(problem) = problem {
        status = Status::Error;
        reason = Some(problem);
    } else {
        let mut failed: Vec<String> = results.iter().filter(|r| !r.pass).map(failure).collect();
        status = if failed.is_empty() {
            Status::Pass
        } else {
            Status::Fail
        };
        if status == Status::Fail
            && let Some(names) = tests.as_deref().and_then(junit::failed_summary)
        {
            failed.push(names);
        }
        reason = (!failed.is_empty()).then(|| failed.join("; "));
    }
    Verdict {
        status,
        reason,
        thresholds: results,
        metrics: Some(metrics),
        guard: None,
        tests: tests.unwrap_or_default(),
    }
}

/// A command that exited non-zero: it failed, whatever its tests say. When it has a `junit`
/// file that reads, its failed tests are named in the reason, its cases are kept, and its
/// thresholds are judged for the report (a file that does not read changes nothing: the
/// command's failure is the verdict).
fn failed_with_tests(
    gate: &Gate,
    root: &Path,
    why: &str,
    baselines: &[BaselineSamples],
) -> Verdict {
    let mut verdict = Verdict {
        status: Status::Fail,
        reason: Some(why.to_owned()),
        thresholds: Vec::new(),
        metrics: None,
        guard: None,
        tests: Vec::new(),
    };
    let Some(file) = &gate.junit else {
        return verdict;
    };
    let Ok(tests) = junit::read(&root.join(file)) else {
        return verdict;
    };
    if let Some(names) = junit::failed_summary(&tests) {
        verdict.reason = Some(format!("{why}; {names}"));
    }
    let counts = junit::Counts::of(&tests).to_json();
    let metrics = match &gate.metrics {
        Some(m) => match read_metrics(&root.join(m)) {
            Ok(v) => Some((with_counts(v, counts), m.clone())),
            Err(_) => None,
        },
        None => Some((
            with_counts(Value::Object(serde_json::Map::new()), counts),
            format!("the test counts of {file}"),
        )),
    };
    if let Some((metrics, source)) = metrics {
        verdict.thresholds = check_all(gate, baselines, &metrics, &source).0;
        verdict.metrics = Some(metrics);
    }
    verdict.tests = tests;
    verdict
}

/// The metrics document with the `JUnit` counts under `junit` (replacing a `junit` key of its
/// own); a document that is not an object is left as it is.
fn with_counts(mut metrics: Value, counts: Value) -> Value {
    if let Value::Object(map) = &mut metrics {
        map.insert("junit".to_owned(), counts);
    }
    metrics
}

/// A number as people write it: no trailing `.0`.
#[must_use]
pub(crate) fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        format!("{n}")
    }
}

/// Why a metrics file could not be used.
enum MetricsError {
    Unreadable(std::io::Error),
    Empty,
    NotJson(serde_json::Error),
}

fn read_metrics(path: &Path) -> Result<Value, MetricsError> {
    let bytes = std::fs::read(path).map_err(MetricsError::Unreadable)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(MetricsError::Empty);
    }
    serde_json::from_slice(&bytes).map_err(MetricsError::NotJson)
}

/// A failed threshold in words: fixed (`threshold p95 <= 50 failed: value 61`) or against its
/// baseline (the change, the baseline and where it comes from).
fn failure(r: &ThresholdResult) -> String {
    let value = r.value.unwrap_or(f64::NAN);
    match (&r.baseline, r.limit) {
        (Some(j), Some(limit)) => baseline::reason(&r.metric, r.op, value, limit, j),
        _ => format!(
            "threshold {} {} {} failed: value {}",
            r.metric,
            r.op,
            r.limit.map_or_else(|| "none".to_owned(), fmt_num),
            r.value
                .map_or_else(|| "none".to_owned(), crate::vocab::metric_path::for_people)
        ),
    }
}

/// The fixed thresholds, then those against a baseline, judged against a metrics document; the
/// second value names the first metric that was absent or not a number.
fn check_all(
    gate: &Gate,
    baselines: &[BaselineSamples],
    metrics: &Value,
    file: &str,
) -> (Vec<ThresholdResult>, Option<String>) {
    let (mut results, mut problem) = check_thresholds(&gate.thresholds, metrics, file);
    for (i, rule) in gate.baselines.iter().enumerate() {
        let found = rule.metric.lookup(metrics);
        let value = found.and_then(Value::as_f64);
        let Some(v) = value else {
            if problem.is_none() {
                problem = Some(match found {
                    None => format!("metric `{}` is absent from {file}", rule.metric),
                    Some(v) => format!("metric `{}` in {file} is not a number: {v}", rule.metric),
                });
            }
            results.push(ThresholdResult {
                metric: rule.metric.to_string(),
                op: rule.expr.op,
                limit: None,
                value: None,
                pass: false,
                baseline: None,
            });
            continue;
        };
        let unknown = BaselineSamples {
            branch: "(unknown branch)".to_owned(),
            ..BaselineSamples::default()
        };
        let samples = baselines.get(i).unwrap_or(&unknown);
        let (limit, pass, judgement) = baseline::judge(rule, v, samples);
        results.push(ThresholdResult {
            metric: rule.metric.to_string(),
            op: rule.expr.op,
            limit,
            value,
            pass,
            baseline: Some(judgement),
        });
    }
    (results, problem)
}

/// Evaluate thresholds against a metrics document. The second value names the first metric that
/// was absent or not a number (which makes the gate an `error`, not a `fail`).
#[must_use]
pub(crate) fn check_thresholds(
    thresholds: &[Threshold],
    metrics: &Value,
    file: &str,
) -> (Vec<ThresholdResult>, Option<String>) {
    let mut problem = None;
    let results = thresholds
        .iter()
        .map(|t| {
            let found = t.metric.lookup(metrics);
            let value = found.and_then(Value::as_f64);
            if value.is_none() && problem.is_none() {
                problem = Some(match found {
                    None => format!("metric `{}` is absent from {file}", t.metric),
                    Some(v) => format!("metric `{}` in {file} is not a number: {v}", t.metric),
                });
            }
            ThresholdResult {
                metric: t.metric.to_string(),
                op: t.expr.op,
                limit: Some(t.expr.limit),
                value,
                pass: value.is_some_and(|v| t.expr.op.holds(v, t.expr.limit)),
                baseline: None,
            }
        })
        .collect();
    (results, problem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::threshold_expr::parse;
    use serde_json::json;

    fn t(metric: &str, expr: &str) -> Threshold {
        Threshold {
            metric: crate::vocab::MetricPath::parse(metric).unwrap(),
            expr: parse(expr).unwrap(),
        }
    }

    #[test]
    fn thresholds_judged() {
        let m = json!({"sign_p95_ms": 0.5, "nested": {"list": [1, 2, 30]}, "s": "fast"});
        let (r, problem) = check_thresholds(
            &[t("sign_p95_ms", "<= 50"), t("nested.list[2]", "< 10")],
            &m,
            "m.json",
        );
        assert!(problem.is_none());
        assert!(r[0].pass);
        assert!(!r[1].pass);
        assert_eq!(r[1].value, Some(30.0));
        let (_, problem) = check_thresholds(&[t("missing", "<= 1")], &m, "m.json");
        assert_eq!(problem.unwrap(), "metric `missing` is absent from m.json");
        let (_, problem) = check_thresholds(&[t("s", "<= 1")], &m, "m.json");
        assert!(problem.unwrap().contains("not a number"));
    }
}
