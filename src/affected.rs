//! Which gates a set of changed files affects: `runner run --affected` (the files of a diff)
//! and `runner watch` (the files an editor saved) share the rule.
//!
//! A changed path selects a gate when it matches one of the gate's `inputs` globs (and none of
//! its `!` exclusions), one of its kind's globs (`invalid` of a schema gate), or is a file its
//! kind names (a schema, a policy, a checklist). A literal folder in `inputs` covers everything
//! below it. The path is matched against the globs themselves, not against the files they
//! expand to, so a deleted file selects the gates that read it. `.gitignore` is not applied:
//! a file git reports is one git tracks, or an untracked file git does not ignore.
//!
//! Then, conservatively:
//! - the config file changed: every gate (a gate's command, inputs or needs may have changed);
//! - a gate with runtime inputs (`{ run = "..." }`): always, since their output (a tool's
//!   version) is not in any diff;
//! - a gate with no inputs, no kind files and no needs: always, since nothing says what it
//!   reads. A gate with no inputs of its own but with needs reads what they produce: it is
//!   selected when one of them is;
//! - a changed file that matches no gate selects nothing.
//!
//! The selected gates' dependents (the gates that need them, transitively) are added; what the
//! selection needs is added later by the selection itself, as for any run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::config::{Config, Gate};
use crate::git::{self, GitError};
use crate::graph::GateGraph;

/// Why a gate is in the affected set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Why {
    /// Changed files it reads (inputs, kind files).
    Files(Vec<String>),
    /// The config file changed.
    Config,
    /// It is always selected: the reason in words.
    Always(&'static str),
    /// It needs an affected gate (the first one found, by index).
    Needs(usize),
}

/// Changed files matched against the gates: each path's gates, and the gates selected.
#[derive(Debug, Clone, Default)]
pub(crate) struct Touched {
    /// Each changed path (relative to the config folder) and the gates it selects directly
    /// (empty: none).
    pub files: Vec<(String, Vec<usize>)>,
    /// Every affected gate and why, dependents included.
    pub gates: BTreeMap<usize, Why>,
    /// The config file is among the changed paths.
    pub config_changed: bool,
}

impl Touched {
    /// The affected gates.
    #[must_use]
    pub(crate) fn selected(&self) -> BTreeSet<usize> {
        self.gates.keys().copied().collect()
    }
}

/// One gate's matchers.
struct GateMatcher {
    inputs: GlobSet,
    excluded: GlobSet,
    kind: GlobSet,
    kind_excluded: GlobSet,
    files: BTreeSet<String>,
}

impl GateMatcher {
    fn new(gate: &Gate) -> Self {
        let patterns = |items: &mut dyn Iterator<Item = &str>| {
            let mut b = GlobSetBuilder::new();
            for p in items {
                for g in globs_of(p) {
                    b.add(g);
                }
            }
            b.build().unwrap_or_else(|_| GlobSet::empty())
        };
        let kind_globs = gate.kind.input_globs().map_or(&[][..], |(_, g)| g);
        GateMatcher {
            inputs: patterns(
                &mut gate
                    .inputs
                    .iter()
                    .filter(|i| !i.exclude)
                    .map(|i| i.pattern.as_str()),
            ),
            excluded: patterns(
                &mut gate
                    .inputs
                    .iter()
                    .filter(|i| i.exclude)
                    .map(|i| i.pattern.as_str()),
            ),
            kind: patterns(
                &mut kind_globs
                    .iter()
                    .map(String::as_str)
                    .filter(|g| !g.starts_with('!')),
            ),
            kind_excluded: patterns(&mut kind_globs.iter().filter_map(|g| g.strip_prefix('!'))),
            files: gate
                .kind
                .referenced_files()
                .into_iter()
                .map(|f| f.trim_start_matches("./").to_owned())
                .collect(),
        }
    }

    fn matches(&self, path: &str) -> bool {
        (self.inputs.is_match(path) && !self.excluded.is_match(path))
            || (self.kind.is_match(path) && !self.kind_excluded.is_match(path))
            || self.files.contains(path)
    }
}

