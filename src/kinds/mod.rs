//! Gate kinds. Each kind is one file holding its settings (a type implementing [`Kind`]), how
//! they are read from a gate's table, and how a gate of that kind is judged; `kinds!` below is
//! the registry that turns the list of kinds into `GateKind` and its dispatch. Adding a kind is
//! one file and one line in that list (and its keys in `schemas/gates.schema.json`, which a
//! test keeps in step with the parser).
//!
//! Command gates are spawned by `exec`; the built-in kinds are evaluated in process, and each
//! hands back a JSON artifact that the runner writes to disk so thresholds and reports treat
//! them like commands.

pub mod checklist;
pub mod command;
pub mod http;
pub mod latency;
pub mod policy;
pub mod pqc;
pub mod schema;

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fields::{Fields, Sink};

pub use checklist::{ChecklistSpec, Require};
pub use command::CommandSpec;
pub use http::{HttpSpec, ServiceSpec};
pub use policy::PolicySpec;
pub use pqc::PqcSpec;
pub use schema::SchemaSpec;

/// One kind of gate: its settings, their parser and its evaluator.
pub trait Kind: Sized {
    /// `kind = "..."` in gates.toml.
    const NAME: &'static str;
    /// The keys of its settings (besides the keys every gate has).
    const KEYS: &'static [&'static str];
    /// What it judges, plural, for the no-op guard's message ("documents").
    const ITEMS: &'static str;

    /// Read the settings from a gate's table; every problem goes to the sink. None when they
    /// are unusable (the problem was reported).
    fn parse(p: &mut KindParser<'_, '_, '_>) -> Option<Self>;

    /// Files it reads besides `inputs` (schema, policy, checklist...), relative to the config
    /// folder. Their content enters the cache key like inputs do.
    fn referenced_files(&self) -> Vec<&str> {
        Vec::new()
    }

    /// Globs of further documents it reads, and the key that holds them (`invalid` of a schema
    /// gate): relative to the config folder, a leading `!` excludes. They are expanded like
    /// `inputs` and the files they match join the gate's inputs (its cache key and
    /// [`BuiltinContext::inputs`]); a glob matching no file is a config error unless the gate
    /// sets `allow_empty`.
    fn input_globs(&self) -> Option<(&'static str, &[String])> {
        None
    }

    /// It measures the machine (latency, speed): its results are never replayed.
    fn measures(&self) -> bool {
        false
    }

    /// Evaluate a gate of this kind in process.
    fn evaluate(&self, ctx: &mut BuiltinContext<'_>) -> Result<BuiltinOutcome, BuiltinError>;
}

/// What a kind's parser reads from: the gate's table, where problems go, and the gate.
pub struct KindParser<'s, 'a, 'i> {
    pub(crate) sink: &'s mut Sink,
    pub(crate) fields: &'s Fields<'a, 'i>,
    /// The gate's name.
    pub gate: &'s str,
    /// The span of the gate's table header.
    pub span: Range<usize>,
}

impl KindParser<'_, '_, '_> {
    /// A string key the kind cannot do without: an error naming it when absent.
    pub fn required(&mut self, key: &str) -> Option<String> {
        match self.fields.string(self.sink, key) {
            Some((v, _)) => Some(v),
            None => {
                if self.fields.value(key).is_none() {
                    self.missing(key);
                }
                None
            }
        }
    }

    /// Report that `key` is absent.
    pub fn missing(&mut self, key: &str) {
        let kind = self
            .fields
            .value("kind")
            .and_then(|v| v.get_ref().as_str())
            .unwrap_or("command");
        self.sink.error_help(
            self.span.clone(),
            format!("gate `{}` (kind `{kind}`) lacks `{key}`", self.gate),
            format!("add `{key} = \"...\"` to [gates.{}]", self.gate),
        );
    }

    /// The kind needs a cargo feature this build lacks: a config error naming it.
    pub fn needs_feature(&mut self, kind: &str, feature: &str) {
        let span = self
            .fields
            .value("kind")
            .map_or_else(|| self.span.clone(), toml::Spanned::span);
        self.sink.error_help(
            span,
            format!(
                "gate `{}` is kind `{kind}`, but this runner was built without the cargo feature `{feature}`",
                self.gate
            ),
            format!("rebuild runner with `--features {feature}` (it is on by default)"),
        );
    }
}

