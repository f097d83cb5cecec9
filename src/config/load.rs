//! Reading gates.toml: TOML with spans, then every check of SPEC 2, collecting all problems.

use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::model::{
    CacheSettings, Config, EnvMode, Gate, InputGlob, NarrowedNeed, RemoteCacheSettings, Settings,
    SigningSettings, Threshold,
};
use super::{snapshot, threshold_expr};
use crate::diag::{Diagnostic, suggest};
use crate::fields::{Element, Fields, Sink};
use crate::kinds::{GateKind, KINDS, KindParser};
use crate::vocab::{MetricPath, Mode};

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read {file}: {error}")]
    Read {
        /// The config file as the user named it.
        file: String,
        /// Why reading it failed.
        error: std::io::Error,
    },
    /// Every problem found, with the text to render them against.
    #[error("{} problem(s) in {file}", diagnostics.len())]
    Invalid {
        /// The config file as the user named it.
        file: String,
        /// The file's text, which the diagnostics' spans point into.
        source_text: String,
        /// Every problem, in the order of their places in the file.
        diagnostics: Vec<Diagnostic>,
        /// What could be read despite the problems (the gates whose kind parsed), so later
        /// checks (cycles, globs matching nothing) can report their problems in the same pass.
        partial: Option<Box<Config>>,
    },
}

impl LoadError {
    /// The full rendering: each problem with its source line, then a summary line.
    #[must_use]
    pub fn render(&self) -> String {
        match self {
            LoadError::Read { file, error } => {
                format!(
                    "{file}: cannot read the config: {error}\n  = help: runner looks for gates.toml here and in the folders above, up to the repository's root; pass another file with -c PATH, or run `runner init` to write a starter gates.toml\n"
                )
            }
            LoadError::Invalid {
                file,
                source_text,
                diagnostics,
                ..
            } => {
                let mut out: String = diagnostics
                    .iter()
                    .map(|d| d.render(source_text) + "\n")
                    .collect();
                let n = diagnostics.len();
                out.push_str(&format!(
                    "error: {n} problem{} in {file}; nothing ran\n",
                    if n == 1 { "" } else { "s" }
                ));
                out
            }
        }
    }
}

const TOP_KEYS: &[&str] = &["version", "settings", "gates"];
const SETTINGS_KEYS: &[&str] = &[
    "cache_dir",
    "history",
    "jobs",
    "graduate_after_days",
    "remote_cache",
    "signing",
    "env_mode",
    "cache",
];
const CACHE_KEYS: &[&str] = &["max_size", "max_age"];
const REMOTE_KEYS: &[&str] = &["url", "team", "token_env", "read", "write", "timeout"];
const SIGNING_KEYS: &[&str] = &["key_env", "trusted_keys"];
const COMMON_KEYS: &[&str] = &[
    "description",
    "kind",
    "mode",
    "needs",
    "inputs",
    "allow_empty",
    "gitignore",
    "env",
    "pass_env",
    "tool_dirs",
    "artifacts",
    "metrics",
    "junit",
    "timeout",
    "cache",
    "tags",
    "skip_unless_env",
    "graduate_after_days",
    "thresholds",
    "export",
];

/// Every key a gate table may hold, for any kind (used by the gates.toml JSON Schema test).
#[must_use]
pub fn all_gate_keys() -> Vec<&'static str> {
    let mut keys: Vec<&str> = COMMON_KEYS.to_vec();
    for (_, k) in KINDS {
        keys.extend_from_slice(k);
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Load and validate the config at `path` (SPEC 2).
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let file = if path
        .parent()
        .is_some_and(|p| !p.as_os_str().is_empty() && p != Path::new("."))
    {
        path.display().to_string()
    } else {
        file
    };
    let source = std::fs::read_to_string(path).map_err(|error| LoadError::Read {
        file: file.clone(),
        error,
    })?;
    let root = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    let snapshot_file = snapshot::path(&root);
    let key = snapshot::key(&file, &source, &root);
    if let Some(config) = snapshot::read(&snapshot_file, &key, &source) {
        return Ok(config);
    }
    let (config, diagnostics) = parse_partial(&file, &source, &root);
    let config = match config {
        Some(config) if diagnostics.is_empty() => config,
        partial => {
            return Err(LoadError::Invalid {
                file,
                source_text: source.clone(),
                diagnostics,
                partial: partial.map(Box::new),
            });
        }
    };
    snapshot::write(&snapshot_file, &key, &config);
    Ok(config)
}

