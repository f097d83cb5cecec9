//! What a gate's process sees of the caller's environment. In strict mode (the default) it
//! sees a documented base, its declared `env` (which is keyed) and its `pass_env` (which is
//! not), nothing else: an undeclared variable cannot change a result behind the cache's back
//! (a `PYTEST_ADDOPTS="-k nothing"` replayed as a pass). Loose mode passes everything, as
//! runner did before.

#[cfg(test)]
use std::ffi::OsStr;
use std::ffi::OsString;

use crate::config::{EnvMode, Gate};
use crate::proc::SpawnEnv;

/// Variables every gate sees in strict mode, when the caller has them: what programs need to
/// run at all (search path, home, temp, locale, terminal, user) and the CI system's identity.
pub(crate) const BASE: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "TMP",
    "TEMP",
    "LANG",
    "LANGUAGE",
    "TERM",
    "USER",
    "LOGNAME",
    "SHELL",
    "TZ", // CI identity (GitHub Actions, GitLab CI, Buildkite, Jenkins, generic)
    "CI",
    "GITHUB_ACTIONS",
    "GITHUB_SHA",
    "GITHUB_REF",
    "GITHUB_REF_NAME",
    "GITHUB_HEAD_REF",
    "GITHUB_BASE_REF",
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_NUMBER",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_WORKFLOW",
    "GITHUB_JOB",
    "GITHUB_EVENT_NAME",
    "GITHUB_WORKSPACE",
    "GITHUB_SERVER_URL",
    "RUNNER_OS",
    "RUNNER_ARCH",
    "RUNNER_TEMP",
    // GitHub Actions' per-step files (a new path each step): a gate writing the job summary
    // (`>> "$GITHUB_STEP_SUMMARY"`), an output or the next steps' environment needs them.
    "GITHUB_STEP_SUMMARY",
    "GITHUB_OUTPUT",
    "GITHUB_ENV",
    "GITHUB_PATH",
    "GITHUB_STATE",
    "GITLAB_CI",
    "CI_COMMIT_SHA",
    "CI_COMMIT_REF_NAME",
    "CI_PIPELINE_ID",
    "CI_JOB_ID",
    "CI_PROJECT_PATH",
    "CI_PROJECT_DIR",
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
    "BUILDKITE",
    "BUILDKITE_BUILD_ID",
    "BUILDKITE_COMMIT",
    "BUILDKITE_BRANCH",
    "JENKINS_URL",
    "BUILD_ID",
    "BUILD_NUMBER",
];

/// Prefixes of variables every gate sees in strict mode (the locale's categories).
const BASE_PREFIXES: &[&str] = &["LC_"];

/// Variables that common tools read to change what they decide: when a gate fails and one of
/// these is set in the caller's environment without being declared, the run says so, and
/// advises `env` (they change the result, so they belong in the key).
const TOOL_VARIABLES: &[&str] = &[
    "PYTEST_ADDOPTS",
    "PYTHONPATH",
    "PYTHONOPTIMIZE",
    "PYTHONWARNINGS",
    "PYENV_VERSION",
    "MYPYPATH",
    "COVERAGE_FILE",
    "COVERAGE_RCFILE",
    "TOX_ENV",
    "NODE_OPTIONS",
    "NODE_ENV",
    "NODE_PATH",
    "JEST_WORKER_ID",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "RUSTUP_TOOLCHAIN",
    "CARGO_BUILD_TARGET",
    "RUST_TEST_THREADS",
    "GOFLAGS",
    "GOOS",
    "GOARCH",
    "CGO_ENABLED",
    "JAVA_TOOL_OPTIONS",
    "MAVEN_OPTS",
    "GRADLE_OPTS",
    "CFLAGS",
    "CXXFLAGS",
    "CPPFLAGS",
    "LDFLAGS",
    "CC",
    "CXX",
    "LD_LIBRARY_PATH",
];

/// Variables that say where a tool, its home or its cache is, or how it prints, without
/// changing what it decides: the same hint, advising `pass_env` (passed, not keyed).
const TOOL_HOMES: &[&str] = &[
    "CARGO_HOME",
    "RUSTUP_HOME",
    "CARGO_TARGET_DIR",
    "MYPY_FORCE_COLOR",
    "RUFF_NO_CACHE",
];

/// The environment gates get in one run: the base, taken once from the caller.
#[derive(Debug, Clone)]
pub(crate) struct GateEnvironment {
    mode: EnvMode,
    /// The caller's environment (read once).
    caller: Vec<(OsString, OsString)>,
}

