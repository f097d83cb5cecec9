//! `.gitignore` rules for inputs (on by default, as ruff, ripgrep and Turborepo do): a file a
//! glob matches is not an input when git ignores it, so build output, virtualenvs and tool
//! caches under a `**` do not enter keys. A file named exactly in `inputs` is never ignored.
//!
//! The rules are git's: the `.gitignore` files of the config folder and below (each applying
//! below its folder, deeper ones first), those of the folders above it up to the repository's
//! root (the nearest folder holding `.git`), and that root's `.git/info/exclude`, read with the
//! `ignore` crate (ripgrep's). The `.gitignore` files below the config folder are found in the
//! folder listings the expansion already made, plus the folders above each walk's base: no
//! extra walk.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::fasthash::FastMap;

/// The ignore rules of one expansion.
pub(super) struct Ignores {
    root: PathBuf,
    /// Folder (relative to the root; empty for the root) -> its `.gitignore` rules. Keyed by
    /// the path's bytes: hashing a `Path` walks its components, once per folder per file.
    by_dir: FastMap<OsString, Gitignore>,
    /// The `.gitignore` rules of the folders above the root, up to the repository's root,
    /// nearest first (`gates.toml` in a subfolder: the repository's own rules apply too).
    above: Vec<Gitignore>,
    /// The repository's `.git/info/exclude`: the lowest precedence.
    exclude: Option<Gitignore>,
}

impl Ignores {
    /// The rules for `root`, from `.gitignore` files among `listed` (paths relative to the
    /// root) and in the folders above the walks' `bases`. None when there is no rule at all.
    pub(super) fn load<'a>(
        root: &Path,
        listed: impl Iterator<Item = &'a Path>,
        bases: impl Iterator<Item = &'a Path>,
    ) -> Option<Self> {
        let mut dirs: Vec<PathBuf> = listed
            .filter(|p| p.file_name().is_some_and(|n| n == ".gitignore"))
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        // The folders above each base, up to the root (a base's own `.gitignore` is in its
        // listing: no stat per base, which at 10,000 gates would be 10,000 more system calls).
        let mut above: Vec<&Path> = bases.filter_map(Path::parent).collect();
        above.sort_unstable();
        above.dedup();
        for base in above {
            let mut dir = Some(base);
            while let Some(d) = dir {
                dirs.push(d.to_path_buf());
                dir = d.parent();
            }
        }
        dirs.push(PathBuf::new());
        dirs.sort();
        dirs.dedup();
        let mut by_dir = FastMap::default();
        for dir in dirs {
            let at = root.join(&dir);
            if let Some(rules) = rules_of(&at, &at.join(".gitignore")) {
                by_dir.insert(dir.into_os_string(), rules);
            }
        }
        // The folders above, up to the repository's root; none when the root is the
        // repository's, or when no folder above holds `.git` (not a repository: only the
        // rules inside the config folder).
        let repository = root.ancestors().find(|d| d.join(".git").exists());
        let mut above = Vec::new();
        if let Some(top) = repository {
            for dir in root.ancestors().skip(1) {
                if !dir.starts_with(top) {
                    break;
                }
                if let Some(rules) = rules_of(dir, &dir.join(".gitignore")) {
                    above.push(rules);
                }
            }
        }
        let exclude = repository
            .and_then(info_exclude)
            .and_then(|file| rules_of(repository.unwrap_or(root), &file));
        if by_dir.is_empty() && above.is_empty() && exclude.is_none() {
            return None;
        }
        Some(Ignores {
            root: root.to_path_buf(),
            by_dir,
            above,
            exclude,
        })
    }

    /// Whether git ignores the file at `rel` (relative to the root).
    pub(super) fn ignored(&self, rel: &Path) -> bool {
        let abs = self.root.join(rel);
        // Most repositories have a `.gitignore` at the root only: no walk up per file then.
        let mut dir = if self.by_dir.is_empty() {
            None
        } else {
            rel.parent()
        };
        // Deeper files first: their rules override the ones above them.
        while let Some(d) = dir {
            if let Some(rules) = self.by_dir.get(d.as_os_str()) {
                match rules.matched_path_or_any_parents(&abs, false) {
                    Match::Ignore(_) => return true,
                    Match::Whitelist(_) => return false,
                    Match::None => {}
                }
            }
            dir = d.parent();
        }
        for rules in &self.above {
            match rules.matched_path_or_any_parents(&abs, false) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        self.exclude.as_ref().is_some_and(|rules| {
            matches!(
                rules.matched_path_or_any_parents(&abs, false),
                Match::Ignore(_)
            )
        })
    }
}

/// The rules of one ignore file, relative to `dir`; None when it is absent or unreadable.
fn rules_of(dir: &Path, file: &Path) -> Option<Gitignore> {
    if !file.is_file() {
        return None;
    }
    let mut builder = GitignoreBuilder::new(dir);
    // A line that is not a valid pattern is skipped, as git does.
    let _ = builder.add(file);
    // A file of comments only (git's own `info/exclude` template) matches nothing: without
    // it, every file a glob matches need not be checked at all.
    builder
        .build()
        .ok()
        .filter(|g| g.num_ignores() + g.num_whitelists() > 0)
}

