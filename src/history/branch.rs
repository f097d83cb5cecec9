//! Branches: the one a run is on (recorded with its values), and the base branch whose runs
//! make baselines. Read from the CI system's environment, else from `.git` directly (no `git`
//! process: a run's end stays fast).

use std::path::{Path, PathBuf};

/// The branch this run is on: `GITHUB_HEAD_REF` (a pull request's branch), `GITHUB_REF_NAME`
/// (a push), `CI_COMMIT_REF_NAME` (GitLab), else `.git/HEAD`; None when detached or unknown.
#[must_use]
pub(crate) fn current(dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    for var in ["GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"] {
        if let Some(b) = nonempty(env(var)) {
            return Some(b);
        }
    }
    let git = git_dir(dir)?;
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    head.trim()
        .strip_prefix("ref: refs/heads/")
        .map(str::to_owned)
}

/// The branch baselines come from: `--base-branch` (given as `flag`), `GITHUB_BASE_REF` (a pull
/// request's target), `CI_MERGE_REQUEST_TARGET_BRANCH_NAME` or `CI_DEFAULT_BRANCH` (GitLab),
/// else the repository's default branch: `origin/HEAD`, else `main` or `master` when such a
/// branch exists, else the current branch, else `main`.
#[must_use]
pub(crate) fn base(dir: &Path, flag: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> String {
    if let Some(b) = flag.map(str::trim).filter(|b| !b.is_empty()) {
        return b.to_owned();
    }
    for var in [
        "GITHUB_BASE_REF",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
        "CI_DEFAULT_BRANCH",
    ] {
        if let Some(b) = nonempty(env(var)) {
            return b;
        }
    }
    if let Some(git) = git_dir(dir) {
        let common = common_dir(&git);
        if let Ok(head) = std::fs::read_to_string(common.join("refs/remotes/origin/HEAD"))
            && let Some(b) = head.trim().strip_prefix("ref: refs/remotes/origin/")
        {
            return b.to_owned();
        }
        let packed = std::fs::read_to_string(common.join("packed-refs")).unwrap_or_default();
        for name in ["main", "master"] {
            let reference = format!("refs/heads/{name}");
            if common.join(&reference).is_file()
                || packed
                    .lines()
                    .any(|l| l.split_whitespace().nth(1) == Some(&reference))
            {
                return name.to_owned();
            }
        }
    }
    current(dir, env).unwrap_or_else(|| "main".to_owned())
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The `.git` folder of the repository holding `dir` (following a worktree's `.git` file).
fn git_dir(dir: &Path) -> Option<PathBuf> {
    let start = std::fs::canonicalize(dir.ancestors().find(|d| d.is_dir())?).ok()?;
    for d in start.ancestors() {
        let dot_git = d.join(".git");
        if dot_git.is_dir() {
            return Some(dot_git);
        }
        if dot_git.is_file() {
            let text = std::fs::read_to_string(&dot_git).ok()?;
            let target = text.trim().strip_prefix("gitdir:")?.trim();
            return Some(d.join(target));
        }
    }
    None
}

/// A worktree's git folder names the repository's common folder in `commondir`.
fn common_dir(git: &Path) -> PathBuf {
    std::fs::read_to_string(git.join("commondir"))
        .map(|c| git.join(c.trim()))
        .unwrap_or_else(|_| git.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn ci_variables_name_the_branches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pr = env_of(&[
            ("GITHUB_HEAD_REF", "feature"),
            ("GITHUB_REF_NAME", "12/merge"),
            ("GITHUB_BASE_REF", "main"),
        ]);
        assert_eq!(current(dir.path(), &pr).as_deref(), Some("feature"));
        assert_eq!(base(dir.path(), None, &pr), "main");
        assert_eq!(base(dir.path(), Some("release"), &pr), "release");
        let push = env_of(&[
            ("GITHUB_HEAD_REF", ""),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_BASE_REF", ""),
        ]);
        assert_eq!(current(dir.path(), &push).as_deref(), Some("main"));
        let gitlab = env_of(&[
            ("CI_COMMIT_REF_NAME", "topic"),
            ("CI_DEFAULT_BRANCH", "trunk"),
        ]);
        assert_eq!(current(dir.path(), &gitlab).as_deref(), Some("topic"));
        assert_eq!(base(dir.path(), None, &gitlab), "trunk");
    }

    #[test]
    fn without_ci_the_repository_says() {
        let none = env_of(&[]);
        let dir = tempfile::tempdir().expect("tempdir");
        // No repository: no branch, and `main` as the base.
        assert_eq!(current(dir.path(), &none), None);
        assert_eq!(base(dir.path(), None, &none), "main");
        let git = dir.path().join(".git");
        std::fs::create_dir_all(git.join("refs/heads")).expect("mkdir");
        std::fs::write(git.join("HEAD"), "ref: refs/heads/topic\n").expect("HEAD");
        let sub = dir.path().join("sub/dir");
        std::fs::create_dir_all(&sub).expect("mkdir");
        assert_eq!(current(&sub, &none).as_deref(), Some("topic"));
        // No main or master: the current branch is the base.
        assert_eq!(base(&sub, None, &none), "topic");
        std::fs::write(
            git.join("packed-refs"),
            "# pack-refs\nabc refs/heads/master\n",
        )
        .expect("packed");
        assert_eq!(base(&sub, None, &none), "master");
        std::fs::write(git.join("refs/heads/main"), "abc\n").expect("main");
        assert_eq!(base(&sub, None, &none), "main");
        std::fs::create_dir_all(git.join("refs/remotes/origin")).expect("mkdir");
        std::fs::write(
            git.join("refs/remotes/origin/HEAD"),
            "ref: refs/remotes/origin/develop\n",
        )
        .expect("origin");
        assert_eq!(base(&sub, None, &none), "develop");
        // Detached: no current branch.
        std::fs::write(git.join("HEAD"), "0123456789abcdef\n").expect("HEAD");
        assert_eq!(current(&sub, &none), None);
    }
}
