//! Prometheus text exposition (`--metrics`, SPEC 9): per-gate duration, status, cached flag and
//! threshold metric values, cache hit and miss totals, and every `export` mapping as a gauge.
//!
//! Every family has `# HELP` and `# TYPE` lines and is written only when it has samples. Cache
//! counters count over the run: a *hit* is a gate replayed from the cache; a *miss* is a gate
//! that reached the cache lookup (its needs passed, `skip_unless_env` was met), could have been
//! replayed (`cache = true`, not `http`), and was executed instead (no entry, or `--no-cache`).
//! Gates that cannot be cached and gates that never got that far count as neither.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Report;
use crate::config::Config;
use crate::vocab::Status;

/// Every status, in the order the `runner_gate_status` series are written.
const STATUSES: [Status; 5] = [
    Status::Pass,
    Status::Fail,
    Status::Skip,
    Status::Error,
    Status::NotRun,
];

/// The families this module writes itself; an export with one of these names is left out.
const BUILT_IN: [&str; 7] = [
    "runner_gate_duration_seconds",
    "runner_gate_status",
    "runner_gate_cached",
    "runner_gate_metric",
    "runner_cache_hits_total",
    "runner_cache_misses_total",
    "runner_run_exit_code",
];

/// One metric family being written.
struct Family {
    name: String,
    help: String,
    kind: &'static str,
    /// Label set to value, in the order first sampled; a map, so a family of a sample per
    /// gate stays linear (a scan per sample took 26 s for `--metrics` at 20,000 gates).
    samples: indexmap::IndexMap<Vec<(&'static str, String)>, f64>,
}

impl Family {
    fn new(name: &str, kind: &'static str, help: &str) -> Self {
        Family {
            name: name.to_owned(),
            help: help.to_owned(),
            kind,
            samples: indexmap::IndexMap::new(),
        }
    }

    /// Add a sample; a second one with the same labels is dropped (a series appears once).
    fn sample(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        self.samples.entry(labels).or_insert(value);
    }