/// The `info/exclude` file of the repository whose root is `top`: in `.git/`, or, when `.git`
/// is a file (a worktree or a submodule: `gitdir: PATH`), in the common folder of the git
/// folder it names, as git reads it.
fn info_exclude(top: &Path) -> Option<PathBuf> {
    let dot_git = top.join(".git");
    if dot_git.is_dir() {
        return Some(dot_git.join("info").join("exclude"));
    }
    let text = std::fs::read_to_string(&dot_git).ok()?;
    let git_dir = top.join(text.strip_prefix("gitdir:")?.trim());
    let common = match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(c) => git_dir.join(c.trim()),
        Err(_) => git_dir,
    };
    Some(common.join("info").join("exclude"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_rules_and_negations() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/gen")).unwrap();
        std::fs::create_dir_all(root.join(".git/info")).unwrap();
        std::fs::write(root.join(".gitignore"), "build/\n*.log\n!keep.log\n").unwrap();
        std::fs::write(root.join("src/.gitignore"), "gen/\n!important.log\n").unwrap();
        std::fs::write(root.join(".git/info/exclude"), "local.txt\n").unwrap();
        let listed = [Path::new("src/.gitignore")];
        let ignores =
            Ignores::load(root, listed.into_iter(), [Path::new("src")].into_iter()).expect("rules");
        for (path, ignored) in [
            ("build/out.o", true),
            ("src/build/x.o", true),
            ("a.log", true),
            ("keep.log", false),
            ("src/gen/x.rs", true),
            ("src/lib.rs", false),
            ("src/important.log", false),
            ("local.txt", true),
            ("README.md", false),
        ] {
            assert_eq!(ignores.ignored(Path::new(path)), ignored, "{path}");
        }
    }

    /// Files of comments only (what `git init` leaves in `info/exclude`) are no rules: with
    /// nothing else, there is nothing to check per file. One real rule is seen.
    #[test]
    fn comment_only_files_are_no_rules() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".git/info")).unwrap();
        std::fs::write(
            root.join(".git/info/exclude"),
            "# git ls-files --others\n# *.o\n",
        )
        .unwrap();
        std::fs::write(root.join(".gitignore"), "# nothing yet\n\n").unwrap();
        let load = || Ignores::load(root, std::iter::empty(), std::iter::empty());
        assert!(load().is_none());
        std::fs::write(root.join(".gitignore"), "# one rule\n*.log\n").unwrap();
        let ignores = load().expect("a rule");
        assert!(ignores.ignored(Path::new("a.log")));
        assert!(!ignores.ignored(Path::new("a.txt")));
    }

    #[test]
    fn the_folders_above_apply_up_to_the_repository_root() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("repo");
        let root = top.join("services/api");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::create_dir_all(top.join(".git/info")).unwrap();
        // Above the repository: never read.
        std::fs::write(dir.path().join(".gitignore"), "*.txt\n").unwrap();
        std::fs::write(
            top.join(".gitignore"),
            "*.pyc\n/services/api/gen/\n!keep.pyc\n",
        )
        .unwrap();
        std::fs::write(top.join("services/.gitignore"), "*.log\n").unwrap();
        std::fs::write(top.join(".git/info/exclude"), "local.env\n").unwrap();
        std::fs::write(root.join(".gitignore"), "!wanted.log\n").unwrap();
        let listed = [Path::new(".gitignore")];
        let ignores = Ignores::load(&root, listed.into_iter(), std::iter::empty()).expect("rules");
        for (path, ignored) in [
            ("src/a.pyc", true),
            ("src/keep.pyc", false),
            ("gen/x.py", true),
            ("src/gen/x.py", false),
            ("a.log", true),
            ("wanted.log", false),
            ("local.env", true),
            ("notes.txt", false),
            ("src/a.py", false),
        ] {
            assert_eq!(ignores.ignored(Path::new(path)), ignored, "{path}");
        }
        // Without `.git` above, the folders above are not a repository's: not read.
        std::fs::remove_dir_all(top.join(".git")).unwrap();
        let ignores = Ignores::load(&root, listed.into_iter(), std::iter::empty()).expect("rules");
        assert!(!ignores.ignored(Path::new("src/a.pyc")));
    }

    #[test]
    fn a_worktrees_exclude_file_is_in_the_common_git_folder() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main");
        let wt = dir.path().join("wt");
        std::fs::create_dir_all(main.join(".git/info")).unwrap();
        std::fs::create_dir_all(main.join(".git/worktrees/wt")).unwrap();
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(main.join(".git/info/exclude"), "local.env\n").unwrap();
        std::fs::write(main.join(".git/worktrees/wt/commondir"), "../..\n").unwrap();
        std::fs::write(
            wt.join(".git"),
            format!("gitdir: {}\n", main.join(".git/worktrees/wt").display()),
        )
        .unwrap();
        let ignores = Ignores::load(&wt, std::iter::empty(), std::iter::empty()).expect("rules");
        assert!(ignores.ignored(Path::new("local.env")));
        assert!(!ignores.ignored(Path::new("other.env")));
    }

    #[test]
    fn no_rule_file_means_no_rules() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Ignores::load(dir.path(), std::iter::empty(), std::iter::empty()).is_none());
    }
}