/// The globs a pattern stands for: itself, and for a literal path (a folder in `inputs`
/// means everything below it) also `path/**`.
fn globs_of(pattern: &str) -> Vec<Glob> {
    let pattern = pattern.trim_start_matches("./");
    let build = |p: &str| {
        GlobBuilder::new(p)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .ok()
    };
    let mut out: Vec<Glob> = build(pattern).into_iter().collect();
    if !pattern.contains(['*', '?', '[', '{']) {
        out.extend(build(&format!("{}/**", pattern.trim_end_matches('/'))));
    }
    out
}

/// The literal folder a pattern (or a file named exactly) lies in: its text before the first
/// wildcard or escape, up to the last `/` of that text; `""` when there is none (`**/*.rs`,
/// `x.txt`). Every path the pattern matches lies below it, a pattern written as a folder
/// (`src`, meaning `src/**` too) included.
fn anchor(pattern: &str) -> &str {
    let pattern = pattern.trim_start_matches("./");
    let literal = pattern
        .find(['*', '?', '[', '{', '\\'])
        .map_or(pattern, |i| &pattern[..i]);
    literal.rsplit_once('/').map_or("", |(folder, _)| folder)
}

/// Why a gate is selected whatever changed, if it is.
fn always(gate: &Gate) -> Option<&'static str> {
    if !gate.runtime_inputs.is_empty() {
        return Some("runtime inputs: their output is in no diff");
    }
    let no_files = gate.inputs.iter().all(|i| i.exclude)
        && gate.kind.input_globs().is_none_or(|(_, g)| g.is_empty())
        && gate.kind.referenced_files().is_empty();
    (no_files && gate.needs.is_empty()).then_some("no inputs declared: what it reads is unknown")
}

/// Every gate's matchers, built once for a config (`watch` matches many batches of changes).
pub(crate) struct Matchers {
    gates: Vec<GateMatcher>,
    /// Folder -> the gates that have a glob (or kind file) anchored there: the literal folder
    /// before a pattern's first wildcard (`in/g00042` for `in/g00042/*.txt`, `""` for
    /// `**/*.rs`). Everything a pattern matches lies below its anchor, so a changed path is
    /// matched only against the gates anchored at one of its folders: a change is matched in
    /// time that follows its depth and those gates, not the number of gates (100,000 gates
    /// matched one by one took tens of milliseconds a change in `runner watch`).
    by_folder: std::collections::HashMap<String, Vec<usize>>,
    /// The config file's name in its folder.
    config_name: String,
}