/// The registry: every kind, by variant, module type and its place in `GateKind`.
macro_rules! kinds {
    ($($variant:ident($spec:ty)),* $(,)?) => {
        /// What a gate does. Serialized into the cache key (`{"kind":"schema",...}`), so every
        /// field that changes behaviour is in the kind's settings.
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case", tag = "kind")]
        pub enum GateKind {
            $(
                /// A gate of this kind, with its kind-specific settings (boxed: the kinds'
                /// settings differ in size, and nearly every gate is a small command).
                $variant(Box<$spec>),
            )*
        }

        /// Every kind's name and keys, in registry order.
        pub const KINDS: &[(&str, &[&str])] = &[$((<$spec as Kind>::NAME, <$spec as Kind>::KEYS)),*];

        impl GateKind {
            /// The name used in gates.toml and reports.
            #[must_use]
            pub fn name(&self) -> &'static str {
                match self {
                    $(GateKind::$variant(_) => <$spec as Kind>::NAME,)*
                }
            }

            /// Read the settings of the kind named `kind`; None for an unknown kind or unusable
            /// settings (reported).
            pub fn parse(kind: &str, p: &mut KindParser<'_, '_, '_>) -> Option<Self> {
                $(if kind == <$spec as Kind>::NAME {
                    return <$spec as Kind>::parse(p).map(|s| GateKind::$variant(Box::new(s)));
                })*
                None
            }

            /// Files the kind reads besides `inputs`, relative to the config folder.
            #[must_use]
            pub fn referenced_files(&self) -> Vec<&str> {
                match self {
                    $(GateKind::$variant(spec) => spec.referenced_files(),)*
                }
            }

            /// Globs of further documents the kind reads, and the key holding them: expanded
            /// like `inputs`, their files join the gate's inputs.
            #[must_use]
            pub fn input_globs(&self) -> Option<(&'static str, &[String])> {
                match self {
                    $(GateKind::$variant(spec) => spec.input_globs(),)*
                }
            }

            /// What the kind judges, plural ("documents"), for the no-op guard.
            #[must_use]
            pub fn items(&self) -> &'static str {
                match self {
                    $(GateKind::$variant(_) => <$spec as Kind>::ITEMS,)*
                }
            }

            /// It measures the machine: never replayed from the cache.
            #[must_use]
            pub fn measures(&self) -> bool {
                match self {
                    $(GateKind::$variant(spec) => spec.measures(),)*
                }
            }

            /// Evaluate a built-in kind in process.
            pub fn evaluate(
                &self,
                ctx: &mut BuiltinContext<'_>,
            ) -> Result<BuiltinOutcome, BuiltinError> {
                match self {
                    $(GateKind::$variant(spec) => spec.evaluate(ctx),)*
                }
            }
        }
    };
}

kinds! {
    Command(CommandSpec),
    Schema(SchemaSpec),
    Policy(PolicySpec),
    Checklist(ChecklistSpec),
    Http(HttpSpec),
    PqcBench(PqcSpec),
}

impl GateKind {
    /// Built-in kinds are evaluated in process and write one JSON artifact.
    #[must_use]
    pub fn is_builtin(&self) -> bool {
        !matches!(self, GateKind::Command(_))
    }
}

/// What every in-process evaluator gets.
pub struct BuiltinContext<'a> {
    /// The config file's folder; every relative path resolves against it.
    pub root: &'a Path,
    /// The gate's expanded `inputs` and the files of its kind's `input_globs`, relative to
    /// `root`, sorted.
    pub inputs: &'a [PathBuf],
    /// The gate's log file: progress and details go here (shown when the gate fails).
    pub log: &'a mut dyn Write,
    /// The environment a process the kind starts (the `http` kind's service) gets.
    pub(crate) env: &'a crate::proc::SpawnEnv,
}

/// The result of a built-in check that could be judged.
#[derive(Debug, Clone)]
pub struct BuiltinOutcome {
    /// The check itself passed (thresholds are judged afterwards by the runner).
    pub passed: bool,
    /// The JSON artifact of SPEC section 7; the runner writes it to the gate's metrics path.
    pub artifact: serde_json::Value,
    /// Why the check failed, in words (None when it passed).
    pub reason: Option<String>,
    /// How many items the check judged (documents, policy cases, checklist items, HTTP
    /// answers, benchmark rounds). Zero trips the no-op guard: a check of nothing is an error.
    pub judged: usize,
    /// What it found wrong, where (for annotations on the diff); empty when it passed.
    pub findings: Vec<Finding>,
}

/// One thing a check found wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, relative to the config folder.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong, in words.
    pub message: String,
}

/// A built-in check that could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum BuiltinError {
    /// A mistake in a file the user wrote (a schema that is not valid, a Rego syntax error):
    /// rendered like a config error, with file, line and column (1-based; 0 when unknown).
    #[error("{file}:{line}:{col}: {message}")]
    UserFile {
        /// The file, relative to the config folder.
        file: String,
        /// 1-based line; 0 when unknown.
        line: usize,
        /// 1-based column; 0 when unknown.
        col: usize,
        /// What is wrong, in words.
        message: String,
    },
    /// Anything else: a missing file, a service that did not start, a refused host.
    #[error("{0}")]
    Other(String),
}

/// The error of a kind whose evaluator this build lacks (also a config error at load).
#[cfg_attr(
    all(feature = "policy", feature = "schema", feature = "pqc"),
    expect(dead_code)
)]
pub(crate) fn without_feature(kind: &str, feature: &str) -> String {
    format!(
        "kind `{kind}` needs the cargo feature `{feature}`, which this runner was built without; \
         rebuild it with default features"
    )
}

/// Serialize a `Duration` as whole milliseconds (stable in cache keys).
pub(crate) mod duration_ms {
    use std::time::Duration;

    pub(crate) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Duration, D::Error> {
        <u64 as serde::Deserialize>::deserialize(d).map(Duration::from_millis)
    }
}
