//! The git command line, bounded: what changed between two commits (or since one, in the work
//! tree), for `runner run --affected`. Every call has a deadline and is killed past it; the
//! output is read while the command runs, so a large diff never blocks on a full pipe.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one git call may take. A diff of a large work tree is seconds; a minute is a
/// hung repository (a lock, a network file system), reported as such.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(60);

/// Why git could not say what changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GitError {
    /// git is not installed, or the folder is not in a repository.
    #[error("{0}")]
    Unavailable(String),
    /// The base is not in this clone, and the clone is shallow: the fix is to fetch history.
    #[error(
        "the base `{base}` is not in this clone: it is a shallow clone (fetched with a depth), \
         so the merge base with {head} is missing. Fetch the history: `fetch-depth: 0` on \
         actions/checkout (GitLab: `GIT_DEPTH: 0`), or `git fetch --deepen=200 origin` (or \
         `git fetch --unshallow`) before `runner run --affected`"
    )]
    Shallow { base: String, head: String },
    /// The base (or head) names no commit.
    #[error("{0}")]
    UnknownRef(String),
    /// A git call failed or ran past its deadline.
    #[error("{0}")]
    Failed(String),
}

/// The repository holding `dir`: its work tree's root.
///
/// # Errors
/// When git is missing or `dir` is not inside a work tree.
pub(crate) fn toplevel(dir: &Path) -> Result<PathBuf, GitError> {
    let out = run(dir, &["rev-parse", "--show-toplevel"]).map_err(|e| match e {
        GitError::Failed(why) => GitError::Unavailable(format!(
            "--affected needs a git repository: {} is not in one ({why})",
            dir.display()
        )),
        other => other,
    })?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out).trim_end()))
}

/// The commit `rev` names, if it names one.
fn commit_of(dir: &Path, rev: &str) -> Option<String> {
    let spec = format!("{rev}^{{commit}}");
    let out = run(
        dir,
        &["rev-parse", "--verify", "-q", "--end-of-options", &spec],
    )
    .ok()?;
    let sha = String::from_utf8_lossy(&out).trim().to_owned();
    (!sha.is_empty()).then_some(sha)
}

/// Is the repository a shallow clone?
pub(crate) fn is_shallow(dir: &Path) -> bool {
    run(dir, &["rev-parse", "--is-shallow-repository"])
        .is_ok_and(|out| String::from_utf8_lossy(&out).trim() == "true")
}

/// The first of `candidates` that names a commit: (the candidate, its commit).
#[must_use]
pub(crate) fn resolve_first(dir: &Path, candidates: &[String]) -> Option<(String, String)> {
    candidates
        .iter()
        .find_map(|c| commit_of(dir, c).map(|sha| (c.clone(), sha)))
}

/// What changed: the merge base it was measured from and the changed paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Changes {
    /// The commit the changes are measured from (`git merge-base BASE HEAD`).
    pub(crate) merge_base: String,
    /// Changed, added and deleted paths (both sides of a rename), relative to `dir` as given
    /// to [`changed_files`], sorted and deduplicated. Paths outside `dir` are left out.
    pub(crate) files: Vec<String>,
}

