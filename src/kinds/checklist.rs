//! The `checklist` kind: Markdown task-list items (`- [ ]`, `- [x]`) that must be ticked.

use serde_json::json;

use serde::{Deserialize, Serialize};

use super::{BuiltinContext, BuiltinError, BuiltinOutcome, Kind, KindParser};

/// `kind = "checklist"`: Markdown task list items that must be ticked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChecklistSpec {
    /// Markdown file, relative to the config folder.
    pub file: String,
    /// Which items must be ticked: `"all"` (default) or a list of item texts.
    pub require: Require,
}

/// Which checklist items must be checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Require {
    /// `require = "all"`: every item of the file.
    All,
    /// Exact item texts (the text after the box).
    Items(Vec<String>),
}

impl Kind for ChecklistSpec {
    const NAME: &'static str = "checklist";
    const KEYS: &'static [&'static str] = &["file", "require"];
    const ITEMS: &'static str = "checklist items";

    fn parse(p: &mut KindParser<'_, '_, '_>) -> Option<Self> {
        let file = p.required("file")?;
        let require = match p.fields.value("require") {
            None => Require::All,
            Some(v) if v.get_ref().as_str() == Some("all") => Require::All,
            Some(v) if v.get_ref().is_array() => Require::Items(
                p.fields
                    .strings(p.sink, "require")
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect(),
            ),
            Some(v) => {
                p.sink.error_help(
                    v.span(),
                    format!(
                        "`require` in gate `{}` must be \"all\" or a list of item texts",
                        p.gate
                    ),
                    "for example require = [\"Schema reviewed\", \"Docs updated\"]",
                );
                return None;
            }
        };
        Some(ChecklistSpec { file, require })
    }

    fn referenced_files(&self) -> Vec<&str> {
        vec![self.file.as_str()]
    }

    fn evaluate(&self, ctx: &mut BuiltinContext<'_>) -> Result<BuiltinOutcome, BuiltinError> {
        evaluate(self, ctx)
    }
}

/// How many unchecked items the reason names before it says "and N more".
const REASON_ITEMS: usize = 10;

/// One task-list item of a Markdown file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    /// The text after the box, trimmed.
    text: String,
    checked: bool,
    /// 1-based line of the item.
    line: usize,
}

/// Check the task list of a `checklist` gate's file.
///
/// # Errors
///
/// The file cannot be read, `require = "all"` on a file with no task item, or a required item
/// that the file does not have (with a did-you-mean when a close one exists).
pub fn evaluate(
    spec: &ChecklistSpec,
    ctx: &mut BuiltinContext<'_>,
) -> Result<BuiltinOutcome, BuiltinError> {
    let file = &spec.file;
    let markdown = std::fs::read_to_string(ctx.root.join(file))
        .map_err(|err| BuiltinError::Other(format!("checklist: cannot read {file}: {err}")))?;
    let items = parse(&markdown);
    let checked = items.iter().filter(|item| item.checked).count();
    // A failed log write must not fail the check; the same holds for every log line below.
    let _ = writeln!(
        ctx.log,
        "checklist: {file}: {} items, {checked} checked",
        items.len()
    );

    let required: Vec<&Item> = match &spec.require {
        Require::All => {
            if items.is_empty() {
                // Nothing to check: the engine's no-op guard makes this an error.
                let _ = writeln!(
                    ctx.log,
                    "checklist: {file} has no task-list items (`- [ ] ...`): nothing to check"
                );
                return Ok(BuiltinOutcome {
                    passed: false,
                    artifact: json!({"total": 0, "checked": 0, "unchecked": []}),
                    reason: None,
                    judged: 0,
                    findings: Vec::new(),
                });
            }
            items.iter().collect()
        }
        Require::Items(names) => required_items(file, names, &items)?,
    };
    let missing: Vec<&Item> = required
        .iter()
        .copied()
        .filter(|item| !item.checked)
        .collect();
    for item in &missing {
        let _ = writeln!(
            ctx.log,
            "checklist: {file}:{}: unchecked: {}",
            item.line, item.text
        );
    }

    let artifact = json!({
        "total": items.len(),
        "checked": checked,
        "unchecked": items.iter().filter(|item| !item.checked).map(|item| item.text.as_str()).collect::<Vec<_>>(),
    });
    let reason = (!missing.is_empty()).then(|| {
        let mut listed: Vec<String> = missing
            .iter()
            .take(REASON_ITEMS)
            .map(|item| format!("{}:{}: {}", file, item.line, item.text))
            .collect();
        if missing.len() > REASON_ITEMS {
            listed.push(format!("and {} more", missing.len() - REASON_ITEMS));
        }
        format!(
            "{} of {} required items unchecked: {}",
            missing.len(),
            required.len(),
            listed.join("; ")
        )
    });
    let findings = missing
        .iter()
        .map(|item| super::Finding {
            file: file.to_owned(),
            line: Some(item.line),
            message: format!("unchecked: {}", item.text),
        })
        .collect();
    Ok(BuiltinOutcome {
        passed: reason.is_none(),
        artifact,
        reason,
        judged: items.len(),
        findings,
    })
}