/// Validate config text. `root` is the folder relative paths resolve against.
pub fn parse(file: &str, source: &str, root: &Path) -> Result<Config, Vec<Diagnostic>> {
    match parse_partial(file, source, root) {
        (Some(config), diags) if diags.is_empty() => Ok(config),
        (_, diags) => Err(diags),
    }
}

/// Validate config text, keeping what could be read: every problem, and the config of the
/// gates whose kind parsed (None when the file is not TOML at all).
pub(super) fn parse_partial(
    file: &str,
    source: &str,
    root: &Path,
) -> (Option<Config>, Vec<Diagnostic>) {
    let mut sink = Sink {
        file: file.to_owned(),
        diags: Vec::new(),
    };
    let doc = match DeTable::parse(source) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().to_owned();
            sink.error(span, format!("invalid TOML: {message}"));
            return (None, sink.diags);
        }
    };
    let top = Fields::new(doc.get_ref(), "the top level");
    top.reject_unknown(&mut sink, TOP_KEYS, |_| None);
    match top.uint(&mut sink, "version") {
        Some((1, _)) => {}
        Some((v, span)) => {
            sink.error_help(
                span,
                format!("unsupported config version {v}"),
                "this runner reads `version = 1`",
            );
        }
        None if top.value("version").is_none() => {
            sink.error_help(
                0..0,
                "missing `version`",
                "add `version = 1` as the first line",
            );
        }
        None => {}
    }
    let settings = read_settings(&mut sink, &top, root);
    let mut gates = Vec::new();
    if let Some((table, _)) = top.table(&mut sink, "gates") {
        let names: std::collections::HashSet<&str> =
            table.keys().map(|k| k.get_ref().as_ref()).collect();
        for (name, value) in table {
            let Some(gate_table) = value.get_ref().as_table() else {
                sink.error(
                    value.span(),
                    format!(
                        "gate `{}` must be a table ([gates.{}])",
                        name.get_ref(),
                        name.get_ref()
                    ),
                );
                continue;
            };
            if let Some(gate) =
                read_gate(&mut sink, name.get_ref(), name.span(), gate_table, &names)
            {
                gates.push(gate);
            }
        }
    }
    check_narrowed_needs(&mut sink, &gates);
    if gates.is_empty() && sink.diags.is_empty() {
        sink.error_help(
            0..0,
            "no gates are defined",
            "add a gate: [gates.build] with run = \"...\"",
        );
    }
    sink.diags
        .sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
    let config = Config {
        file_name: file.to_owned(),
        root: root.to_path_buf(),
        source: source.to_owned(),
        settings,
        gates,
    };
    (Some(config), sink.diags)
}