impl GateEnvironment {
    /// The caller's environment, under `mode`.
    pub(crate) fn from_process(mode: EnvMode) -> Self {
        GateEnvironment {
            mode,
            caller: std::env::vars_os().collect(),
        }
    }

    /// What `gate`'s process gets.
    pub(crate) fn for_gate(&self, gate: &Gate) -> SpawnEnv {
        if self.mode == EnvMode::Loose {
            return SpawnEnv::default();
        }
        let vars = self
            .caller
            .iter()
            .filter(|(name, _)| {
                let Some(name) = name.to_str() else {
                    return false;
                };
                BASE.contains(&name)
                    || BASE_PREFIXES.iter().any(|p| name.starts_with(p))
                    || gate.env.iter().any(|e| e == name)
                    || gate.pass_env.iter().any(|p| matches_pattern(p, name))
            })
            .cloned()
            .collect();
        SpawnEnv { clear: true, vars }
    }

    /// When `gate` failed: the undeclared variables set in the caller's environment that its
    /// tool is known to read, said in words, with where to declare each (None when there are
    /// none).
    pub(crate) fn hint(&self, gate: &Gate) -> Option<String> {
        let undeclared = |known: &[&str]| -> Vec<&str> {
            self.caller
                .iter()
                .filter_map(|(name, _)| name.to_str())
                .filter(|name| known.contains(name))
                .filter(|name| {
                    !gate.env.iter().any(|e| e == name)
                        && !gate.pass_env.iter().any(|p| matches_pattern(p, name))
                })
                .collect::<std::collections::BTreeSet<&str>>()
                .into_iter()
                .collect()
        };
        let keyed = undeclared(TOOL_VARIABLES);
        let homes = undeclared(TOOL_HOMES);
        let list = |names: &[&str]| names.join(", ");
        let toml = |names: &[&str]| {
            let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
            format!("[{}]", quoted.join(", "))
        };
        let is = |n: usize| if n == 1 { "is" } else { "are" };
        match self.mode {
            EnvMode::Strict => {
                let all: Vec<&str> = keyed.iter().chain(&homes).copied().collect();
                if all.is_empty() {
                    return None;
                }
                let mut advice = Vec::new();
                if !keyed.is_empty() {
                    advice.push(format!(
                        "`env = {}` ({} the result: part of the key)",
                        toml(&keyed),
                        if keyed.len() == 1 {
                            "it changes"
                        } else {
                            "they change"
                        }
                    ));
                }
                if !homes.is_empty() {
                    advice.push(format!(
                        "`pass_env = {}` (a tool's home, cache or output: passed, not keyed)",
                        toml(&homes)
                    ));
                }
                Some(format!(
                    "gate `{}` failed, and {} {} set in the caller's environment but not passed to it \
                     (strict env): if its tool needs {}, declare {}",
                    gate.name,
                    list(&all),
                    is(all.len()),
                    if all.len() == 1 { "it" } else { "them" },
                    advice.join(" and ")
                ))
            }
            // Everything reaches the gate: only what changes the result is worth a word.
            EnvMode::Loose if keyed.is_empty() => None,
            EnvMode::Loose => Some(format!(
                "gate `{}` failed, and {} {} set in the environment and reached it without being \
                 part of its key: declare {} in `env`, or a cached result may not match",
                gate.name,
                list(&keyed),
                is(keyed.len()),
                if keyed.len() == 1 { "it" } else { "them" },
            )),
        }
    }
}

