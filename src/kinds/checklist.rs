//! The `checklist` kind: Markdown task-list items (`- [ ]`, `- [x]`) that must be ticked, found
//! by a CommonMark parser with the GFM task-list extension (pulldown-cmark).

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
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
    /// The text after the box: the source of the item's first paragraph, its lines joined by
    /// a space, trimmed.
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

/// Every task-list item of `markdown`, in order, found as CommonMark with the GFM task-list
/// extension finds them: a list item whose first paragraph starts with `[ ]`, `[x]` or `[X]`
/// and whitespace, then text. So nothing in HTML blocks and comments, indented or fenced code,
/// or a paragraph's continuation lines counts, and a fence opened in an item closes with it.
fn parse(markdown: &str) -> Vec<Item> {
    let lines = LineStarts::new(markdown);
    let mut items = Vec::new();
    let mut open: Option<Gathering> = None;
    let parser = Parser::new_ext(markdown, Options::ENABLE_TASKLISTS).into_offset_iter();
    for (event, range) in parser {
        if let Some(gathering) = &mut open {
            if gathering.take(&event, range.clone()) {
                continue;
            }
            if let Some(item) = open.take().and_then(|done| done.finish(markdown)) {
                items.push(item);
            }
        }
        if let Event::TaskListMarker(checked) = event {
            open = Some(Gathering::new(checked, lines.line_of(range.start)));
        }
    }
    if let Some(item) = open.and_then(|done| done.finish(markdown)) {
        items.push(item);
    }
    items
}

/// The text of a task item being read: the source of its first paragraph's inline content
/// after the box, one piece per line.
struct Gathering {
    checked: bool,
    line: usize,
    /// Byte ranges of the text, one per line of the paragraph.
    pieces: Vec<Range<usize>>,
    /// The range of the line being read, if it has text yet.
    current: Option<Range<usize>>,
    /// How deep inside inline elements (emphasis, links...) the parser is.
    depth: usize,
}

impl Gathering {
    fn new(checked: bool, line: usize) -> Self {
        Gathering {
            checked,
            line,
            pieces: Vec::new(),
            current: None,
            depth: 0,
        }
    }

    /// Take one more event of the item; false when the item's first paragraph has ended.
    fn take(&mut self, event: &Event<'_>, range: Range<usize>) -> bool {
        match event {
            Event::Text(_)
            | Event::Code(_)
            | Event::InlineHtml(_)
            | Event::InlineMath(_)
            | Event::DisplayMath(_)
            | Event::FootnoteReference(_) => self.extend(range),
            Event::SoftBreak | Event::HardBreak => {
                if self.depth == 0 {
                    self.pieces.extend(self.current.take());
                }
            }
            Event::Start(tag) if is_inline(tag) => {
                self.extend(range);
                self.depth += 1;
            }
            Event::End(end) if is_inline_end(*end) => self.depth = self.depth.saturating_sub(1),
            _ => return false,
        }
        true
    }

    /// A piece of inline content: only the outermost elements count (they cover the inner ones).
    fn extend(&mut self, range: Range<usize>) {
        if self.depth == 0 {
            self.current = Some(match self.current.take() {
                Some(current) => current.start.min(range.start)..current.end.max(range.end),
                None => range,
            });
        }
    }

    /// The item, unless nothing follows the box (then, as in GFM, it is no task item).
    fn finish(mut self, markdown: &str) -> Option<Item> {
        self.pieces.extend(self.current.take());
        let text = self
            .pieces
            .iter()
            .filter_map(|piece| markdown.get(piece.clone()))
            .map(str::trim)
            .filter(|piece| !piece.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        (!text.is_empty()).then_some(Item {
            text,
            checked: self.checked,
            line: self.line,
        })
    }
}

fn is_inline(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript
            | Tag::Link { .. }
            | Tag::Image { .. }
    )
}

fn is_inline_end(end: TagEnd) -> bool {
    matches!(
        end,
        TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Link
            | TagEnd::Image
    )
}

/// Where each line of a text starts; `\n`, `\r\n` and a lone `\r` end lines, as in CommonMark.
struct LineStarts(Vec<usize>);