fn read_settings(sink: &mut Sink, top: &Fields<'_, '_>, root: &Path) -> Settings {
    let mut settings = Settings {
        cache_dir: root.join("cache"),
        history: root.join(".runner/history.jsonl"),
        jobs: 0,
        graduate_after_days: 7,
        remote_cache: None,
        signing: None,
        env_mode: EnvMode::Strict,
        cache: CacheSettings::default(),
    };
    let Some((table, _)) = top.table(sink, "settings") else {
        return settings;
    };
    let f = Fields::new(table, "[settings]");
    f.reject_unknown(sink, SETTINGS_KEYS, |_| None);
    if let Some((dir, _)) = f.string(sink, "cache_dir") {
        settings.cache_dir = root.join(dir);
    }
    if let Some((h, _)) = f.string(sink, "history") {
        settings.history = root.join(h);
    }
    match f.string(sink, "env_mode") {
        None => {}
        Some((m, _)) if m == "strict" => settings.env_mode = EnvMode::Strict,
        Some((m, _)) if m == "loose" => settings.env_mode = EnvMode::Loose,
        Some((m, span)) => sink.error_help(
            span,
            format!("unknown env_mode `{m}` in [settings]"),
            suggest(&m, &["strict", "loose"]),
        ),
    }
    if let Some((j, _)) = f.uint(sink, "jobs") {
        settings.jobs = usize::try_from(j).unwrap_or(usize::MAX);
    }
    if let Some((d, span)) = f.uint(sink, "graduate_after_days") {
        settings.graduate_after_days = crate::fields::small_u32(sink, d, span);
    }
    if let Some((t, _)) = f.table(sink, "cache") {
        let c = Fields::new(t, "[settings.cache]");
        c.reject_unknown(sink, CACHE_KEYS, |_| None);
        if let Some((text, span)) = c.string(sink, "max_size") {
            match crate::vocab::size::parse(&text) {
                Ok(bytes) => settings.cache.max_size = bytes,
                Err(e) => sink.error(span, format!("`max_size` in [settings.cache]: {e}")),
            }
        }
        if let Some(age) = c.duration(sink, "max_age") {
            settings.cache.max_age = age;
        }
    }
    if let Some((t, _)) = f.table(sink, "remote_cache") {
        let r = Fields::new(t, "[settings.remote_cache]");
        r.reject_unknown(sink, REMOTE_KEYS, |_| None);
        settings.remote_cache = Some(RemoteCacheSettings {
            url: r.string(sink, "url").map(|(u, _)| u),
            team: r
                .string(sink, "team")
                .map_or_else(|| "runner".to_owned(), |(t, _)| t),
            token_env: r
                .string(sink, "token_env")
                .map_or_else(|| "RUNNER_REMOTE_CACHE_TOKEN".to_owned(), |(t, _)| t),
            read: r.bool(sink, "read").unwrap_or(true),
            write: r.bool(sink, "write").unwrap_or(false),
            timeout: r
                .duration(sink, "timeout")
                .unwrap_or(Duration::from_secs(10)),
        });
    }
    if let Some((t, _)) = f.table(sink, "signing") {
        let s = Fields::new(t, "[settings.signing]");
        s.reject_unknown(sink, SIGNING_KEYS, |_| None);
        settings.signing = Some(SigningSettings {
            key_env: s
                .string(sink, "key_env")
                .map_or_else(|| "RUNNER_SIGNING_KEY".to_owned(), |(k, _)| k),
            trusted_keys: s
                .strings(sink, "trusted_keys")
                .into_iter()
                .map(|(k, _)| k)
                .collect(),
        });
    }
    settings
}