    fn write(&self, out: &mut String) {
        if self.samples.is_empty() {
            return;
        }
        let _ = writeln!(out, "# HELP {} {}", self.name, escape_help(&self.help));
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        for (labels, value) in &self.samples {
            out.push_str(&self.name);
            if !labels.is_empty() {
                let body: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                    .collect();
                let _ = write!(out, "{{{}}}", body.join(","));
            }
            let _ = writeln!(out, " {}", number(*value));
        }
    }
}

/// Render the metrics of a run. `config` tells which gates could have been replayed.
#[must_use]
pub fn render(report: &Report, config: &Config) -> String {
    let mut duration = Family::new(
        "runner_gate_duration_seconds",
        "gauge",
        "Wall time of the gate in this run, in seconds.",
    );
    let mut status = Family::new(
        "runner_gate_status",
        "gauge",
        "Outcome of the gate: 1 for the status it ended with, 0 for the others.",
    );
    let mut cached = Family::new(
        "runner_gate_cached",
        "gauge",
        "1 when the gate was replayed from the cache, else 0.",
    );
    let mut metric = Family::new(
        "runner_gate_metric",
        "gauge",
        "Value of a metric a threshold of the gate reads from its metrics JSON.",
    );
    let mut hits = Family::new(
        "runner_cache_hits_total",
        "counter",
        "Gates replayed from the cache in this run.",
    );
    let mut misses = Family::new(
        "runner_cache_misses_total",
        "counter",
        "Cacheable gates that reached the cache lookup and were executed instead of replayed in this run.",
    );
    let mut exit = Family::new(
        "runner_run_exit_code",
        "gauge",
        "Exit code of the run (0, 1 or 78).",
    );
    let (mut hit_count, mut miss_count) = (0u32, 0u32);
    let mut exports: BTreeMap<String, Family> = BTreeMap::new();
    // One lookup per reported gate, not a pass over the config (quadratic in the gates).
    let by_name: std::collections::HashMap<&str, &crate::config::Gate> =
        config.gates.iter().map(|c| (c.name.as_str(), c)).collect();
    for g in &report.gates {
        let gate = || vec![("gate", g.name.clone())];
        duration.sample(gate(), millis_to_seconds(g.duration_ms));
        for s in STATUSES {
            status.sample(
                vec![("gate", g.name.clone()), ("status", s.as_str().to_owned())],
                f64::from(u8::from(s == g.status)),
            );
        }
        cached.sample(gate(), f64::from(u8::from(g.cached)));
        for t in &g.thresholds {
            if let Some(v) = t.value {
                metric.sample(
                    vec![("gate", g.name.clone()), ("metric", t.metric.clone())],
                    v,
                );
            }
        }
        let configured = by_name.get(g.name.as_str()).copied();
        let cacheable = configured.map_or(
            !matches!(g.kind.as_str(), "http" | "pqc-bench"),
            crate::config::Gate::cacheable,
        );
        if g.cached {
            hit_count += 1;
        } else if cacheable && g.key.is_some() && g.status != Status::NotRun {
            miss_count += 1;
        }
        for e in &g.exports {
            let name = metric_name(&e.name);
            if BUILT_IN.contains(&name.as_str()) {
                continue;
            }
            let path = configured
                .and_then(|c| c.export.iter().find(|(n, _)| metric_name(n) == name))
                .map(|(_, p)| p.as_str());
            let family = exports.entry(name.clone()).or_insert_with(|| {
                let help = match path {
                    Some(p) => format!(
                        "Exported by gate {} from its metric {p} (export in gates.toml).",
                        g.name
                    ),
                    None => format!("Exported by gate {} (export in gates.toml).", g.name),
                };
                Family::new(&name, "gauge", &help)
            });
            family.sample(gate(), e.value);
        }
    }
    hits.sample(Vec::new(), f64::from(hit_count));
    misses.sample(Vec::new(), f64::from(miss_count));
    exit.sample(Vec::new(), f64::from(report.exit_code));
    let mut out = String::new();
    for family in [&duration, &status, &cached, &metric, &hits, &misses, &exit]
        .into_iter()
        .chain(exports.values())
    {
        family.write(&mut out);
    }
    out
}

fn millis_to_seconds(ms: u64) -> f64 {
    std::time::Duration::from_millis(ms).as_secs_f64()
}

/// A valid Prometheus metric name: dots and other characters become `_`, and a leading digit
/// gets a `_` before it.
#[must_use]
pub fn metric_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A sample value: Go's float syntax for the special values.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        v.to_string()
    }
}

/// Label values escape backslash, double quote and line feed.
#[must_use]
pub fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// HELP text escapes backslash and line feed.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_and_escapes() {
        assert_eq!(metric_name("pqc.verify.latency"), "pqc_verify_latency");
        assert_eq!(metric_name("9lives"), "_9lives");
        assert_eq!(metric_name("a:b-c"), "a:b_c");
        assert_eq!(number(0.58), "0.58");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(escape_help("x\\y\nz"), "x\\\\y\\nz");
    }

    #[test]
    fn a_series_is_written_once_with_its_first_value_in_the_order_first_sampled() {
        let mut f = Family::new("runner_gate_cached", "gauge", "help");
        let labels = |g: &str| vec![("gate", g.to_owned())];
        f.sample(labels("b"), 1.0);
        f.sample(labels("a"), 0.0);
        f.sample(labels("b"), 0.0);
        f.sample(
            vec![("gate", "a".to_owned()), ("metric", "m".to_owned())],
            2.0,
        );
        let mut out = String::new();
        f.write(&mut out);
        assert_eq!(
            out,
            "# HELP runner_gate_cached help\n# TYPE runner_gate_cached gauge\n\
             runner_gate_cached{gate=\"b\"} 1\nrunner_gate_cached{gate=\"a\"} 0\n\
             runner_gate_cached{gate=\"a\",metric=\"m\"} 2\n"
        );
    }
}
