//! Artifact folders and globs (issue 18, SPEC 10a): a gate's `artifacts` may name folders and
//! globs with `!` exclusions; the matched set (paths, contents, execute bits, symlinks as
//! links) is one cached unit, restored exactly on a hit, and enters dependents' keys.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::harness::Repo;
use crate::reliability_hostile_cache::{entry, plant};
use crate::reliability_support::{explain_key, walk, warnings};

/// How many times each gate ran, in order (each appends its name to `runs.log`).
fn runs(repo: &Repo) -> String {
    std::fs::read_to_string(repo.path("runs.log"))
        .unwrap_or_default()
        .replace('\n', "")
}

/// Every file and link under `dir` of the repository, relative to it, with its content (a
/// link's target, marked).
fn tree(repo: &Repo, dir: &str) -> Vec<(String, String)> {
    let base = repo.path(dir);
    let mut out: Vec<(String, String)> = walk(&base)
        .into_iter()
        .map(|abs| {
            let p = abs.strip_prefix(&base).unwrap().to_path_buf();
            let meta = std::fs::symlink_metadata(&abs).unwrap();
            let content = if meta.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&abs).unwrap().display())
            } else {
                std::fs::read_to_string(&abs).unwrap()
            };
            (p.display().to_string(), content)
        })
        .collect();
    out.sort();
    out
}

/// `build` writes a folder of three files in two levels from `src/in.txt`.
fn folder_gate(artifacts: &str) -> Repo {
    let repo = Repo::new().gates(&format!(
        r#"
[gates.build]
run = "echo build >> runs.log; mkdir -p dist/sub && tr a-z A-Z < src/in.txt > dist/a.js && echo b > dist/sub/b.js && echo c > dist/sub/c.css"
inputs = ["src/in.txt"]
artifacts = {artifacts}
"#
    ));
    repo.write("src/in.txt", "hello\n");
    repo
}

#[test]
fn a_deleted_folder_is_restored_exactly() {
    for artifacts in [
        r#"["dist"]"#,
        r#"["dist/**"]"#,
        r#"["dist/*.js", "dist/sub/*"]"#,
    ] {
        let repo = folder_gate(artifacts);
        repo.run(&["run"]).expect_code(0);
        let before = tree(&repo, "dist");
        assert_eq!(before.len(), 3, "{artifacts}: {before:?}");
        std::fs::remove_dir_all(repo.path("dist")).unwrap();
        repo.run(&["run"]).expect_code(0);
        assert_eq!(repo.status("build"), ("pass".into(), true), "{artifacts}");
        assert_eq!(runs(&repo), "build", "{artifacts}: replayed, not run");
        assert_eq!(tree(&repo, "dist"), before, "{artifacts}");
    }
}