impl Matchers {
    /// The matchers of every gate of `config`.
    #[must_use]
    pub(crate) fn new(config: &Config) -> Self {
        let mut by_folder: std::collections::HashMap<String, Vec<usize>> =
            std::collections::HashMap::new();
        for (g, gate) in config.gates.iter().enumerate() {
            let kind_globs = gate.kind.input_globs().map_or(&[][..], |(_, g)| g);
            let mut anchors: BTreeSet<&str> = gate
                .inputs
                .iter()
                .filter(|i| !i.exclude)
                .map(|i| anchor(&i.pattern))
                .chain(
                    kind_globs
                        .iter()
                        .filter(|p| !p.starts_with('!'))
                        .map(|p| anchor(p)),
                )
                .collect();
            let files = gate.kind.referenced_files();
            anchors.extend(files.iter().map(|f| anchor(f)));
            for a in anchors {
                by_folder.entry(a.to_owned()).or_default().push(g);
            }
        }
        Matchers {
            by_folder,
            gates: config.gates.iter().map(GateMatcher::new).collect(),
            config_name: Path::new(&config.file_name)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }

    /// Is `path` (relative to the config folder) the config file?
    #[must_use]
    pub(crate) fn is_config(&self, path: &str) -> bool {
        path.trim_start_matches("./") == self.config_name
    }

    /// The gates `path` selects directly, in index order: those anchored at one of its
    /// folders whose patterns match it.
    fn matching(&self, path: &str) -> Vec<usize> {
        let mut folders: Vec<&str> = vec![""];
        folders.extend(path.match_indices('/').map(|(i, _)| &path[..i]));
        let mut gates: Vec<usize> = folders
            .into_iter()
            .filter_map(|f| self.by_folder.get(f))
            .flatten()
            .copied()
            .filter(|&g| self.gates[g].matches(path))
            .collect();
        gates.sort_unstable();
        gates.dedup();
        gates
    }

    /// Match `paths` against every gate and add dependents. With `always`, the gates that
    /// are selected whatever changed are added too (`--affected`; `watch` leaves them to its
    /// first run).
    #[must_use]
    pub(crate) fn touched(
        &self,
        config: &Config,
        graph: &GateGraph,
        paths: &[String],
        always_too: bool,
    ) -> Touched {
        let mut out = Touched::default();
        let mut direct: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for path in paths {
            let path = path.trim_start_matches("./");
            if self.is_config(path) {
                out.config_changed = true;
                out.files
                    .push((path.to_owned(), (0..config.gates.len()).collect()));
                continue;
            }
            let gates = self.matching(path);
            for &g in &gates {
                direct.entry(g).or_default().push(path.to_owned());
            }
            out.files.push((path.to_owned(), gates));
        }
        for (g, gate) in config.gates.iter().enumerate() {
            if out.config_changed {
                out.gates.insert(g, Why::Config);
            } else if let Some(files) = direct.remove(&g) {
                out.gates.insert(g, Why::Files(files));
            } else if let Some(why) = always(gate).filter(|_| always_too) {
                out.gates.insert(g, Why::Always(why));
            }
        }
        // Dependents, transitively: a gate reads what the gates it needs produce.
        let mut stack: Vec<usize> = out.gates.keys().copied().collect();
        while let Some(g) = stack.pop() {
            let mut dependents: Vec<usize> = graph.dependents(g).collect();
            dependents.sort_unstable();
            for d in dependents {
                if let std::collections::btree_map::Entry::Vacant(e) = out.gates.entry(d) {
                    e.insert(Why::Needs(g));
                    stack.push(d);
                }
            }
        }
        out
    }
}

/// Match `paths` (relative to the config folder) against every gate, and add dependents and
/// the gates selected whatever changed.
#[must_use]
pub(crate) fn touched(config: &Config, graph: &GateGraph, paths: &[String]) -> Touched {
    Matchers::new(config).touched(config, graph, paths, true)
}

/// What `--affected` was asked: the base and head refs, if given.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    pub base: Option<String>,
    pub head: Option<String>,
}

/// The affected gates of a diff, and where the diff came from.
#[derive(Debug, Clone)]
pub(crate) struct Affected {
    /// The base as named (`origin/main`).
    pub base: String,
    /// The head as named; None: HEAD and the work tree, untracked files included.
    pub head: Option<String>,
    /// The merge base of base and head.
    pub merge_base: String,
    pub touched: Touched,
}

