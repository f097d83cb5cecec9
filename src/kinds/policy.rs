//! The `policy` kind: evaluate a Rego query in process (regorus, Rego v1) and compare it with `expect`.

use serde_json::Value;

use serde::{Deserialize, Serialize};

use super::{BuiltinContext, BuiltinError, BuiltinOutcome, Kind, KindParser};

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
    pub expect: Value,
}

impl Kind for PolicySpec {
    const NAME: &'static str = "policy";
    const KEYS: &'static [&'static str] = &["policy", "input", "data", "query", "expect"];
    const ITEMS: &'static str = "policy cases";

    fn parse(p: &mut KindParser<'_, '_, '_>) -> Option<Self> {
        if cfg!(not(feature = "policy")) {
            p.needs_feature(Self::NAME, "policy");
            return None;
        }
        let policy: Vec<String> = p
            .fields
            .string_or_strings(p.sink, "policy")
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        if policy.is_empty() && p.fields.value("policy").is_none() {
            p.missing("policy");
        }
        let input = p.required("input");
        let query = p.required("query");
        Some(PolicySpec {
            policy,
            input: input?,
            data: p
                .fields
                .string_or_strings(p.sink, "data")
                .into_iter()
                .map(|(d, _)| d)
                .collect(),
            query: query?,
            expect: p
                .fields
                .value("expect")
                .map_or(Value::Bool(true), |v| crate::fields::to_json(v.get_ref())),
        })
    }

    fn referenced_files(&self) -> Vec<&str> {
        self.policy
            .iter()
            .chain(std::iter::once(&self.input))
            .chain(&self.data)
            .map(String::as_str)
            .collect()
    }

    fn evaluate(&self, ctx: &mut BuiltinContext<'_>) -> Result<BuiltinOutcome, BuiltinError> {
        #[cfg(feature = "policy")]
        return engine::evaluate(self, ctx);
        #[cfg(not(feature = "policy"))]
        {
            let _ = ctx;
            Err(BuiltinError::Other(super::without_feature(
                "policy", "policy",
            )))
        }
    }
}

/// The evaluator: needs the cargo feature `policy`.
#[cfg(feature = "policy")]
mod engine {
    use super::*;
    use regorus::Engine;
    use serde_json::json;
    use std::io::Write;
    /// Evaluate the query of a `policy` gate.
    ///
    /// A rule path (`data.pkg.rule`) is evaluated as a rule, so a misspelt rule is an error rather
    /// than an undefined result; any other query is evaluated as a Rego query. When the result
    /// differs from `expect`, the reason carries the messages of `deny` in the query's package.
    ///
    /// # Errors
    ///
    /// A file cannot be read, a policy or a JSON file has a mistake ([`BuiltinError::UserFile`] with
    /// its position), or the query cannot be evaluated.
    pub(super) fn evaluate(
        spec: &PolicySpec,
        ctx: &mut BuiltinContext<'_>,
    ) -> Result<BuiltinOutcome, BuiltinError> {
        let mut engine = Engine::new();
        for file in &spec.policy {
            let rego = read(ctx, file)?;
            engine
                .add_policy(file.clone(), rego)
                .map_err(|err| rego_error(&format!("{err:#}"), &spec.policy))?;
            // A failed log write must not fail the check; the same holds for every log line below.
            let _ = writeln!(ctx.log, "policy: loaded {file}");
        }
        engine.set_input(regorus::Value::from(read_json(ctx, &spec.input)?));
        let _ = writeln!(ctx.log, "policy: input {}", spec.input);
        for file in &spec.data {
            let data = read_json(ctx, file)?;
            if !data.is_object() {
                let message = "a data document must be a JSON object".to_owned();
                return Err(BuiltinError::UserFile {
                    file: file.clone(),
                    line: 1,
                    col: 1,
                    message,
                });
            }
            engine.add_data(regorus::Value::from(data)).map_err(|err| {
                BuiltinError::Other(format!("policy: cannot merge {file} into data: {err:#}"))
            })?;
            let _ = writeln!(ctx.log, "policy: data {file}");
        }

        let result = query(&mut engine, &spec.query, &spec.policy)?;
        let deny = deny_messages(&mut engine, &spec.query, ctx.log);
        let shown = result
            .as_ref()
            .map_or_else(|| "undefined".to_owned(), Value::to_string);
        let _ = writeln!(ctx.log, "policy: {} = {shown}", spec.query);
        for message in &deny {
            let _ = writeln!(ctx.log, "policy: deny: {message}");
        }

        let passed = result.as_ref() == Some(&spec.expect);
        let reason = (!passed).then(|| {
            let mut reason = format!("{} is {shown}, expected {}", spec.query, spec.expect);
            if !deny.is_empty() {
                reason.push_str("; deny: ");
                reason.push_str(&deny.join("; "));
            }
            reason
        });
        let artifact =
            json!({"query": spec.query, "result": result.unwrap_or(Value::Null), "deny": deny});
        Ok(BuiltinOutcome {
            passed,
            artifact,
            reason,
            judged: 1,
            findings: Vec::new(),
        })
    }

