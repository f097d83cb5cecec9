//! `--dry-run` agrees with the run that follows it, gate by gate: a property over random
//! edits (inputs changed, touched, artifacts deleted, an env toggle), plus the cases that used
//! to be predicted wrongly.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::Value;

use crate::harness::Repo;

/// a <- b, a <- c (c keeps only the first byte of a's output: early cutoff), d needs b and c
/// and is skipped unless D=1, e is never cached.
const GATES: &str = r#"
[gates.a]
run = "mkdir -p out && cat src/a.txt > out/a.txt"
inputs = ["src/a.txt"]
artifacts = ["out/a.txt"]

[gates.b]
run = "cat src/b.txt out/a.txt > out/b.txt"
needs = ["a"]
inputs = ["src/b.txt"]
artifacts = ["out/b.txt"]

[gates.c]
run = "head -c 1 out/a.txt > out/c.txt"
needs = ["a"]
artifacts = ["out/c.txt"]

[gates.d]
run = "cat out/b.txt out/c.txt > out/d.txt"
needs = ["b", "c"]
artifacts = ["out/d.txt"]
skip_unless_env = { D = "1" }

[gates.e]
run = "cat out/c.txt > out/e.txt"
needs = ["c"]
artifacts = ["out/e.txt"]
cache = false
"#;

#[derive(Debug, Clone)]
enum Edit {
    /// New content for src/a.txt, keeping or changing its first byte.
    A {
        first: char,
        rest: u8,
    },
    B(u8),
    /// Rewrite src/a.txt with the same bytes (a new mtime).
    TouchA,
    /// Delete one gate's artifact (the next run restores it).
    DeleteArtifact(usize),
    ToggleD,
    Nothing,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (prop_oneof![Just('x'), Just('y')], any::<u8>())
            .prop_map(|(first, rest)| Edit::A { first, rest }),
        any::<u8>().prop_map(Edit::B),
        Just(Edit::TouchA),
        (0usize..5).prop_map(Edit::DeleteArtifact),
        Just(Edit::ToggleD),
        Just(Edit::Nothing),
    ]
}

/// The dry run's prediction per gate.
fn plan(repo: &Repo) -> BTreeMap<String, String> {
    let out = repo.run(&["run", "--dry-run"]);
    out.expect_code(0);
    out.stdout
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((
                words.nth(1)?.to_owned(),
                l.split_whitespace().next()?.to_owned(),
            ))
        })
        .collect()
}

/// Check the run's report against the plan; a description of each disagreement.
fn disagreements(plan: &BTreeMap<String, String>, report: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let gates = report["gates"].as_array().expect("gates");
    for g in gates {
        let name = g["name"].as_str().expect("name");
        let (status, cached) = (g["status"].as_str().unwrap_or(""), g["cached"] == true);
        let ok = match plan.get(name).map(String::as_str) {
            Some("cached") => cached && status == "pass",
            Some("run") => !cached && status != "skip",
            Some("skip") => status == "skip",
            Some("maybe") => status != "skip",
            _ => false,
        };
        if !ok {
            out.push(format!(
                "{name}: planned {:?}, ran {status} (cached {cached})",
                plan.get(name)
            ));
        }
    }
    if gates.len() != plan.len() {
        out.push(format!("{} gates planned, {} ran", plan.len(), gates.len()));
    }
    out
}

fn apply(repo: &mut Repo, d_on: &mut bool, edit: &Edit) {
    match edit {
        Edit::A { first, rest } => {
            repo.write("src/a.txt", &format!("{first}{rest}\n"));
        }
        Edit::B(n) => {
            repo.write("src/b.txt", &format!("b{n}\n"));
        }
        Edit::TouchA => {
            let text = repo.read("src/a.txt");
            // Past the stat cache's racy window: a new mtime, the same bytes.
            std::thread::sleep(std::time::Duration::from_millis(20));
            repo.write("src/a.txt", &text);
        }
        Edit::DeleteArtifact(i) => {
            let _ = std::fs::remove_file(
                repo.path(&format!("out/{}.txt", ["a", "b", "c", "d", "e"][*i])),
            );
        }
        Edit::ToggleD => {
            *d_on = !*d_on;
            repo.set_env("D", if *d_on { "1" } else { "0" });
        }
        Edit::Nothing => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn the_plan_is_what_the_run_does(edits in prop::collection::vec(edit(), 1..7)) {
        let mut repo = Repo::new().gates(GATES);
        repo.write("src/a.txt", "x0\n");
        repo.write("src/b.txt", "b0\n");
        let mut d_on = false;
        repo.run(&["run"]);
        for (step, e) in edits.iter().enumerate() {
            apply(&mut repo, &mut d_on, e);
            let planned = plan(&repo);
            repo.run(&["run"]);
            let wrong = disagreements(&planned, &repo.report());
            prop_assert!(wrong.is_empty(), "step {step} after {e:?} (edits {edits:?}):\n{}", wrong.join("\n"));
        }
    }
}

#[test]
fn a_deleted_upstream_artifact_is_restored_and_its_dependents_predicted_cached() {
    let repo = Repo::new().gates(GATES);
    repo.write("src/a.txt", "x0\n");
    repo.write("src/b.txt", "b0\n");
    repo.run(&["run"]).expect_code(0);
    std::fs::remove_file(repo.path("out/a.txt")).unwrap();
    let planned = plan(&repo);
    // Before: "a" was a hit, and b and c were predicted misses ("artifact absent").
    assert_eq!(planned["a"], "cached");
    assert_eq!(planned["b"], "cached", "{planned:?}");
    assert_eq!(planned["c"], "cached", "{planned:?}");
    assert_eq!(planned["d"], "skip", "skip_unless_env is planned too");
    assert_eq!(planned["e"], "run");
    repo.run(&["run"]).expect_code(0);
    assert!(disagreements(&planned, &repo.report()).is_empty());
}

#[test]
fn a_changed_input_is_named_even_after_an_upstream_that_runs() {
    let repo = Repo::new().gates(GATES);
    repo.write("src/a.txt", "x0\n");
    repo.write("src/b.txt", "b0\n");
    repo.run(&["run"]).expect_code(0);
    repo.write("src/a.txt", "x1\n");
    repo.write("src/b.txt", "b1\n");
    let out = repo.run(&["run", "--dry-run"]);
    let b = out
        .stdout
        .lines()
        .find(|l| l.contains(" b "))
        .expect("b's line")
        .to_owned();
    // b's own input changed: it runs whatever a writes; before, it said only "after a".
    assert!(
        b.starts_with("run") && b.contains("src/b.txt") && b.contains("after a"),
        "{b}"
    );
    // c's own part is unchanged: whether it runs depends on what a writes.
    let c = out
        .stdout
        .lines()
        .find(|l| l.contains(" c "))
        .expect("c's line")
        .to_owned();
    assert!(c.starts_with("maybe") && c.contains("after a runs"), "{c}");
    let planned = plan(&repo);
    repo.run(&["run"]).expect_code(0);
    assert!(disagreements(&planned, &repo.report()).is_empty());
}
