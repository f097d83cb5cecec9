//! The repository's own suite (SPEC 8) end to end, on a copy of the repository, with and
//! without the registry dev stub.

use std::path::Path;

use crate::harness::Repo;

/// Copy the repository's sources (not its build output or state) into a fresh temp repo; the
/// copy shares `target/` through a symlink so the tasks build is incremental.
fn copy_of_this_repository() -> Repo {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = Repo::new();
    copy_tree(src, repo.root(), src);
    std::os::unix::fs::symlink(src.join("target"), repo.path("target")).expect("symlink target");
    repo
}

fn copy_tree(dir: &Path, dest_root: &Path, src_root: &Path) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        let rel = path.strip_prefix(src_root).expect("prefix");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("");
        if rel.components().count() == 1
            && ["target", ".git", "cache", "tmp", ".runner", "bench", "fuzz"].contains(&top)
        {
            continue;
        }
        let dest = dest_root.join(rel);
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
            copy_tree(&path, dest_root, src_root);
        } else if entry.file_type().expect("type").is_file() {
            std::fs::copy(&path, &dest).expect("copy");
        }
    }
}

fn statuses(repo: &Repo) -> Vec<(String, String)> {
    repo.report()["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap_or("").to_owned(),
                g["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The copies share `target/`: one suite at a time, so a build never replaces a binary that the
/// other suite is running.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn suite_passes_without_the_stub_and_skips_the_registry_gates() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let repo = copy_of_this_repository();
    let out = repo.run(&["run"]);
    out.expect_code(0);
    for (name, status) in statuses(&repo) {
        let expected = if name.starts_with("registry-") {
            "skip"
        } else {
            "pass"
        };
        assert_eq!(
            status, expected,
            "gate {name}\n{}\n{}",
            out.stdout, out.stderr
        );
    }
    assert_eq!(repo.report()["labels"], serde_json::json!([]));
    // Second run: everything cacheable replays; the benchmark measures again (a measurement
    // of this machine now is never replayed).
    repo.run(&["run"]).expect_code(0);
    for g in repo.report()["gates"].as_array().unwrap() {
        if g["status"] == "pass" {
            let measures = g["kind"] == "pqc-bench" || g["kind"] == "http";
            assert_eq!(g["cached"], !measures, "{g}");
        }
    }
}

#[test]
fn suite_passes_with_the_registry_dev_stub() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let repo = copy_of_this_repository().env("REGISTRY_DEV_STUB", "1");
    let out = repo.run(&["run"]);
    out.expect_code(0);
    for (name, status) in statuses(&repo) {
        assert_eq!(
            status, "pass",
            "gate {name}\n{}\n{}",
            out.stdout, out.stderr
        );
    }
    let smoke = repo.gate("registry-smoke");
    assert_eq!(smoke["thresholds"][0]["metric"], "p95_ms");
    assert_eq!(smoke["thresholds"][0]["pass"], true);
}

#[test]
#[ignore = "needs chromium (Debian chromium); .ci/run installs it"]
fn the_suites_html_report_loads_in_a_browser_without_errors() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let repo = copy_of_this_repository().env("REGISTRY_DEV_STUB", "1");
    repo.run(&["run", "--html", "out/report.html"])
        .expect_code(0);
    let gates = repo.report()["gates"].as_array().expect("gates").len();
    let page = repo.path("out/report.html");
    let seen = crate::html_report::rendered(&page);
    assert_eq!(seen["errors"], 0, "{seen}");
    assert_eq!(seen["resources"], 0, "{seen}");
    assert_eq!(seen["rows"], gates, "{seen}");
    assert_eq!(seen["nodes"], gates, "{seen}");
    crate::html_report::screenshot(&page, "html-report-suite.png");
}
