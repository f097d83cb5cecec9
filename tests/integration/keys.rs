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
    assert!(
        out.stderr
            .contains("PYTEST_ADDOPTS is set in the caller's environment but not passed"),
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
