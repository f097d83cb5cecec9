//! The evaluator of the `schema` kind: compile the schema (checked against its draft's
//! meta-schema), validate the documents that must pass, and check that the documents listed in
//! `invalid` are rejected.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use jsonschema::{Draft, Retrieve, Uri, Validator};
use serde_json::{Value, json};

use super::SchemaSpec;
use super::documents::{Document, Load, load};
use super::invalid_set::InvalidSet;
use crate::kinds::{BuiltinContext, BuiltinError, BuiltinOutcome, Finding};

/// How many errors the reason quotes; the log and the artifact have all of them.
const REASON_ERRORS: usize = 3;

/// How many meta-schema problems a schema error lists.
const SCHEMA_PROBLEMS: usize = 10;

/// Every draft a schema can name in `$schema`, for the message about one that is not supported.
const SUPPORTED_DRAFTS: &str = "draft 4 (http://json-schema.org/draft-04/schema#), \
     draft 6 (http://json-schema.org/draft-06/schema#), \
     draft 7 (http://json-schema.org/draft-07/schema#), \
     draft 2019-09 (https://json-schema.org/draft/2019-09/schema) and \
     draft 2020-12 (https://json-schema.org/draft/2020-12/schema)";

/// Validate every input of a `schema` gate.
///
/// Documents are parsed by extension (`.toml`, `.yaml`/`.yml`, anything else as JSON). A
/// document that must validate and does not parse is a failure of that document, like a
/// violation. A document that `invalid` lists must be rejected by the schema: one the schema
/// accepts fails the gate, and so does one that does not parse (its rejection proves nothing).
///
/// # Errors
///
/// The schema or a document cannot be read, or the schema itself is not valid (a
/// [`BuiltinError::UserFile`] naming the schema file and the place of the problem).
pub(super) fn evaluate(
    spec: &SchemaSpec,
    ctx: &mut BuiltinContext<'_>,
) -> Result<BuiltinOutcome, BuiltinError> {
    let (validator, draft) = compile(&spec.schema, &ctx.root.join(&spec.schema), spec.formats)?;
    let listed = InvalidSet::new(&spec.invalid);
    let (negative, positive): (Vec<&PathBuf>, Vec<&PathBuf>) = ctx
        .inputs
        .iter()
        .partition(|input| !spec.invalid.is_empty() && listed.contains(input));
    // A failed log write must not fail the check; the same holds for every log line below.
    let _ = writeln!(
        ctx.log,
        "schema: {} ({}, formats {}), {} documents, {} listed as invalid",
        spec.schema,
        draft_name(draft),
        if spec.formats {
            "asserted"
        } else {
            "not asserted"
        },
        positive.len(),
        negative.len()
    );

    let mut errors = Vec::new();
    let mut findings = Vec::new();
    let mut invalid = 0_usize;
    for input in &positive {
        let name = input.display().to_string();
        let found = violations(&validator, ctx.root, input, &name)?;
        if found.is_empty() {
            let _ = writeln!(ctx.log, "schema: {name}: valid");
        } else {
            invalid += 1;
        }
        for finding in found {
            let error = format!("{name}: {}", finding.message);
            let _ = writeln!(ctx.log, "schema: {error}");
            errors.push(error);
            findings.push(finding);
        }
    }
    let quoted_errors = errors.clone();

    let mut rejected = 0_usize;
    let mut accepted = Vec::new();
    let mut unparsed = Vec::new();
    for input in &negative {
        let name = input.display().to_string();
        match Document::read(&ctx.root.join(input)) {
            Ok(document) => match validator.iter_errors(&document.value).next() {
                Some(err) => {
                    rejected += 1;
                    let at = err.instance_path().as_str().to_owned();
                    let _ = writeln!(
                        ctx.log,
                        "schema: {name}: rejected, as `invalid` wants: {}: {err}",
                        pointer(&at)
                    );
                }
                None => {
                    let _ = writeln!(
                        ctx.log,
                        "schema: {name}: ACCEPTED, but `invalid` lists it: the schema must reject it"
                    );
                    findings.push(Finding {
                        file: name.clone(),
                        line: None,
                        message: "the schema accepts this document, but `invalid` lists it: \
                                  the schema must reject it"
                            .to_owned(),
                    });
                    accepted.push(name);
                }
            },
            Err(Load::Parse(parse)) => {
                let message = format!(
                    "parse error{parse} (a document listed in `invalid` must parse, or its rejection proves nothing)"
                );
                let error = format!("{name}: {message}");
                let _ = writeln!(ctx.log, "schema: {error}");
                findings.push(Finding {
                    file: name,
                    line: (parse.line > 0).then_some(parse.line),
                    message,
                });
                errors.push(error.clone());
                unparsed.push(error);
            }
            Err(Load::Io(err)) => {
                return Err(BuiltinError::Other(format!(
                    "schema: cannot read {name}: {err}"
                )));
            }
        }
    }

    let artifact = json!({
        "validated": positive.len(),
        "invalid": invalid,
        "errors": errors,
        "rejected": rejected,
        "accepted_invalid": accepted,
    });
    let mut parts = Vec::new();
    if invalid > 0 {
        parts.push(format!(
            "{invalid} of {} documents invalid:{}",
            positive.len(),
            quote(&quoted_errors, "errors")
        ));
    }
    if !accepted.is_empty() {
        parts.push(format!(
            "{} of {} documents listed in `invalid` accepted by the schema (each must be rejected):{}",
            accepted.len(),
            negative.len(),
            quote(&accepted, "documents")
        ));
    }
    if !unparsed.is_empty() {
        parts.push(format!(
            "{} of {} documents listed in `invalid` do not parse:{}",
            unparsed.len(),
            negative.len(),
            quote(&unparsed, "documents")
        ));
    }
    let reason = (!parts.is_empty()).then(|| parts.join("\n"));
    Ok(BuiltinOutcome {
        passed: reason.is_none(),
        artifact,
        reason,
        judged: positive.len() + negative.len(),
        findings,
    })
}

