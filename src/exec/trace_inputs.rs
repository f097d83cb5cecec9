//! `runner run --trace-inputs`: which files a traced gate read that its key does not hold.
//! Reads inside the repository outside the gate's inputs, the files its kind reads, its needs'
//! keyed artifacts and its own artifacts are listed, each with a glob to add, unless git
//! ignores them (when the gate follows `.gitignore`: such a glob would not match them); reads
//! outside the repository are listed too (an editable install importing another clone's
//! files), except system folders and the gate's declared `tool_dirs`. Files the gate itself
//! created before reading them are not reads at all (the tracer leaves them out).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::fingerprint::{ArtifactSpec, path_string};
use crate::graph::GateGraph;

/// Folders outside the repository whose files are the operating system's, or the tools it
/// installed, never a checkout: the programs and libraries (`/usr`, `/usr/local` included,
/// `/bin`, `/sbin`, the `/lib*` folders, the Nix store), their configuration (`/etc`), the
/// kernel's and devices' views (`/proc`, `/sys`, `/dev`) and the running system's state
/// (`/run`: sockets, PID files).
///
/// Not here, on purpose: `/tmp` and `/var`, where another clone, a CI workspace
/// (`/var/lib/jenkins`) or a virtualenv can live, which is what `--trace-inputs` is for. The
/// noise a gate makes there, its own temporary files, is kept out another way: the tracer
/// leaves out a file the gate created or truncated before reading it (`mktemp`, a compiler's
/// temporary object, a test's `tmp_path`). Nor `/opt`, `/srv` or `/home`: add-on tools and
/// checkouts live there alike; a tool's folder there goes in `tool_dirs`.
const SYSTEM: &[&str] = &[
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/bin",
    "/sbin",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/nix/store",
];

/// One file a gate read without declaring it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct UndeclaredRead {
    /// Relative to the config folder when inside the repository, else absolute.
    pub path: String,
    /// A glob for `inputs` that would cover it (None outside the repository).
    pub suggestion: Option<String>,
}

/// The files in `reads` (absolute) that gate `g` does not declare.
pub(crate) fn undeclared(
    config: &Config,
    graph: &GateGraph,
    g: usize,
    keyed: &[PathBuf],
    reads: &BTreeSet<PathBuf>,
) -> Vec<UndeclaredRead> {
    let gate = &config.gates[g];
    let root = &config.root;
    let declared: BTreeSet<&Path> = keyed.iter().map(PathBuf::as_path).collect();
    // Its own artifacts and its needs' keyed ones: paths, folders and globs.
    let artifact_sets: Vec<ArtifactSpec<'_>> = std::iter::once(ArtifactSpec::of(gate))
        .chain(graph.needs(g).map(|n| {
            let need = &config.gates[n];
            ArtifactSpec::of_entries(need, gate.keyed_artifacts_of(need))
        }))
        .collect();
    let in_artifacts = |rel: &Path| {
        let rel = path_string(rel);
        artifact_sets.iter().any(|s| s.contains(&rel))
    };
    let state: Vec<PathBuf> = [
        config.settings.cache_dir.clone(),
        root.join(".runner"),
        config.settings.history.clone(),
    ]
    .into_iter()
    .collect();
    let tool_dirs: Vec<PathBuf> = gate.tool_dirs.iter().map(|d| expand_home(d)).collect();
    let mut out = BTreeSet::new();
    let mut inside: Vec<&Path> = Vec::new();
    for read in reads {
        if let Ok(rel) = read.strip_prefix(root) {
            if !declared.contains(rel)
                && !in_artifacts(rel)
                && !state.iter().any(|s| read.starts_with(s))
            {
                inside.push(rel);
            }
        } else if !SYSTEM.iter().any(|s| read.starts_with(s))
            && !tool_dirs.iter().any(|d| read.starts_with(d))
        {
            out.insert(UndeclaredRead {
                path: read.to_string_lossy().into_owned(),
                suggestion: None,
            });
        }
    }
    // A file git ignores cannot be added with a glob (globs leave it out): not listed, when
    // the gate follows `.gitignore` (tool caches such as `.pytest_cache/`, `__pycache__/`).
    let ignored = if gate.gitignore {
        crate::fingerprint::git_ignored(root, &inside)
    } else {
        BTreeSet::new()
    };
    for rel in inside.into_iter().filter(|r| !ignored.contains(*r)) {
        out.insert(UndeclaredRead {
            path: rel.to_string_lossy().into_owned(),
            suggestion: Some(suggest(rel)),
        });
    }
    out.into_iter().collect()
}

/// `~/x` with `$HOME`.
fn expand_home(dir: &str) -> PathBuf {
    match (dir.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(dir),
    }
}

/// A glob covering `rel`: its folder's files of the same extension (`src/**/*.py` style is
/// left to the user: one folder is the narrowest that still covers new siblings).
fn suggest(rel: &Path) -> String {
    let dir = rel.parent().filter(|d| !d.as_os_str().is_empty());
    let name = match rel.extension() {
        Some(ext) => format!("*.{}", ext.to_string_lossy()),
        None => rel
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
    };
    match dir {
        Some(d) => format!("{}/{name}", d.to_string_lossy()),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_name_the_folder_and_the_extension() {
        assert_eq!(suggest(Path::new("src/a/b.py")), "src/a/*.py");
        assert_eq!(suggest(Path::new("conftest.py")), "*.py");
        assert_eq!(suggest(Path::new("tools/Makefile")), "tools/Makefile");
    }
}