/// The items named by `require = [...]`; every name must exist (all its copies are required).
fn required_items<'a>(
    file: &str,
    names: &[String],
    items: &'a [Item],
) -> Result<Vec<&'a Item>, BuiltinError> {
    if names.is_empty() {
        return Err(BuiltinError::Other(format!(
            "checklist: {file}: `require` lists no item: nothing to check"
        )));
    }
    let mut problems = Vec::new();
    let mut required = Vec::new();
    for name in names {
        let found: Vec<&Item> = items.iter().filter(|item| item.text == *name).collect();
        if found.is_empty() {
            let hint = suggest(name, items)
                .map(|close| format!(" (did you mean \"{close}\"?)"))
                .unwrap_or_default();
            problems.push(format!("required item \"{name}\" is not in {file}{hint}"));
        }
        required.extend(found);
    }
    if problems.is_empty() {
        Ok(required)
    } else {
        Err(BuiltinError::Other(format!(
            "checklist: {}",
            problems.join("; ")
        )))
    }
}

/// The item text closest to `name`, when one is close enough to be a likely typo.
fn suggest<'a>(name: &str, items: &'a [Item]) -> Option<&'a str> {
    let wanted = name.to_lowercase();
    items
        .iter()
        .map(|item| {
            (
                strsim::normalized_levenshtein(&wanted, &item.text.to_lowercase()),
                item.text.as_str(),
            )
        })
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, text)| text)
}

/// Every task-list item of `markdown`, in order, skipping fenced code blocks.
fn parse(markdown: &str) -> Vec<Item> {
    let mut items = Vec::new();
    // The open fence: its character and length (a closing fence must be at least as long).
    let mut fence: Option<(char, usize)> = None;
    for (index, line) in markdown.lines().enumerate() {
        if let Some((open_char, open_len)) = fence {
            if let Some((c, len, rest)) = fence_marker(line)
                && c == open_char
                && len >= open_len
                && rest.trim().is_empty()
            {
                fence = None;
            }
            continue;
        }
        if let Some((c, len, _)) = fence_marker(line) {
            fence = Some((c, len));
            continue;
        }
        if let Some((checked, text)) = task_item(line) {
            items.push(Item {
                text: text.to_owned(),
                checked,
                line: index + 1,
            });
        }
    }
    items
}

/// A code fence (three or more backticks or tildes): its character, length and what follows.
fn fence_marker(line: &str) -> Option<(char, usize, &str)> {
    let trimmed = line.trim_start();
    let c = trimmed.chars().next().filter(|c| matches!(c, '`' | '~'))?;
    let len = trimmed.chars().take_while(|&x| x == c).count();
    // Both fence characters are one byte, so `len` is also a byte offset.
    (len >= 3).then(|| (c, len, &trimmed[len..]))
}

/// `- [ ] text`, `* [x] text`, `+ [X] text` or `1. [ ] text` (any indentation): checked and text.
fn task_item(line: &str) -> Option<(bool, &str)> {
    let rest = strip_bullet(line.trim_start())?.trim_start();
    let (checked, after) = if let Some(after) = rest.strip_prefix("[ ]") {
        (false, after)
    } else if let Some(after) = rest
        .strip_prefix("[x]")
        .or_else(|| rest.strip_prefix("[X]"))
    {
        (true, after)
    } else {
        return None;
    };
    // `- [x]y` is a link-like text, not a task.
    (after.is_empty() || after.starts_with([' ', '\t'])).then(|| (checked, after.trim()))
}

