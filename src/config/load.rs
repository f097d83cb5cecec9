//! Reading gates.toml: TOML with spans, then every check of SPEC 2, collecting all problems.

use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::model::{
    BASELINE_MIN_SAMPLES, BASELINE_WINDOW, BaselineThreshold, CacheSettings, Config, EnvMode, Gate,
    InputGlob, NarrowedNeed, RemoteCacheSettings, Settings, SigningSettings, Statistic, Threshold,
    is_glob,
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
    "resources",
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
    "retries",
    "uses",
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
    if let Some(config) = snapshot::read(&snapshot_file, &key) {
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
    let resources: Vec<&str> = settings.resources.iter().map(|(r, _)| r.as_str()).collect();
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
            let place = GatePlace {
                source,
                name: name.get_ref(),
                span: name.span(),
                all_names: &names,
                resources: &resources,
            };
            if let Some(gate) = read_gate(&mut sink, &place, gate_table) {
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
        resources: Vec::new(),
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
    if let Some((t, _)) = f.table(sink, "resources") {
        settings.resources = read_resources(sink, t);
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

/// `[settings.resources]`: `name = count`, each count at least 1; sorted by name.
fn read_resources(sink: &mut Sink, table: &DeTable<'_>) -> Vec<(String, u32)> {
    let f = Fields::new(table, "[settings.resources]");
    let mut resources = Vec::new();
    for (key, _) in table {
        let name = key.get_ref().as_ref();
        if !valid_gate_name(name) {
            sink.error_help(
                key.span(),
                format!("resource name `{name}` is not allowed"),
                "use letters, digits, `-`, `_` and `.` (not first)",
            );
        }
        match f.uint(sink, name) {
            Some((0, span)) => {
                sink.error_help(
                    span,
                    format!("resource `{name}` has a count of 0: no gate using it could ever run"),
                    format!("write how many gates may hold it at once, at least 1 (`{name} = 1`)"),
                );
                // Still declared, so a gate's `uses` of it is not reported as well.
                resources.push((name.to_owned(), 0));
            }
            Some((n, span)) => {
                resources.push((name.to_owned(), crate::fields::small_u32(sink, n, span)));
            }
            None => {}
        }
    }
    resources.sort();
    resources
}

/// `uses = ["db"]`: every name declared in `[settings.resources]`; sorted, deduplicated.
fn read_uses(sink: &mut Sink, f: &Fields<'_, '_>, place: &GatePlace<'_>) -> Vec<String> {
    let name = place.name;
    let mut uses = Vec::new();
    for (resource, span) in f.strings(sink, "uses") {
        if place.resources.contains(&resource.as_str()) {
            uses.push(resource);
            continue;
        }
        let help = match crate::diag::did_you_mean(&resource, place.resources.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None if place.resources.is_empty() => format!(
                "no resource is declared: add `[settings.resources]` with `{resource} = 1` (how many gates may hold it at once)"
            ),
            None => format!(
                "declared: {}; or declare it in [settings.resources] (`{resource} = 1`)",
                place.resources.join(", ")
            ),
        };
        sink.error_help(
            span,
            format!(
                "gate `{name}` uses resource `{resource}`, which [settings.resources] does not declare"
            ),
            help,
        );
    }
    uses.sort();
    uses.dedup();
    uses
}

/// A gate table being read: its name, where it is, and what the rest of the file declares.
struct GatePlace<'a> {
    /// The whole gates.toml text (diagnostics that name a second location quote it).
    source: &'a str,
    name: &'a str,
    span: Range<usize>,
    all_names: &'a std::collections::HashSet<&'a str>,
    /// The names `[settings.resources]` declares.
    resources: &'a [&'a str],
}

fn valid_gate_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn read_gate(sink: &mut Sink, place: &GatePlace<'_>, table: &DeTable<'_>) -> Option<Gate> {
    let (source, name, span, all_names) = (
        place.source,
        place.name,
        place.span.clone(),
        place.all_names,
    );
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
    let declared = read_artifacts(sink, &f, name);
    check_outputs_are_not_inputs(sink, source, name, &inputs, &declared);
    let mut artifacts: Vec<String> = declared.into_iter().map(|(a, _)| a).collect();
    let metrics = f
        .string(sink, "metrics")
        .and_then(|(m, s)| repo_relative(sink, &m, s, name, "metrics file"));
    let junit = read_junit(sink, &f, name, known_kind.map(|(k, _)| *k), &artifacts);
    let (thresholds, baselines) = read_thresholds(sink, &f, name);
    let metrics = match &kind {
        // The `junit` counts are a metrics document of their own: thresholds need no file then.
        Some(kind) => resolve_metrics(
            sink,
            kind,
            name,
            &span,
            metrics,
            &mut artifacts,
            !(thresholds.is_empty() && baselines.is_empty()) && junit.is_none(),
        ),
        None => metrics,
    };
    let timeout = f
        .duration(sink, "timeout")
        .unwrap_or(Duration::from_secs(30 * 60));
    let retries = f.u32(sink, "retries");
    let uses = read_uses(sink, &f, place);
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
    let tags: Box<[String]> = f
        .strings(sink, "tags")
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let skip_unless_env: Box<[(String, String)]> = f
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
        env: env.into(),
        pass_env: pass_env.into(),
        tool_dirs: tool_dirs.into(),
        runtime_inputs: runtime_inputs.into(),
        narrowed: narrowed.into(),
        artifacts,
        metrics,
        junit,
        timeout,
        retries,
        uses: uses.into(),
        cache,
        tags,
        skip_unless_env,
        graduate_after_days,
        thresholds: thresholds.into(),
        baselines: baselines.into(),
        export: export.into(),
        span,
    };
    // With problems of its own the gate is still returned: the config as a whole is then
    // invalid, and the gate serves only the checks that report the other problems.
    let _ = errors_before;
    Some(gate)
}

/// `needs = [{ gate = "x", artifacts = [...] }]` may list only artifacts that `x` declares.
fn check_narrowed_needs(sink: &mut Sink, gates: &[Gate]) {
    // Built once, and only when some gate narrows a need: a scan of every gate per narrowed
    // need is quadratic when every gate narrows one.
    let by_name = std::cell::OnceCell::new();
    for gate in gates {
        for n in &gate.narrowed {
            let by_name = by_name.get_or_init(|| {
                gates
                    .iter()
                    .map(|g| (g.name.as_str(), g))
                    .collect::<std::collections::HashMap<_, _>>()
            });
            let Some(&need) = by_name.get(n.gate.as_str()) else {
                continue;
            };
            for a in n.artifacts.iter().filter(|a| a.starts_with('!')) {
                sink.error_help(
                    n.span.clone(),
                    format!(
                        "gate `{}` narrows its need `{}` to the exclusion `{a}`",
                        gate.name, n.gate
                    ),
                    format!(
                        "name the artifacts (paths or globs) of `{}` that enter the key; its exclusions always apply",
                        n.gate
                    ),
                );
            }
            for a in n
                .artifacts
                .iter()
                .filter(|a| !a.starts_with('!') && !need.artifacts.contains(a))
            {
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

/// `artifacts`: paths, folders and globs, with `!` exclusions, each relative and inside the
/// repository, normalised; with where each is written.
fn read_artifacts(sink: &mut Sink, f: &Fields<'_, '_>, name: &str) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    for (a, span) in f.strings(sink, "artifacts") {
        let (exclude, path) = match a.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, a.as_str()),
        };
        if is_glob(path)
            && let Err(e) = globset::Glob::new(path)
        {
            sink.error(
                span,
                format!(
                    "invalid glob `{path}` in the artifacts of gate `{name}`: {}",
                    e.kind()
                ),
            );
            continue;
        }
        let what = if exclude {
            "artifact exclusion"
        } else {
            "artifact"
        };
        if let Some(p) = repo_relative(sink, path, span.clone(), name, what) {
            out.push((if exclude { format!("!{p}") } else { p }, span));
        }
    }
    out
}

/// A gate's artifacts are removed before it runs: one that its own inputs match would be
/// deleted from under it (and its key would follow its own output). Each overlap of a
/// positive input and a positive artifact (paths, folders and globs alike) that no exclusion
/// on either side takes away is an error at the input, naming the artifact and where it is
/// declared.
fn check_outputs_are_not_inputs(
    sink: &mut Sink,
    source: &str,
    gate: &str,
    inputs: &[InputGlob],
    artifacts: &[(String, Range<usize>)],
) {
    use super::overlap::{excludes_all_of, may_overlap};
    let input_exclusions: Vec<&str> = inputs
        .iter()
        .filter(|i| i.exclude)
        .map(|i| i.pattern.as_str())
        .collect();
    let artifact_exclusions: Vec<&str> = artifacts
        .iter()
        .filter_map(|(a, _)| a.strip_prefix('!'))
        .collect();
    for input in inputs.iter().filter(|i| !i.exclude) {
        for (artifact, at) in artifacts.iter().filter(|(a, _)| !a.starts_with('!')) {
            let overlaps = may_overlap(&input.pattern, artifact)
                && !input_exclusions
                    .iter()
                    .any(|e| excludes_all_of(e, artifact))
                && !artifact_exclusions
                    .iter()
                    .any(|e| excludes_all_of(e, &input.pattern));
            if !overlaps {
                continue;
            }
            let (line, col) = crate::diag::line_col(source, at.start);
            let exclusion = if is_glob(artifact) {
                format!("\"!{artifact}\"")
            } else {
                format!("\"!{artifact}\" (\"!{artifact}/**\" for a folder)")
            };
            sink.error_help(
                input.span.clone(),
                format!(
                    "input `{}` of gate `{gate}` matches its own artifact `{artifact}` (declared at {}:{line}:{col})",
                    input.pattern, sink.file
                ),
                format!(
                    "a gate's artifacts are removed before it runs, so they cannot be its inputs; \
                     add {exclusion} to `inputs`, or narrow the glob"
                ),
            );
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
    if !covered_by_artifacts(&path, artifacts) {
        sink.error_help(
            span,
            format!("junit file `{path}` of gate `{name}` is not one of its artifacts"),
            "add it to artifacts so a replay has it",
        );
    }
    Some(path)
}

/// Is `path` one of `artifacts`, or inside a folder or matched by a glob among them (and not
/// excluded)?
fn covered_by_artifacts(path: &str, artifacts: &[String]) -> bool {
    let matches = |pattern: &str| {
        path.strip_prefix(pattern)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            || (is_glob(pattern)
                && globset::GlobBuilder::new(pattern)
                    .literal_separator(true)
                    .build()
                    .is_ok_and(|g| g.compile_matcher().is_match(path)))
    };
    artifacts
        .iter()
        .filter(|a| !a.starts_with('!'))
        .any(|a| matches(a))
        && !artifacts
            .iter()
            .filter_map(|a| a.strip_prefix('!'))
            .any(|e| matches(e) || matches(&format!("{e}/**")))
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
        // Paths named exactly only: a glob or a folder is not one file.
        let mut json = artifacts
            .iter()
            .filter(|a| a.ends_with(".json") && !a.starts_with('!') && !is_glob(a));
        match (json.next(), json.next()) {
            (Some(one), None) => Some(one.clone()),
            _ => None,
        }
    };
    let metrics = metrics.or_else(only_json);
    if kind.is_builtin() {
        let path = metrics.unwrap_or_else(|| format!(".runner/out/{name}.json"));
        if !covered_by_artifacts(&path, artifacts) {
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

/// The keys of a baseline threshold's table form.
const BASELINE_KEYS: &[&str] = &[
    "max_regression",
    "better",
    "window",
    "branch",
    "min_samples",
    "min_delta",
    "statistic",
    "limit",
];

/// The `thresholds` table: per metric a string (`"<= 50"`, `"<= baseline * 1.10"`), a baseline
/// table, or an array of those (a fixed limit and a baseline on one metric).
fn read_thresholds(
    sink: &mut Sink,
    f: &Fields<'_, '_>,
    name: &str,
) -> (Vec<Threshold>, Vec<BaselineThreshold>) {
    let mut fixed = Vec::new();
    let mut baselines = Vec::new();
    let Some((t, _)) = f.table(sink, "thresholds") else {
        return (fixed, baselines);
    };
    for (metric, value) in t {
        let metric_name = metric.get_ref().to_string();
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
        let one = |sink: &mut Sink,
                   v: &toml::Spanned<DeValue<'_>>,
                   fixed: &mut Vec<Threshold>,
                   baselines: &mut Vec<BaselineThreshold>| {
            match v.get_ref() {
                DeValue::String(text) => {
                    read_threshold_text(sink, text, v.span(), &path, &metric_name, name, fixed, baselines);
                }
                DeValue::Table(table) => {
                    read_baseline_table(sink, table, v.span(), &path, &metric_name, name, fixed, baselines);
                }
                other => sink.error_help(
                    v.span(),
                    format!(
                        "threshold `{metric_name}` of gate `{name}` must be a string, found {}",
                        other.type_str()
                    ),
                    format!(
                        "write it as `{metric_name} = \"<= {}\"` (or \"<= baseline * 1.10\" against its history)",
                        toml_scalar(other)
                    ),
                ),
            }
        };
        match value.get_ref() {
            DeValue::Array(items) if !items.is_empty() => {
                for item in items {
                    one(sink, item, &mut fixed, &mut baselines);
                }
            }
            DeValue::Array(_) => sink.error(
                value.span(),
                format!("threshold `{metric_name}` of gate `{name}` is an empty array"),
            ),
            _ => one(sink, value, &mut fixed, &mut baselines),
        }
    }
    (fixed, baselines)
}

/// `"<= 50"` or `"<= baseline * 1.10"` (with the table form's defaults).
#[expect(
    clippy::too_many_arguments,
    reason = "the threshold's parts, each used for messages"
)]
fn read_threshold_text(
    sink: &mut Sink,
    text: &str,
    span: Range<usize>,
    path: &MetricPath,
    metric_name: &str,
    name: &str,
    fixed: &mut Vec<Threshold>,
    baselines: &mut Vec<BaselineThreshold>,
) {
    if threshold_expr::names_baseline(text) {
        match threshold_expr::parse_baseline(text) {
            Ok(expr) => baselines.push(BaselineThreshold {
                metric: path.clone(),
                expr,
                window: BASELINE_WINDOW,
                branch: None,
                min_samples: BASELINE_MIN_SAMPLES,
                min_delta: 0.0,
                statistic: Statistic::Median,
            }),
            Err(e) => sink.error_help(
                span,
                format!("bad threshold for `{metric_name}` in gate `{name}`: {e}"),
                "write \"<op> baseline\", \"<op> baseline * factor\" or \"<op> baseline + number\" with op one of < <= > >= (for example \"<= baseline * 1.10\")",
            ),
        }
        return;
    }
    match threshold_expr::parse(text) {
        Ok(expr) => fixed.push(Threshold {
            metric: path.clone(),
            expr,
        }),
        Err(e) => sink.error_help(
            span,
            format!("bad threshold for `{metric_name}` in gate `{name}`: {e}"),
            "write \"<op> <number>\" with op one of < <= > >= == != (for example \"<= 50\")",
        ),
    }
}

/// `{ max_regression = "10%", better = "lower", window = 20, branch = "main", min_samples = 5,
/// min_delta = 2.0, statistic = "median", limit = "<= 50" }`.
#[expect(
    clippy::too_many_arguments,
    reason = "the threshold's parts, each used for messages"
)]
fn read_baseline_table(
    sink: &mut Sink,
    table: &DeTable<'_>,
    span: Range<usize>,
    path: &MetricPath,
    metric_name: &str,
    name: &str,
    fixed: &mut Vec<Threshold>,
    baselines: &mut Vec<BaselineThreshold>,
) {
    let t = Fields::new(table, format!("threshold `{metric_name}` of gate `{name}`"));
    t.reject_unknown(sink, BASELINE_KEYS, |_| None);
    if let Some((limit, s)) = t.string(sink, "limit") {
        read_threshold_text(sink, &limit, s, path, metric_name, name, fixed, baselines);
    }
    let lower_is_better = match t.string(sink, "better") {
        None => true,
        Some((b, _)) if b == "lower" => true,
        Some((b, _)) if b == "higher" => false,
        Some((b, s)) => {
            sink.error_help(
                s,
                format!("`better` of threshold `{metric_name}` in gate `{name}` is `{b}`"),
                "write \"lower\" (a rise is a regression: latency, size) or \"higher\" (a drop is: throughput, ratio)",
            );
            true
        }
    };
    let Some(regression) = t.value("max_regression") else {
        if t.value("limit").is_none() {
            sink.error_help(
                span,
                format!("threshold `{metric_name}` of gate `{name}` has no `max_regression`"),
                "add max_regression = \"10%\" (relative to the baseline) or a number (an absolute change)",
            );
        }
        return;
    };
    let parsed = match regression.get_ref() {
        DeValue::String(text) => threshold_expr::regression(Ok(text), lower_is_better),
        v => match number(v) {
            Some(n) => threshold_expr::regression(Err(n), lower_is_better),
            None => Err(format!(
                "must be a percentage string such as \"10%\" or a number, found {}",
                v.type_str()
            )),
        },
    };
    let expr = match parsed {
        Ok(expr) => expr,
        Err(e) => {
            sink.error(
                regression.span(),
                format!("threshold `{metric_name}` of gate `{name}`: {e}"),
            );
            return;
        }
    };
    let window = t.u32(sink, "window").unwrap_or(BASELINE_WINDOW);
    if window == 0 {
        sink.error(
            t.value("window").map_or(span.clone(), toml::Spanned::span),
            format!("`window` of threshold `{metric_name}` in gate `{name}` must be at least 1"),
        );
    }
    let min_samples = t
        .u32(sink, "min_samples")
        .unwrap_or(BASELINE_MIN_SAMPLES)
        .max(1);
    let min_delta = match t.value("min_delta") {
        None => 0.0,
        Some(v) => match number(v.get_ref()) {
            Some(d) if d >= 0.0 && d.is_finite() => d,
            _ => {
                sink.error(
                    v.span(),
                    format!("`min_delta` of threshold `{metric_name}` in gate `{name}` must be a number at least 0"),
                );
                0.0
            }
        },
    };
    let statistic = match t.string(sink, "statistic") {
        None => Statistic::Median,
        Some((s, sp)) => match Statistic::ALL.iter().find(|(n, _)| *n == s) {
            Some((_, st)) => *st,
            None => {
                sink.error_help(
                    sp,
                    format!(
                        "unknown statistic `{s}` in threshold `{metric_name}` of gate `{name}`"
                    ),
                    suggest(&s, &Statistic::ALL.map(|(n, _)| n)),
                );
                Statistic::Median
            }
        },
    };
    let branch = t.string(sink, "branch").map(|(b, _)| b);
    baselines.push(BaselineThreshold {
        metric: path.clone(),
        expr,
        window: window.max(1),
        branch,
        min_samples,
        min_delta,
        statistic,
    });
}

/// An integer or a float as f64.
fn number(v: &DeValue<'_>) -> Option<f64> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .ok()
            .map(|n| n as f64),
        DeValue::Float(f) => f.as_str().replace('_', "").parse().ok(),
        _ => None,
    }
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
