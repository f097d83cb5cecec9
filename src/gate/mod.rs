//! Gate kinds: the settings of each kind and the in-process evaluators of the built-in ones.
//!
//! Command gates are spawned by `exec::process`; the five built-in kinds (`schema`, `policy`,
//! `checklist`, `http`, `pqc-bench`) are evaluated here, in process, and each hands back a JSON
//! artifact that the runner writes to disk so thresholds and reports treat them like commands.

pub mod checklist;
pub mod http;
pub mod policy;
pub mod pqc;
pub mod schema;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a gate does. Serialized into the cache key, so every field that changes behaviour is here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum GateKind {
    /// `sh -c run` from the config folder.
    Command {
        run: String,
    },
    Schema(SchemaSpec),
    Policy(PolicySpec),
    Checklist(ChecklistSpec),
    Http(HttpSpec),
    PqcBench(PqcSpec),
}

impl GateKind {
    /// The name used in gates.toml and reports.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            GateKind::Command { .. } => "command",
            GateKind::Schema(_) => "schema",
            GateKind::Policy(_) => "policy",
            GateKind::Checklist(_) => "checklist",
            GateKind::Http(_) => "http",
            GateKind::PqcBench(_) => "pqc-bench",
        }
    }

    /// Files the kind reads besides `inputs` (schema, policy, checklist...), relative to the
    /// config folder. Their content enters the cache key like inputs do.
    #[must_use]
    pub fn referenced_files(&self) -> Vec<&str> {
        match self {
            GateKind::Command { .. } | GateKind::Http(_) | GateKind::PqcBench(_) => Vec::new(),
            GateKind::Schema(s) => vec![s.schema.as_str()],
            GateKind::Policy(p) => p
                .policy
                .iter()
                .chain(std::iter::once(&p.input))
                .chain(&p.data)
                .map(String::as_str)
                .collect(),
            GateKind::Checklist(c) => vec![c.file.as_str()],
        }
    }

    /// Built-in kinds are evaluated in process and write one JSON artifact.
    #[must_use]
    pub fn is_builtin(&self) -> bool {
        !matches!(self, GateKind::Command { .. })
    }
}

/// `kind = "schema"`: validate the gate's inputs against one JSON Schema.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaSpec {
    /// Path of the schema, relative to the config folder.
    pub schema: String,
}

/// `kind = "policy"`: evaluate a Rego query and compare it with `expect`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicySpec {
    /// Rego files, relative to the config folder.
    pub policy: Vec<String>,
    /// JSON document bound to `input`.
    pub input: String,
    /// JSON documents merged into `data`.
    pub data: Vec<String>,
    /// For example `data.matriz.governance.allow`.
    pub query: String,
    /// The value the query must produce.
    pub expect: serde_json::Value,
}

/// `kind = "checklist"`: Markdown task list items that must be ticked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChecklistSpec {
    /// Markdown file, relative to the config folder.
    pub file: String,
    pub require: Require,
}

/// Which checklist items must be checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Require {
    All,
    /// Exact item texts (the text after the box).
    Items(Vec<String>),
}

/// `kind = "http"`: latency smoke against a URL. Never cached.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpSpec {
    pub url: String,
    /// GET (default), POST, PUT, DELETE or HEAD.
    pub method: String,
    /// Request body for POST and PUT (sent as JSON when it parses as JSON, else text).
    pub body: Option<String>,
    /// Number of requests (default 20).
    pub requests: u32,
    /// Expected status of every request (default 200).
    pub expect_status: u16,
    /// Headers every response must carry (name compared case-insensitively, value exactly).
    pub expect_headers: BTreeMap<String, String>,
    /// A JSON value the response body must contain (subset match).
    pub expect_json: Option<serde_json::Value>,
    /// Hosts besides loopback that may be contacted (`allow_hosts`).
    pub allow_hosts: Vec<String>,
    /// A service started before the requests and stopped after.
    pub service: Option<ServiceSpec>,
}

/// A process the http gate starts before its requests and stops after them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Shell command, run with `sh -c` from the config folder in its own process group.
    pub run: String,
    /// Polled until it answers (any status below 500) or `ready_timeout` passes.
    pub ready_url: String,
    #[serde(with = "duration_ms")]
    pub ready_timeout: Duration,
}

/// `kind = "pqc-bench"`: Dilithium2 keygen/sign/verify latency.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PqcSpec {
    /// Only "dilithium2" is supported.
    pub algorithm: String,
    /// Timed samples after a warm-up (default 200).
    pub iterations: u32,
    /// Size of the signed message (default 1024).
    pub message_bytes: usize,
}

/// What every in-process evaluator gets.
pub struct BuiltinContext<'a> {
    /// The config file's folder; every relative path resolves against it.
    pub root: &'a Path,
    /// The gate's expanded `inputs`, relative to `root`, sorted.
    pub inputs: &'a [PathBuf],
    /// The gate's log file: progress and details go here (shown when the gate fails).
    pub log: &'a mut dyn Write,
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
}

/// A built-in check that could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum BuiltinError {
    /// A mistake in a file the user wrote (a schema that is not valid, a Rego syntax error):
    /// rendered like a config error, with file, line and column (1-based; 0 when unknown).
    #[error("{file}:{line}:{col}: {message}")]
    UserFile {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
    /// Anything else: a missing file, a service that did not start, a refused host.
    #[error("{0}")]
    Other(String),
}

/// Run a built-in kind. Panics if given a command gate (the scheduler never does).
pub fn evaluate(
    kind: &GateKind,
    ctx: &mut BuiltinContext<'_>,
) -> Result<BuiltinOutcome, BuiltinError> {
    match kind {
        GateKind::Command { .. } => unreachable!("command gates are spawned, not evaluated"),
        GateKind::Schema(spec) => schema::evaluate(spec, ctx),
        GateKind::Policy(spec) => policy::evaluate(spec, ctx),
        GateKind::Checklist(spec) => checklist::evaluate(spec, ctx),
        GateKind::Http(spec) => http::evaluate(spec, ctx),
        GateKind::PqcBench(spec) => pqc::evaluate(spec, ctx),
    }
}

/// Serialize a `Duration` as whole milliseconds (stable in cache keys).
mod duration_ms {
    use std::time::Duration;

    pub(super) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Duration, D::Error> {
        <u64 as serde::Deserialize>::deserialize(d).map(Duration::from_millis)
    }
}