fn valid_gate_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn read_gate(
    sink: &mut Sink,
    name: &str,
    span: Range<usize>,
    table: &DeTable<'_>,
    all_names: &std::collections::HashSet<&str>,
) -> Option<Gate> {
    let errors_before = sink.diags.len();
    if !valid_gate_name(name) {
        sink.error_help(
            span.clone(),
            format!("gate name `{name}` is not allowed"),
            "use letters, digits, `-`, `_` and `.` (not first)",
        );
    }
    let f = Fields::new(table, format!("gate `{name}`"));
    let kind_name = f
        .string(sink, "kind")
        .unwrap_or_else(|| ("command".to_owned(), span.clone()));
    let known_kind = KINDS.iter().find(|(k, _)| *k == kind_name.0);
    if known_kind.is_none() {
        let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
        sink.error_help(
            kind_name.1.clone(),
            format!("unknown kind `{}` in gate `{name}`", kind_name.0),
            suggest(&kind_name.0, &kinds),
        );
    }
    // With an unknown kind, accept every kind's keys so the other checks still run.
    let known: Vec<&str> = match known_kind {
        Some((_, keys)) => COMMON_KEYS.iter().chain(*keys).copied().collect(),
        None => all_gate_keys(),
    };
    f.reject_unknown(sink, &known, |key| {
        KINDS
            .iter()
            .find(|(_, keys)| keys.contains(&key))
            .map(|(k, _)| {
                format!(
                    "it belongs to kind `{k}`, this gate is kind `{}`",
                    kind_name.0
                )
            })
    });

    let kind = if known_kind.is_some() {
        GateKind::parse(
            &kind_name.0,
            &mut KindParser {
                sink,
                fields: &f,
                gate: name,
                span: span.clone(),
            },
        )
    } else {
        None
    };
    let mode = match f.string(sink, "mode") {
        None => Mode::Blocking,
        Some((m, _)) if m == "blocking" => Mode::Blocking,
        Some((m, _)) if m == "observational" => Mode::Observational,
        Some((m, s)) => {
            sink.error_help(
                s,
                format!("unknown mode `{m}` in gate `{name}`"),
                suggest(&m, &["blocking", "observational"]),
            );
            Mode::Blocking
        }
    };
    let mut needs = Vec::new();
    let mut narrowed = Vec::new();
    let need_items: Vec<(String, Range<usize>)> = f
        .strings_or_tables(
            sink,
            "needs",
            "an array of gate names (or { gate, artifacts } tables)",
        )
        .into_iter()
        .filter_map(|item| match item {
            Element::Str(need, s) => Some((need, s)),
            Element::Table(t, s) => {
                let tf = Fields::new(t, format!("a need of gate `{name}`"));
                tf.reject_unknown(sink, &["gate", "artifacts"], |_| None);
                let Some((need, _)) = tf.string(sink, "gate") else {
                    if tf.value("gate").is_none() {
                        sink.error_help(
                            s,
                            format!("a table in the needs of gate `{name}` needs `gate`"),
                            "write { gate = \"test\", artifacts = [\".coverage\"] }",
                        );
                    }
                    return None;
                };
                if tf.value("artifacts").is_some() {
                    let artifacts: Vec<String> = tf
                        .strings(sink, "artifacts")
                        .into_iter()
                        .map(|(a, _)| a)
                        .collect();
                    narrowed.push(NarrowedNeed {
                        gate: need.clone(),
                        artifacts,
                        span: s.clone(),
                    });
                }
                Some((need, s))
            }
        })
        .collect();
    for (need, s) in need_items {
        if !all_names.contains(need.as_str()) {
            let mut others: Vec<&str> = all_names.iter().copied().filter(|n| *n != name).collect();
            others.sort_unstable();
            sink.error_help(
                s,
                format!("gate `{name}` needs unknown gate `{need}`"),
                suggest(&need, &others),
            );
        } else if !needs.contains(&need) {
            needs.push(need);
        }
    }
    let mut runtime_inputs: Vec<String> = Vec::new();
    let input_strings: Vec<(String, Range<usize>)> = f
        .strings_or_tables(sink, "inputs", "an array of globs (or { run } tables)")
        .into_iter()
        .filter_map(|item| match item {
            Element::Str(pattern, s) => Some((pattern, s)),
            Element::Table(t, s) => {
                let tf = Fields::new(t, format!("an input of gate `{name}`"));
                tf.reject_unknown(sink, &["run"], |_| None);
                match tf.string(sink, "run") {
                    Some((command, span)) => {
                        if command.trim().is_empty() {
                            sink.error(
                                span,
                                format!("the runtime input of gate `{name}` has an empty `run`"),
                            );
                        } else if !runtime_inputs.contains(&command) {
                            runtime_inputs.push(command);
                        }
                    }
                    None if tf.value("run").is_none() => sink.error_help(
                        s,
                        format!("a table in the inputs of gate `{name}` needs `run`"),
                        "a runtime input is { run = \"tool --version\" }: its output enters the key",
                    ),
                    None => {}
                }
                None
            }
        })
        .collect();
    let inputs: Vec<InputGlob> = input_strings
        .into_iter()
        .filter_map(|(pattern, s)| {
            let (exclude, pattern) = match pattern.strip_prefix('!') {
                Some(p) => (true, p.to_owned()),
                None => (false, pattern),
            };
            // `dir/*.ext` needs no glob parse (the common case, thousands of times per load).
            let (dir, last) = pattern.rsplit_once('/').unwrap_or(("", pattern.as_str()));
            let simple = !dir.contains(['*', '?', '[', '{', ']', '}', '\\'])
                && !last.contains(['?', '[', '{', ']', '}', '\\']);
            if let Err(e) = if simple {
                Ok(())
            } else {
                globset::Glob::new(&pattern).map(drop)
            } {
                sink.error(
                    s,
                    format!("invalid glob `{pattern}` in gate `{name}`: {}", e.kind()),
                );
                return None;
            }
            if Path::new(&pattern).is_absolute() || pattern.split('/').any(|c| c == "..") {
                sink.error_help(
                    s,
                    format!("input `{pattern}` of gate `{name}` leaves the repository"),
                    "inputs are globs relative to the config file's folder",
                );
                return None;
            }
            Some(InputGlob {
                pattern,
                exclude,
                span: s,
            })
        })
        .collect();
    let mut env: Vec<String> = f.strings(sink, "env").into_iter().map(|(e, _)| e).collect();
    env.sort();
    env.dedup();
    let mut tool_dirs = Vec::new();
    for (dir, span) in f.strings(sink, "tool_dirs") {
        if dir.starts_with('/') || dir.starts_with("~/") {
            tool_dirs.push(dir);
        } else {
            sink.error_help(
                span,
                format!("tool_dirs entry `{dir}` of gate `{name}` is relative"),
                "tool folders are outside the repository: write an absolute path or one under ~/",
            );
        }
    }
    let mut pass_env: Vec<String> = f
        .strings(sink, "pass_env")
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    pass_env.sort();
    pass_env.dedup();
    let mut artifacts = Vec::new();
    for (a, s) in f.strings(sink, "artifacts") {
        if let Some(p) = repo_relative(sink, &a, s, name, "artifact") {
            artifacts.push(p);
        }
    }
    check_outputs_are_not_inputs(sink, name, &inputs, &artifacts);
    let metrics = f
        .string(sink, "metrics")
        .and_then(|(m, s)| repo_relative(sink, &m, s, name, "metrics file"));
    let junit = read_junit(sink, &f, name, known_kind.map(|(k, _)| *k), &artifacts);
    let thresholds = read_thresholds(sink, &f, name);
    let metrics = match &kind {
        // The `junit` counts are a metrics document of their own: thresholds need no file then.
        Some(kind) => resolve_metrics(
            sink,
            kind,
            name,
            &span,
            metrics,
            &mut artifacts,
            !thresholds.is_empty() && junit.is_none(),
        ),
        None => metrics,
    };
    let timeout = f
        .duration(sink, "timeout")
        .unwrap_or(Duration::from_secs(30 * 60));
    let graduate_after_days = f
        .uint(sink, "graduate_after_days")
        .map(|(d, s)| crate::fields::small_u32(sink, d, s));
    let export_entries = f.string_map(sink, "export");
    let mut export = Vec::new();
    for (exported, path, s) in &export_entries {
        match MetricPath::parse(path) {
            Ok(p) => export.push((exported.clone(), p)),
            Err(e) => sink.error_help(
                s.clone(),
                format!("export `{exported}` of gate `{name}`: {e}"),
                "write a dotted path into the metrics JSON, for example \"verify_p95_ms\" or \"a.b[0]\"",
            ),
        }
        if exported.is_empty()
            || !exported
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':'))
        {
            sink.error_help(
                s.clone(),
                format!(
                    "exported metric name `{exported}` in gate `{name}` is not a valid metric name"
                ),
                "use letters, digits, `_` and `.` (dots become `_`)",
            );
        }
    }
    let description = f.string(sink, "description").map(|(d, _)| d);
    let allow_empty = f.bool(sink, "allow_empty").unwrap_or(false);
    let gitignore = f.bool(sink, "gitignore").unwrap_or(true);
    let cache = f.bool(sink, "cache").unwrap_or(true);
    let tags = f
        .strings(sink, "tags")
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let skip_unless_env = f
        .string_map(sink, "skip_unless_env")
        .into_iter()
        .map(|(k, v, _)| (k, v))
        .collect();
    let kind = kind?;
    let gate = Gate {
        name: name.to_owned(),
        description,
        kind_json: serde_json::to_string(&kind).unwrap_or_default(),
        kind,
        mode,
        needs,
        inputs,
        allow_empty,
        gitignore,
        env,
        pass_env,
        tool_dirs,
        runtime_inputs,
        narrowed,
        artifacts,
        metrics,
        junit,
        timeout,
        cache,
        tags,
        skip_unless_env,
        graduate_after_days,
        thresholds,
        export,
        span,
    };
    // With problems of its own the gate is still returned: the config as a whole is then
    // invalid, and the gate serves only the checks that report the other problems.
    let _ = errors_before;
    Some(gate)
}