    /// Evaluate `query`: `None` when it is undefined.
    fn query(
        engine: &mut Engine,
        query: &str,
        policies: &[String],
    ) -> Result<Option<Value>, BuiltinError> {
        let value = if is_rule_path(query) {
            engine
                .eval_rule(query.to_owned())
                .map_err(|err| query_error(query, &format!("{err:#}"), policies))?
        } else {
            let results = engine
                .eval_query(query.to_owned(), false)
                .map_err(|err| query_error(query, &format!("{err:#}"), policies))?;
            match results.result.as_slice() {
                [] => regorus::Value::Undefined,
                [only] => only
                    .expressions
                    .last()
                    .map_or(regorus::Value::Undefined, |expression| {
                        expression.value.clone()
                    }),
                many => {
                    return Err(BuiltinError::Other(format!(
                        "policy: query {query} has {} results; query a rule that gathers them",
                        many.len()
                    )));
                }
            }
        };
        to_json(&value).map_err(|err| BuiltinError::Other(format!("policy: query {query}: {err}")))
    }

    /// The `deny` messages of the query's package; empty when it has none or on any error (logged).
    fn deny_messages(engine: &mut Engine, query: &str, log: &mut dyn Write) -> Vec<String> {
        let Some((package, _)) = query
            .rsplit_once('.')
            .filter(|(package, _)| is_rule_path(query) && *package != "data")
        else {
            return Vec::new();
        };
        let deny = format!("{package}.deny");
        let value = match engine.eval_query(deny.clone(), false) {
            Ok(results) => results
                .result
                .first()
                .and_then(|result| result.expressions.last())
                .map(|e| e.value.clone()),
            Err(err) => {
                let _ = writeln!(log, "policy: cannot evaluate {deny}: {err:#}");
                None
            }
        };
        match value.map(|value| to_json(&value)) {
            Some(Ok(Some(Value::Array(items)))) => items.iter().map(message_of).collect(),
            Some(Ok(Some(single))) => vec![message_of(&single)],
            _ => Vec::new(),
        }
    }

    /// A deny entry as text: a string as is, `{"msg": ...}` by its message, anything else as JSON.
    fn message_of(value: &Value) -> String {
        match value {
            Value::String(text) => text.clone(),
            Value::Object(fields) => match fields.get("msg").or_else(|| fields.get("message")) {
                Some(Value::String(text)) => text.clone(),
                _ => value.to_string(),
            },
            other => other.to_string(),
        }
    }

    /// A Rego value as JSON (sets become arrays); `None` when undefined.
    fn to_json(value: &regorus::Value) -> Result<Option<Value>, serde_json::Error> {
        if *value == regorus::Value::Undefined {
            return Ok(None);
        }
        serde_json::to_value(value).map(Some)
    }

    /// `data.a.b`: `data` then one or more identifiers.
    fn is_rule_path(query: &str) -> bool {
        let mut segments = query.split('.');
        segments.next() == Some("data") && {
            let rest: Vec<&str> = segments.collect();
            !rest.is_empty() && rest.iter().all(|segment| is_identifier(segment))
        }
    }