/// The first few of `items`, one per indented line, then how many more there are.
fn quote(items: &[String], what: &str) -> String {
    let mut quoted = String::new();
    for item in items.iter().take(REASON_ERRORS) {
        // Writing to a String cannot fail.
        let _ = write!(quoted, "\n  {item}");
    }
    let more = items.len().saturating_sub(REASON_ERRORS);
    if more > 0 {
        let _ = write!(quoted, "\n(and {more} more {what})");
    }
    quoted
}

/// What is wrong with a document that must validate: each violation (or its parse error) as a
/// finding on the document, at the line of the offending value when it can be found.
fn violations(
    validator: &Validator,
    root: &Path,
    input: &Path,
    name: &str,
) -> Result<Vec<Finding>, BuiltinError> {
    match Document::read(&root.join(input)) {
        Ok(document) => Ok(validator
            .iter_errors(&document.value)
            .map(|err| {
                let at = err.instance_path().as_str().to_owned();
                Finding {
                    file: name.to_owned(),
                    line: document.position(&at).map(|(line, _)| line),
                    message: format!("{}: {err}", pointer(&at)),
                }
            })
            .collect()),
        Err(Load::Parse(parse)) => Ok(vec![Finding {
            file: name.to_owned(),
            line: (parse.line > 0).then_some(parse.line),
            message: format!("parse error{parse}"),
        }]),
        Err(Load::Io(err)) => Err(BuiltinError::Other(format!(
            "schema: cannot read {name}: {err}"
        ))),
    }
}

