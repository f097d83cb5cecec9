//! The cache key end to end (the property tests in `tests/cache_key_props.rs` cover the rest):
//! two checkouts at different absolute paths compute the same keys and can share a cache
//! folder; a declared variable set, set empty and unset are three different keys.

use crate::harness::Repo;
use crate::reliability_support::{assert_same_tree, explain_key, snapshot};

fn checkout() -> Repo {
    let repo = Repo::new().gates(
        r#"
[gates.a]
run = "mkdir -p out; cat src/*.txt > out/a.txt"
inputs = ["src/*.txt", "src/**/*.md"]
env = ["RELIABILITY_MODE"]
artifacts = ["out/a.txt"]

[gates.b]
run = "cat out/a.txt out/a.txt > out/b.txt"
needs = ["a"]
artifacts = ["out/b.txt"]
"#,
    );
    repo.write("src/one.txt", "one\n");
    repo.write("src/two.txt", "two\n");
    repo.write("src/deep/er/notes.md", "notes\n");
    repo
}

#[test]
fn keys_do_not_depend_on_the_checkout_path_and_caches_travel() {
    let first = checkout();
    let second = checkout();
    assert_ne!(first.root(), second.root());
    for gate in ["a", "b"] {
        assert_eq!(
            explain_key(&first, gate),
            explain_key(&second, gate),
            "{gate}"
        );
    }
    first.run(&["run"]).expect_code(0);
    // Copy only the cache folder: the second checkout replays both gates from it.
    let copy = std::process::Command::new("cp")
        .args(["-a", &first.path("cache").display().to_string()])
        .arg(second.root())
        .status()
        .unwrap();
    assert!(copy.success());
    second.run(&["run"]).expect_code(0);
    assert_eq!(second.report()["summary"]["cached"], 2);
    assert_same_tree(
        &snapshot(&second.path("out")),
        &snapshot(&first.path("out")),
        "restored in the other checkout",
    );
    for gate in ["a", "b"] {
        assert_eq!(
            explain_key(&first, gate),
            explain_key(&second, gate),
            "{gate}"
        );
    }
}

#[test]
fn a_declared_variable_set_empty_and_unset_are_three_keys() {
    let mut repo = checkout();
    let unset = explain_key(&repo, "a");
    repo.set_env("RELIABILITY_MODE", "");
    let empty = explain_key(&repo, "a");
    repo.set_env("RELIABILITY_MODE", "x");
    let x = explain_key(&repo, "a");
    repo.set_env("RELIABILITY_MODE", "x ");
    let x_space = explain_key(&repo, "a");
    let keys = [&unset, &empty, &x, &x_space];
    for (i, k) in keys.iter().enumerate() {
        for other in &keys[i + 1..] {
            assert_ne!(k, other);
        }
    }
    // An undeclared variable changes nothing.
    repo.set_env("RELIABILITY_UNDECLARED", "y");
    assert_eq!(explain_key(&repo, "a"), x_space);
}