impl LineStarts {
    fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for (at, byte) in bytes.iter().enumerate() {
            let ends_line = *byte == b'\n' || (*byte == b'\r' && bytes.get(at + 1) != Some(&b'\n'));
            if ends_line {
                starts.push(at + 1);
            }
        }
        LineStarts(starts)
    }

    /// The 1-based line of a byte offset.
    fn line_of(&self, offset: usize) -> usize {
        self.0.partition_point(|&start| start <= offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, checked, line) of every item `parse` finds.
    fn found(markdown: &str) -> Vec<(String, bool, usize)> {
        parse(markdown)
            .into_iter()
            .map(|item| (item.text, item.checked, item.line))
            .collect()
    }

    type Expected = &'static [(&'static str, bool, usize)];

    #[test]
    fn task_items_are_recognised() {
        let cases: &[(&str, Expected)] = &[
            ("- [ ] write docs", &[("write docs", false, 1)]),
            ("- [x] write docs", &[("write docs", true, 1)]),
            ("- [X] write docs  ", &[("write docs", true, 1)]),
            ("* [ ] star", &[("star", false, 1)]),
            ("+ [x] plus", &[("plus", true, 1)]),
            ("1. [ ] numbered", &[("numbered", false, 1)]),
            ("12) [x] paren", &[("paren", true, 1)]),
            ("-   [ ]   spaced", &[("spaced", false, 1)]),
            ("- [x]\ttab", &[("tab", true, 1)]),
            (
                "- [ ] top\n    - [x] nested\n\t- [ ] tab nested",
                &[
                    ("top", false, 1),
                    ("nested", true, 2),
                    ("tab nested", false, 3),
                ],
            ),
            (
                "- [ ] Use `cargo` and **bold** [links](x.md)",
                &[("Use `cargo` and **bold** [links](x.md)", false, 1)],
            ),
            (
                "- [ ] a long item\n  wrapped onto\nthree lines\n- [x] next",
                &[
                    ("a long item wrapped onto three lines", false, 1),
                    ("next", true, 4),
                ],
            ),
            (
                "- [ ] loose one\n\n- [x] loose two\n",
                &[("loose one", false, 1), ("loose two", true, 3)],
            ),
            ("> - [x] quoted\n>   more", &[("quoted more", true, 1)]),
            (
                "- [x] crlf\r\n- [ ] lines\r\n",
                &[("crlf", true, 1), ("lines", false, 2)],
            ),
            ("- plain item", &[]),
            ("-[ ] no space", &[]),
            ("- [y] other", &[]),
            ("- [x]y", &[]),
            ("[ ] no bullet", &[]),
            ("1.[ ] no space", &[]),
            ("a. [ ] letter", &[]),
            ("", &[]),
        ];
        for (markdown, expected) in cases {
            let expected: Vec<(String, bool, usize)> = expected
                .iter()
                .map(|(text, checked, line)| ((*text).to_owned(), *checked, *line))
                .collect();
            assert_eq!(found(markdown), expected, "{markdown:?}");
        }
    }

    /// Markdown that the hand-written line parser read wrongly, and what CommonMark + GFM find
    /// there. Each case failed on that parser (its result in the comment).
    #[test]
    fn items_are_where_commonmark_and_gfm_put_them() {
        let cases: &[(&str, &str, Expected)] = &[
            (
                // Old: counted "hidden".
                "in an HTML comment",
                "<!--\n- [ ] hidden\n-->\n- [x] shown\n",
                &[("shown", true, 4)],
            ),
            (
                // Old: counted "in html".
                "in an HTML block",
                "<div>\n- [ ] in html\n</div>\n\n- [x] shown\n",
                &[("shown", true, 5)],
            ),
            (
                // Old: counted "code, not a task".
                "indented code after a paragraph",
                "Notes:\n\n    - [ ] code, not a task\n\n- [x] real\n",
                &[("real", true, 5)],
            ),
            (
                // Old: counted "code" both times.
                "indented code by spaces or a tab",
                "    - [ ] code\n\n\t- [ ] code\n",
                &[],
            ),
            (
                // Old: counted "item": only a list starting at 1 interrupts a paragraph.
                "a paragraph's continuation",
                "Some text\n2. [x] item\n",
                &[],
            ),
            (
                // Old: missed "b", the fence never closed.
                "a fence closes with its list item",
                "- [x] a\n  ```\n  - [ ] in the fence\n- [ ] b\n",
                &[("a", true, 1), ("b", false, 4)],
            ),
            (
                // Old: one item, "a\r- [ ] b", on line 1.
                "CR line endings",
                "- [x] a\r- [ ] b\r",
                &[("a", true, 1), ("b", false, 2)],
            ),
            (
                // Old: counted two items with no text.
                "a box with nothing after it",
                "- [ ]\n- [x] \n- [x] real\n",
                &[("real", true, 3)],
            ),
        ];
        for (what, markdown, expected) in cases {
            let expected: Vec<(String, bool, usize)> = expected
                .iter()
                .map(|(text, checked, line)| ((*text).to_owned(), *checked, *line))
                .collect();
            assert_eq!(found(markdown), expected, "{what}: {markdown:?}");
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
        assert_eq!(
            found(markdown),
            [
                ("one".to_owned(), true, 1),
                ("two".to_owned(), false, 10),
                ("three".to_owned(), true, 15)
            ]
        );
    }

    /// The GFM spec's examples (tests/data/gfm/spec-examples.txt): (Markdown, expected HTML).
    fn spec_examples() -> Vec<(String, String)> {
        let text = include_str!("../../tests/data/gfm/spec-examples.txt");
        let fence = "`".repeat(32);
        let mut examples = Vec::new();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line != format!("{fence} example") {
                continue;
            }
            let mut markdown = String::new();
            for line in lines.by_ref().take_while(|line| *line != ".") {
                markdown.push_str(&line.replace('→', "\t"));
                markdown.push('\n');
            }
            let mut html = String::new();
            for line in lines.by_ref().take_while(|line| *line != fence) {
                html.push_str(line);
                html.push('\n');
            }
            examples.push((markdown, html));
        }
        examples
    }

    #[test]
    fn gfm_spec_examples() {
        let examples = spec_examples();
        assert_eq!(examples.len(), 13, "every example of the data file is read");
        let mut boxes = 0;
        for (markdown, html) in &examples {
            // The checkboxes of the expected HTML, in order: checked or not.
            let expected: Vec<bool> = html
                .match_indices("<input ")
                .map(|(at, _)| html[at..].split('>').next().unwrap_or(""))
                .filter(|input| input.contains("type=\"checkbox\""))
                .map(|input| input.contains("checked=\"\""))
                .collect();
            let counted: Vec<bool> = parse(markdown).iter().map(|item| item.checked).collect();
            assert_eq!(counted, expected, "{markdown}");
            boxes += expected.len();
        }
        assert_eq!(boxes, 6, "examples 279 and 280 have 6 checkboxes");
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