/// The rest of a list item line after its bullet (`-`, `*`, `+`) or number (`1.`, `1)`).
fn strip_bullet(line: &str) -> Option<&str> {
    let rest = if let Some(rest) = line.strip_prefix(['-', '*', '+']) {
        rest
    } else {
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        line[digits..].strip_prefix(['.', ')'])?
    };
    rest.starts_with([' ', '\t']).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_items_are_recognised() {
        let cases: &[(&str, Option<(bool, &str)>)] = &[
            ("- [ ] write docs", Some((false, "write docs"))),
            ("- [x] write docs", Some((true, "write docs"))),
            ("- [X] write docs  ", Some((true, "write docs"))),
            ("* [ ] star", Some((false, "star"))),
            ("+ [x] plus", Some((true, "plus"))),
            ("1. [ ] numbered", Some((false, "numbered"))),
            ("12) [x] paren", Some((true, "paren"))),
            ("    - [x] nested", Some((true, "nested"))),
            ("\t- [ ] tab nested", Some((false, "tab nested"))),
            ("-   [ ]   spaced", Some((false, "spaced"))),
            ("- [ ]", Some((false, ""))),
            ("- plain item", None),
            ("-[ ] no space", None),
            ("- [y] other", None),
            ("- [x]y", None),
            ("[ ] no bullet", None),
            ("1.[ ] no space", None),
            ("a. [ ] letter", None),
            ("", None),
        ];
        for (line, expected) in cases {
            assert_eq!(task_item(line), *expected, "{line:?}");
        }
    }

    #[test]
    fn fenced_blocks_are_skipped() {
        let markdown = "\
- [x] one
```md
- [ ] inside backticks
```
~~~~
- [ ] inside tildes
~~~
- [ ] still inside: a shorter fence does not close
~~~~
  - [ ] two
```` text
``` not a close
- [ ] inside
````
3. [X] three
";
        let items = parse(markdown);
        let texts: Vec<(&str, bool, usize)> = items
            .iter()
            .map(|item| (item.text.as_str(), item.checked, item.line))
            .collect();
        assert_eq!(
            texts,
            [("one", true, 1), ("two", false, 10), ("three", true, 15)]
        );
    }

    /// Run the gate over `markdown`; the log is returned too.
    fn run(markdown: &str, require: Require) -> (Result<BuiltinOutcome, BuiltinError>, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("list.md"), markdown).expect("write");
        let spec = ChecklistSpec {
            file: "list.md".to_owned(),
            require,
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

    fn items(names: &[&str]) -> Require {
        Require::Items(names.iter().map(|name| (*name).to_owned()).collect())
    }

    #[test]
    fn outcomes() {
        let doc = "# Phase\n- [x] Tests pass\n- [ ] Docs written\n  - [x] API docs\n1. [ ] Release notes\n";
        // (require, passed, unchecked in the artifact, text the reason contains)
        let cases = [
            (
                Require::All,
                false,
                2,
                Some(
                    "2 of 4 required items unchecked: list.md:3: Docs written; list.md:5: Release notes",
                ),
            ),
            (items(&["Tests pass", "API docs"]), true, 2, None),
            (
                items(&["Tests pass", "Docs written"]),
                false,
                2,
                Some("1 of 2 required items unchecked: list.md:3: Docs written"),
            ),
        ];
        for (require, passed, unchecked, reason) in cases {
            let (result, log) = run(doc, require.clone());
            let outcome = result.expect("judged");
            assert_eq!(outcome.passed, passed, "{require:?}");
            assert_eq!(outcome.artifact["total"], 4);
            assert_eq!(outcome.artifact["checked"], 2);
            assert_eq!(
                outcome.artifact["unchecked"].as_array().map(Vec::len),
                Some(unchecked)
            );
            assert_eq!(outcome.reason.as_deref(), reason);
            assert!(log.contains("4 items, 2 checked"), "{log}");
        }
    }

    #[test]
    fn all_checked_passes() {
        let (result, _) = run("- [x] a\n- [X] b\n", Require::All);
        let outcome = result.expect("judged");
        assert!(outcome.passed);
        assert_eq!(
            outcome.artifact,
            json!({"total": 2, "checked": 2, "unchecked": []})
        );
    }

    #[test]
    fn no_items_judges_nothing() {
        // Zero items is for the engine's no-op guard: judged 0 is an error, not a pass.
        for markdown in ["no tasks here\n- plain\n", "```\n- [x] fenced\n```\n"] {
            let (result, log) = run(markdown, Require::All);
            let outcome = result.expect("judged");
            assert_eq!(outcome.judged, 0, "{markdown:?}");
            assert!(log.contains("nothing to check"), "{log}");
        }
    }

    #[test]
    fn errors() {
        let cases = [
            (
                "- [x] Tests pass\n",
                items(&["tests passes"]),
                "\"tests passes\" is not in list.md (did you mean \"Tests pass\"?)",
            ),
            (
                "- [x] Tests pass\n",
                items(&["Deploy"]),
                "\"Deploy\" is not in list.md",
            ),
            ("- [x] Tests pass\n", items(&[]), "lists no item"),
        ];
        for (markdown, require, expected) in cases {
            let (result, _) = run(markdown, require);
            match result {
                Err(BuiltinError::Other(message)) => {
                    assert!(message.contains(expected), "{message}");
                }
                other => panic!("expected an error containing {expected:?}, got {other:?}"),
            }
        }
        let (result, _) = run("- [x] Tests pass\n", items(&["Deploy"]));
        assert!(
            matches!(result, Err(BuiltinError::Other(message)) if !message.contains("did you mean"))
        );
    }

    #[test]
    fn missing_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = ChecklistSpec {
            file: "absent.md".to_owned(),
            require: Require::All,
        };
        let mut log = Vec::new();
        let mut ctx = BuiltinContext {
            root: dir.path(),
            inputs: &[],
            log: &mut log,
            env: &crate::proc::SpawnEnv::default(),
        };
        let err = evaluate(&spec, &mut ctx).expect_err("missing file");
        assert!(err.to_string().contains("cannot read absent.md"), "{err}");
    }
}
