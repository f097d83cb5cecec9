//! `--shard K/N` and `runner report merge` (SPEC 10): N shards run every gate once, a gate's
//! shard depends on its name only, and merged reports recompute the summary and exit code.

use std::collections::BTreeMap;

use crate::harness::Repo;

/// `n` independent gates, each appending its name to runs.log; `extra` is appended.
fn gates(n: usize, extra: &str) -> String {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "[gates.g{i:02}]\nrun = \"echo g{i:02} >> runs.log\"\n\n"
        ));
    }
    text + extra
}

fn ran(repo: &Repo) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_to_string(repo.path("runs.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

/// Which shard (1..=n) runs each gate, from n fresh repositories.
fn owners(text: &str, n: u32) -> BTreeMap<String, u32> {
    let mut owner = BTreeMap::new();
    for k in 1..=n {
        let repo = Repo::new().gates(text);
        repo.run(&["run", "--shard", &format!("{k}/{n}")])
            .expect_code(0);
        for g in ran(&repo) {
            assert!(
                owner.insert(g.clone(), k).is_none(),
                "{g} ran in two shards"
            );
        }
    }
    owner
}

#[test]
fn shards_together_run_every_gate_once() {
    let owner = owners(&gates(24, ""), 3);
    assert_eq!(owner.len(), 24, "{owner:?}");
    for k in 1..=3 {
        assert!(
            owner.values().any(|&o| o == k),
            "shard {k} got no gate: {owner:?}"
        );
    }
}

#[test]
fn adding_gates_does_not_reshuffle_the_others() {
    let before = owners(&gates(16, ""), 3);
    let after = owners(
        &gates(
            16,
            "[gates.zz-new-one]\nrun = \"echo zz-new-one >> runs.log\"\n\n[gates.zz-new-two]\nrun = \"echo zz-new-two >> runs.log\"\n",
        ),
        3,
    );
    for (gate, shard) in &before {
        assert_eq!(after.get(gate), Some(shard), "{gate} moved");
    }
    assert_eq!(after.len(), 18);
}

#[test]
fn a_shard_also_runs_what_its_gates_need() {
    let text = "[gates.base]\nrun = \"echo base >> runs.log\"\n\n".to_owned()
        + &gates(12, "").replace("\"\n\n", "\"\nneeds = [\"base\"]\n\n");
    let mut all = Vec::new();
    for k in 1..=2 {
        let repo = Repo::new().gates(&text);
        repo.run(&["run", "--shard", &format!("{k}/2")])
            .expect_code(0);
        let ran = ran(&repo);
        if ran.iter().any(|g| g.starts_with('g')) {
            assert!(
                ran.contains(&"base".to_owned()),
                "shard {k} ran its gates' need: {ran:?}"
            );
        }
        all.extend(ran.into_iter().filter(|g| g != "base"));
    }
    all.sort();
    assert_eq!(all.len(), 12);
}

#[test]
fn bad_shard_is_a_usage_error() {
    let repo = Repo::new().gates(&gates(2, ""));
    for bad in ["0/3", "4/3", "1/0", "x/2", "3"] {
        let out = repo.run(&["run", "--shard", bad]);
        out.expect_code(2);
        assert!(out.stderr.contains("--shard"), "{bad}: {}", out.stderr);
    }
    assert!(ran(&repo).is_empty());
}

#[test]
fn merged_reports_recompute_summary_and_exit_code() {
    let text = gates(
        10,
        "[gates.broken]\nrun = \"echo broken >> runs.log; exit 3\"\n\n[gates.smoke]\nrun = \"exit 1\"\nmode = \"observational\"\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    let mut codes = Vec::new();
    for k in 1..=3 {
        let repo = Repo::new().gates(&text);
        let report = dir.path().join(format!("shard-{k}.json"));
        let out = repo.run(&[
            "run",
            "--shard",
            &format!("{k}/3"),
            "--report",
            report.to_str().unwrap(),
        ]);
        codes.push(out.code);
        reports.push(report.to_string_lossy().into_owned());
    }
    assert!(
        codes.contains(&1),
        "the shard with `broken` failed: {codes:?}"
    );
    let merged = dir.path().join("merged.json");
    let repo = Repo::new();
    let mut args = vec!["report", "merge"];
    args.extend(reports.iter().map(String::as_str));
    args.extend(["--out", merged.to_str().unwrap()]);
    let out = repo.run(&args);
    out.expect_code(1);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(m["gates"].as_array().unwrap().len(), 12);
    assert_eq!(m["exit_code"], 1);
    assert_eq!(m["summary"]["pass"], 10);
    assert_eq!(m["summary"]["fail"], 2);
    assert_eq!(m["labels"], serde_json::json!(["smoke-failed:smoke"]));

    // Without the failing gate's shard, the merge passes.
    let passing: Vec<&String> = reports
        .iter()
        .filter(|r| {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(r).unwrap()).unwrap();
            v["gates"]
                .as_array()
                .unwrap()
                .iter()
                .all(|g| g["name"] != "broken")
        })
        .collect();
    if !passing.is_empty() {
        let mut args = vec!["report", "merge"];
        args.extend(passing.iter().map(|s| s.as_str()));
        args.extend(["--out", merged.to_str().unwrap()]);
        repo.run(&args).expect_code(0);
    }
}

#[test]
fn merge_rejects_unreadable_reports() {
    let repo = Repo::new();
    repo.write("bad.json", "{ not json");
    let out = repo.run(&[
        "report",
        "merge",
        "bad.json",
        "missing.json",
        "--out",
        "m.json",
    ]);
    out.expect_code(2);
    assert!(out.stderr.contains("bad.json"), "{}", out.stderr);
    assert!(!repo.path("m.json").exists());
}

/// A skewed workload in the history: 27 gates whose durations fall like 1/i (one of 60 s, many
/// of a few seconds), and 3 gates never recorded.
fn skewed_history(n: usize) -> (String, BTreeMap<String, u64>) {
    let mut text = String::new();
    let mut durations = BTreeMap::new();
    for i in 0..n - 3 {
        let ms = 60_000 / (i as u64 + 1) + 500;
        durations.insert(format!("g{i:02}"), ms);
        // An older, slower run and a replay after it: the latest executed run counts.
        text.push_str(&format!(
            "{{\"at\":\"2026-11-01T10:00:00Z\",\"gate\":\"g{i:02}\",\"status\":\"pass\",\"mode\":\"blocking\",\"cached\":false,\"commit\":null,\"run\":1,\"duration_ms\":{}}}\n",
            ms * 3
        ));
        text.push_str(&format!(
            "{{\"at\":\"2026-11-02T10:00:00Z\",\"gate\":\"g{i:02}\",\"status\":\"pass\",\"mode\":\"blocking\",\"cached\":false,\"commit\":null,\"run\":2,\"duration_ms\":{ms}}}\n"
        ));
        text.push_str(&format!(
            "{{\"at\":\"2026-11-03T10:00:00Z\",\"gate\":\"g{i:02}\",\"status\":\"pass\",\"mode\":\"blocking\",\"cached\":true,\"commit\":null,\"run\":3,\"duration_ms\":1}}\n"
        ));
    }
    (text, durations)
}

#[test]
fn shards_balanced_by_duration_are_within_ten_percent_and_cover_every_gate_once() {
    let n = 30;
    let text = gates(n, "");
    let (history, durations) = skewed_history(n);
    let mut owner: BTreeMap<String, u32> = BTreeMap::new();
    for k in 1..=3 {
        // Each shard on its own machine, from the same history.
        let repo = Repo::new().gates(&text);
        repo.write(".runner/history.jsonl", &history);
        let out = repo.run(&["run", "--shard", &format!("{k}/3"), "--balance", "duration"]);
        out.expect_code(0);
        assert!(
            out.stderr.contains(&format!(
                "shard {k}/3 balanced by duration (27 gates in the history)"
            )),
            "{}",
            out.stderr
        );
        for g in ran(&repo) {
            assert!(
                owner.insert(g.clone(), k).is_none(),
                "{g} ran in two shards"
            );
        }
    }
    assert_eq!(owner.len(), n, "every gate ran once: {owner:?}");
    // Predicted times: recorded durations, the 3 unrecorded gates at the median.
    let mut known: Vec<u64> = durations.values().copied().collect();
    known.sort_unstable();
    let median = known[known.len() / 2];
    let mut load = [0u64; 3];
    for (gate, shard) in &owner {
        load[*shard as usize - 1] += durations.get(gate).copied().unwrap_or(median);
    }
    let (lo, hi) = (load.iter().min().unwrap(), load.iter().max().unwrap());
    assert!(
        (hi - lo) * 10 <= *hi,
        "shards' predicted times {load:?} differ by more than 10%"
    );

    // `runner shards` says the same, every time.
    let repo = Repo::new().gates(&text);
    repo.write(".runner/history.jsonl", &history);
    let listed = repo.run(&["shards", "3", "--balance", "duration"]);
    listed.expect_code(0);
    assert_eq!(
        repo.run(&["shards", "3", "--balance", "duration"]).stdout,
        listed.stdout
    );
    for line in listed.stdout.lines() {
        let (head, names) = line.split_once(": g").unwrap_or_else(|| panic!("{line}"));
        let k: u32 = head["shard ".len()..head.find('/').unwrap()]
            .parse()
            .unwrap();
        for name in format!("g{names}").split(", ") {
            assert_eq!(owner.get(name), Some(&k), "{name} in {line}");
        }
    }
    // Without a history, balancing falls back to the name hash: the plain split.
    let plain = owners(&text, 3);
    let repo = Repo::new().gates(&text);
    let out = repo.run(&["shards", "3", "--balance", "duration"]);
    out.expect_code(0);
    for k in 1..=3u32 {
        let line = out.stdout.lines().nth(k as usize - 1).unwrap().to_owned();
        for (gate, shard) in &plain {
            if *shard == k {
                assert!(line.contains(gate.as_str()), "{gate} in {line}");
            }
        }
    }
}

#[test]
fn the_shards_command_prints_the_github_actions_matrix() {
    let repo = Repo::new().gates(&gates(4, ""));
    let out = repo.run(&["shards", "3", "--json"]);
    out.expect_code(0);
    assert_eq!(
        out.stdout,
        "{\"include\":[{\"shard\":\"1/3\"},{\"shard\":\"2/3\"},{\"shard\":\"3/3\"}]}\n"
    );
    repo.run(&["shards", "0", "--json"]).expect_code(2);
}
