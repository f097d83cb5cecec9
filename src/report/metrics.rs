//! Prometheus text exposition (`--metrics`, SPEC 9): per-gate duration, status, cached flag and
//! threshold metric values, cache hit and miss totals, and every `export` mapping as a gauge.
//!
//! Every family has `# HELP` and `# TYPE` lines and is written only when it has samples. Cache
//! counters count over the run: a *hit* is a gate replayed from the cache; a *miss* is a gate
//! that reached the cache lookup (its needs passed, `skip_unless_env` was met), could have been
//! replayed (`cache = true`, not `http`), and was executed instead (no entry, or `--no-cache`).
//! Gates that cannot be cached and gates that never got that far count as neither.

use std::collections::{BTreeMap, HashSet};
use std::io;

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

/// One metric family, written straight into the output as it is sampled: its `# HELP` and
/// `# TYPE` lines before its first series, and a series at most once (the first value wins).
/// Nothing is kept per series but its label values, borrowed from the report: at 100,000 gates
/// the series are 700,000, and keeping them (owned labels in a map) took 90 MiB.
struct Family<'a> {
    name: &'a str,
    help: &'a str,
    kind: &'static str,
    /// The label values of the series written (a family has at most two labels).
    seen: HashSet<(&'a str, &'a str)>,
}

impl<'a> Family<'a> {
    fn new(name: &'a str, kind: &'static str, help: &'a str) -> Self {
        Family {
            name,
            help,
            kind,
            seen: HashSet::new(),
        }
    }

    /// Write a series, unless one with the same labels was written.
    fn sample(
        &mut self,
        out: &mut impl io::Write,
        labels: &[(&'static str, &'a str)],
        value: f64,
    ) -> io::Result<()> {
        debug_assert!(labels.len() <= 2, "a family has at most two labels");
        let key = (
            labels.first().map_or("", |l| l.1),
            labels.get(1).map_or("", |l| l.1),
        );
        if !self.seen.insert(key) {
            return Ok(());
        }
        if self.seen.len() == 1 {
            writeln!(out, "# HELP {} {}", self.name, escape_help(self.help))?;
            writeln!(out, "# TYPE {} {}", self.name, self.kind)?;
        }
        out.write_all(self.name.as_bytes())?;
        for (i, (k, v)) in labels.iter().enumerate() {
            let open = if i == 0 { "{" } else { "," };
            write!(out, "{open}{k}=\"{}\"", escape_label(v))?;
        }
        if !labels.is_empty() {
            out.write_all(b"}")?;
        }
        writeln!(out, " {}", number(value))
    }
}

/// An export name's family as gathered: its help (from the first gate that exports it), and
/// its series (gate, value) in the report's order.
type Export<'a> = (String, Vec<(&'a str, f64)>);

/// Render the metrics of a run. `config` tells which gates could have been replayed.
#[must_use]
pub fn render(report: &Report, config: &Config) -> String {
    let mut out = Vec::new();
    // Writing into memory cannot fail, and every piece written is UTF-8.
    let _ = write(report, config, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Write the metrics of a run to `out` (streamed: at 100,000 gates the text is 34 MB). A
/// family at a time, one pass over the gates each, in the order: duration, status, cached,
/// metric, the cache totals, the exit code, then the exports by name.
pub fn write(report: &Report, config: &Config, out: &mut impl io::Write) -> io::Result<()> {
    // One lookup per reported gate, not a pass over the config (quadratic in the gates).
    let by_name = config.gates_by_name();
    let mut duration = Family::new(
        "runner_gate_duration_seconds",
        "gauge",
        "Wall time of the gate in this run, in seconds.",
    );
    for g in &report.gates {
        duration.sample(out, &[("gate", &g.name)], millis_to_seconds(g.duration_ms))?;
    }
    let mut status = Family::new(
        "runner_gate_status",
        "gauge",
        "Outcome of the gate: 1 for the status it ended with, 0 for the others.",
    );
    for g in &report.gates {
        for s in STATUSES {
            status.sample(
                out,
                &[("gate", &g.name), ("status", s.as_str())],
                f64::from(u8::from(s == g.status)),
            )?;
        }
    }
    let mut cached = Family::new(
        "runner_gate_cached",
        "gauge",
        "1 when the gate was replayed from the cache, else 0.",
    );
    for g in &report.gates {
        cached.sample(out, &[("gate", &g.name)], f64::from(u8::from(g.cached)))?;
    }
    let mut metric = Family::new(
        "runner_gate_metric",
        "gauge",
        "Value of a metric a threshold of the gate reads from its metrics JSON.",
    );
    for g in &report.gates {
        for t in &g.thresholds {
            if let Some(v) = t.value {
                metric.sample(out, &[("gate", &g.name), ("metric", &t.metric)], v)?;
            }
        }
    }
    let (mut hit_count, mut miss_count) = (0u32, 0u32);
    let mut exports: BTreeMap<String, Export<'_>> = BTreeMap::new();
    for g in &report.gates {
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
            let (_, series) = exports.entry(name).or_insert_with_key(|name| {
                let path = configured
                    .and_then(|c| c.export.iter().find(|(n, _)| metric_name(n) == *name))
                    .map(|(_, p)| p.as_str());
                let help = match path {
                    Some(p) => format!(
                        "Exported by gate {} from its metric {p} (export in gates.toml).",
                        g.name
                    ),
                    None => format!("Exported by gate {} (export in gates.toml).", g.name),
                };
                (help, Vec::new())
            });
            series.push((&g.name, e.value));
        }
    }
    Family::new(
        "runner_cache_hits_total",
        "counter",
        "Gates replayed from the cache in this run.",
    )
    .sample(out, &[], f64::from(hit_count))?;
    Family::new(
        "runner_cache_misses_total",
        "counter",
        "Cacheable gates that reached the cache lookup and were executed instead of replayed in this run.",
    )
    .sample(out, &[], f64::from(miss_count))?;
    Family::new(
        "runner_run_exit_code",
        "gauge",
        "Exit code of the run (0, 1 or 78).",
    )
    .sample(out, &[], f64::from(report.exit_code))?;
    for (name, (help, series)) in &exports {
        let mut family = Family::new(name, "gauge", help);
        for &(gate, value) in series {
            family.sample(out, &[("gate", gate)], value)?;
        }
    }
    Ok(())
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
        let mut out = Vec::new();
        let mut f = Family::new("runner_gate_metric", "gauge", "help");
        f.sample(&mut out, &[("gate", "b"), ("metric", "m")], 1.0)
            .unwrap();
        f.sample(&mut out, &[("gate", "a"), ("metric", "m")], 0.0)
            .unwrap();
        f.sample(&mut out, &[("gate", "b"), ("metric", "m")], 0.0)
            .unwrap();
        f.sample(&mut out, &[("gate", "a"), ("metric", "n\"")], 2.0)
            .unwrap();
        Family::new("runner_run_exit_code", "gauge", "code")
            .sample(&mut out, &[], 78.0)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# HELP runner_gate_metric help\n# TYPE runner_gate_metric gauge\n\
             runner_gate_metric{gate=\"b\",metric=\"m\"} 1\n\
             runner_gate_metric{gate=\"a\",metric=\"m\"} 0\n\
             runner_gate_metric{gate=\"a\",metric=\"n\\\"\"} 2\n\
             # HELP runner_run_exit_code code\n# TYPE runner_run_exit_code gauge\n\
             runner_run_exit_code 78\n"
        );
    }
}
