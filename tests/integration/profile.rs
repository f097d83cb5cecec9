//! `runner run --profile FILE`: a Chrome trace (Trace Event Format) with one complete event
//! per gate on its lane and its phases nested inside; the summary names the critical path,
//! the longest path by duration through the run's DAG.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::harness::Repo;

/// needs, by gate; the durations differ enough that the longest path is unambiguous.
const NEEDS: &[(&str, &[&str])] = &[
    ("a", &[]),
    ("b", &["a"]),
    ("c", &["a"]),
    ("d", &["b", "c"]),
    ("e", &[]),
    ("f", &[]),
    ("g", &["f"]),
];

const GATES: &str = r#"
[gates.a]
run = "sleep 0.3"
[gates.b]
run = "sleep 0.5"
needs = ["a"]
[gates.c]
run = "sleep 0.1"
needs = ["a"]
[gates.d]
run = "sleep 0.2"
needs = ["b", "c"]
[gates.e]
run = "sleep 0.6"
[gates.f]
run = "echo failing; exit 1"
[gates.g]
run = "true"
needs = ["f"]
"#;

/// The longest path by duration through the run's gates, computed here from the report's
/// durations: every path from every gate, by brute force.
fn longest_path(durations: &BTreeMap<String, f64>) -> (f64, Vec<String>) {
    fn best_ending_at(gate: &str, durations: &BTreeMap<String, f64>) -> (f64, Vec<String>) {
        let needs = NEEDS
            .iter()
            .find(|(g, _)| *g == gate)
            .map_or(&[][..], |(_, n)| *n);
        let mut best = (0.0, Vec::new());
        for n in needs.iter().filter(|n| durations.contains_key(**n)) {
            let candidate = best_ending_at(n, durations);
            if candidate.0 > best.0 {
                best = candidate;
            }
        }
        best.0 += durations[gate];
        best.1.push(gate.to_owned());
        best
    }
    durations
        .keys()
        .map(|g| best_ending_at(g, durations))
        .fold((0.0, Vec::new()), |a, b| if b.0 > a.0 { b } else { a })
}

fn number(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is a number in {v}"))
}