    fn is_identifier(text: &str) -> bool {
        let mut chars = text.chars();
        chars
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    fn read(ctx: &BuiltinContext<'_>, file: &str) -> Result<String, BuiltinError> {
        std::fs::read_to_string(ctx.root.join(file))
            .map_err(|err| BuiltinError::Other(format!("policy: cannot read {file}: {err}")))
    }

    fn read_json(ctx: &BuiltinContext<'_>, file: &str) -> Result<Value, BuiltinError> {
        serde_json::from_str(&read(ctx, file)?).map_err(|err| {
            let message = err.to_string();
            let suffix = format!(" at line {} column {}", err.line(), err.column());
            let message = format!(
                "not valid JSON: {}",
                message.strip_suffix(&suffix).unwrap_or(&message)
            );
            BuiltinError::UserFile {
                file: file.to_owned(),
                line: err.line(),
                col: err.column(),
                message,
            }
        })
    }

    /// A query failure: a user error when regorus points into one of the policies.
    fn query_error(query: &str, text: &str, policies: &[String]) -> BuiltinError {
        match locate(text) {
            Some((file, ..)) if policies.contains(&file) => rego_error(text, policies),
            _ => {
                let message = error_message(text);
                // regorus says only "not a valid rule path" for a rule that no policy defines.
                let hint = if is_rule_path(query) && message.contains("rule path") {
                    format!(" (no rule {query} in {})", policies.join(", "))
                } else {
                    String::new()
                };
                BuiltinError::Other(format!("policy: query {query}: {message}{hint}"))
            }
        }
    }

    /// A parse or compile error of a policy, located when regorus says where.
    fn rego_error(text: &str, policies: &[String]) -> BuiltinError {
        match locate(text) {
            Some((file, line, col)) => BuiltinError::UserFile {
                file,
                line,
                col,
                message: error_message(text),
            },
            None => BuiltinError::Other(format!(
                "policy: {} in {}",
                error_message(text),
                policies.join(", ")
            )),
        }
    }

    /// The `--> file:line:col` of a regorus error.
    fn locate(text: &str) -> Option<(String, usize, usize)> {
        let start = text.find("--> ")? + "--> ".len();
        let location = text[start..].lines().next()?.trim();
        let mut parts = location.rsplitn(3, ':');
        let col = parts.next()?.parse().ok()?;
        let line = parts.next()?.parse().ok()?;
        Some((parts.next()?.to_owned(), line, col))
    }

    /// The words of a regorus error without its source excerpt: the text after the last `error: `.
    fn error_message(text: &str) -> String {
        text.rfind("error: ")
            .map_or(text, |at| &text[at + "error: ".len()..])
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const POLICY: &str = r#"package matriz.governance

default allow := false

allow if {
    input.event.sensitive == false
}

allow if {
    input.event.consent == true
    count(deny) == 0
}

deny contains msg if {
    input.event.sensitive
    not input.event.consent
    msg := sprintf("sensitive event %s without consent", [input.event.id])
}

deny contains {"msg": "blocked source"} if {
    input.event.source in data.blocked
}

level := input.event.level
"#;

        /// Run the gate with one policy, an input and a data file.
        fn run(
            policy: &str,
            input: &str,
            query: &str,
            expect: Value,
        ) -> (Result<BuiltinOutcome, BuiltinError>, String) {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::write(dir.path().join("p.rego"), policy).expect("write");
            std::fs::write(dir.path().join("input.json"), input).expect("write");
            std::fs::write(dir.path().join("data.json"), r#"{"blocked": ["spam"]}"#)
                .expect("write");
            let spec = PolicySpec {
                policy: vec!["p.rego".to_owned()],
                input: "input.json".to_owned(),
                data: vec!["data.json".to_owned()],
                query: query.to_owned(),
                expect,
            };
            let mut log = Vec::new();
            let mut ctx = BuiltinContext {
                root: dir.path(),
                inputs: &[],
                log: &mut log,
                env: &crate::proc::SpawnEnv::default(),
            };
            let result = evaluate(&spec, &mut ctx);
            (result, String::from_utf8_lossy(&log).into_owned())
        }

        #[test]
        fn outcomes() {
            let benign = r#"{"event": {"id": "e1", "sensitive": false, "level": 2}}"#;
            let sensitive = r#"{"event": {"id": "e2", "sensitive": true, "source": "spam"}}"#;
            // (input, query, expect, passed, result, deny, reason)
            let cases = [
                (
                    benign,
                    "data.matriz.governance.allow",
                    json!(true),
                    true,
                    json!(true),
                    json!([]),
                    None,
                ),
                (
                    sensitive,
                    "data.matriz.governance.allow",
                    json!(true),
                    false,
                    json!(false),
                    json!(["sensitive event e2 without consent", "blocked source"]),
                    Some(
                        "data.matriz.governance.allow is false, expected true; deny: sensitive event e2 without consent; blocked source",
                    ),
                ),
                (
                    benign,
                    "data.matriz.governance.level",
                    json!(2),
                    true,
                    json!(2),
                    json!([]),
                    None,
                ),
                (
                    sensitive,
                    "data.matriz.governance.level",
                    json!(2),
                    false,
                    Value::Null,
                    json!(["sensitive event e2 without consent", "blocked source"]),
                    Some("data.matriz.governance.level is undefined, expected 2; deny: "),
                ),
                (
                    sensitive,
                    "count(data.matriz.governance.deny)",
                    json!(2),
                    true,
                    json!(2),
                    json!([]),
                    None,
                ),
                (
                    benign,
                    "data.matriz.governance.allow == false",
                    json!(false),
                    true,
                    json!(false),
                    json!([]),
                    None,
                ),
            ];
            for (input, query, expect, passed, result, deny, reason) in cases {
                let (outcome, log) = run(POLICY, input, query, expect);
                let outcome = outcome.expect("judged");
                assert_eq!(outcome.passed, passed, "{query}: {log}");
                assert_eq!(
                    outcome.artifact,
                    json!({"query": query, "result": result, "deny": deny}),
                    "{query}"
                );
                match reason {
                    Some(reason) => assert!(
                        outcome
                            .reason
                            .as_deref()
                            .is_some_and(|r| r.starts_with(reason)),
                        "{:?}",
                        outcome.reason
                    ),
                    None => assert_eq!(outcome.reason, None),
                }
                assert!(log.contains("policy: loaded p.rego"), "{log}");
            }
        }

        #[test]
        fn user_errors_carry_positions() {
            // (policy, input, file, line, col, message contains)
            let cases = [
                (
                    "package p\n\nallow if {\n  input.x ==\n}\n",
                    "{}",
                    "p.rego",
                    5,
                    1,
                    "",
                ),
                ("package p\n\nallow if x\n", "{}", "p.rego", 3, 10, ""),
                (
                    "package p\n\nallow if {\n  y := 1\n  z == 2\n}\n",
                    "{}",
                    "p.rego",
                    5,
                    3,
                    "z",
                ),
                (
                    POLICY,
                    "{\n  \"event\": ,\n}",
                    "input.json",
                    2,
                    12,
                    "not valid JSON: expected value",
                ),
            ];
            for (policy, input, file, line, col, contains) in cases {
                let (result, _) = run(policy, input, "data.p.allow", json!(true));
                match result {
                    Err(BuiltinError::UserFile {
                        file: f,
                        line: l,
                        col: c,
                        message,
                    }) => {
                        assert_eq!((f.as_str(), l, c), (file, line, col), "{policy}: {message}");
                        assert!(message.contains(contains), "{message}");
                        assert!(!message.contains('\n'), "{message}");
                    }
                    other => panic!("{policy}: expected a user error, got {other:?}"),
                }
            }
        }

        #[test]
        fn other_errors() {
            let cases = [
                (
                    "data.matriz.governance.alow",
                    "(no rule data.matriz.governance.alow in p.rego)",
                ),
                ("data.nothere.allow", "query data.nothere.allow"),
                ("[1, 2][_]", "has 2 results"),
            ];
            for (query, contains) in cases {
                let (result, _) = run(POLICY, "{}", query, json!(true));
                match result {
                    Err(BuiltinError::Other(message)) => {
                        assert!(message.contains(contains), "{query}: {message}");
                    }
                    other => panic!("{query}: expected an error, got {other:?}"),
                }
            }
        }

        #[test]
        fn helpers() {
            let rule_paths = [
                ("data.a.b", true),
                ("data.a", true),
                ("data", false),
                ("data.a[0]", false),
                ("x.a", false),
                ("data.a.", false),
                ("data._x.y1", true),
            ];
            for (query, expected) in rule_paths {
                assert_eq!(is_rule_path(query), expected, "{query}");
            }
            let text = "\n--> dir/p.rego:3:10\n  |\n3 | allow if x\n  |          ^\nerror: var x is unsafe";
            assert_eq!(locate(text), Some(("dir/p.rego".to_owned(), 3, 10)));
            assert_eq!(error_message(text), "var x is unsafe");
            assert_eq!(locate("no location"), None);
            assert_eq!(message_of(&json!({"msg": "m"})), "m");
            assert_eq!(message_of(&json!(3)), "3");
        }
    }
}