/// `NAME`, or `PREFIX*`.
fn matches_pattern(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// The value of `name` in `env`.
#[cfg(test)]
fn get<'a>(env: &'a SpawnEnv, name: &str) -> Option<&'a OsStr> {
    env.vars
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_os_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(env: &[&str], pass_env: &[&str]) -> Gate {
        let text = format!(
            "version = 1\n[gates.g]\nrun = \"true\"\nenv = {env:?}\npass_env = {pass_env:?}\n"
        );
        let dir = tempfile::tempdir().unwrap();
        crate::config::parse("gates.toml", &text, dir.path())
            .unwrap()
            .gates
            .remove(0)
    }

    fn caller(vars: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        vars.iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    #[test]
    fn strict_passes_the_base_the_declared_and_the_passed_only() {
        let env = GateEnvironment {
            mode: EnvMode::Strict,
            caller: caller(&[
                ("PATH", "/bin"),
                ("LC_ALL", "C"),
                ("PYTEST_ADDOPTS", "-k nothing"),
                ("MODE", "fast"),
                ("NPM_TOKEN", "secret"),
                ("AWS_REGION", "eu"),
                ("RUNNER_SIGNING_KEY", "key"),
            ]),
        };
        let g = gate(&["MODE"], &["NPM_TOKEN", "AWS_*"]);
        let p = env.for_gate(&g);
        assert!(p.clear);
        for (name, value) in [
            ("PATH", Some("/bin")),
            ("LC_ALL", Some("C")),
            ("MODE", Some("fast")),
            ("NPM_TOKEN", Some("secret")),
            ("AWS_REGION", Some("eu")),
            ("PYTEST_ADDOPTS", None),
            ("RUNNER_SIGNING_KEY", None),
        ] {
            assert_eq!(get(&p, name), value.map(OsStr::new), "{name}");
        }
        let hint = env.hint(&g).expect("PYTEST_ADDOPTS is undeclared");
        assert!(
            hint.contains("PYTEST_ADDOPTS") && hint.contains("strict"),
            "{hint}"
        );
        // Declared, it is no longer worth a hint.
        assert!(env.hint(&gate(&["PYTEST_ADDOPTS"], &[])).is_none());
    }

    #[test]
    fn github_step_files_pass_in_strict_mode_without_a_declaration() {
        let files = [
            "GITHUB_STEP_SUMMARY",
            "GITHUB_OUTPUT",
            "GITHUB_ENV",
            "GITHUB_PATH",
            "GITHUB_STATE",
        ];
        let env = GateEnvironment {
            mode: EnvMode::Strict,
            caller: caller(&files.map(|f| (f, "/home/runner/work/_temp/file"))),
        };
        let p = env.for_gate(&gate(&[], &[]));
        for name in files {
            assert_eq!(
                get(&p, name),
                Some(OsStr::new("/home/runner/work/_temp/file")),
                "{name}"
            );
        }
    }

    #[test]
    fn the_hint_names_the_variables_that_broke_and_where_each_belongs() {
        let env = GateEnvironment {
            mode: EnvMode::Strict,
            caller: caller(&[
                ("CARGO_HOME", "/usr/local/cargo"),
                ("RUSTUP_HOME", "/usr/local/rustup"),
                ("RUSTUP_TOOLCHAIN", "nightly"),
                ("LD_LIBRARY_PATH", "/opt/lib"),
                ("PYENV_VERSION", "3.13.0"),
            ]),
        };
        let hint = env.hint(&gate(&[], &[])).expect("a hint");
        // Sorted by name, each list.
        for name in [
            "CARGO_HOME",
            "RUSTUP_HOME",
            "RUSTUP_TOOLCHAIN",
            "LD_LIBRARY_PATH",
            "PYENV_VERSION",
        ] {
            assert!(hint.contains(name), "{name}: {hint}");
        }
        assert!(
            hint.contains(r#"`env = ["LD_LIBRARY_PATH", "PYENV_VERSION", "RUSTUP_TOOLCHAIN"]`"#),
            "{hint}"
        );
        assert!(
            hint.contains(r#"`pass_env = ["CARGO_HOME", "RUSTUP_HOME"]`"#),
            "{hint}"
        );
        // One home alone: pass_env only.
        let env = GateEnvironment {
            mode: EnvMode::Strict,
            caller: caller(&[("CARGO_HOME", "/usr/local/cargo")]),
        };
        let hint = env.hint(&gate(&[], &[])).expect("a hint");
        assert!(
            hint.contains("CARGO_HOME is set") && hint.contains("`pass_env = [\"CARGO_HOME\"]`"),
            "{hint}"
        );
        assert!(!hint.contains("`env ="), "{hint}");
        assert!(env.hint(&gate(&[], &["CARGO_HOME"])).is_none());
    }

    #[test]
    fn loose_passes_everything() {
        let env = GateEnvironment {
            mode: EnvMode::Loose,
            caller: caller(&[("PYTEST_ADDOPTS", "-k x")]),
        };
        let g = gate(&[], &[]);
        let p = env.for_gate(&g);
        assert!(!p.clear && p.vars.is_empty());
        assert!(
            env.hint(&g)
                .unwrap()
                .contains("reached it without being part of its key"),
        );
        // A tool's home reaching the gate unkeyed is what loose mode is: no hint.
        let homes = GateEnvironment {
            mode: EnvMode::Loose,
            caller: caller(&[("CARGO_HOME", "/usr/local/cargo")]),
        };
        assert!(homes.hint(&g).is_none());
    }
}
