//! The `schema` kind: validate JSON, TOML and YAML documents against one JSON Schema, and check
//! that the documents listed as invalid are rejected by it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{BuiltinContext, BuiltinError, BuiltinOutcome, Kind, KindParser};

#[cfg(feature = "schema")]
mod documents;
#[cfg(feature = "schema")]
mod engine;
#[cfg(feature = "schema")]
mod invalid_set;

/// `kind = "schema"`: validate the gate's inputs against one JSON Schema.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaSpec {
    /// Path of the schema, relative to the config folder.
    pub schema: String,
    /// `invalid`: globs of documents the schema must reject, as written (relative to the config
    /// folder; a leading `!` excludes). The files they match join the gate's inputs.
    pub invalid: Vec<String>,
    /// `formats` (default true): `format` is asserted under every draft; false makes it an
    /// annotation only.
    pub formats: bool,
}

impl Kind for SchemaSpec {
    const NAME: &'static str = "schema";
    const KEYS: &'static [&'static str] = &["schema", "invalid", "formats"];
    const ITEMS: &'static str = "documents";

    fn parse(p: &mut KindParser<'_, '_, '_>) -> Option<Self> {
        if cfg!(not(feature = "schema")) {
            p.needs_feature(Self::NAME, "schema");
            return None;
        }
        let schema = p.required("schema");
        let mut invalid = Vec::new();
        let mut usable = true;
        for (glob, span) in p.fields.string_or_strings(p.sink, "invalid") {
            match check_glob(&glob) {
                Ok(()) => invalid.push(glob),
                Err(why) => {
                    usable = false;
                    p.sink.error_help(
                        span,
                        format!("`invalid` glob `{glob}` of gate `{}` {why}", p.gate),
                        "write a glob relative to the config file's folder, for example \
                         \"schemas/examples/invalid/*.json\" (a leading `!` excludes)",
                    );
                }
            }
        }
        let formats = p.fields.bool(p.sink, "formats").unwrap_or(true);
        let schema = schema?;
        usable.then_some(SchemaSpec {
            schema,
            invalid,
            formats,
        })
    }

    fn referenced_files(&self) -> Vec<&str> {
        vec![self.schema.as_str()]
    }

    fn input_globs(&self) -> Option<(&'static str, &[String])> {
        (!self.invalid.is_empty()).then_some(("invalid", self.invalid.as_slice()))
    }

    fn evaluate(&self, ctx: &mut BuiltinContext<'_>) -> Result<BuiltinOutcome, BuiltinError> {
        #[cfg(feature = "schema")]
        return engine::evaluate(self, ctx);
        #[cfg(not(feature = "schema"))]
        {
            let _ = ctx;
            Err(BuiltinError::Other(super::without_feature(
                "schema", "schema",
            )))
        }
    }
}

/// Why a glob of `invalid` cannot be used, if it cannot.
fn check_glob(glob: &str) -> Result<(), String> {
    let pattern = glob.strip_prefix('!').unwrap_or(glob);
    if pattern.is_empty() {
        return Err("is empty".to_owned());
    }
    if Path::new(pattern).is_absolute() || pattern.split('/').any(|part| part == "..") {
        return Err("leaves the repository".to_owned());
    }
    globset::Glob::new(pattern)
        .map(drop)
        .map_err(|err| format!("is not a valid glob: {}", err.kind()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_globs_are_named() {
        assert_eq!(check_glob("a/*.json"), Ok(()));
        assert_eq!(check_glob("!a/keep.json"), Ok(()));
        assert_eq!(
            check_glob("/etc/*.json"),
            Err("leaves the repository".to_owned())
        );
        assert_eq!(
            check_glob("../x/*.json"),
            Err("leaves the repository".to_owned())
        );
        assert_eq!(check_glob("!"), Err("is empty".to_owned()));
        assert!(check_glob("a/[.json").is_err_and(|why| why.starts_with("is not a valid glob")));
    }
}
