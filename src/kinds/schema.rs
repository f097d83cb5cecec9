//! The `schema` kind: validate JSON, TOML and YAML documents against one JSON Schema.

use serde::{Deserialize, Serialize};

use super::{BuiltinContext, BuiltinError, BuiltinOutcome, Kind, KindParser};

/// `kind = "schema"`: validate the gate's inputs against one JSON Schema.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaSpec {
    /// Path of the schema, relative to the config folder.
    pub schema: String,
}

impl Kind for SchemaSpec {
    const NAME: &'static str = "schema";
    const KEYS: &'static [&'static str] = &["schema"];
    const ITEMS: &'static str = "documents";

    fn parse(p: &mut KindParser<'_, '_, '_>) -> Option<Self> {
        if cfg!(not(feature = "schema")) {
            p.needs_feature(Self::NAME, "schema");
            return None;
        }
        Some(SchemaSpec {
            schema: p.required("schema")?,
        })
    }

    fn referenced_files(&self) -> Vec<&str> {
        vec![self.schema.as_str()]
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

/// The evaluator: needs the cargo feature `schema`.
#[cfg(feature = "schema")]
mod engine {
    use super::*;
    use jsonschema::{Draft, Retrieve, Uri, Validator};
    use serde_json::{Value, json};
    use std::fmt::Write as _;
    use std::path::Path;
    /// How many errors the reason quotes; the log and the artifact have all of them.
    const REASON_ERRORS: usize = 3;

    /// Validate every input of a `schema` gate.
    ///
    /// Documents are parsed by extension (`.toml`, `.yaml`/`.yml`, anything else as JSON). A
    /// document that does not parse is a failure of that document, like a violation.
    ///
    /// # Errors
    ///
    /// The schema or a document cannot be read, or the schema itself is not valid (a
    /// [`BuiltinError::UserFile`] naming the schema file).
    pub(super) fn evaluate(
        spec: &SchemaSpec,
        ctx: &mut BuiltinContext<'_>,
    ) -> Result<BuiltinOutcome, BuiltinError> {
        let (validator, draft) = compile(&spec.schema, &ctx.root.join(&spec.schema))?;
        // A failed log write must not fail the check; the same holds for every log line below.
        let _ = writeln!(
            ctx.log,
            "schema: {} ({}), {} documents",
            spec.schema,
            draft_name(draft),
            ctx.inputs.len()
        );

        let mut errors = Vec::new();
        let mut invalid = 0_usize;
        for input in ctx.inputs {
            let name = input.display().to_string();
            let found = match load(&ctx.root.join(input)) {
                Ok(document) => validator
                    .iter_errors(&document)
                    .map(|err| format!("{name}: {}: {err}", pointer(err.instance_path().as_str())))
                    .collect(),
                Err(Load::Parse(parse)) => vec![format!("{name}: parse error{parse}")],
                Err(Load::Io(err)) => {
                    return Err(BuiltinError::Other(format!(
                        "schema: cannot read {name}: {err}"
                    )));
                }
            };
            if found.is_empty() {
                let _ = writeln!(ctx.log, "schema: {name}: valid");
            } else {
                invalid += 1;
                for error in &found {
                    let _ = writeln!(ctx.log, "schema: {error}");
                }
            }
            errors.extend(found);
        }

        let artifact = json!({"validated": ctx.inputs.len(), "invalid": invalid, "errors": errors});
        let reason = (invalid > 0).then(|| {
            let mut quoted = String::new();
            for error in errors.iter().take(REASON_ERRORS) {
                // Writing to a String cannot fail.
                let _ = write!(quoted, "\n  {error}");
            }
            let more = errors.len().saturating_sub(REASON_ERRORS);
            let tail = if more > 0 {
                format!("\n(and {more} more errors)")
            } else {
                String::new()
            };
            format!(
                "{invalid} of {} documents invalid:{quoted}{tail}",
                ctx.inputs.len()
            )
        });
        Ok(BuiltinOutcome {
            passed: invalid == 0,
            artifact,
            reason,
            judged: ctx.inputs.len(),
            findings: Vec::new(),
        })
    }

    /// Read the schema, check it against its draft's meta-schema and build its validator.
    fn compile(name: &str, path: &Path) -> Result<(Validator, Draft), BuiltinError> {
        let user_error = |line, col, message| BuiltinError::UserFile {
            file: name.to_owned(),
            line,
            col,
            message,
        };
        let schema = match load(path) {
            Ok(schema) => schema,
            Err(Load::Io(err)) => {
                return Err(BuiltinError::Other(format!(
                    "schema: cannot read {name}: {err}"
                )));
            }
            Err(Load::Parse(parse)) => {
                return Err(user_error(
                    parse.line,
                    parse.col,
                    format!("schema does not parse: {}", parse.message),
                ));
            }
        };
        let draft = match schema.get("$schema") {
            None => Draft::Draft202012,
            Some(Value::String(uri)) => match Draft::from_schema_uri(uri) {
                Draft::Unknown => {
                    return Err(user_error(
                        0,
                        0,
                        format!(
                            "unsupported $schema \"{uri}\": use draft 2020-12 (the default) or draft-07"
                        ),
                    ));
                }
                draft => draft,
            },
            Some(other) => {
                return Err(user_error(
                    0,
                    0,
                    format!("$schema must be a string, not {other}"),
                ));
            }
        };
        let meta = match draft {
            Draft::Draft4 => jsonschema::draft4::meta::validator(),
            Draft::Draft6 => jsonschema::draft6::meta::validator(),
            Draft::Draft7 => jsonschema::draft7::meta::validator(),
            Draft::Draft201909 => jsonschema::draft201909::meta::validator(),
            _ => jsonschema::draft202012::meta::validator(),
        };
        let problems: Vec<String> = meta
            .iter_errors(&schema)
            .take(REASON_ERRORS)
            .map(|err| format!("{}: {err}", pointer(err.instance_path().as_str())))
            .collect();
        if !problems.is_empty() {
            let message = format!(
                "not a valid {} schema: {}",
                draft_name(draft),
                problems.join("; ")
            );
            return Err(user_error(0, 0, message));
        }
        let base = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let validator = jsonschema::options()
            .with_draft(draft)
            .with_base_uri(format!(
                "file://{}",
                percent_encode(&base.to_string_lossy())
            ))
            .with_retriever(LocalFiles)
            .build(&schema)
            .map_err(|err| user_error(0, 0, format!("cannot build the schema: {err}")))?;
        Ok((validator, draft))
    }

    fn draft_name(draft: Draft) -> &'static str {
        match draft {
            Draft::Draft4 => "draft-04",
            Draft::Draft6 => "draft-06",
            Draft::Draft7 => "draft-07",
            Draft::Draft201909 => "draft 2019-09",
            _ => "draft 2020-12",
        }
    }

    /// A JSON pointer as shown to users: the root is `/`.
    fn pointer(location: &str) -> &str {
        if location.is_empty() { "/" } else { location }
    }

    /// Why a file could not be loaded.
    #[derive(Debug)]
    enum Load {
        Io(std::io::Error),
        Parse(ParseError),
    }

    /// A parse error with its 1-based position (0 when the parser gives none).
    #[derive(Debug)]
    struct ParseError {
        line: usize,
        col: usize,
        message: String,
    }

    /// Shown after "parse error": ` at line L, column C: message`.
    impl std::fmt::Display for ParseError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            if self.line > 0 {
                write!(f, " at line {}, column {}", self.line, self.col)?;
            }
            write!(f, ": {}", self.message)
        }
    }

    /// Read and parse a JSON, TOML or YAML file (by extension) into a JSON value.
    fn load(path: &Path) -> Result<Value, Load> {
        let text = std::fs::read_to_string(path).map_err(Load::Io)?;
        parse(
            &text,
            path.extension().and_then(|ext| ext.to_str()).unwrap_or(""),
        )
        .map_err(Load::Parse)
    }

    fn parse(text: &str, extension: &str) -> Result<Value, ParseError> {
        match extension.to_ascii_lowercase().as_str() {
            "toml" => toml::from_str::<toml::Table>(text)
                .map(|table| from_toml(toml::Value::Table(table)))
                .map_err(|err| {
                    let (line, col) = err.span().map_or((0, 0), |span| line_col(text, span.start));
                    ParseError {
                        line,
                        col,
                        message: err.message().trim().to_owned(),
                    }
                }),
            "yaml" | "yml" => serde_yaml::from_str(text).map_err(|err| {
                let (line, col) = err.location().map_or((0, 0), |at| (at.line(), at.column()));
                let message = err.to_string();
                // serde_yaml appends the position it also returns; say it once.
                let suffix = format!(" at line {line} column {col}");
                ParseError {
                    line,
                    col,
                    message: message.strip_suffix(&suffix).unwrap_or(&message).to_owned(),
                }
            }),
            _ => serde_json::from_str(text).map_err(|err| {
                let message = err.to_string();
                let suffix = format!(" at line {} column {}", err.line(), err.column());
                let message = message.strip_suffix(&suffix).unwrap_or(&message).to_owned();
                ParseError {
                    line: err.line(),
                    col: err.column(),
                    message,
                }
            }),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn line_col(text: &str, offset: usize) -> (usize, usize) {
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let col = before
            .rsplit('\n')
            .next()
            .map_or(0, |last| last.chars().count())
            + 1;
        (line, col)
    }

    /// TOML to JSON: datetimes become their RFC 3339 text, non-finite floats become null.
    fn from_toml(value: toml::Value) -> Value {
        match value {
            toml::Value::String(text) => Value::String(text),
            toml::Value::Integer(int) => Value::from(int),
            toml::Value::Float(float) => {
                serde_json::Number::from_f64(float).map_or(Value::Null, Value::Number)
            }
            toml::Value::Boolean(bool) => Value::Bool(bool),
            toml::Value::Datetime(datetime) => Value::String(datetime.to_string()),
            toml::Value::Array(items) => Value::Array(items.into_iter().map(from_toml).collect()),
            toml::Value::Table(table) => Value::Object(
                table
                    .into_iter()
                    .map(|(key, value)| (key, from_toml(value)))
                    .collect(),
            ),
        }
    }

    /// Resolves `$ref`s to local files (relative to the schema); network references are refused.
    struct LocalFiles;

    impl Retrieve for LocalFiles {
        fn retrieve(
            &self,
            uri: &Uri<String>,
        ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
            if uri.scheme().as_str() != "file" {
                return Err(format!("{uri}: only local files are resolved (no network)").into());
            }
            let path = percent_decode(uri.path().as_str());
            let path = Path::new(&path);
            load(path).map_err(|err| match err {
                Load::Io(err) => format!("{}: {err}", path.display()).into(),
                Load::Parse(parse) => format!("{}: parse error{parse}", path.display()).into(),
            })
        }
    }

    /// Escape what a URI path may not hold (spaces, `#`, `%`, non-ASCII...).
    fn percent_encode(path: &str) -> String {
        let mut encoded = String::with_capacity(path.len());
        for byte in path.bytes() {
            if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
                encoded.push(char::from(byte));
            } else {
                // Writing to a String cannot fail.
                let _ = write!(encoded, "%{byte:02X}");
            }
        }
        encoded
    }

    fn percent_decode(path: &str) -> String {
        let bytes = path.as_bytes();
        let mut decoded = Vec::with_capacity(bytes.len());
        let mut index = 0;
        while index < bytes.len() {
            let escaped = bytes
                .get(index + 1..index + 3)
                .filter(|_| bytes[index] == b'%')
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok());
            if let Some(byte) = escaped {
                decoded.push(byte);
                index += 3;
            } else {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
        String::from_utf8_lossy(&decoded).into_owned()
    }

    #[cfg(test)]
    mod tests {
        use std::path::PathBuf;

        use super::*;

        const SCHEMA: &str = r#"{
        "type": "object",
        "required": ["name", "port"],
        "properties": {
            "name": {"type": "string"},
            "port": {"type": "integer", "maximum": 65535},
            "tags": {"type": "array", "items": {"type": "string"}}
        }
    }"#;

        /// Write `files` into a temp dir and run the gate over every file but the schema.
        fn run(files: &[(&str, &str)]) -> (Result<BuiltinOutcome, BuiltinError>, String) {
            let dir = tempfile::tempdir().expect("tempdir");
            for (name, text) in files {
                std::fs::write(dir.path().join(name), text).expect("write");
            }
            let mut inputs: Vec<PathBuf> = files
                .iter()
                .filter(|(name, _)| !name.starts_with("schema"))
                .map(|(name, _)| PathBuf::from(name))
                .collect();
            inputs.sort();
            let spec = SchemaSpec {
                schema: files[0].0.to_owned(),
            };
            let mut log = Vec::new();
            let mut ctx = BuiltinContext {
                root: dir.path(),
                inputs: &inputs,
                log: &mut log,
                env: &crate::proc::SpawnEnv::default(),
            };
            let result = evaluate(&spec, &mut ctx);
            (result, String::from_utf8_lossy(&log).into_owned())
        }

        #[test]
        fn documents_of_every_format() {
            // (document file, text, expected errors)
            let cases: &[(&str, &str, &[&str])] = &[
                ("a.json", r#"{"name": "a", "port": 80}"#, &[]),
                (
                    "b.toml",
                    "name = \"b\"\nport = 80\nwhen = 1979-05-27T07:32:00Z\n",
                    &[],
                ),
                ("c.yaml", "name: c\nport: 80\ntags: [x, y]\n", &[]),
                (
                    "d.yml",
                    "name: d\nport: 70000\n",
                    &["d.yml: /port: 70000 is greater than the maximum of 65535"],
                ),
                (
                    "e.json",
                    r#"{"port": "x", "tags": [1]}"#,
                    &[
                        "e.json: /: \"name\" is a required property",
                        "e.json: /port: \"x\" is not of type \"integer\"",
                        "e.json: /tags/0: 1 is not of type \"string\"",
                    ],
                ),
                (
                    "f.json",
                    "{\"name\": \"f\",\n  \"port\": }",
                    &["f.json: parse error at line 2, column 11: expected value"],
                ),
                (
                    "g.toml",
                    "name = \"g\"\nport = = 3\n",
                    &["g.toml: parse error at line 2, column 8: "],
                ),
                (
                    "h.yaml",
                    "name: [unclosed\n",
                    &["h.yaml: parse error at line "],
                ),
            ];
            for (file, text, expected) in cases {
                let (result, log) = run(&[("schema.json", SCHEMA), (file, text)]);
                let outcome = result.expect("judged");
                let errors: Vec<&str> = outcome.artifact["errors"]
                    .as_array()
                    .expect("errors")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                assert_eq!(errors.len(), expected.len(), "{file}: {errors:?}");
                let mut sorted = errors.clone();
                sorted.sort_unstable();
                for (error, wanted) in sorted.iter().zip(expected.iter()) {
                    assert!(
                        error.starts_with(wanted),
                        "{file}: {error:?} should start with {wanted:?}"
                    );
                    assert!(log.contains(error), "{log}");
                }
                assert_eq!(outcome.passed, expected.is_empty(), "{file}");
                assert_eq!(outcome.artifact["validated"], 1);
                assert_eq!(
                    outcome.artifact["invalid"],
                    usize::from(!expected.is_empty())
                );
                assert_eq!(outcome.reason.is_some(), !expected.is_empty());
            }
        }

        #[test]
        fn reason_counts_documents_and_spares_valid_ones() {
            let (result, _) = run(&[
                ("schema.json", SCHEMA),
                ("a.json", r#"{"name": "a", "port": 1}"#),
                ("b.json", r#"{"name": 2, "port": 1}"#),
                ("c.json", r#"{"name": "c", "port": 1.5}"#),
            ]);
            let outcome = result.expect("judged");
            assert!(!outcome.passed);
            assert_eq!(outcome.artifact["validated"], 3);
            assert_eq!(outcome.artifact["invalid"], 2);
            let reason = outcome.reason.expect("reason");
            assert!(
                reason.starts_with(
                    "2 of 3 documents invalid:\n  b.json: /name: 2 is not of type \"string\""
                ),
                "{reason}"
            );
            assert!(!reason.contains("a.json"), "{reason}");
        }

        #[test]
        fn drafts_are_detected() {
            // Draft 7 ignores the 2019-09+ keywords `prefixItems` and `dependentRequired`.
            let keywords =
                r#""prefixItems": [{"type": "string"}], "dependentRequired": {"c": ["d"]}}"#;
            let draft7 =
                format!(r#"{{"$schema": "http://json-schema.org/draft-07/schema#", {keywords}"#);
            let draft2020 = format!(
                r#"{{"$schema": "https://json-schema.org/draft/2020-12/schema", {keywords}"#
            );
            let unnamed = format!("{{{keywords}");
            let cases = [
                (&draft7, "[1]", true),
                (&draft7, r#"{"c": 1}"#, true),
                (&draft2020, "[1]", false),
                (&draft2020, r#"{"c": 1}"#, false),
                (&unnamed, "[1]", false),
                (&unnamed, r#"["x", 1]"#, true),
            ];
            for (schema, document, passed) in cases {
                let (result, log) = run(&[("schema.json", schema), ("doc.json", document)]);
                assert_eq!(
                    result.expect("judged").passed,
                    passed,
                    "{schema} on {document}"
                );
                let draft = if schema.contains("draft-07") {
                    "draft-07"
                } else {
                    "draft 2020-12"
                };
                assert!(log.contains(draft), "{log}");
            }
        }

        #[test]
        fn invalid_schemas_are_user_errors() {
            let cases = [
                (
                    r#"{"type": "strin"}"#,
                    "not a valid draft 2020-12 schema: /type: ",
                ),
                (
                    r#"{"$schema": "http://json-schema.org/draft-07/schema#", "minimum": "1"}"#,
                    "not a valid draft-07 schema: /minimum: ",
                ),
                (
                    r#"{"$schema": "https://example.com/my-meta"}"#,
                    "unsupported $schema",
                ),
                (r#"{"$ref": "missing.json"}"#, "cannot build the schema"),
                (
                    r#"{"$ref": "https://example.com/remote.json"}"#,
                    "no network",
                ),
                ("{\n  \"type\": }", "schema does not parse"),
            ];
            for (schema, expected) in cases {
                let (result, _) = run(&[("schema.json", schema), ("doc.json", "{}")]);
                match result {
                    Err(BuiltinError::UserFile { file, message, .. }) => {
                        assert_eq!(file, "schema.json");
                        assert!(message.contains(expected), "{schema}: {message}");
                    }
                    other => panic!("{schema}: expected a user error, got {other:?}"),
                }
            }
            let (result, _) = run(&[("schema.json", "{\n  \"type\": }"), ("doc.json", "{}")]);
            assert!(
                matches!(
                    result,
                    Err(BuiltinError::UserFile {
                        line: 2,
                        col: 11,
                        ..
                    })
                ),
                "{result:?}"
            );
        }

        #[test]
        fn local_refs_resolve_next_to_the_schema() {
            let (result, _) = run(&[
                (
                    "schema.json",
                    r#"{"properties": {"port": {"$ref": "defs%20dir.json#/$defs/port"}}}"#,
                ),
                (
                    "defs dir.json",
                    r#"{"$defs": {"port": {"type": "integer"}}}"#,
                ),
                ("doc.json", r#"{"port": "x"}"#),
            ]);
            let outcome = result.expect("judged");
            assert_eq!(
                outcome.artifact["validated"], 2,
                "defs dir.json is an input here too"
            );
            assert_eq!(
                outcome.artifact["errors"],
                json!(["doc.json: /port: \"x\" is not of type \"integer\""])
            );
        }

        #[test]
        fn missing_files_are_errors() {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::write(dir.path().join("schema.json"), SCHEMA).expect("write");
            let cases = [
                ("absent.json", vec![]),
                ("schema.json", vec![PathBuf::from("absent.json")]),
            ];
            for (schema, inputs) in cases {
                let spec = SchemaSpec {
                    schema: schema.to_owned(),
                };
                let mut log = Vec::new();
                let mut ctx = BuiltinContext {
                    root: dir.path(),
                    inputs: &inputs,
                    log: &mut log,
                    env: &crate::proc::SpawnEnv::default(),
                };
                let err = evaluate(&spec, &mut ctx).expect_err("missing file");
                assert!(
                    matches!(&err, BuiltinError::Other(message) if message.contains("cannot read absent.json")),
                    "{err}"
                );
            }
        }

        #[test]
        fn helpers() {
            assert_eq!(pointer(""), "/");
            assert_eq!(pointer("/a/0"), "/a/0");
            assert_eq!(line_col("ab\ncd\nef", 4), (2, 2));
            assert_eq!(line_col("ab", 0), (1, 1));
            assert_eq!(
                percent_decode(&percent_encode("/tmp/a b#%é.json")),
                "/tmp/a b#%é.json"
            );
            assert_eq!(percent_encode("/a b"), "/a%20b");
            assert_eq!(percent_decode("%zz%4"), "%zz%4");
        }
    }
}