/// The files that changed between the merge base of `base` and `head`, or, without `head`,
/// between the merge base of `base` and `HEAD` and the work tree (staged, unstaged and
/// untracked files that are not ignored). Paths are relative to `dir`; files outside it are
/// left out.
///
/// # Errors
/// A shallow clone missing the base or the merge base ([`GitError::Shallow`]), a base or head
/// naming no commit, or a failing git.
pub(crate) fn changed_files(
    dir: &Path,
    base: &str,
    head: Option<&str>,
) -> Result<Changes, GitError> {
    toplevel(dir)?;
    let head_name = head.unwrap_or("HEAD");
    let shallow_error = || GitError::Shallow {
        base: base.to_owned(),
        head: head_name.to_owned(),
    };
    let Some(base_sha) = commit_of(dir, base) else {
        if is_shallow(dir) {
            return Err(shallow_error());
        }
        return Err(GitError::UnknownRef(format!(
            "the base `{base}` names no commit in this repository; pass --base REF (a branch, \
             tag or commit), or fetch it (`git fetch origin {}`)",
            base.strip_prefix("origin/").unwrap_or(base)
        )));
    };
    let Some(head_sha) = commit_of(dir, head_name) else {
        return Err(GitError::UnknownRef(format!(
            "the head `{head_name}` names no commit in this repository"
        )));
    };
    let merge_base = match run(dir, &["merge-base", &base_sha, &head_sha]) {
        Ok(out) => String::from_utf8_lossy(&out).trim().to_owned(),
        Err(_) if is_shallow(dir) => return Err(shallow_error()),
        Err(GitError::Failed(why)) => {
            return Err(GitError::UnknownRef(format!(
                "`{base}` and {head_name} have no common ancestor ({why})"
            )));
        }
        Err(e) => return Err(e),
    };
    if merge_base.is_empty() {
        return Err(shallow_error());
    }
    let mut files = Vec::new();
    // `--relative`: paths relative to `dir`, and nothing outside it. `--no-renames`: a rename
    // is its two paths, so a gate reading either side is affected.
    let mut diff = vec![
        "diff",
        "--name-only",
        "-z",
        "--no-renames",
        "--relative",
        "--no-ext-diff",
        merge_base.as_str(),
    ];
    if head.is_some() {
        diff.push(head_sha.as_str());
    }
    diff.push("--");
    files.extend(split_z(&run(dir, &diff)?));
    if head.is_none() {
        let untracked = run(
            dir,
            &[
                "ls-files",
                "--others",
                "--exclude-standard",
                "-z",
                "--",
                ".",
            ],
        )?;
        files.extend(split_z(&untracked));
    }
    files.sort_unstable();
    files.dedup();
    Ok(Changes { merge_base, files })
}

/// NUL-separated paths.
fn split_z(out: &[u8]) -> impl Iterator<Item = String> + '_ {
    out.split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
}

/// Run `git ARGS` in `dir` with [`TIMEOUT`]: its stdout when it exits 0.
fn run(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    run_with(dir, args, TIMEOUT)
}

fn run_with(dir: &Path, args: &[&str], timeout: Duration) -> Result<Vec<u8>, GitError> {
    let shown = || format!("git {}", args.join(" "));
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env_remove("GIT_EXTERNAL_DIFF")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| GitError::Unavailable(format!("cannot run git: {e}")))?;
    // Both pipes are drained while git runs: a diff longer than a pipe's buffer would
    // otherwise block git, and the deadline would read as a hang.
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.take(64 * 1024).read_to_end(&mut buf);
        }
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(GitError::Failed(format!(
                    "{} did not finish within {} s",
                    shown(),
                    timeout.as_secs()
                )));
            }
            Err(e) => return Err(GitError::Failed(format!("{}: {e}", shown()))),
        }
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    if status.success() {
        Ok(out)
    } else {
        let err = String::from_utf8_lossy(&err);
        Err(GitError::Failed(format!(
            "{} failed: {}",
            shown(),
            err.lines().next().unwrap_or("no message")
        )))
    }
}

/// The base `--affected` measures from when `--base` is not given: `origin/$GITHUB_BASE_REF`
/// (a GitHub pull request), `origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME` (a GitLab merge
/// request; its bare name too), else `origin/HEAD` (the remote's default branch), then
/// `origin/main` and `origin/master`. `env` reads a variable (the process environment in use).
#[must_use]
pub(crate) fn default_bases(env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    if let Some(b) = set("GITHUB_BASE_REF") {
        return vec![format!("origin/{}", b.trim())];
    }
    if let Some(b) = set("CI_MERGE_REQUEST_TARGET_BRANCH_NAME") {
        return vec![format!("origin/{}", b.trim()), b.trim().to_owned()];
    }
    ["origin/HEAD", "origin/main", "origin/master"]
        .map(str::to_owned)
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_base_follows_the_ci_system() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            default_bases(&env(&[
                ("GITHUB_BASE_REF", "main"),
                ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "dev")
            ])),
            ["origin/main"]
        );
        assert_eq!(
            default_bases(&env(&[("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "dev")])),
            ["origin/dev", "dev"]
        );
        assert_eq!(
            default_bases(&env(&[("GITHUB_BASE_REF", "")])),
            ["origin/HEAD", "origin/main", "origin/master"]
        );
    }
}
