//! `runner run --affected`: a repository with commits on two branches; the gates whose inputs
//! changed since the merge base, plus their dependents, are selected (and what they need
//! runs); a shallow clone without the merge base is one clear error naming the fix.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::harness::Repo;

const GATES: &str = r#"
[gates.lib]
run = "true"
inputs = ["src/**/*.rs"]

[gates.lint]
run = "true"
inputs = ["src/**/*.rs", "!src/gen/**"]

[gates.docs]
run = "true"
inputs = ["docs"]

[gates.fixtures]
run = "true"
inputs = ["fixtures/*.txt"]

[gates.test]
run = "true"
needs = ["lib"]
inputs = ["tests/*.rs"]

[gates.bench]
run = "true"
needs = ["test", "fixtures"]
inputs = ["benches/*.rs"]

[gates.other]
run = "true"
inputs = ["other/*.txt"]

[gates.tool]
run = "true"
inputs = [{ run = "echo v1" }, "tool.txt"]

[gates.standalone]
run = "true"
"#;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// main: every input file; `feature` (checked out): a generated source changed, a doc added,
/// a benchmark deleted; main then moves on (a change on main must not count).
fn two_branches() -> Repo {
    let repo = Repo::new().gates(GATES);
    for f in [
        "src/lib.rs",
        "src/gen/g.rs",
        "docs/guide/a.md",
        "fixtures/f.txt",
        "tests/t.rs",
        "benches/b.rs",
        "benches/c.rs",
        "other/o.txt",
        "tool.txt",
    ] {
        repo.write(f, "1\n");
    }
    let dir = repo.root();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "base"]);
    git(dir, &["checkout", "-q", "-b", "feature"]);
    repo.write("src/gen/g.rs", "2\n");
    repo.write("docs/guide/b.md", "new\n");
    std::fs::remove_file(repo.path("benches/c.rs")).expect("rm");
    repo.write("unrelated.md", "matches no gate\n");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "feature"]);
    git(dir, &["checkout", "-q", "main"]);
    repo.write("fixtures/f.txt", "changed on main\n");
    git(dir, &["commit", "-q", "-am", "main moves on"]);
    git(dir, &["checkout", "-q", "feature"]);
    repo
}