/// `needs = [{ gate = "x", artifacts = [...] }]` may list only artifacts that `x` declares.
fn check_narrowed_needs(sink: &mut Sink, gates: &[Gate]) {
    for gate in gates {
        for n in &gate.narrowed {
            let Some(need) = gates.iter().find(|g| g.name == n.gate) else {
                continue;
            };
            for a in n.artifacts.iter().filter(|a| !need.artifacts.contains(a)) {
                sink.error_help(
                    n.span.clone(),
                    format!(
                        "gate `{}` narrows its need `{}` to artifact `{a}`, which `{}` does not declare",
                        gate.name, n.gate, n.gate
                    ),
                    format!(
                        "`{}` declares: {}",
                        n.gate,
                        if need.artifacts.is_empty() {
                            "no artifact".to_owned()
                        } else {
                            need.artifacts.join(", ")
                        }
                    ),
                );
            }
        }
    }
}

/// A gate's artifacts are removed before it runs: one that its own inputs match would be
/// deleted from under it (and its key would follow its own output). Each overlap is an error
/// at the input, naming the artifact.
fn check_outputs_are_not_inputs(
    sink: &mut Sink,
    gate: &str,
    inputs: &[InputGlob],
    artifacts: &[String],
) {
    let compile = |pattern: &str| {
        let literal = pattern.trim_end_matches('/');
        // A literal folder means everything under it, as when inputs are expanded.
        globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .ok()
            .map(|g| (g.compile_matcher(), format!("{literal}/")))
    };
    let excluded: Vec<_> = inputs
        .iter()
        .filter(|i| i.exclude)
        .filter_map(|i| compile(&i.pattern))
        .collect();
    for input in inputs.iter().filter(|i| !i.exclude) {
        let Some((matcher, folder)) = compile(&input.pattern) else {
            continue;
        };
        for artifact in artifacts {
            let matches = |m: &globset::GlobMatcher, folder: &str| {
                m.is_match(artifact) || artifact.starts_with(folder)
            };
            if matches(&matcher, &folder) && !excluded.iter().any(|(m, f)| matches(m, f)) {
                sink.error_help(
                    input.span.clone(),
                    format!(
                        "input `{}` of gate `{gate}` matches its own artifact `{artifact}`",
                        input.pattern
                    ),
                    format!(
                        "a gate's artifacts are removed before it runs, so they cannot be its inputs; \
                         add \"!{artifact}\" to `inputs`, or narrow the glob"
                    ),
                );
            }
        }
    }
}

