//! The `policy` kind: evaluate a Rego query in process (regorus, Rego v1) on one input or on a
//! table of cases, and compare each result with what the case expects.

use serde_json::Value;

use serde::{Deserialize, Serialize};

use super::{BuiltinContext, BuiltinError, BuiltinOutcome, Kind, KindParser};
use crate::fields::Fields;

/// `kind = "policy"`: evaluate a Rego query on each case's input and compare it with the case's
/// `expect`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicySpec {
    /// Rego files, relative to the config folder.
    pub policy: Vec<String>,
    /// JSON documents merged into `data` (shared by every case).
    pub data: Vec<String>,
    /// For example `data.matriz.governance.allow`.
    pub query: String,
    /// The cases, judged together; never empty.
    pub cases: Vec<PolicyCase>,
    /// Written as the shorthand (`input`, `expect` on the gate): one case, and the artifact
    /// keeps its `result` and `deny` at the top level.
    pub shorthand: bool,
}

/// One case of a `policy` gate: an input and what the query must give on it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PolicyCase {
    /// JSON document bound to `input`, relative to the config folder.
    pub input: String,
    /// The value the query must produce (default `true`).
    pub expect: Value,
    /// When set, the case also fails unless one of the policy's `deny` messages contains it.
    pub deny_contains: Option<String>,
}

/// The keys of one entry of `cases`.
const CASE_KEYS: &[&str] = &["input", "expect", "deny_contains"];

