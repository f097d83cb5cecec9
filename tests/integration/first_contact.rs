//! First contact (issue 13): the README's Quick start works as written in an empty
//! repository, `runner` finds the config from a subfolder, `runner init` keeps the cache out of
//! git, descriptions are shown, and a remote-cache variable without its table is not ignored
//! silently.

use std::path::Path;
use std::process::Command;

use crate::harness::Repo;

/// The first `sh` code block after `## Quick start` in the README.
fn quick_start() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme
        .find("## Quick start")
        .expect("a Quick start section");
    let rest = &readme[start..];
    let open = rest.find("```sh\n").expect("a sh block in the Quick start") + "```sh\n".len();
    let close = rest[open..].find("\n```").expect("the block ends") + open;
    rest[open..close].to_owned()
}

#[test]
fn the_quick_start_works_as_written_in_an_empty_repository() {
    let script = quick_start();
    assert!(
        script.contains("runner run") && script.contains("gates.toml"),
        "{script}"
    );
    let dir = tempfile::tempdir().unwrap();
    let runner = assert_cmd::cargo::cargo_bin("runner");
    let path = format!(
        "{}:{}",
        runner.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .arg("-ec")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("RUNNER_NOW")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let summaries: Vec<&str> = stdout.lines().filter(|l| l.contains(" gates: ")).collect();
    assert_eq!(summaries.len(), 2, "{stdout}");
    assert!(summaries[0].contains("2 pass") && summaries[0].contains("(0 cached)"));
    assert!(summaries[1].contains("2 pass") && summaries[1].contains("(2 cached)"));
    assert!(stdout.contains("cache hit"), "the dry run: {stdout}");
    assert!(
        stdout.contains("description: The README says enough"),
        "{stdout}"
    );
}

#[test]
fn runner_finds_the_config_from_a_subfolder() {
    let repo = Repo::new().gates("[gates.a]\nrun = \"pwd > where.txt\"\n");
    std::fs::create_dir_all(repo.path(".git")).unwrap();
    std::fs::create_dir_all(repo.path("src/deep")).unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("runner"))
        .arg("run")
        .current_dir(repo.path("src/deep"))
        .env_remove("RUNNER_NOW")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("note: using ../../gates.toml"), "{stderr}");
    // It ran relative to the config's folder.
    let root = std::fs::canonicalize(repo.root()).unwrap();
    assert_eq!(repo.read("where.txt").trim(), root.display().to_string());
    // Not above the repository's root: a nested repository without a config stops the search.
    std::fs::create_dir_all(repo.path("vendor/lib/.git")).unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("runner"))
        .arg("check")
        .current_dir(repo.path("vendor/lib"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("gates.toml: cannot read the config"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn init_keeps_the_cache_and_state_out_of_git() {
    let repo = Repo::new();
    repo.write(".gitignore", "/target\n");
    let out = repo.run(&["init"]);
    out.expect_code(0);
    assert!(out.stdout.contains("added to"), "{}", out.stdout);
    let ignore = repo.read(".gitignore");
    for line in [
        "/target",
        "/cache/",
        "/.runner/*",
        "!/.runner/history.jsonl",
    ] {
        assert!(ignore.lines().any(|l| l == line), "{line}: {ignore}");
    }
    // The starter runs, and nothing is added twice.
    repo.run(&["run"]).expect_code(0);
    std::fs::remove_file(repo.path("gates.toml")).unwrap();
    repo.run(&["init"]).expect_code(0);
    assert_eq!(repo.read(".gitignore"), ignore);
}

#[test]
fn descriptions_are_shown_in_list_explain_and_the_summary() {
    let repo =
        Repo::new().gates("[gates.a]\ndescription = \"Checks the widgets\"\nrun = \"true\"\n");
    assert!(repo.run(&["list"]).stdout.contains("Checks the widgets"));
    assert!(
        repo.run(&["explain", "a"])
            .stdout
            .contains("description: Checks the widgets")
    );
    repo.run(&["run", "--summary", "sum.md"]).expect_code(0);
    assert!(repo.read("sum.md").contains("- `a`: Checks the widgets"));
    assert_eq!(repo.gate("a")["description"], "Checks the widgets");
}

#[test]
fn a_remote_cache_url_without_its_table_is_not_ignored_silently() {
    let repo = Repo::new()
        .gates("[gates.a]\nrun = \"true\"\n")
        .env("RUNNER_REMOTE_CACHE_URL", "http://127.0.0.1:9");
    let out = repo.run(&["run"]);
    out.expect_code(0);
    assert!(
        out.stderr.contains(
            "RUNNER_REMOTE_CACHE_URL is set, but gates.toml has no [settings.remote_cache]"
        ),
        "{}",
        out.stderr
    );
}