/// `junit = "out/pytest.xml"`: on command gates only (`kind` is None when it is unknown), a
/// path inside the repository that is one of the gate's artifacts, so a cache replay restores
/// the file the verdict is read from.
fn read_junit(
    sink: &mut Sink,
    f: &Fields<'_, '_>,
    name: &str,
    kind: Option<&str>,
    artifacts: &[String],
) -> Option<String> {
    let (path, span) = f.string(sink, "junit")?;
    if let Some(kind) = kind.filter(|k| *k != "command") {
        sink.error_help(
            span,
            format!(
                "key `junit` does not apply here: it belongs to kind `command`, this gate is kind `{kind}` (gate `{name}`)"
            ),
            "`junit` reads the JUnit XML a command writes; a built-in kind judges its own items",
        );
        return None;
    }
    let path = repo_relative(sink, &path, span.clone(), name, "junit file")?;
    if !artifacts.contains(&path) {
        sink.error_help(
            span,
            format!("junit file `{path}` of gate `{name}` is not one of its artifacts"),
            "add it to artifacts so a replay has it",
        );
    }
    Some(path)
}

/// The metrics file: as set, else the only `.json` artifact. Built-in kinds always get one (their
/// artifact), added to `artifacts` under `.runner/out/` when the gate declares none.
fn resolve_metrics(
    sink: &mut Sink,
    kind: &GateKind,
    name: &str,
    span: &Range<usize>,
    metrics: Option<String>,
    artifacts: &mut Vec<String>,
    thresholds_need_file: bool,
) -> Option<String> {
    let only_json = || {
        let mut json = artifacts.iter().filter(|a| a.ends_with(".json"));
        match (json.next(), json.next()) {
            (Some(one), None) => Some(one.clone()),
            _ => None,
        }
    };
    let metrics = metrics.or_else(only_json);
    if kind.is_builtin() {
        let path = metrics.unwrap_or_else(|| format!(".runner/out/{name}.json"));
        if !artifacts.contains(&path) {
            artifacts.push(path.clone());
        }
        return Some(path);
    }
    if metrics.is_none() && thresholds_need_file {
        sink.error_help(
            span.clone(),
            format!("gate `{name}` has thresholds but no metrics file"),
            "set `metrics = \"path/to/metrics.json\"`, or declare exactly one .json artifact",
        );
    }
    metrics
}