/// Read the schema, check it against its draft's meta-schema and build its validator (asserting
/// formats unless `formats` is false).
fn compile(name: &str, path: &Path, formats: bool) -> Result<(Validator, Draft), BuiltinError> {
    let user_error = |(line, col): (usize, usize), message| BuiltinError::UserFile {
        file: name.to_owned(),
        line,
        col,
        message,
    };
    let document = match Document::read(path) {
        Ok(document) => document,
        Err(Load::Io(err)) => {
            return Err(BuiltinError::Other(format!(
                "schema: cannot read {name}: {err}"
            )));
        }
        Err(Load::Parse(parse)) => {
            return Err(user_error(
                (parse.line, parse.col),
                format!("schema does not parse: {}", parse.message),
            ));
        }
    };
    let at = |pointer: &str| document.position(pointer).unwrap_or((0, 0));
    let schema = &document.value;
    let draft = match schema.get("$schema") {
        None => Draft::Draft202012,
        Some(Value::String(uri)) => match Draft::from_schema_uri(uri) {
            Draft::Unknown => {
                return Err(user_error(
                    at("/$schema"),
                    format!(
                        "unsupported $schema \"{uri}\": the supported drafts are {SUPPORTED_DRAFTS}; \
                         without $schema, draft 2020-12"
                    ),
                ));
            }
            draft => draft,
        },
        Some(other) => {
            return Err(user_error(
                at("/$schema"),
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
    // Each problem once, in the order of the schema's text (unknown places last).
    let mut seen = HashSet::new();
    let mut problems: Vec<((usize, usize), String)> = meta
        .iter_errors(schema)
        .map(|err| {
            let location = err.instance_path().as_str().to_owned();
            (at(&location), format!("{}: {err}", pointer(&location)))
        })
        .filter(|problem| seen.insert(problem.clone()))
        .collect();
    problems.sort_by_key(|((line, col), _)| (*line == 0, *line, *col));
    if let Some((first, rest)) = problems.split_first() {
        let what = format!("not a valid {} schema", draft_name(draft));
        let mut message = format!("{what}: {}", first.1);
        for ((line, col), problem) in rest.iter().take(SCHEMA_PROBLEMS - 1) {
            let _ = write!(message, "\n{name}:{line}:{col}: {what}: {problem}");
        }
        if problems.len() > SCHEMA_PROBLEMS {
            let _ = write!(
                message,
                "\n(and {} more problems)",
                problems.len() - SCHEMA_PROBLEMS
            );
        }
        return Err(user_error(first.0, message));
    }
    let base = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let validator = jsonschema::options()
        .with_draft(draft)
        .should_validate_formats(formats)
        .with_base_uri(format!(
            "file://{}",
            percent_encode(&base.to_string_lossy())
        ))
        .with_retriever(LocalFiles)
        .build(schema)
        .map_err(|err| {
            let location = err.instance_path().as_str().to_owned();
            let place = if location.is_empty() {
                (0, 0)
            } else {
                at(&location)
            };
            user_error(place, format!("cannot build the schema: {err}"))
        })?;
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
        run_with(files, &[], true)
    }

    /// Write `files` (the first is the schema) into a temp dir and run the gate over every
    /// other file, with these `invalid` globs and `formats`: the inputs hold the documents
    /// `invalid` matches, as the expansion puts them there.
    fn run_with(
        files: &[(&str, &str)],
        invalid: &[&str],
        formats: bool,
    ) -> (Result<BuiltinOutcome, BuiltinError>, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        let mut inputs: Vec<PathBuf> = files
            .iter()
            .filter(|(name, _)| !name.starts_with("schema"))
            .map(|(name, _)| PathBuf::from(name))
            .collect();
        inputs.sort();
        let spec = SchemaSpec {
            schema: files[0].0.to_owned(),
            invalid: invalid.iter().map(|glob| (*glob).to_owned()).collect(),
            formats,
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
        let keywords = r#""prefixItems": [{"type": "string"}], "dependentRequired": {"c": ["d"]}}"#;
        let draft7 =
            format!(r#"{{"$schema": "http://json-schema.org/draft-07/schema#", {keywords}"#);
        let draft2020 =
            format!(r#"{{"$schema": "https://json-schema.org/draft/2020-12/schema", {keywords}"#);
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
                invalid: Vec::new(),
                formats: true,
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

    const DRAFTS: [(&str, &str); 5] = [
        ("http://json-schema.org/draft-04/schema#", "draft-04"),
        ("http://json-schema.org/draft-06/schema#", "draft-06"),
        ("http://json-schema.org/draft-07/schema#", "draft-07"),
        (
            "https://json-schema.org/draft/2019-09/schema",
            "draft 2019-09",
        ),
        (
            "https://json-schema.org/draft/2020-12/schema",
            "draft 2020-12",
        ),
    ];

    #[test]
    fn formats_are_asserted_under_every_draft_unless_turned_off() {
        for (uri, name) in DRAFTS {
            let schema = format!(
                r#"{{"$schema": "{uri}", "properties": {{"mail": {{"type": "string", "format": "email"}}}}}}"#
            );
            // (document, formats, passed)
            let cases = [
                (r#"{"mail": "not an email"}"#, true, false),
                (r#"{"mail": "not an email"}"#, false, true),
                (r#"{"mail": "team@example.com"}"#, true, true),
            ];
            for (document, formats, passed) in cases {
                let (result, log) = run_with(
                    &[("schema.json", &schema), ("doc.json", document)],
                    &[],
                    formats,
                );
                let outcome = result.expect("judged");
                assert_eq!(outcome.passed, passed, "{name}, formats = {formats}: {log}");
                if !passed {
                    assert_eq!(
                        outcome.artifact["errors"],
                        json!([r#"doc.json: /mail: "not an email" is not a "email""#]),
                        "{name}"
                    );
                }
                let said = if formats { "asserted" } else { "not asserted" };
                assert!(log.contains(&format!("({name}, formats {said})")), "{log}");
            }
        }
    }

    #[test]
    fn idn_formats_are_checked() {
        // (format, bad value, good value): the `idna` feature of jsonschema checks these.
        let cases = [
            ("idn-email", "not an email", "用户@例子.广告"),
            ("idn-hostname", "-starts-with-a-hyphen", "例子.测试"),
        ];
        for (format, bad, good) in cases {
            let schema = format!(r#"{{"properties": {{"v": {{"format": "{format}"}}}}}}"#);
            for (value, passed) in [(bad, false), (good, true)] {
                let document = json!({ "v": value }).to_string();
                let (result, log) = run(&[("schema.json", &schema), ("doc.json", &document)]);
                assert_eq!(
                    result.expect("judged").passed,
                    passed,
                    "{format} {value}: {log}"
                );
            }
        }
    }

    const NODE: &str =
        r#"{"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}"#;

    #[test]
    fn documents_listed_as_invalid_must_be_rejected() {
        let files = [
            ("schema.json", NODE),
            ("good.json", r#"{"name": "a"}"#),
            ("bad/no-name.json", "{}"),
            ("bad/number.json", r#"{"name": 5}"#),
            ("bad/fine.json", r#"{"name": "accepted"}"#),
            ("bad/keep.json", r#"{"name": "kept out"}"#),
            ("bad/broken.json", "{\n  \"name\": "),
        ];
        let (result, log) = run_with(&files, &["bad/*.json", "!bad/keep.json"], true);
        let outcome = result.expect("judged");
        assert!(!outcome.passed, "{log}");
        assert_eq!(
            outcome.judged, 6,
            "2 documents that must validate, 4 that must not"
        );
        assert_eq!(
            outcome.artifact["validated"], 2,
            "good.json and the excluded keep.json"
        );
        assert_eq!(outcome.artifact["invalid"], 0);
        assert_eq!(outcome.artifact["rejected"], 2);
        assert_eq!(
            outcome.artifact["accepted_invalid"],
            json!(["bad/fine.json"])
        );
        assert_eq!(
            outcome.reason.as_deref(),
            Some(
                "1 of 4 documents listed in `invalid` accepted by the schema (each must be rejected):\n  bad/fine.json\n\
                 1 of 4 documents listed in `invalid` do not parse:\n  bad/broken.json: parse error at line 2, column 10: \
                 EOF while parsing a value (a document listed in `invalid` must parse, or its rejection proves nothing)"
            )
        );
        let findings: Vec<(&str, Option<usize>)> = outcome
            .findings
            .iter()
            .map(|finding| (finding.file.as_str(), finding.line))
            .collect();
        assert_eq!(
            findings,
            [("bad/broken.json", Some(2)), ("bad/fine.json", None)]
        );
        assert!(log.contains("schema: bad/no-name.json: rejected, as `invalid` wants: /: \"name\" is a required property"), "{log}");

        // Without the accepted and broken documents, the gate passes.
        let (result, _) = run_with(&files[..4], &["bad/*.json"], true);
        let outcome = result.expect("judged");
        assert!(outcome.passed, "{:?}", outcome.reason);
        assert_eq!(
            (
                outcome.artifact["validated"].as_u64(),
                outcome.artifact["rejected"].as_u64()
            ),
            (Some(1), Some(2))
        );
        assert_eq!(outcome.artifact["accepted_invalid"], json!([]));
        assert_eq!(outcome.judged, 3);
    }

    /// A finding as expected: its line and message.
    type Expected<'a> = (Option<usize>, &'a str);

    #[test]
    fn violations_are_findings_at_the_line_of_their_value() {
        let schema = SCHEMA;
        // (file, text, expected (line, message) per finding)
        let cases: &[(&str, &str, &[Expected<'_>])] = &[
            (
                "a.json",
                "{\n  \"name\": \"a\",\n  \"tags\": [\n    \"x\",\n    7\n  ],\n  \"port\": \"80\"\n}\n",
                &[
                    (Some(7), "/port: \"80\" is not of type \"integer\""),
                    (Some(5), "/tags/1: 7 is not of type \"string\""),
                ],
            ),
            (
                "b.json",
                "{\n  \"port\": 1\n}",
                &[(Some(1), "/: \"name\" is a required property")],
            ),
            (
                "c.toml",
                "name = \"c\"\n\nport = 70000\n",
                &[(Some(3), "/port: 70000 is greater than the maximum of 65535")],
            ),
            (
                "d.yaml",
                "name: d\nport: x\n",
                &[(None, "/port: \"x\" is not of type \"integer\"")],
            ),
            (
                "e.json",
                "{\n  \"name\": ,\n}",
                &[(Some(2), "parse error at line 2, column 11: expected value")],
            ),
        ];
        for (file, text, expected) in cases {
            let (result, _) = run(&[("schema.json", schema), (file, text)]);
            let outcome = result.expect("judged");
            let mut found: Vec<(Option<usize>, &str)> = outcome
                .findings
                .iter()
                .map(|finding| {
                    assert_eq!(finding.file, *file);
                    (finding.line, finding.message.as_str())
                })
                .collect();
            found.sort_unstable_by_key(|(_, message)| *message);
            let mut expected = expected.to_vec();
            expected.sort_unstable_by_key(|(_, message)| *message);
            assert_eq!(found, expected, "{file}");
        }
    }

    /// The user error for a schema: (line, col, message).
    fn schema_error(schema: &str) -> (usize, usize, String) {
        match run(&[("schema.json", schema), ("doc.json", "{}")]).0 {
            Err(BuiltinError::UserFile {
                file,
                line,
                col,
                message,
            }) => {
                assert_eq!(file, "schema.json");
                (line, col, message)
            }
            other => panic!("{schema}: expected a user error, got {other:?}"),
        }
    }

    #[test]
    fn meta_schema_problems_point_into_the_schema_once_each() {
        let schema = "{\n  \"properties\": {\n    \"a\": {\"type\": \"strin\"},\n    \"b\": {\"minimum\": \"1\"}\n  },\n  \"required\": \"a\"\n}\n";
        let (line, col, message) = schema_error(schema);
        assert_eq!((line, col), (3, 19), "{message}");
        assert_eq!(
            message,
            "not a valid draft 2020-12 schema: /properties/a/type: \"strin\" is not valid under any of the schemas listed in the 'anyOf' keyword\n\
             schema.json:4:22: not a valid draft 2020-12 schema: /properties/b/minimum: \"1\" is not of type \"number\"\n\
             schema.json:6:15: not a valid draft 2020-12 schema: /required: \"a\" is not of type \"array\""
        );
        for (uri, name) in DRAFTS {
            let schema = format!("{{\n  \"$schema\": \"{uri}\",\n  \"minimum\": \"1\"\n}}");
            let (line, col, message) = schema_error(&schema);
            assert_eq!((line, col), (3, 14), "{name}: {message}");
            assert_eq!(
                message,
                format!("not a valid {name} schema: /minimum: \"1\" is not of type \"number\"")
            );
        }
        // Many problems: each line once, then how many more.
        let many: Vec<String> = (0..14)
            .map(|i| format!("\"p{i}\": {{\"type\": 5}}"))
            .collect();
        let schema = format!("{{\"properties\": {{\n{}\n}}}}", many.join(",\n"));
        let (line, _, message) = schema_error(&schema);
        assert_eq!(line, 2);
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 11, "{message}");
        assert_eq!(lines[10], "(and 4 more problems)");
        let distinct: HashSet<&&str> = lines.iter().collect();
        assert_eq!(distinct.len(), lines.len(), "no line repeats: {message}");
    }

    #[test]
    fn an_unsupported_schema_uri_lists_every_draft_at_its_place() {
        let (line, col, message) = schema_error(
            "{\n  \"type\": \"object\",\n  \"$schema\": \"https://example.com/my-meta\"\n}",
        );
        assert_eq!((line, col), (3, 14));
        for (uri, _) in DRAFTS {
            assert!(message.contains(uri), "{uri}: {message}");
        }
        for draft in [
            "draft 4",
            "draft 6",
            "draft 7",
            "draft 2019-09",
            "draft 2020-12",
        ] {
            assert!(message.contains(draft), "{draft}: {message}");
        }
        let (line, col, message) = schema_error("{\"$schema\": 7}");
        assert_eq!(
            (line, col, message.as_str()),
            (1, 13, "$schema must be a string, not 7")
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(pointer(""), "/");
        assert_eq!(pointer("/a/0"), "/a/0");
        assert_eq!(
            percent_decode(&percent_encode("/tmp/a b#%é.json")),
            "/tmp/a b#%é.json"
        );
        assert_eq!(percent_encode("/a b"), "/a%20b");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