fn ran(repo: &Repo) -> BTreeSet<String> {
    repo.report()["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .map(|g| g["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn the_gates_whose_inputs_changed_since_the_merge_base_run_with_their_dependents() {
    let repo = two_branches();
    // lib (src/gen/g.rs), docs (a file below the folder), bench (a deleted input); test needs
    // lib; tool and standalone always; fixtures runs because bench needs it. lint excludes
    // src/gen, other and fixtures' inputs did not change on the branch (main's change to
    // fixtures is after the merge base).
    repo.run(&["run", "--affected", "--base", "main", "--head", "feature"])
        .expect_code(0);
    assert_eq!(
        ran(&repo),
        set(&[
            "bench",
            "docs",
            "fixtures",
            "lib",
            "standalone",
            "test",
            "tool"
        ])
    );
    let out = repo.run(&[
        "run",
        "--affected",
        "--base",
        "main",
        "--head",
        "feature",
        "--dry-run",
    ]);
    out.expect_code(0);
    for line in [
        "changed src/gen/g.rs -> lib\n",
        "changed docs/guide/b.md -> docs\n",
        "changed benches/c.rs -> bench\n",
        "changed unrelated.md -> no gate\n",
        "needs   test (needs lib)\n",
        "always  tool (runtime inputs",
        "always  standalone (no inputs declared",
    ] {
        assert!(out.stdout.contains(line), "{line:?} in\n{}", out.stdout);
    }
    assert!(!out.stdout.contains("fixtures.txt"), "{}", out.stdout);

    // Without --head: the work tree counts, untracked files included (and the runner's own
    // state in cache/ and .runner/ does not).
    repo.write("other/new.txt", "untracked\n");
    repo.run(&["run", "--affected", "--base", "main"])
        .expect_code(0);
    assert!(ran(&repo).contains("other"), "{:?}", ran(&repo));
    assert!(!ran(&repo).contains("lint"));
    std::fs::remove_file(repo.path("other/new.txt")).expect("rm");

    // A changed config selects every gate.
    let text = repo.read("gates.toml").replace(
        "run = \"true\"\nneeds = [\"lib\"]",
        "run = \"true  \"\nneeds = [\"lib\"]",
    );
    repo.write("gates.toml", &text);
    let out = repo.run(&["run", "--affected", "--base", "main", "--dry-run"]);
    out.expect_code(0);
    assert!(
        out.stdout.contains("changed gates.toml -> every gate"),
        "{}",
        out.stdout
    );
    repo.run(&["run", "--affected", "--base", "main"])
        .expect_code(0);
    assert_eq!(ran(&repo).len(), 9);
}

#[test]
fn the_default_base_is_the_pull_requests_target_branch() {
    let origin = two_branches();
    let clone = Repo::new().env("GITHUB_BASE_REF", "main");
    let url = format!("file://{}", origin.root().display());
    git(clone.root(), &["clone", "-q", "--no-checkout", &url, "."]);
    git(clone.root(), &["checkout", "-q", "feature"]);
    clone.run(&["run", "--affected"]).expect_code(0);
    assert_eq!(
        ran(&clone),
        set(&[
            "bench",
            "docs",
            "fixtures",
            "lib",
            "standalone",
            "test",
            "tool"
        ])
    );
    // Nothing changed since HEAD on a branch that is the base: only the gates selected
    // whatever changed.
    let mut clone = clone;
    clone.set_env("GITHUB_BASE_REF", "feature");
    clone.run(&["run", "--affected"]).expect_code(0);
    assert_eq!(ran(&clone), set(&["standalone", "tool"]));
}

#[test]
fn a_shallow_clone_without_the_merge_base_is_one_error_naming_the_fix() {
    let origin = two_branches();
    let url = format!("file://{}", origin.root().display());
    // As actions/checkout does by default: one commit of the branch, no base branch at all.
    let clone = Repo::new().env("GITHUB_BASE_REF", "main");
    git(
        clone.root(),
        &[
            "clone", "-q", "--depth", "1", "--branch", "feature", &url, ".",
        ],
    );
    let out = clone.run(&["run", "--affected"]);
    out.expect_code(2);
    assert!(out.stderr.contains("shallow clone"), "{}", out.stderr);
    assert!(out.stderr.contains("fetch-depth: 0"), "{}", out.stderr);
    assert!(out.stderr.contains("git fetch --deepen"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(!clone.path("cache/report.json").exists(), "nothing ran");

    // Both branch tips fetched, but not the commit they share.
    let clone = Repo::new().env("GITHUB_BASE_REF", "main");
    git(
        clone.root(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-single-branch",
            "--branch",
            "feature",
            &url,
            ".",
        ],
    );
    let out = clone.run(&["run", "--affected"]);
    out.expect_code(2);
    assert!(out.stderr.contains("fetch-depth: 0"), "{}", out.stderr);

    // The fix works.
    git(clone.root(), &["fetch", "-q", "--unshallow", "origin"]);
    clone.run(&["run", "--affected"]).expect_code(0);
    assert!(ran(&clone).contains("lib"));
}

#[test]
fn an_unknown_base_is_a_usage_error() {
    let repo = two_branches();
    let out = repo.run(&["run", "--affected", "--base", "no-such-branch"]);
    out.expect_code(2);
    assert!(out.stderr.contains("no-such-branch"), "{}", out.stderr);
    let out = repo.run(&["run", "--affected"]);
    out.expect_code(2);
    assert!(out.stderr.contains("--base"), "{}", out.stderr);
    let plain = Repo::new().gates(GATES);
    let out = plain.run(&["run", "--affected", "--base", "main"]);
    out.expect_code(2);
    assert!(out.stderr.contains("git repository"), "{}", out.stderr);
}