fn read_thresholds(sink: &mut Sink, f: &Fields<'_, '_>, name: &str) -> Vec<Threshold> {
    let Some((t, _)) = f.table(sink, "thresholds") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (metric, value) in t {
        let metric_name = metric.get_ref().to_string();
        let Some(text) = value.get_ref().as_str() else {
            sink.error_help(
                value.span(),
                format!(
                    "threshold `{metric_name}` of gate `{name}` must be a string, found {}",
                    value.get_ref().type_str()
                ),
                format!(
                    "write it as `{metric_name} = \"<= {}\"`",
                    toml_scalar(value.get_ref())
                ),
            );
            continue;
        };
        let path = match MetricPath::parse(&metric_name) {
            Ok(p) => p,
            Err(e) => {
                sink.error(
                    metric.span(),
                    format!("threshold key `{metric_name}` of gate `{name}`: {e}"),
                );
                continue;
            }
        };
        match threshold_expr::parse(text) {
            Ok(expr) => out.push(Threshold { metric: path, expr }),
            Err(e) => sink.error_help(
                value.span(),
                format!("bad threshold for `{metric_name}` in gate `{name}`: {e}"),
                "write \"<op> <number>\" with op one of < <= > >= == != (for example \"<= 50\")",
            ),
        }
    }
    out
}

fn toml_scalar(v: &DeValue<'_>) -> String {
    match v {
        DeValue::Integer(i) => i.as_str().to_owned(),
        DeValue::Float(f) => f.as_str().to_owned(),
        _ => "N".to_owned(),
    }
}

/// Normalise a path the gate writes or reads: relative, inside the repository.
fn repo_relative(
    sink: &mut Sink,
    path: &str,
    span: Range<usize>,
    gate: &str,
    what: &str,
) -> Option<String> {
    let p = Path::new(path);
    if p.is_absolute() {
        sink.error_help(
            span,
            format!("{what} `{path}` of gate `{gate}` is absolute"),
            "write it relative to the config file's folder",
        );
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str().unwrap_or_default()),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    sink.error_help(
                        span,
                        format!("{what} `{path}` of gate `{gate}` leaves the repository"),
                        "artifacts must stay inside the config file's folder",
                    );
                    return None;
                }
            }
            _ => return None,
        }
    }
    if parts.is_empty() {
        sink.error(
            span,
            format!("{what} `{path}` of gate `{gate}` names no file"),
        );
        return None;
    }
    Some(parts.join("/"))
}
