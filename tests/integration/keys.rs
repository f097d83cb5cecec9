//! Keys that hold what a gate really reads (issue 20): a strict environment, runtime inputs,
//! inputs a gate changes, narrowed needs, .gitignore.

use crate::harness::Repo;

/// Gate `show` writes the variables it sees into out/env.txt.
fn env_repo(extra: &str) -> Repo {
    Repo::new().gates(&format!(
        "[gates.show]\nrun = \"mkdir -p out; echo \\\"ADDOPTS=$PYTEST_ADDOPTS TOKEN=$TOKEN MODE=$MODE\\\" > out/env.txt\"\nartifacts = [\"out/env.txt\"]\n{extra}"
    ))
}

#[test]
fn an_undeclared_variable_does_not_reach_a_gate_in_strict_mode() {
    let repo = env_repo("env = [\"MODE\"]\npass_env = [\"TOKEN\"]\n")
        .env("PYTEST_ADDOPTS", "-k no_such_test")
        .env("TOKEN", "t1")
        .env("MODE", "fast");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(
        repo.read("out/env.txt"),
        "ADDOPTS= TOKEN=t1 MODE=fast\n",
        "strict: only the declared and the passed variables"
    );
    // pass_env reaches the gate without being part of its key: a new token replays.
    let mut repo = repo;
    repo.set_env("TOKEN", "t2");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.gate("show")["cached"], true);
    // A declared variable is part of the key.
    repo.set_env("MODE", "slow");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.gate("show")["cached"], false);
    assert_eq!(repo.read("out/env.txt"), "ADDOPTS= TOKEN=t2 MODE=slow\n");
}

#[test]
fn loose_mode_passes_the_whole_environment() {
    let repo = Repo::new()
        .gates(
            "[settings]\nenv_mode = \"loose\"\n[gates.show]\nrun = \"mkdir -p out; echo \\\"ADDOPTS=$PYTEST_ADDOPTS\\\" > out/env.txt\"\nartifacts = [\"out/env.txt\"]\n",
        )
        .env("PYTEST_ADDOPTS", "-k x");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.read("out/env.txt"), "ADDOPTS=-k x\n");
}

#[test]
fn a_failing_gate_names_the_undeclared_tool_variable_it_did_not_get() {
    let repo = Repo::new()
        .gates("[gates.tests]\nrun = \"exit 1\"\n")
        .env("PYTEST_ADDOPTS", "-k no_such_test");
    let out = repo.run(&["run"]);
    out.expect_code(1);
    // (Variables cargo sets for the tests, RUSTUP_TOOLCHAIN say, may join it.)
    assert!(
        out.stderr
            .contains("set in the caller's environment but not passed")
            && hint_list(&out.stderr, "env").contains(&"PYTEST_ADDOPTS".to_owned()),
        "{}",
        out.stderr
    );
    // A passing gate is not worth the note.
    let repo = Repo::new()
        .gates("[gates.tests]\nrun = \"true\"\n")
        .env("PYTEST_ADDOPTS", "-k no_such_test");
    let out = repo.run(&["run"]);
    assert!(!out.stderr.contains("PYTEST_ADDOPTS"), "{}", out.stderr);
}