#[test]
fn a_stale_extra_file_is_removed_on_a_hit() {
    let repo = folder_gate(r#"["dist"]"#);
    repo.run(&["run"]).expect_code(0);
    let before = tree(&repo, "dist");
    // A file the entry does not hold, beside the restored ones and deeper down.
    repo.write("dist/old.js", "stale\n");
    repo.write("dist/sub/deeper/old.css", "stale\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("build"), ("pass".into(), true));
    assert_eq!(runs(&repo), "build");
    assert!(!repo.path("dist/old.js").exists(), "a stale file survived");
    assert_eq!(tree(&repo, "dist"), before);
    // The same with one file changed in place: the hit puts the stored bytes back.
    repo.write("dist/sub/b.js", "edited\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("build"), ("pass".into(), true));
    assert_eq!(tree(&repo, "dist"), before);
}

#[test]
fn execute_bits_and_symlinks_come_back_and_links_are_never_followed() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "outside-secret-bytes\n").unwrap();
    let target = outside.path().join("secret.txt");
    let repo = Repo::new().gates(&format!(
        r#"
[gates.build]
run = "echo build >> runs.log; mkdir -p out/bin && printf '#!/bin/sh\\necho hi\\n' > out/bin/tool && chmod +x out/bin/tool && echo data > out/data.txt && ln -s data.txt out/link && ln -s bin out/bin-link && ln -s {} out/outside && ln -s missing.txt out/dangling"
inputs = ["src/in.txt"]
artifacts = ["out"]
"#,
        target.display()
    ));
    repo.write("src/in.txt", "x\n");
    repo.run(&["run"]).expect_code(0);
    // Nothing the outside link points to was read into the cache.
    for f in walk(&repo.path("cache/entries")) {
        let bytes = std::fs::read(repo.path("cache/entries").join(f)).unwrap();
        assert!(
            !bytes
                .windows(b"outside-secret-bytes".len())
                .any(|w| w == b"outside-secret-bytes"),
            "an entry holds the bytes of a file outside the repository"
        );
    }
    // No-op: a hit through the index, nothing rewritten.
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("build"), ("pass".into(), true));

    std::fs::remove_dir_all(repo.path("out")).unwrap();
    let out = repo.run(&["run"]);
    out.expect_code(0);
    assert_eq!(repo.status("build"), ("pass".into(), true));
    assert_eq!(runs(&repo), "build", "replayed, not run");
    assert!(warnings(&out.stderr).is_empty(), "{}", out.stderr);
    let mode = |rel: &str| {
        std::fs::symlink_metadata(repo.path(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("out/bin/tool"), 0o755);
    assert_eq!(mode("out/data.txt"), 0o644);
    let link = |rel: &str| std::fs::read_link(repo.path(rel)).unwrap();
    assert_eq!(link("out/link"), Path::new("data.txt"));
    assert_eq!(link("out/bin-link"), Path::new("bin"));
    assert_eq!(link("out/dangling"), Path::new("missing.txt"));
    // Restored as a link to the outside file, which is neither read nor written.
    assert_eq!(link("out/outside"), target);
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "outside-secret-bytes\n"
    );
    assert_eq!(walk(outside.path()).len(), 1);
    assert_eq!(repo.read("out/bin-link/tool"), "#!/bin/sh\necho hi\n");

    // A lost execute bit is a difference: the hit sets it again.
    std::fs::set_permissions(
        repo.path("out/bin/tool"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("build"), ("pass".into(), true));
    assert_eq!(mode("out/bin/tool"), 0o755);
    assert_eq!(runs(&repo), "build");
}

#[test]
fn an_artifact_glob_overlapping_the_inputs_is_rejected_at_load() {
    for (inputs, artifacts, input, artifact) in [
        (r#"["src/**"]"#, r#"["src/gen/**"]"#, "src/**", "src/gen/**"),
        (
            r#"["**/*.json"]"#,
            r#"["coverage"]"#,
            "**/*.json",
            "coverage",
        ),
        (r#"["src/*.rs"]"#, r#"["src"]"#, "src/*.rs", "src"),
        (
            r#"["src/**/*.rs"]"#,
            r#"["src/*/gen.rs"]"#,
            "src/**/*.rs",
            "src/*/gen.rs",
        ),
    ] {
        let repo = Repo::new().gates(&format!(
            "[gates.g]\nrun = \"true\"\ninputs = {inputs}\nallow_empty = true\nartifacts = {artifacts}\n"
        ));
        let out = repo.run(&["check"]);
        out.expect_code(2);
        let words = format!("input `{input}` of gate `g` matches its own artifact `{artifact}`");
        assert!(out.stderr.contains(&words), "{words}:\n{}", out.stderr);
        // Both places are named: the input by the caret, the artifact by its line.
        assert!(
            out.stderr.contains("gates.toml:5:")
                && out.stderr.contains("(declared at gates.toml:7:"),
            "{}",
            out.stderr
        );
    }
    // Excluded on either side, or apart, it is fine.
    for (inputs, artifacts) in [
        (r#"["src/**", "!src/gen/**"]"#, r#"["src/gen/**"]"#),
        (r#"["src/**"]"#, r#"["src/**/*.gen.rs", "!src/**"]"#),
        (r#"["src/*.rs"]"#, r#"["dist/**", "src/*.js"]"#),
        (r#"["**/*.json", "!coverage/**"]"#, r#"["coverage"]"#),
    ] {
        let repo = Repo::new().gates(&format!(
            "[gates.g]\nrun = \"true\"\ninputs = {inputs}\nallow_empty = true\nartifacts = {artifacts}\n"
        ));
        let out = repo.run(&["check"]);
        assert_eq!(out.code, 0, "{inputs} {artifacts}: {}", out.stderr);
    }
}

#[test]
fn exclusions_are_honoured_when_storing_clearing_and_restoring() {
    let repo = Repo::new().gates(
        r#"
[gates.build]
run = "echo build >> runs.log; mkdir -p dist/tmp && cat src/in.txt > dist/a.js && echo scratch > dist/tmp/scratch.txt && echo notes > dist/notes.md"
inputs = ["src/in.txt"]
artifacts = ["dist/**", "!dist/tmp/**", "!dist/*.md"]
"#,
    );
    repo.write("src/in.txt", "one\n");
    repo.write("dist/tmp/mine.txt", "kept\n");
    repo.run(&["run"]).expect_code(0);
    // Clearing before the run left the excluded file alone.
    assert_eq!(repo.read("dist/tmp/mine.txt"), "kept\n");

    // The entry holds only dist/a.js: after deleting the folder, only it comes back.
    std::fs::remove_dir_all(repo.path("dist")).unwrap();
    repo.write("dist/tmp/mine.txt", "kept\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("build"), ("pass".into(), true));
    assert_eq!(
        tree(&repo, "dist"),
        [
            ("a.js".to_owned(), "one\n".to_owned()),
            ("tmp/mine.txt".to_owned(), "kept\n".to_owned()),
        ]
    );
    // Excluded files are no part of the set: adding one is no reason to restore or run.
    repo.write("dist/notes.md", "mine\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("build"), ("pass".into(), true));
    assert_eq!(repo.read("dist/notes.md"), "mine\n");
    assert_eq!(runs(&repo), "build");

    // A run (the input changed) clears what the globs match, and nothing excluded.
    repo.write("src/in.txt", "two\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("build"), ("pass".into(), false));
    assert_eq!(repo.read("dist/tmp/mine.txt"), "kept\n");
    assert_eq!(repo.read("dist/a.js"), "two\n");
}

/// `a` writes `dist/` from `src/` (upper-cased, so "hello" and "HELLO" give the same bytes)
/// and a stamp that changes on every run; `b` needs all of `a`, `c` only its folder.
fn pipeline() -> Repo {
    let repo = Repo::new().gates(
        r#"
[gates.a]
run = "echo a >> runs.log; mkdir -p dist/sub && tr a-z A-Z < src/in.txt > dist/sub/x.txt && echo fixed > dist/y.txt && wc -l < runs.log > stamp.txt"
inputs = ["src/in.txt"]
artifacts = ["dist/**", "stamp.txt"]

[gates.b]
run = "echo b >> runs.log; cat dist/sub/x.txt stamp.txt > b.txt"
needs = ["a"]
artifacts = ["b.txt"]

[gates.c]
run = "echo c >> runs.log; cat dist/sub/x.txt dist/y.txt > c.txt"
needs = [{ gate = "a", artifacts = ["dist/**"] }]
artifacts = ["c.txt"]
"#,
    );
    repo.write("src/in.txt", "hello\n");
    repo
}

#[test]
fn dependents_are_cut_off_when_the_folders_bytes_are_unchanged() {
    let repo = pipeline();
    repo.run(&["run"]).expect_code(0);
    let mut first: Vec<char> = runs(&repo).chars().collect();
    first.sort_unstable();
    assert_eq!(first, ['a', 'b', 'c']);

    // Other input bytes, same folder bytes: `a` runs; `c`, which keys only the folder, is
    // cut off; `b` keys the stamp too, which changed.
    repo.write("src/in.txt", "HELLO\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("a"), ("pass".into(), false));
    assert_eq!(repo.status("b"), ("pass".into(), false));
    assert_eq!(repo.status("c"), ("pass".into(), true), "cut off");

    // One file in the folder changes: `c` runs again.
    repo.write("src/in.txt", "changed\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("c"), ("pass".into(), false));
    assert_eq!(repo.read("c.txt"), "CHANGED\nfixed\n");

    // A file added to the folder by hand is gone after the hit that restores `a`, so `c`
    // stays cached.
    repo.write("dist/extra.txt", "x\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("a"), ("pass".into(), true));
    assert_eq!(repo.status("c"), ("pass".into(), true));
    assert!(!repo.path("dist/extra.txt").exists());
}

#[test]
fn an_entry_holding_a_path_that_leaves_the_folder_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    for hostile in ["dist/../../x", "dist/../src/in.txt", "src/in.txt"] {
        let repo = folder_gate(r#"["dist"]"#);
        let key = explain_key(&repo, "build");
        // The legitimate files first: a partial restore would write them.
        plant(
            &repo,
            &key,
            &entry(
                &key,
                &[("dist/a.js", b"evil\n"), (hostile, b"evil\n")],
                None,
            ),
        );
        let out = repo.run(&["run"]);
        out.expect_code(0);
        let w = warnings(&out.stderr);
        assert_eq!(w.len(), 1, "{hostile}: one warning:\n{}", out.stderr);
        assert!(
            w[0].contains("gate `build`")
                && (w[0].contains("unsafe path") || w[0].contains("do not match")),
            "{hostile}: {}",
            w[0]
        );
        assert_eq!(repo.status("build"), ("pass".into(), false), "{hostile}");
        assert_eq!(repo.read("dist/a.js"), "HELLO\n", "{hostile}");
        assert_eq!(repo.read("src/in.txt"), "hello\n", "{hostile}");
        assert!(!repo.path("../x").exists(), "{hostile}");
        assert!(walk(outside.path()).is_empty());
    }
}

#[test]
fn a_glob_matching_nothing_is_an_error_unless_allow_empty() {
    for artifacts in [r#"["dist/**"]"#, r#"["dist"]"#] {
        let repo = Repo::new().gates(&format!(
            "[gates.g]\nrun = \"echo g >> runs.log; mkdir -p dist\"\nartifacts = {artifacts}\n"
        ));
        repo.run(&["run"]).expect_code(1);
        let gate = repo.gate("g");
        assert_eq!(gate["status"], "error", "{artifacts}");
        let reason = gate["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("artifact missing"), "{artifacts}: {reason}");
        // Not cached: it runs again.
        repo.run(&["run"]).expect_code(1);
        assert_eq!(runs(&repo), "gg", "{artifacts}");

        let repo = Repo::new().gates(&format!(
            "[gates.g]\nrun = \"echo g >> runs.log; mkdir -p dist\"\nartifacts = {artifacts}\nallow_empty = true\n"
        ));
        repo.run(&["run"]).expect_code(0);
        assert_eq!(repo.status("g"), ("pass".into(), false), "{artifacts}");
        repo.run(&["run"]).expect_code(0);
        assert_eq!(repo.status("g"), ("pass".into(), true), "{artifacts}");
        assert_eq!(runs(&repo), "g", "{artifacts}");
    }
}

#[test]
fn metrics_inside_a_folder_are_judged_fresh_and_replayed() {
    let gates = |limit: &str| {
        format!(
            r#"
[gates.cov]
run = "echo cov >> runs.log; mkdir -p coverage && echo '{{\"lines\": 91.5}}' > coverage/summary.json && echo '<html>' > coverage/index.html"
inputs = ["src/in.txt"]
artifacts = ["coverage"]
metrics = "coverage/summary.json"

[gates.cov.thresholds]
lines = "{limit}"
"#
        )
    };
    let repo = Repo::new().gates(&gates(">= 90"));
    repo.write("src/in.txt", "x\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.gate("cov")["thresholds"][0]["value"], 91.5);
    std::fs::remove_dir_all(repo.path("coverage")).unwrap();
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.status("cov"), ("pass".into(), true));
    assert_eq!(repo.gate("cov")["thresholds"][0]["value"], 91.5);
    // A tighter limit is judged against the replayed file, without running.
    repo.write("gates.toml", &format!("version = 1\n\n{}", gates(">= 95")));
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.status("cov"), ("fail".into(), true));
    assert_eq!(runs(&repo), "cov");
}