impl Kind for PolicySpec {
    const NAME: &'static str = "policy";
    const KEYS: &'static [&'static str] = &[
        "policy",
        "input",
        "data",
        "query",
        "expect",
        "deny_contains",
        "cases",
    ];
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
        let query = p.required("query");
        let data = p
            .fields
            .string_or_strings(p.sink, "data")
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        let (cases, shorthand) = parse_cases(p)?;
        Some(PolicySpec {
            policy,
            data,
            query: query?,
            cases,
            shorthand,
        })
    }

    fn referenced_files(&self) -> Vec<&str> {
        self.policy
            .iter()
            .chain(self.cases.iter().map(|case| &case.input))
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

/// The cases of a policy gate: `cases = [...]`, or the shorthand `input`/`expect`/`deny_contains`
/// as one case (true when the shorthand is used). Exactly one of the two forms.
fn parse_cases(p: &mut KindParser<'_, '_, '_>) -> Option<(Vec<PolicyCase>, bool)> {
    let gate = p.gate;
    match (p.fields.value("input"), p.fields.value("cases")) {
        (Some(_), Some(cases)) => {
            p.sink.error_help(
                cases.span(),
                format!("gate `{gate}` has both `input` and `cases`: use one of the two forms"),
                "move `input` (and `expect`, `deny_contains`) into an entry of `cases`, or drop \
                 `cases` for a single input",
            );
            None
        }
        (None, None) => {
            p.sink.error_help(
                p.span.clone(),
                format!("gate `{gate}` (kind `policy`) has neither `input` nor `cases`"),
                format!(
                    "add `input = \"...\"` (one case) or `cases = [{{ input = \"...\", expect = true }}]` \
                     to [gates.{gate}]"
                ),
            );
            None
        }
        (Some(_), None) => {
            let input = p.fields.string(p.sink, "input").map(|(input, _)| input);
            let expect = p
                .fields
                .value("expect")
                .map_or(Value::Bool(true), |v| crate::fields::to_json(v.get_ref()));
            let deny_contains = p
                .fields
                .string(p.sink, "deny_contains")
                .map(|(text, _)| text);
            Some((
                vec![PolicyCase {
                    input: input?,
                    expect,
                    deny_contains,
                }],
                true,
            ))
        }
        (None, Some(cases)) => {
            for key in ["expect", "deny_contains"] {
                if let Some(value) = p.fields.value(key) {
                    p.sink.error_help(
                        value.span(),
                        format!(
                            "`{key}` on gate `{gate}` belongs to the single `input`; with `cases`, \
                             each case has its own"
                        ),
                        format!("move it into the entries of `cases`: {{ input = \"...\", {key} = ... }}"),
                    );
                }
            }
            let Some(items) = cases.get_ref().as_array() else {
                p.sink.error_help(
                    cases.span(),
                    format!(
                        "`cases` in gate `{gate}` must be an array of tables, found {}",
                        cases.get_ref().type_str()
                    ),
                    "for example cases = [{ input = \"a.json\", expect = true }, { input = \"b.json\", expect = false }]",
                );
                return None;
            };
            if items.is_empty() {
                p.sink.error_help(
                    cases.span(),
                    format!("`cases` in gate `{gate}` is empty: nothing to check"),
                    "add a case: cases = [{ input = \"a.json\", expect = true }]",
                );
                return None;
            }
            let mut parsed = Vec::with_capacity(items.len());
            let mut ok = true;
            for (index, item) in items.iter().enumerate() {
                match parse_case(p, gate, index + 1, item) {
                    Some(case) => parsed.push(case),
                    None => ok = false,
                }
            }
            ok.then_some((parsed, false))
        }
    }
}

/// One entry of `cases` (`n` is 1-based, for messages).
fn parse_case(
    p: &mut KindParser<'_, '_, '_>,
    gate: &str,
    n: usize,
    item: &toml::Spanned<toml::de::DeValue<'_>>,
) -> Option<PolicyCase> {
    let Some(table) = item.get_ref().as_table() else {
        p.sink.error_help(
            item.span(),
            format!(
                "case {n} of gate `{gate}` must be a table, found {}",
                item.get_ref().type_str()
            ),
            "write each case as { input = \"a.json\", expect = true }",
        );
        return None;
    };
    let fields = Fields::new(table, format!("case {n} of gate `{gate}`"));
    let before = p.sink.diags.len();
    fields.reject_unknown(p.sink, CASE_KEYS, |_| None);
    let input = fields.string(p.sink, "input").map(|(input, _)| input);
    if fields.value("input").is_none() {
        p.sink.error_help(
            item.span(),
            format!("case {n} of gate `{gate}` has no `input`"),
            "add the JSON document the query reads: { input = \"a.json\", expect = true }",
        );
    }
    let deny_contains = fields.string(p.sink, "deny_contains").map(|(text, _)| text);
    let expect = fields
        .value("expect")
        .map_or(Value::Bool(true), |v| crate::fields::to_json(v.get_ref()));
    if p.sink.diags.len() > before {
        return None;
    }
    Some(PolicyCase {
        input: input?,
        expect,
        deny_contains,
    })
}

/// The evaluator: needs the cargo feature `policy`.
#[cfg(feature = "policy")]
mod engine {
    use super::*;
    use crate::kinds::Finding;
    use regorus::Engine;
    use serde_json::json;
    use std::io::Write;
    /// Evaluate the query of a `policy` gate on each of its cases.
    ///
    /// A rule path (`data.pkg.rule`) is evaluated as a rule, so a misspelt rule is an error rather
    /// than an undefined result; any other query is evaluated as a Rego query. Every case is
    /// judged (its result against its `expect`, and `deny_contains` against the messages of
    /// `deny` in the query's package); the gate fails when any case fails, and the reason names
    /// each failing case with its input, what it expected and got, and its `deny` messages.
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

        let mut judged = Vec::with_capacity(spec.cases.len());
        for case in &spec.cases {
            // Each case on its own copy of the loaded engine: nothing of one input leaks into
            // the next.
            let mut engine = engine.clone();
            engine.set_input(regorus::Value::from(read_json(ctx, &case.input)?));
            let result = query(&mut engine, &spec.query, &spec.policy)?;
            let deny = deny_messages(&mut engine, &spec.query, ctx.log);
            let judged_case = Judged::new(case, result, deny);
            let _ = writeln!(
                ctx.log,
                "policy: {}: {} = {} ({})",
                case.input,
                spec.query,
                judged_case.shown(),
                if judged_case.pass { "pass" } else { "FAIL" }
            );
            for message in &judged_case.deny {
                let _ = writeln!(ctx.log, "policy: {}: deny: {message}", case.input);
            }
            judged.push(judged_case);
        }

        let failing: Vec<&Judged<'_>> = judged.iter().filter(|case| !case.pass).collect();
        let reason = (!failing.is_empty()).then(|| {
            let mut reason = format!(
                "{} of {} {} failed ({}):",
                failing.len(),
                judged.len(),
                if judged.len() == 1 { "case" } else { "cases" },
                spec.query
            );
            for case in &failing {
                reason.push_str("\n  ");
                reason.push_str(&case.case.input);
                reason.push_str(": ");
                reason.push_str(&case.failure());
            }
            reason
        });
        let findings = failing
            .iter()
            .map(|case| Finding {
                file: case.case.input.clone(),
                line: None,
                message: format!("{}: {}", spec.query, case.failure()),
            })
            .collect();
        let passed = judged.len() - failing.len();
        let mut artifact = json!({
            "query": spec.query,
            "cases": judged.iter().map(Judged::artifact).collect::<Vec<_>>(),
            "passed": passed,
            "failed": failing.len(),
        });
        if let (true, [only]) = (spec.shorthand, judged.as_slice()) {
            artifact["result"] = only.result.clone().unwrap_or(Value::Null);
            artifact["deny"] = json!(only.deny);
        }
        Ok(BuiltinOutcome {
            passed: failing.is_empty(),
            artifact,
            reason,
            judged: judged.len(),
            findings,
        })
    }

    /// One case, evaluated and judged.
    struct Judged<'a> {
        case: &'a PolicyCase,
        /// `None` when the query is undefined for this input.
        result: Option<Value>,
        deny: Vec<String>,
        /// The result is the expected one.
        as_expected: bool,
        /// `deny_contains` is unset, or a deny message contains it.
        deny_found: bool,
        pass: bool,
    }

    impl<'a> Judged<'a> {
        fn new(case: &'a PolicyCase, result: Option<Value>, deny: Vec<String>) -> Self {
            let as_expected = result.as_ref() == Some(&case.expect);
            let deny_found = case
                .deny_contains
                .as_ref()
                .is_none_or(|text| deny.iter().any(|message| message.contains(text.as_str())));
            Judged {
                case,
                result,
                deny,
                as_expected,
                deny_found,
                pass: as_expected && deny_found,
            }
        }

        /// The result as shown to people: JSON, or `undefined`.
        fn shown(&self) -> String {
            self.result
                .as_ref()
                .map_or_else(|| "undefined".to_owned(), Value::to_string)
        }

        /// Why the case failed, without its input's name:
        /// `expected true, got false; deny: "a", "b"`.
        fn failure(&self) -> String {
            let mut text = if self.as_expected {
                format!("got {} as expected", self.shown())
            } else {
                format!("expected {}, got {}", self.case.expect, self.shown())
            };
            if let (false, Some(wanted)) = (self.deny_found, &self.case.deny_contains) {
                text.push_str(&format!(
                    "; no deny message contains {}",
                    Value::String(wanted.clone())
                ));
            }
            if self.deny.is_empty() {
                if self.case.deny_contains.is_some() {
                    text.push_str("; deny: none");
                }
            } else {
                let quoted: Vec<String> = self
                    .deny
                    .iter()
                    .map(|message| Value::String(message.clone()).to_string())
                    .collect();
                text.push_str("; deny: ");
                text.push_str(&quoted.join(", "));
            }
            text
        }

        /// `{input, expect, result, pass, deny}` (and `deny_contains` when the case sets it).
        fn artifact(&self) -> Value {
            let mut entry = json!({
                "input": self.case.input,
                "expect": self.case.expect,
                "result": self.result.clone().unwrap_or(Value::Null),
                "pass": self.pass,
                "deny": self.deny,
            });
            if let Some(text) = &self.case.deny_contains {
                entry["deny_contains"] = json!(text);
            }
            entry
        }
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

        /// Run the gate with one policy, an input and a data file (the shorthand form).
        fn run(
            policy: &str,
            input: &str,
            query: &str,
            expect: Value,
        ) -> (Result<BuiltinOutcome, BuiltinError>, String) {
            let case = PolicyCase {
                input: "input.json".to_owned(),
                expect,
                deny_contains: None,
            };
            run_cases(policy, &[("input.json", input)], query, vec![case], true)
        }

        /// Run the gate with one policy, these input files, a data file and these cases.
        fn run_cases(
            policy: &str,
            inputs: &[(&str, &str)],
            query: &str,
            cases: Vec<PolicyCase>,
            shorthand: bool,
        ) -> (Result<BuiltinOutcome, BuiltinError>, String) {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::write(dir.path().join("p.rego"), policy).expect("write");
            for (name, text) in inputs {
                std::fs::write(dir.path().join(name), text).expect("write");
            }
            std::fs::write(dir.path().join("data.json"), r#"{"blocked": ["spam"]}"#)
                .expect("write");
            let spec = PolicySpec {
                policy: vec!["p.rego".to_owned()],
                data: vec!["data.json".to_owned()],
                query: query.to_owned(),
                cases,
                shorthand,
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
                        "1 of 1 case failed (data.matriz.governance.allow):\n  input.json: expected true, got false; deny: \"sensitive event e2 without consent\", \"blocked source\"",
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
                    Some(
                        "1 of 1 case failed (data.matriz.governance.level):\n  input.json: expected 2, got undefined; deny: ",
                    ),
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
                let (outcome, log) = run(POLICY, input, query, expect.clone());
                let outcome = outcome.expect("judged");
                assert_eq!(outcome.passed, passed, "{query}: {log}");
                let case = json!({"input": "input.json", "expect": expect, "result": result, "pass": passed, "deny": deny});
                assert_eq!(
                    outcome.artifact,
                    json!({
                        "query": query, "result": result, "deny": deny, "cases": [case],
                        "passed": usize::from(passed), "failed": usize::from(!passed),
                    }),
                    "{query}"
                );
                assert_eq!(outcome.judged, 1);
                assert_eq!(outcome.findings.len(), usize::from(!passed));
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

        fn case(input: &str, expect: Value, deny_contains: Option<&str>) -> PolicyCase {
            PolicyCase {
                input: input.to_owned(),
                expect,
                deny_contains: deny_contains.map(str::to_owned),
            }
        }

        const BENIGN: &str = r#"{"event": {"id": "e1", "sensitive": false, "level": 2}}"#;
        const SENSITIVE: &str = r#"{"event": {"id": "e2", "sensitive": true, "source": "spam"}}"#;

        #[test]
        fn cases_are_judged_together_and_each_failure_is_named() {
            let inputs = [("benign.json", BENIGN), ("sensitive.json", SENSITIVE)];
            let cases = vec![
                case("benign.json", json!(true), None),
                case("sensitive.json", json!(false), Some("without consent")),
                case("sensitive.json", json!(true), None),
                case("benign.json", json!(false), Some("retention")),
            ];
            let (outcome, log) = run_cases(
                POLICY,
                &inputs,
                "data.matriz.governance.allow",
                cases,
                false,
            );
            let outcome = outcome.expect("judged");
            assert!(!outcome.passed, "{log}");
            assert_eq!(outcome.judged, 4);
            assert_eq!(
                outcome.reason.as_deref(),
                Some(
                    "2 of 4 cases failed (data.matriz.governance.allow):\n  \
                     sensitive.json: expected true, got false; deny: \"sensitive event e2 without consent\", \"blocked source\"\n  \
                     benign.json: expected false, got true; no deny message contains \"retention\"; deny: none"
                )
            );
            assert_eq!(outcome.artifact["passed"], 2);
            assert_eq!(outcome.artifact["failed"], 2);
            assert_eq!(outcome.artifact.get("result"), None, "{}", outcome.artifact);
            let passes: Vec<&Value> = outcome.artifact["cases"]
                .as_array()
                .expect("cases")
                .iter()
                .map(|case| &case["pass"])
                .collect();
            assert_eq!(passes, [true, true, false, false]);
            assert_eq!(
                outcome.artifact["cases"][1],
                json!({
                    "input": "sensitive.json", "expect": false, "result": false, "pass": true,
                    "deny": ["sensitive event e2 without consent", "blocked source"],
                    "deny_contains": "without consent",
                })
            );
            let files: Vec<(&str, Option<usize>)> = outcome
                .findings
                .iter()
                .map(|finding| (finding.file.as_str(), finding.line))
                .collect();
            assert_eq!(files, [("sensitive.json", None), ("benign.json", None)]);
            assert!(
                outcome.findings[0]
                    .message
                    .starts_with("data.matriz.governance.allow: expected true, got false"),
                "{:?}",
                outcome.findings
            );
            assert!(
                log.contains("policy: sensitive.json: data.matriz.governance.allow = false (pass)"),
                "{log}"
            );
        }

        #[test]
        fn deny_contains_needs_a_matching_message() {
            let inputs = [("sensitive.json", SENSITIVE)];
            // (deny_contains, passed, reason)
            let cases = [
                (Some("without consent"), true, None),
                (Some("blocked"), true, None),
                (
                    Some("retention"),
                    false,
                    Some(
                        "1 of 1 case failed (data.matriz.governance.allow):\n  sensitive.json: got false as expected; no deny message contains \"retention\"; deny: \"sensitive event e2 without consent\", \"blocked source\"",
                    ),
                ),
                (None, true, None),
            ];
            for (deny_contains, passed, reason) in cases {
                let (outcome, log) = run_cases(
                    POLICY,
                    &inputs,
                    "data.matriz.governance.allow",
                    vec![case("sensitive.json", json!(false), deny_contains)],
                    false,
                );
                let outcome = outcome.expect("judged");
                assert_eq!(outcome.passed, passed, "{deny_contains:?}: {log}");
                assert_eq!(outcome.reason.as_deref(), reason, "{deny_contains:?}");
                assert_eq!(outcome.findings.len(), usize::from(!passed));
            }
        }

        #[test]
        fn every_case_input_enters_the_key() {
            let spec = PolicySpec {
                policy: vec!["p.rego".to_owned()],
                data: vec!["d.json".to_owned()],
                query: "data.p.allow".to_owned(),
                cases: vec![
                    case("a.json", json!(true), None),
                    case("b.json", json!(false), Some("x")),
                ],
                shorthand: false,
            };
            assert_eq!(
                spec.referenced_files(),
                ["p.rego", "a.json", "b.json", "d.json"]
            );
        }

        #[test]
        fn a_case_input_that_is_not_json_is_a_user_error() {
            let inputs = [("good.json", BENIGN), ("bad.json", "{\n  \"event\": ,\n}")];
            let cases = vec![
                case("good.json", json!(true), None),
                case("bad.json", json!(true), None),
            ];
            let (result, _) = run_cases(
                POLICY,
                &inputs,
                "data.matriz.governance.allow",
                cases,
                false,
            );
            assert!(
                matches!(&result, Err(BuiltinError::UserFile { file, line: 2, .. }) if file == "bad.json"),
                "{result:?}"
            );
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
