//! Signing (SPEC 10): `runner keygen`, the signed report (`<report>.sig`) and `runner verify`.

use std::os::unix::fs::PermissionsExt as _;

use crate::harness::Repo;

const GATES: &str =
    "[settings.signing]\ntrusted_keys = [\"keys/ci.pub\"]\n\n[gates.ok]\nrun = \"true\"\n";

/// A repository trusting a fresh `keys/ci.pub`; its secret key stays at `keys/ci.key`.
fn signed_repo() -> Repo {
    let repo = Repo::new().gates(GATES);
    repo.run(&["keygen", "--out", "keys/ci"]).expect_code(0);
    repo
}

#[test]
fn keygen_writes_a_private_secret_and_a_public_key() {
    let repo = Repo::new();
    let out = repo.run(&["keygen", "--out", "keys/ci"]);
    out.expect_code(0);
    assert!(out.stdout.contains("key id "), "{}", out.stdout);
    let secret = std::fs::metadata(repo.path("keys/ci.key")).unwrap();
    assert_eq!(secret.permissions().mode() & 0o777, 0o600);
    assert!(
        repo.read("keys/ci.pub")
            .starts_with("runner dilithium2 public key v1\n")
    );
    assert!(
        repo.read("keys/ci.key")
            .starts_with("runner dilithium2 secret key v1\n")
    );
    let again = repo.run(&["keygen", "--out", "keys/ci"]);
    again.expect_code(2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

#[test]
fn signed_report_verifies_and_tampering_is_caught() {
    let repo = signed_repo().env("RUNNER_SIGNING_KEY", "keys/ci.key");
    repo.run(&["run"]).expect_code(0);
    assert!(repo.path("cache/report.json.sig").exists());
    let ok = repo.run(&["verify", "cache/report.json"]);
    ok.expect_code(0);
    assert!(ok.stdout.contains("keys/ci.pub"), "{}", ok.stdout);

    let text = repo
        .read("cache/report.json")
        .replace("\"exit_code\": 0", "\"exit_code\": 0 ");
    repo.write("cache/report.json", &text);
    let bad = repo.run(&["verify", "cache/report.json"]);
    bad.expect_code(1);
    assert!(
        bad.stderr.contains("changed after it was signed"),
        "{}",
        bad.stderr
    );

    std::fs::remove_file(repo.path("cache/report.json.sig")).unwrap();
    let missing = repo.run(&["verify", "cache/report.json"]);
    missing.expect_code(1);
    assert!(missing.stderr.contains("not signed"), "{}", missing.stderr);
}

#[test]
fn key_given_as_base64_content_signs_too() {
    let repo = signed_repo();
    let b64 = repo.read("keys/ci.key").lines().nth(1).unwrap().to_owned();
    std::fs::remove_file(repo.path("keys/ci.key")).unwrap();
    let repo = repo.env("RUNNER_SIGNING_KEY", &b64);
    repo.run(&["run", "--report", "out/r.json"]).expect_code(0);
    repo.run(&["verify", "out/r.json"]).expect_code(0);
}

#[test]
fn report_signed_by_an_untrusted_key_fails() {
    let repo = signed_repo();
    repo.run(&["keygen", "--out", "other/rogue"]).expect_code(0);
    let repo = repo.env("RUNNER_SIGNING_KEY", "other/rogue.key");
    let out = repo.run(&["run"]);
    out.expect_code(0);
    assert!(repo.path("cache/report.json.sig").exists());
    let v = repo.run(&["verify", "cache/report.json"]);
    v.expect_code(1);
    assert!(v.stderr.contains("not among trusted_keys"), "{}", v.stderr);
}

#[test]
fn without_the_key_nothing_is_signed_and_bad_keys_warn() {
    let repo = signed_repo();
    repo.run(&["run"]).expect_code(0);
    assert!(!repo.path("cache/report.json.sig").exists());
    repo.run(&["verify", "cache/report.json"]).expect_code(1);

    let repo = repo.env("RUNNER_SIGNING_KEY", "no/such/file.key");
    let out = repo.run(&["run"]);
    out.expect_code(0);
    assert!(out.stderr.contains("RUNNER_SIGNING_KEY"), "{}", out.stderr);
}

#[test]
fn verify_without_trusted_keys_fails_clearly() {
    let repo = Repo::new().gates("[gates.ok]\nrun = \"true\"\n");
    repo.run(&["run"]).expect_code(0);
    let out = repo.run(&["verify", "cache/report.json"]);
    out.expect_code(1);
    assert!(out.stderr.contains("[settings.signing]"), "{}", out.stderr);
}