/// Ask git what changed between the merge base of the base (`--base`, else the CI system's
/// target branch, else `origin/HEAD`) and the head (`--head`, else the work tree), and match
/// it against the gates.
///
/// # Errors
/// No repository, no base, a shallow clone without the merge base, a failing git.
pub(crate) fn affected(
    config: &Config,
    graph: &GateGraph,
    req: &Request,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Affected, GitError> {
    let root = &config.root;
    git::toplevel(root)?;
    let base = match &req.base {
        Some(b) => b.clone(),
        None => {
            let candidates = git::default_bases(env);
            match git::resolve_first(root, &candidates) {
                Some((name, _)) => name,
                None if git::is_shallow(root) => {
                    return Err(GitError::Shallow {
                        base: candidates.join(" or "),
                        head: req.head.clone().unwrap_or_else(|| "HEAD".to_owned()),
                    });
                }
                None => {
                    return Err(GitError::UnknownRef(format!(
                        "no base to compare with: none of {} names a commit here; pass --base \
                         REF (a branch, tag or commit), or fetch the target branch",
                        candidates.join(", ")
                    )));
                }
            }
        }
    };
    let mut changes = git::changed_files(root, &base, req.head.as_deref())?;
    // The runner's own state is no change of the repository's (when .gitignore does not
    // already leave it out): the cache folder, `.runner/` and the history.
    let state: Vec<String> = [&config.settings.cache_dir, &config.settings.history]
        .iter()
        .filter_map(|p| p.strip_prefix(root).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty())
        .chain([".runner".to_owned()])
        .collect();
    changes.files.retain(|f| {
        !state.iter().any(|s| {
            f == s
                || f.strip_prefix(s.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        })
    });
    let touched = touched(config, graph, &changes.files);
    Ok(Affected {
        base,
        head: req.head.clone(),
        merge_base: changes.merge_base,
        touched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str, files: &[&str]) -> (tempfile::TempDir, Config, GateGraph) {
        let tmp = tempfile::tempdir().unwrap();
        for f in files {
            let p = tmp.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let config = crate::config::parse("gates.toml", text, tmp.path()).unwrap();
        let graph = GateGraph::build(&config).unwrap();
        (tmp, config, graph)
    }

    /// The folder index finds exactly the gates that matching every gate one by one finds.
    #[test]
    fn the_folder_index_selects_what_matching_every_gate_selects() {
        let patterns = [
            "in/g0004*",
            "in/g00042/*.txt",
            "**/*.rs",
            "src",
            "a/b/",
            "./x/*.txt",
            "{a,b}/*.md",
            "c/[ab].txt",
            "deep/**/leaf.txt",
            "x.txt",
            "in/*/f?.txt",
        ];
        let mut text = String::from("version = 1\n");
        for (i, p) in patterns.iter().enumerate() {
            text +=
                &format!("[gates.g{i}]\nrun = \"true\"\ninputs = [{p:?}]\nallow_empty = true\n");
        }
        let (_t, c, _g) = config(&text, &[]);
        let m = Matchers::new(&c);
        let paths = [
            "in/g00042/f0.txt",
            "in/g00041/f1.txt",
            "in/g1/f1.txt",
            "in/g0004",
            "lib/x.rs",
            "x.rs",
            "src/main.rs",
            "src/a/b/c.txt",
            "srcx/y",
            "a/b/c",
            "a/x.md",
            "b/y.md",
            "x/y.txt",
            "c/a.txt",
            "c/c.txt",
            "deep/a/b/leaf.txt",
            "deep/leaf.txt",
            "x.txt",
            "y.txt",
        ];
        for path in paths {
            let all: Vec<usize> = (0..c.gates.len())
                .filter(|&g| m.gates[g].matches(path))
                .collect();
            assert_eq!(m.matching(path), all, "{path}");
        }
        // Not vacuous: most paths select something.
        assert!(paths.iter().filter(|p| !m.matching(p).is_empty()).count() >= 14);
    }

    fn names(c: &Config, set: &BTreeSet<usize>) -> Vec<String> {
        set.iter().map(|&g| c.gates[g].name.clone()).collect()
    }

    #[test]
    fn paths_select_by_glob_folder_and_exclusion_with_dependents() {
        let text = r#"version = 1
[gates.lib]
run = "true"
inputs = ["src/**/*.rs", "!src/generated/**"]
[gates.docs]
run = "true"
inputs = ["docs"]
[gates.test]
run = "true"
needs = ["lib"]
inputs = ["tests/*.rs"]
[gates.bench]
run = "true"
needs = ["test"]
[gates.tool]
run = "true"
inputs = [{ run = "echo 1" }, "x.txt"]
[gates.lonely]
run = "true"
"#;
        let (_t, c, g) = config(
            text,
            &[
                "src/a.rs",
                "docs/a/b.md",
                "tests/t.rs",
                "x.txt",
                "src/generated/g.rs",
            ],
        );
        let t = touched(&c, &g, &["src/deep/gone.rs".to_owned()]);
        assert_eq!(
            names(&c, &t.selected()),
            ["lib", "test", "bench", "tool", "lonely"]
        );
        assert_eq!(t.gates[&2], Why::Needs(0));
        assert_eq!(t.gates[&3], Why::Needs(2));
        let t = touched(&c, &g, &["src/generated/g.rs".to_owned()]);
        assert_eq!(names(&c, &t.selected()), ["tool", "lonely"]);
        let t = touched(&c, &g, &["docs/a/b.md".to_owned(), "README.md".to_owned()]);
        assert_eq!(names(&c, &t.selected()), ["docs", "tool", "lonely"]);
        assert_eq!(t.files[1], ("README.md".to_owned(), vec![]));
        let t = touched(&c, &g, &["gates.toml".to_owned()]);
        assert!(t.config_changed);
        assert_eq!(t.selected().len(), 6);
    }
}