#[test]
fn env_mode_is_checked() {
    let repo = Repo::new().gates("[settings]\nenv_mode = \"strikt\"\n[gates.a]\nrun = \"true\"\n");
    let out = repo.run(&["check"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("unknown env_mode `strikt`") && out.stderr.contains("strict"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_runtime_inputs_output_changing_reruns_the_gate() {
    // The "tool" prints the version in tool.version; the gate's own files never change.
    let repo = Repo::new().gates(
        r#"
[gates.typecheck]
run = "echo checked >> runs.log"
inputs = [{ run = "cat tool.version" }]
"#,
    );
    repo.write("tool.version", "mypy 1.15.0\n");
    repo.run(&["run"]).expect_code(0);
    repo.run(&["run"]).expect_code(0);
    assert_eq!(
        repo.gate("typecheck")["cached"],
        true,
        "same version: replayed"
    );
    repo.write("tool.version", "mypy 2.4.1\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(
        repo.gate("typecheck")["cached"],
        false,
        "a new version is a new key"
    );
    assert_eq!(repo.read("runs.log"), "checked\nchecked\n");
    let explain = repo.run(&["explain", "typecheck"]);
    assert!(
        explain.stdout.contains("cat tool.version") && explain.stdout.contains("mypy 2.4.1"),
        "{}",
        explain.stdout
    );
    repo.write("tool.version", "mypy 3\n");
    let plan = repo.run(&["run", "--dry-run"]);
    assert!(
        plan.stdout
            .contains("runtime input changed: cat tool.version")
            && plan.stdout.contains("mypy 2.4.1")
            && plan.stdout.contains("mypy 3"),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_failing_runtime_input_is_an_error_naming_it() {
    let repo = Repo::new().gates(
        "[gates.typecheck]\nrun = \"echo ran > ran.txt\"\ninputs = [{ run = \"no-such-tool --version\" }]\n",
    );
    let out = repo.run(&["run"]);
    out.expect_code(1);
    let g = repo.gate("typecheck");
    assert_eq!(g["status"], "error");
    let reason = g["reason"].as_str().unwrap();
    assert!(
        reason.contains("runtime input `no-such-tool --version` failed"),
        "{reason}"
    );
    assert!(!repo.path("ran.txt").exists(), "the gate did not run");
}

#[test]
fn each_distinct_runtime_command_runs_once_per_run() {
    let repo = Repo::new().gates(
        r#"
[gates.a]
run = "true"
inputs = [{ run = "echo x >> calls.log; echo v1" }]

[gates.b]
run = "true"
inputs = [{ run = "echo x >> calls.log; echo v1" }]
"#,
    );
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.read("calls.log"), "x\n");
}

#[test]
fn a_narrowed_need_keeps_early_cutoff_when_an_unlisted_artifact_changes() {
    // `test` writes a timestamped report beside its coverage; `report` reads the coverage
    // only. A change to `flaky.txt` re-runs `test` (new timestamp, same coverage).
    let gates = |needs: &str| {
        format!(
            r#"
[gates.test]
run = "mkdir -p out && cat src.txt > out/coverage.txt && date +%s%N > out/junit.xml"
inputs = ["src.txt", "flaky.txt"]
artifacts = ["out/coverage.txt", "out/junit.xml"]

[gates.report]
run = "echo ran >> report.log; cat out/coverage.txt > summary.txt"
needs = [{needs}]
artifacts = ["summary.txt"]
"#
        )
    };
    for (needs, cutoff) in [
        (
            r#"{ gate = "test", artifacts = ["out/coverage.txt"] }"#,
            true,
        ),
        (r#""test""#, false),
    ] {
        let repo = Repo::new().gates(&gates(needs));
        repo.write("src.txt", "covered\n");
        repo.write("flaky.txt", "1");
        repo.run(&["run"]).expect_code(0);
        repo.write("flaky.txt", "2");
        repo.run(&["run"]).expect_code(0);
        assert_eq!(repo.gate("test")["cached"], false);
        assert_eq!(repo.gate("report")["cached"], cutoff, "needs = [{needs}]");
        // The coverage itself is still in the key.
        repo.write("src.txt", "changed\n");
        repo.run(&["run"]).expect_code(0);
        assert_eq!(repo.gate("report")["cached"], false);
        assert_eq!(repo.read("summary.txt"), "changed\n");
    }
}

#[test]
fn a_narrowed_need_must_name_a_declared_artifact() {
    let repo = Repo::new().gates(
        "[gates.test]\nrun = \"true\"\nartifacts = [\"out/a.txt\"]\n[gates.report]\nrun = \"true\"\nneeds = [{ gate = \"test\", artifacts = [\"out/b.txt\"] }]\n",
    );
    let out = repo.run(&["check"]);
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("narrows its need `test` to artifact `out/b.txt`")
            && out.stderr.contains("`test` declares: out/a.txt"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_gitignored_file_matched_by_a_glob_is_not_an_input() {
    let repo = Repo::new().gates(
        "[gates.lint]\nrun = \"echo ran >> lint.log\"\ninputs = [\"src/**\", \"build/keep.txt\"]\n",
    );
    repo.write(".gitignore", "build/\n*.pyc\n/lint.log\n");
    repo.write("src/a.py", "a\n");
    repo.write("src/a.pyc", "compiled 1\n");
    repo.write("src/sub/.gitignore", "!wanted.pyc\n");
    repo.write("src/sub/wanted.pyc", "kept\n");
    repo.write("build/keep.txt", "named exactly\n");
    repo.run(&["run"]).expect_code(0);
    let explain = repo.run(&["explain", "lint"]);
    assert!(explain.stdout.contains("src/a.py "), "{}", explain.stdout);
    assert!(!explain.stdout.contains("src/a.pyc"), "{}", explain.stdout);
    assert!(
        explain.stdout.contains("src/sub/wanted.pyc"),
        "{}",
        explain.stdout
    );
    assert!(
        explain.stdout.contains("build/keep.txt"),
        "a file named exactly is never ignored: {}",
        explain.stdout
    );
    // A change to an ignored file re-runs nothing.
    repo.write("src/a.pyc", "compiled 2\n");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.gate("lint")["cached"], true);
    // gitignore = false: the ignored files are inputs again.
    let repo = Repo::new()
        .gates("[gates.lint]\nrun = \"true\"\ninputs = [\"src/**\"]\ngitignore = false\n");
    repo.write(".gitignore", "*.pyc\n");
    repo.write("src/a.py", "a\n");
    repo.write("src/a.pyc", "compiled\n");
    let explain = repo.run(&["explain", "lint"]);
    assert!(explain.stdout.contains("src/a.pyc"), "{}", explain.stdout);
}

#[test]
fn trace_inputs_names_undeclared_files_inside_and_outside_the_repository() {
    // Beside the build (any folder outside the repository would do: /tmp too, see below).
    let outside = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let other_clone = outside.path().join("other-clone/pkg.py");
    std::fs::create_dir_all(other_clone.parent().unwrap()).unwrap();
    std::fs::write(&other_clone, "print('the first clone')\n").unwrap();
    let tool = outside.path().join("toolchain/lib.txt");
    std::fs::create_dir_all(tool.parent().unwrap()).unwrap();
    std::fs::write(&tool, "tool\n").unwrap();
    let repo = Repo::new().gates(&format!(
        r#"
[gates.test]
run = "cat src/main.py src/helpers.py conftest.py {other} {tool} > /dev/null"
inputs = ["src/main.py"]
tool_dirs = ["{tools}"]
"#,
        other = other_clone.display(),
        tool = tool.display(),
        tools = tool.parent().unwrap().display(),
    ));
    repo.write("src/main.py", "main\n");
    repo.write("src/helpers.py", "helpers\n");
    repo.write("conftest.py", "conf\n");
    let out = repo.run(&["run", "--trace-inputs", "test"]);
    out.expect_code(0);
    let g = repo.gate("test");
    let reads: Vec<(String, Option<String>)> = g["undeclared_reads"]
        .as_array()
        .unwrap_or_else(|| panic!("no undeclared reads: {g}\n{}", out.stderr))
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_owned(),
                r["suggestion"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let paths: Vec<&str> = reads.iter().map(|(p, _)| p.as_str()).collect();
    assert!(paths.contains(&"src/helpers.py"), "{paths:?}");
    assert!(paths.contains(&"conftest.py"), "{paths:?}");
    assert!(
        paths.contains(&other_clone.to_str().unwrap()),
        "a file outside the repository: {paths:?}"
    );
    assert!(!paths.contains(&"src/main.py"), "declared: {paths:?}");
    assert!(
        !paths.iter().any(|p| p.contains("toolchain")),
        "tool_dirs: {paths:?}"
    );
    assert!(
        !paths.iter().any(|p| p.starts_with("/usr")),
        "system: {paths:?}"
    );
    assert!(
        reads.contains(&("src/helpers.py".to_owned(), Some("src/*.py".to_owned()))),
        "{reads:?}"
    );
    assert!(
        out.stderr
            .contains("src/helpers.py  (add to inputs: \"src/*.py\")"),
        "{}",
        out.stderr
    );
    // Declared, the same reads are not listed.
    let fixed = Repo::new().gates(
        "[gates.test]\nrun = \"cat src/main.py src/helpers.py > /dev/null\"\ninputs = [\"src/*.py\"]\n",
    );
    fixed.write("src/main.py", "main\n");
    fixed.write("src/helpers.py", "helpers\n");
    fixed.run(&["run", "--trace-inputs"]).expect_code(0);
    assert!(fixed.gate("test").get("undeclared_reads").is_none());
}

#[test]
fn switching_env_mode_is_a_new_key() {
    // Under loose mode the gate sees PYTEST_ADDOPTS without keying it; the pass it stored
    // must not be replayed once the mode is strict (nor the other way round).
    let gates = |mode: &str| {
        format!(
            "[settings]\nenv_mode = \"{mode}\"\n[gates.tests]\nrun = \"mkdir -p out; echo \\\"ADDOPTS=$PYTEST_ADDOPTS\\\" > out/seen.txt\"\nartifacts = [\"out/seen.txt\"]\n"
        )
    };
    let repo = Repo::new()
        .gates(&gates("loose"))
        .env("PYTEST_ADDOPTS", "-k test_add");
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.read("out/seen.txt"), "ADDOPTS=-k test_add\n");
    repo.write("gates.toml", &format!("version = 1\n\n{}", gates("strict")));
    let plan = repo.run(&["run", "--dry-run"]);
    assert!(
        plan.stdout
            .contains("cache miss: env_mode changed: loose -> strict"),
        "{}",
        plan.stdout
    );
    repo.run(&["run"]).expect_code(0);
    assert_eq!(
        repo.gate("tests")["cached"],
        false,
        "not the loose run's pass"
    );
    assert_eq!(repo.read("out/seen.txt"), "ADDOPTS=\n");
    let explain = repo.run(&["explain", "tests"]);
    assert!(
        explain.stdout.contains("env_mode: strict"),
        "{}",
        explain.stdout
    );
    // And back: what is replayed under loose mode is the loose run's entry, not the strict one.
    repo.write("gates.toml", &format!("version = 1\n\n{}", gates("loose")));
    repo.run(&["run"]).expect_code(0);
    assert_eq!(repo.gate("tests")["cached"], true);
    assert_eq!(repo.read("out/seen.txt"), "ADDOPTS=-k test_add\n");
}

#[test]
fn a_gate_can_write_githubs_step_files_in_strict_mode() {
    let repo = Repo::new().gates(
        "[gates.summary]\nrun = \"echo '### from the gate' >> \\\"$GITHUB_STEP_SUMMARY\\\" && echo 'answer=42' >> \\\"$GITHUB_OUTPUT\\\"\"\n",
    );
    let summary = repo.path("step_summary.md");
    let output = repo.path("step_output.txt");
    let repo = repo
        .env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())
        .env("GITHUB_OUTPUT", output.to_str().unwrap());
    repo.run(&["run"]).expect_code(0);
    assert!(
        repo.read("step_summary.md").contains("### from the gate"),
        "{}",
        repo.read("step_summary.md")
    );
    assert_eq!(repo.read("step_output.txt"), "answer=42\n");
}

#[test]
fn the_hint_names_rust_and_library_variables_and_where_they_belong() {
    let repo = Repo::new()
        .gates("[gates.build]\nrun = \"exit 1\"\n")
        .env("RUSTUP_TOOLCHAIN", "nightly")
        .env("CARGO_HOME", "/usr/local/cargo")
        .env("LD_LIBRARY_PATH", "/opt/lib");
    let out = repo.run(&["run"]);
    out.expect_code(1);
    // (cargo sets some of these for the tests too: RUSTUP_HOME may join them.)
    let keyed = hint_list(&out.stderr, "env");
    let passed = hint_list(&out.stderr, "pass_env");
    for name in ["LD_LIBRARY_PATH", "RUSTUP_TOOLCHAIN"] {
        assert!(keyed.contains(&name.to_owned()), "{name}: {}", out.stderr);
    }
    assert!(passed.contains(&"CARGO_HOME".to_owned()), "{}", out.stderr);
}

/// The names in the hint's "`KEY = [...]`" advice.
fn hint_list(stderr: &str, key: &str) -> Vec<String> {
    let open = format!("`{key} = [");
    let Some(at) = stderr.find(&open) else {
        return Vec::new();
    };
    let rest = &stderr[at + open.len()..];
    rest[..rest.find(']').unwrap_or(0)]
        .split(", ")
        .map(|n| n.trim_matches('"').to_owned())
        .collect()
}

#[test]
fn with_gates_toml_in_a_subfolder_the_repositorys_ignore_rules_apply_as_git_applies_them() {
    let repo = Repo::new();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(repo.root())
            .output()
            .expect("git")
    };
    assert!(git(&["init", "-q"]).status.success());
    repo.write(
        ".gitignore",
        "*.pyc\n/services/api/gen/\n__pycache__/\n!keep.pyc\n",
    );
    repo.write("services/.gitignore", "*.log\n");
    repo.write(".git/info/exclude", "local.txt\n");
    repo.write(
        "services/api/gates.toml",
        "version = 1\n[gates.lint]\nrun = \"true\"\ninputs = [\"src/**\", \"gen/**\", \"*.txt\"]\n",
    );
    let files = [
        "src/a.py",
        "src/a.pyc",
        "src/keep.pyc",
        "src/__pycache__/m.cpython-311.py",
        "src/run.log",
        "gen/x.py",
        "local.txt",
        "notes.txt",
    ];
    for f in files {
        repo.write(&format!("services/api/{f}"), f);
    }
    let out = repo.run(&["explain", "lint", "-c", "services/api/gates.toml"]);
    out.expect_code(0);
    let mut ignored_by_git = 0;
    for f in files {
        let check = git(&["check-ignore", "-q", &format!("services/api/{f}")]);
        let ignored = match check.status.code() {
            Some(0) => true,
            Some(1) => false,
            other => panic!("git check-ignore {f}: {other:?}"),
        };
        ignored_by_git += usize::from(ignored);
        let listed = out
            .stdout
            .lines()
            .any(|l| l.starts_with(&format!("  {f}  ")));
        assert_eq!(
            listed, !ignored,
            "{f}: git says ignored = {ignored}\n{}",
            out.stdout
        );
    }
    assert_eq!(ignored_by_git, 5, "the fixture exercises the rules");
}

#[test]
fn check_runs_no_runtime_input() {
    // An untrusted pull request's gates.toml: checking it must not execute its commands.
    let repo = Repo::new().gates(
        "[gates.typecheck]\nrun = \"true\"\ninputs = [{ run = \"echo pwned > ran.txt; echo v1\" }]\n",
    );
    let out = repo.run(&["check"]);
    out.expect_code(0);
    assert_eq!(out.stdout.trim(), "gates.toml: ok, 1 gate, 0 edges");
    assert!(!repo.path("ran.txt").exists(), "check ran a runtime input");
}

#[test]
fn dry_run_and_explain_say_a_runtime_input_failed_and_give_no_key() {
    let repo = Repo::new().gates(
        r#"
[gates.typecheck]
run = "echo ran > ran.txt"
inputs = [{ run = "cat tool.version" }]

[gates.report]
run = "true"
needs = ["typecheck"]
"#,
    );
    repo.write("tool.version", "mypy 1.15.0\n");
    repo.run(&["run"]).expect_code(0);
    std::fs::remove_file(repo.path("tool.version")).unwrap();
    let plan = repo.run(&["run", "--dry-run"]);
    plan.expect_code(0);
    let line = |gate: &str| {
        plan.stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(gate))
            .unwrap_or_else(|| panic!("{gate}: {}", plan.stdout))
            .to_owned()
    };
    let typecheck = line("typecheck");
    assert!(
        typecheck.starts_with("error ")
            && typecheck.contains("runtime input `cat tool.version` failed: exit code 1: ")
            && typecheck.contains("No such file or directory")
            && typecheck.contains("would end it `error`"),
        "{typecheck}"
    );
    let report = line("report");
    assert!(
        report.starts_with("not_run ") && report.contains("needs `typecheck` (error)"),
        "{report}"
    );
    let explain = repo.run(&["explain", "typecheck"]);
    explain.expect_code(0);
    let out = &explain.stdout;
    assert!(
        out.contains("key  none: runtime input `cat tool.version` failed: exit code 1: ")
            && out.contains("would end this gate `error`"),
        "{out}"
    );
    assert!(out.contains("runtime inputs (1):"), "{out}");
    assert!(
        out.contains("  cat tool.version  FAILED: exit code 1: "),
        "{out}"
    );
    assert!(out.contains("(not compared"), "{out}");
    // The run agrees with the plan.
    repo.run(&["run"]).expect_code(1);
    assert_eq!(repo.status("typecheck").0, "error");
    assert_eq!(repo.status("report").0, "not_run");
}

/// The paths `--trace-inputs` listed for a gate in the last report.
fn undeclared(repo: &Repo, gate: &str) -> Vec<String> {
    repo.gate(gate)
        .get("undeclared_reads")
        .and_then(serde_json::Value::as_array)
        .map(|reads| {
            reads
                .iter()
                .map(|r| r["path"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn trace_inputs_leaves_out_files_git_ignores_unless_the_gate_does_not_follow_gitignore() {
    let gates = |gitignore: bool| {
        format!(
            "[gates.test]\nrun = \"cat src/main.py src/helper.py .pytest_cache/v/nodeids src/__pycache__/main.cpython-311.pyc > /dev/null\"\ninputs = [\"src/main.py\"]\ngitignore = {gitignore}\n"
        )
    };
    let repo = Repo::new().gates(&gates(true));
    repo.write(".gitignore", ".pytest_cache/\n__pycache__/\n");
    repo.write("src/main.py", "main\n");
    repo.write("src/helper.py", "helper\n");
    repo.write(".pytest_cache/v/nodeids", "[]\n");
    repo.write("src/__pycache__/main.cpython-311.pyc", "compiled\n");
    let out = repo.run(&["run", "--trace-inputs"]);
    out.expect_code(0);
    let listed = undeclared(&repo, "test");
    assert!(listed.contains(&"src/helper.py".to_owned()), "{listed:?}");
    assert!(
        !listed
            .iter()
            .any(|p| p.contains("pytest_cache") || p.contains("__pycache__")),
        "ignored files cannot be added with a glob: {listed:?}"
    );
    // A gate that does not follow .gitignore could add them: they are listed.
    repo.write("gates.toml", &format!("version = 1\n\n{}", gates(false)));
    repo.run(&["run", "--trace-inputs"]).expect_code(0);
    let listed = undeclared(&repo, "test");
    assert!(
        listed.contains(&".pytest_cache/v/nodeids".to_owned())
            && listed.contains(&"src/__pycache__/main.cpython-311.pyc".to_owned()),
        "{listed:?}"
    );
}

#[test]
fn trace_inputs_lists_another_clone_under_tmp_but_not_the_gates_own_temporary_files() {
    // Under the temporary folder, as a clone or a virtualenv may be (/tmp, /var/tmp).
    let elsewhere = tempfile::tempdir().unwrap();
    let clone = elsewhere.path().join("clone-a/src/shop.py");
    std::fs::create_dir_all(clone.parent().unwrap()).unwrap();
    std::fs::write(&clone, "rate = 0.2\n").unwrap();
    let repo = Repo::new().gates(&format!(
        "[gates.test]\nrun = \"cat {clone} > /dev/null; t=$(mktemp); echo made > \\\"$t\\\"; cat \\\"$t\\\" > /dev/null; echo $t > made.path; rm -f \\\"$t\\\"\"\n",
        clone = clone.display()
    ));
    repo.write(".gitignore", "made.path\n");
    repo.run(&["run", "--trace-inputs"]).expect_code(0);
    let listed = undeclared(&repo, "test");
    assert!(
        listed.contains(&clone.to_str().unwrap().to_owned()),
        "another clone under {}: {listed:?}",
        elsewhere.path().display()
    );
    let made = repo.read("made.path").trim().to_owned();
    assert!(
        !listed.contains(&made),
        "the gate's own temporary file {made}: {listed:?}"
    );
}

#[test]
fn a_traced_gate_gets_runner_bin_and_streams_with_verbose() {
    let repo = Repo::new().gates(
        "[gates.show]\nrun = \"echo \\\"bin=$RUNNER_BIN\\\" > bin.txt; echo streamed-line-42\"\n",
    );
    repo.write(".gitignore", "bin.txt\n");
    let out = repo.run(&["run", "--trace-inputs", "-v"]);
    out.expect_code(0);
    let bin = repo.read("bin.txt");
    let path = bin.trim().strip_prefix("bin=").unwrap();
    assert!(
        !path.is_empty() && std::path::Path::new(path).is_file(),
        "RUNNER_BIN: {bin:?}"
    );
    assert!(
        out.stdout.contains("streamed-line-42") || out.stderr.contains("streamed-line-42"),
        "-v streams under --trace-inputs too:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn a_traced_run_stores_nothing_and_appends_nothing_to_the_history_even_when_ptrace_is_refused() {
    // The outer gate is traced, so the runner it starts cannot trace (a traced process cannot
    // trace): its gate ends `error`, as under a container that forbids ptrace.
    let repo = Repo::new().gates(
        "[gates.outer]\nrun = \"cd inner && \\\"$RUNNER_BIN\\\" run --trace-inputs; echo $? > ../inner-exit.txt\"\n",
    );
    repo.write(".gitignore", "inner-exit.txt\ninner/\n");
    repo.write(
        "inner/gates.toml",
        "version = 1\n[gates.inner]\nrun = \"true\"\nmode = \"observational\"\n",
    );
    let out = repo.run(&["run", "--trace-inputs"]);
    out.expect_code(0);
    assert!(
        out.stderr.contains("no cache entry was read or stored")
            && out.stderr.contains("nothing was appended to the history"),
        "{}",
        out.stderr
    );
    // (Observational: its error does not fail the inner run.)
    assert_eq!(repo.read("inner-exit.txt").trim(), "0");
    let inner: serde_json::Value =
        serde_json::from_str(&repo.read("inner/cache/report.json")).unwrap();
    assert_eq!(inner["gates"][0]["status"], "error");
    let reason = inner["gates"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("ptrace is not permitted"), "{reason}");
    for history in [".runner/history.jsonl", "inner/.runner/history.jsonl"] {
        let text = std::fs::read_to_string(repo.path(history)).unwrap_or_default();
        assert!(text.is_empty(), "{history}: {text}");
    }
    let entries = |dir: &str| {
        std::fs::read_dir(repo.path(dir))
            .map(Iterator::count)
            .unwrap_or(0)
    };
    assert_eq!(entries("cache/entries"), 0, "a traced run stores nothing");
    // An untraced run appends as usual, and stores.
    repo.run(&["run", "outer"]).expect_code(0);
    assert!(!repo.read(".runner/history.jsonl").is_empty());
    assert!(entries("cache/entries") > 0);
}
