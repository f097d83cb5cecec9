//! `runner run --profile FILE`: the run as a Chrome trace (the Trace Event Format that
//! Perfetto and `chrome://tracing` load), and the critical path through the executed DAG.
//!
//! Each gate is one complete event (`"ph": "X"`) on its lane: `tid` is the worker's index for
//! the gates that ran on a worker (0 to `-j` - 1); replays from the local cache, skips and gates
//! not run are on the scheduler's lanes after them. The phases inside a gate (cache lookup,
//! run, store, judge) are complete events nested in it on the same lane. Times are
//! microseconds from the start of the run.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::Config;
use crate::exec::GateRun;
use crate::exec::timeline::Lane;
use crate::graph::GateGraph;

/// The longest path by duration through the gates of a run, following `needs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CriticalPath {
    /// Gate indices, needs first.
    pub gates: Vec<usize>,
    /// The sum of their durations.
    pub total: Duration,
}

impl CriticalPath {
    /// `critical path 41.2 s: build -> test -> bench`.
    #[must_use]
    pub(crate) fn describe(&self, config: &Config) -> String {
        let secs = self.total.as_secs_f64();
        let names: Vec<&str> = self
            .gates
            .iter()
            .map(|&g| config.gates[g].name.as_str())
            .collect();
        if secs >= 10.0 {
            format!("critical path {secs:.1} s: {}", names.join(" -> "))
        } else {
            format!("critical path {secs:.2} s: {}", names.join(" -> "))
        }
    }
}

/// The critical path of `runs`: the path through the run's DAG (edges between gates of the
/// run) whose durations add up to the most. Ties go to the gate declared first. None for an
/// empty run.
#[must_use]
pub(crate) fn critical_path(graph: &GateGraph, runs: &[GateRun]) -> Option<CriticalPath> {
    let duration: BTreeMap<usize, Duration> = runs.iter().map(|r| (r.index, r.duration)).collect();
    // Longest path ending at each gate, in an order where needs come first.
    let mut best: BTreeMap<usize, (Duration, Option<usize>)> = BTreeMap::new();
    for g in graph.topo_order() {
        let Some(&own) = duration.get(&g) else {
            continue;
        };
        let mut needs: Vec<usize> = graph.needs(g).filter(|n| best.contains_key(n)).collect();
        needs.sort_unstable();
        let mut from: Option<(Duration, usize)> = None;
        for n in needs {
            let d = best[&n].0;
            if from.is_none_or(|(b, _)| d > b) {
                from = Some((d, n));
            }
        }
        best.insert(
            g,
            (
                own + from.map_or(Duration::ZERO, |(d, _)| d),
                from.map(|(_, n)| n),
            ),
        );
    }
    let mut end: Option<(Duration, usize)> = None;
    for (&g, &(d, _)) in &best {
        if end.is_none_or(|(b, _)| d > b) {
            end = Some((d, g));
        }
    }
    let (total, mut g) = end?;
    let mut gates = vec![g];
    while let Some(n) = best.get(&g).and_then(|b| b.1) {
        gates.push(n);
        g = n;
    }
    gates.reverse();
    Some(CriticalPath { gates, total })
}

/// Microseconds from `origin` to `t` (0 before it).
fn micros(origin: Instant, t: Instant) -> f64 {
    let d = t.saturating_duration_since(origin);
    // Whole nanoseconds as microseconds: exact to the nanosecond for any run under 104 days.
    (d.as_nanos() as f64) / 1000.0
}

/// The trace of a run: one complete event per gate on its lane, its phases nested in it,
/// lane names, and the critical path in `otherData`.
#[must_use]
pub(crate) fn trace(
    config: &Config,
    runs: &[GateRun],
    origin: Instant,
    workers: usize,
    critical: Option<&CriticalPath>,
) -> Value {
    // Scheduler lanes after the workers: its own thread, then its helper threads.
    let tid = |lane: Lane| match lane {
        Lane::Worker(w) => w,
        Lane::Scheduler(None) => workers,
        Lane::Scheduler(Some(h)) => workers + 1 + h,
    };
    let mut events = vec![json!({
        "ph": "M", "pid": 1, "tid": 0, "name": "process_name",
        "args": {"name": "runner run"}
    })];
    let mut lanes: BTreeMap<usize, String> = (0..workers)
        .map(|w| (w, format!("worker {}", w + 1)))
        .collect();
    for run in runs {
        let Some(t) = &run.timing else { continue };
        let lane = tid(t.lane);
        lanes.entry(lane).or_insert_with(|| match t.lane {
            Lane::Scheduler(Some(h)) => format!("scheduler helper {}", h + 1),
            _ => "scheduler (replays, skips)".to_owned(),
        });
        let gate = &config.gates[run.index];
        let start = micros(origin, t.start);
        let end = micros(origin, t.end).max(start);
        events.push(json!({
            "ph": "X", "pid": 1, "tid": lane, "cat": "gate", "name": gate.name,
            "ts": start, "dur": end - start,
            "args": {
                "status": run.status.as_str(),
                "cached": run.cached,
                "duration_ms": run.duration.as_secs_f64() * 1000.0,
                "lane": lanes.get(&lane),
            }
        }));
        for p in &t.phases {
            // Inside the gate's span, whatever rounding did.
            let ps = micros(origin, p.start).clamp(start, end);
            let pe = micros(origin, p.end).clamp(ps, end);
            events.push(json!({
                "ph": "X", "pid": 1, "tid": lane, "cat": "phase", "name": p.name,
                "ts": ps, "dur": pe - ps, "args": {"gate": gate.name}
            }));
        }
    }
    for (lane, name) in &lanes {
        events.push(json!({
            "ph": "M", "pid": 1, "tid": lane, "name": "thread_name", "args": {"name": name}
        }));
        events.push(json!({
            "ph": "M", "pid": 1, "tid": lane, "name": "thread_sort_index",
            "args": {"sort_index": lane}
        }));
    }
    json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "workers": workers,
            "critical_path": critical.map(|c| c
                .gates
                .iter()
                .map(|&g| config.gates[g].name.as_str())
                .collect::<Vec<_>>()),
            "critical_path_ms": critical.map(|c| c.total.as_secs_f64() * 1000.0),
        }
    })
}

/// Write the trace to `path` (folders created).
///
/// # Errors
/// When the file cannot be written.
pub(crate) fn write(path: &Path, trace: &Value) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_vec(trace).map_err(std::io::Error::other)?;
    crate::bincodec::write_atomic_shared(path, &text)
}