/// Check the trace against the report: every gate one complete event, phases nested in their
/// gate on its lane, a lane's gates never overlapping, every lane named.
fn check_trace(trace: &Value, report: &Value, jobs: usize) {
    let events = trace["traceEvents"].as_array().expect("traceEvents");
    let complete: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    for e in &complete {
        assert!(
            e["name"].is_string() && e["pid"].is_u64() && e["tid"].is_u64(),
            "{e}"
        );
        assert!(number(e, "ts") >= 0.0 && number(e, "dur") >= 0.0, "{e}");
    }
    let gates: Vec<&Value> = complete
        .iter()
        .copied()
        .filter(|e| e["cat"] == "gate")
        .collect();
    let reported: BTreeSet<&str> = report["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .map(|g| g["name"].as_str().expect("name"))
        .collect();
    let traced: Vec<&str> = gates
        .iter()
        .map(|e| e["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        traced.len(),
        reported.len(),
        "one event per gate: {traced:?}"
    );
    assert_eq!(traced.iter().copied().collect::<BTreeSet<_>>(), reported);
    for g in report["gates"].as_array().expect("gates") {
        let e = gates
            .iter()
            .find(|e| e["name"] == g["name"])
            .expect("the gate's event");
        let ran = !g["cached"].as_bool().unwrap_or(true)
            && matches!(g["status"].as_str(), Some("pass" | "fail"));
        if ran {
            // Gates that ran did so on a worker: its index is the lane.
            assert!(e["tid"].as_u64().expect("tid") < jobs as u64, "{e}");
            // The worker's span holds the gate's own measured duration.
            assert!(
                number(e, "dur") / 1000.0 + 1.0 >= g["duration_ms"].as_f64().expect("ms"),
                "{e} vs {g}"
            );
            let phases: Vec<&str> = complete
                .iter()
                .filter(|p| p["cat"] == "phase" && p["args"]["gate"] == g["name"])
                .map(|p| p["name"].as_str().expect("name"))
                .collect();
            assert!(phases.contains(&"run"), "{phases:?}");
        }
    }
    // Phases lie inside their gate's event, on its lane.
    for p in complete.iter().filter(|e| e["cat"] == "phase") {
        let parent = gates
            .iter()
            .find(|g| g["name"] == p["args"]["gate"])
            .expect("a phase's gate");
        assert_eq!(parent["tid"], p["tid"], "{p}");
        let (ps, pe) = (number(p, "ts"), number(p, "ts") + number(p, "dur"));
        let (gs, ge) = (
            number(parent, "ts"),
            number(parent, "ts") + number(parent, "dur"),
        );
        assert!(gs <= ps + 1e-6 && pe <= ge + 1e-6, "{p} outside {parent}");
    }
    // One gate at a time per lane.
    let mut by_lane: BTreeMap<u64, Vec<(f64, f64)>> = BTreeMap::new();
    for g in &gates {
        let start = number(g, "ts");
        by_lane
            .entry(g["tid"].as_u64().expect("tid"))
            .or_default()
            .push((start, start + number(g, "dur")));
    }
    for (lane, mut spans) in by_lane {
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in spans.windows(2) {
            assert!(w[0].1 <= w[1].0 + 1e-6, "lane {lane} overlaps: {spans:?}");
        }
        assert!(
            events
                .iter()
                .any(|e| e["ph"] == "M" && e["name"] == "thread_name" && e["tid"] == lane),
            "lane {lane} is named"
        );
    }
}

#[test]
fn the_profile_is_a_chrome_trace_and_the_summary_names_the_critical_path() {
    let repo = Repo::new().gates(GATES);
    let out = repo.run(&["run", "-j", "3", "--profile", "out/run.trace.json"]);
    out.expect_code(1);
    let trace: Value =
        serde_json::from_str(&repo.read("out/run.trace.json")).expect("the trace is JSON");
    let report = repo.report();
    check_trace(&trace, &report, 3);

    // The critical path, computed here from the report's durations.
    let durations: BTreeMap<String, f64> = report["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .map(|g| {
            (
                g["name"].as_str().expect("name").to_owned(),
                g["duration_ms"].as_f64().expect("ms"),
            )
        })
        .collect();
    let (total_ms, path) = longest_path(&durations);
    // (a -> b -> d with these sleeps, unless a loaded machine stretched `e`: the runner must
    // agree with the durations it reported either way.)
    assert_eq!(trace["otherData"]["critical_path"], serde_json::json!(path));
    let traced_ms = trace["otherData"]["critical_path_ms"].as_f64().expect("ms");
    // The report rounds each duration down to a millisecond.
    assert!(
        traced_ms >= total_ms && traced_ms < total_ms + 3.0,
        "{traced_ms} vs {total_ms}"
    );
    let summary = out
        .stdout
        .lines()
        .find(|l| l.starts_with("7 gates:"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    let (_, named) = summary
        .split_once("; critical path ")
        .unwrap_or_else(|| panic!("{summary}"));
    let (secs, gates) = named.split_once(" s: ").expect("seconds and gates");
    assert_eq!(gates, path.join(" -> "));
    let secs: f64 = secs.parse().expect("seconds");
    assert!(
        (secs - traced_ms / 1000.0).abs() < 0.01,
        "{secs} vs {traced_ms}"
    );

    // A second run replays most gates from the cache (on the scheduler's lanes): still one
    // event per gate, nested phases, and a critical path of the replays.
    let out = repo.run(&["run", "-j", "3", "--profile", "out/run.trace.json"]);
    out.expect_code(1);
    let trace: Value =
        serde_json::from_str(&repo.read("out/run.trace.json")).expect("the trace is JSON");
    check_trace(&trace, &repo.report(), 3);
    assert_eq!(repo.status("a"), ("pass".to_owned(), true));
    let phases: Vec<&str> = trace["traceEvents"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["cat"] == "phase" && e["args"]["gate"] == "a")
        .map(|e| e["name"].as_str().expect("name"))
        .collect();
    assert_eq!(phases, ["cache lookup and restore", "judge"]);
}

#[test]
fn without_profile_the_summary_is_as_before() {
    let repo = Repo::new().gates("[gates.a]\nrun = \"true\"\n");
    let out = repo.run(&["run"]);
    out.expect_code(0);
    assert!(!out.stdout.contains("critical path"), "{}", out.stdout);
}
