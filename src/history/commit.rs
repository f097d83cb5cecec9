//! The commit a run judged: from the CI system's environment, else `git rev-parse HEAD`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long `git rev-parse HEAD` may take before the commit is recorded as unknown.
const GIT_TIMEOUT: Duration = Duration::from_secs(3);

/// `GITHUB_SHA` or `CI_COMMIT_SHA` (GitLab) when set, else HEAD of the git repository holding
/// `dir` (one bounded `git` call), else `None` (not a repository, no commit yet, no git).
pub(crate) fn current(dir: &Path) -> Option<String> {
    for var in ["GITHUB_SHA", "CI_COMMIT_SHA"] {
        if let Ok(sha) = std::env::var(var) {
            let sha = sha.trim();
            if !sha.is_empty() {
                return Some(sha.to_owned());
            }
        }
    }
    // The history's folder may not exist yet on a first run: ask from the nearest that does.
    let dir = dir.ancestors().find(|d| d.is_dir())?;
    // Outside any repository there is nothing to ask: skip the spawn (a few ms per run).
    let absolute = std::fs::canonicalize(dir).ok()?;
    if !absolute.ancestors().any(|d| d.join(".git").exists())
        && std::env::var_os("GIT_DIR").is_none()
    {
        return None;
    }
    let mut child = Command::new("git")
        .args(["rev-parse", "--verify", "-q", "HEAD"])
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + GIT_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    if !status.success() {
        return None;
    }
    // The output is one line (a hash), far below a pipe's buffer, so reading after exit is safe.
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    let sha = out.trim();
    (sha.len() >= 40 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then(|| sha.to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn not_a_repository_is_none() {
        // Only meaningful when the CI variables are unset, as on a developer's machine.
        if std::env::var_os("GITHUB_SHA").is_some() || std::env::var_os("CI_COMMIT_SHA").is_some() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        if std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(dir.path())
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return; // the temporary folder lies inside a repository
        }
        assert_eq!(super::current(&dir.path().join("not/yet")), None);
    }
}
