//! `runner init`: write a commented starter gates.toml that passes `runner check` as written.

use std::io::Write;
use std::path::Path;

use crate::cli::error::{CmdResult, Done, Error};

/// The starter config. Its inputs match in any folder (`gates.toml` itself; the other globs are
/// covered by `allow_empty`), its commands need only `sh`, and the built-in kinds are shown as
/// commented examples, so `runner check` and `runner run` pass right after `runner init`.
pub const STARTER: &str = r##"# gates.toml: the quality gates of this repository, run by `runner run`.
#
# `runner check` validates this file, `runner list` shows the gates, `runner explain GATE` shows
# what enters a gate's cache key. Exit codes of `runner run`: 0 no blocking gate failed,
# 1 a blocking gate ended fail/error/not_run, 2 config or usage error, 78 every gate skipped.

version = 1                            # required

[settings]
cache_dir = "cache"                    # cached results, logs and report.json (default "cache")
# history = ".runner/history.jsonl"    # run outcomes, for graduation (default shown)
# jobs = 0                             # parallel gates; 0 = one per CPU; `-j N` overrides
# graduate_after_days = 7              # observational gates become blocking after N green days

# A command gate (kind = "command" is the default): `run` is executed with `sh -c` from this
# folder. Exit 0 passes, exit 78 skips, anything else fails.
[gates.build]
description = "Build and count warnings (replace `run` with your real build)"
run = '''
mkdir -p .runner/out
printf '{"warnings": 0}\n' > .runner/out/build.json
'''
# Globs whose content enters the cache key: when none changed, the gate is replayed from the
# cache. "!glob" excludes. A glob that matches no file is an error unless allow_empty = true.
inputs = ["gates.toml", "src/**", "!src/**/*.tmp"]
allow_empty = true
env = ["PROFILE"]                      # variables whose values enter the cache key
artifacts = [".runner/out/build.json"] # files the gate writes; cached and restored on a hit
timeout = "10m"                        # default 30m; the whole process group is killed
tags = ["build"]                       # `runner run --tag build`

# Checked on every run, cached or not, against the metrics JSON (default: the only .json
# artifact). Key: a path into the JSON (a.b[0].c); value: "<op> <number>".
[gates.build.thresholds]
warnings = "<= 0"

# An observational smoke gate: a failure is a warning, exits 0, and adds the label
# smoke-failed:smoke to the report. After graduate_after_days green days it becomes blocking
# (`runner status` shows the streak, `runner graduate --write` makes it permanent here).
[gates.smoke]
description = "Smoke test, observational until it has proved itself"
mode = "observational"
needs = ["build"]                      # runs after build passed (or skipped)
run = "test -f .runner/out/build.json && echo 'smoke ok: replace me with a real smoke test'"
# No inputs: the cache key is `run` plus the content of build's artifacts, so the smoke test
# is replayed while build writes identical artifacts (early cutoff). `cache = false` always runs it.
graduate_after_days = 7
# skip_unless_env = { SMOKE = "1" }    # outcome `skip` unless every variable has that value

# Built-in kinds run inside the runner and write one JSON artifact (default
# .runner/out/<gate>.json) that thresholds can read. Uncomment and adapt.

# [gates.config-schema]
# kind = "schema"
# schema = "schemas/config.schema.json"
# inputs = ["config/**/*.json", "config/**/*.yaml"]

# [gates.governance]
# kind = "policy"
# policy = ["policies/deploy.rego"]
# input = "policies/samples/deploy.json"
# data = ["policies/data.json"]
# query = "data.deploy.allow"
# expect = true

# [gates.release-checklist]
# kind = "checklist"
# file = "docs/release.md"
# require = "all"

# [gates.api-smoke]
# kind = "http"
# mode = "observational"
# url = "http://127.0.0.1:8080/health"
# requests = 20
# expect_status = 200
# expect_headers = { Content-Type = "application/json" }
# expect_json = { status = "healthy" }
# service = { run = "./target/debug/server", ready_url = "http://127.0.0.1:8080/health", ready_timeout = "30s" }
# skip_unless_env = { API_SMOKE = "1" }
# thresholds = { p95_ms = "< 250" }

# [gates.signatures]
# kind = "pqc-bench"
# algorithm = "dilithium2"
# iterations = 200
# message_bytes = 1024
# export = { "pqc.verify.latency" = "verify_p95_ms" }
# thresholds = { sign_p95_ms = "<= 50", verify_p95_ms = "<= 10" }
"##;

/// Write a starter config at `path` unless one exists (exit 2 when it exists or cannot be
/// written).
pub(crate) fn init(path: &Path) -> CmdResult {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    // create_new: never overwrite, even if the file appears between a check and the write.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::Usage(format!(
                "{} already exists; `runner init` never overwrites a config\n  = help: edit it, delete it first, or write the starter elsewhere with `runner init -c other.toml`",
                path.display()
            )));
        }
        Err(e) => {
            return Err(Error::Usage(format!(
                "cannot create {}: {e}",
                path.display()
            )));
        }
    };
    if let Err(e) = file
        .write_all(STARTER.as_bytes())
        .and_then(|()| file.sync_all())
    {
        let _ = std::fs::remove_file(path);
        return Err(Error::Usage(format!(
            "cannot write {}: {e}",
            path.display()
        )));
    }
    println!(
        "wrote {} with 2 gates (build, smoke) and commented examples of every built-in kind",
        path.display()
    );
    let folder = path.parent().filter(|d| !d.as_os_str().is_empty());
    let gitignore = folder.unwrap_or_else(|| Path::new(".")).join(".gitignore");
    match ignore_state(&gitignore) {
        Ok(added) if added.is_empty() => {}
        Ok(added) => println!(
            "added to {}: {} (the cache and runner's state; .runner/history.jsonl stays \
             committable, see docs/ci.md)",
            gitignore.display(),
            added.join(" ")
        ),
        Err(e) => println!(
            "could not update {} ({e}); add these lines to it yourself:\n{}",
            gitignore.display(),
            IGNORED.join("\n")
        ),
    }
    println!("next: `runner check`, then `runner run`");
    Ok(Done::Success)
}

/// What `runner init` asks git to ignore: the starter's cache folder and the runner's state,
/// except the history, which a team may commit (docs/ci.md, "Keeping history").
const IGNORED: &[&str] = &["/cache/", "/.runner/*", "!/.runner/history.jsonl"];

/// Append the lines of `IGNORED` that `.gitignore` lacks (creating it); the lines added.
fn ignore_state(gitignore: &Path) -> std::io::Result<Vec<&'static str>> {
    let text = match std::fs::read_to_string(gitignore) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let have: Vec<&str> = text.lines().map(str::trim).collect();
    let missing: Vec<&'static str> = IGNORED
        .iter()
        .copied()
        .filter(|l| !have.contains(l))
        .collect();
    if missing.is_empty() {
        return Ok(missing);
    }
    let mut add = String::new();
    if !text.is_empty() && !text.ends_with('\n') {
        add.push('\n');
    }
    add.push_str("# runner: its cache and state (the history can be committed: docs/ci.md)\n");
    for line in &missing {
        add.push_str(line);
        add.push('\n');
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(gitignore)?
        .write_all(add.as_bytes())?;
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_parses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config =
            crate::config::parse("gates.toml", STARTER, dir.path()).expect("starter is valid");
        let names: Vec<&str> = config.gates.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["build", "smoke"]);
    }

    #[test]
    fn refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gates.toml");
        std::fs::write(&path, "mine").expect("write");
        assert_eq!(init(&path).unwrap_err().exit_code(), 2);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "mine");
    }
}
