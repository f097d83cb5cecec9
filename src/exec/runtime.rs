//! Runtime inputs: `inputs = ["src/**", { run = "mypy --version" }]`. Each distinct command (in
//! the environment its gate gets) runs once per run, before any key is computed; its output
//! enters the key of every gate that lists it, so a pass under mypy 1.15 is not replayed under
//! mypy 2.4. A command that fails makes its gates `error`, naming it (its exit code and the
//! first line of its stderr); `--dry-run` and `explain` say so too, and give no key.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read as _, Seek as _};
use std::os::unix::process::ExitStatusExt as _;
use std::time::Duration;

use rayon::prelude::*;

use super::environment::GateEnvironment;
use crate::config::Config;
use crate::fingerprint::RuntimeOutput;
use crate::proc::{Group, Spawn, SpawnEnv};
use crate::vocab::hex;

/// How long a runtime input's command may take.
const TIMEOUT: Duration = Duration::from_secs(120);
/// Output beyond this is cut (a version line is short; a runaway command is not an input).
const MAX_OUTPUT: u64 = 1 << 20;

/// A runtime input's command, and its output or why there is none (`exit code 127: sh: 1:
/// mypyy: not found`).
pub(crate) type Ran = (String, Result<RuntimeOutput, String>);

/// The runtime inputs of the selected gates: gate index -> what each of its commands gave.
#[derive(Debug, Default)]
pub(crate) struct RuntimeInputs {
    per_gate: HashMap<usize, Vec<Ran>>,
}

impl RuntimeInputs {
    /// Gate `g`'s runtime inputs, in the order declared.
    pub(crate) fn of(&self, g: usize) -> &[Ran] {
        self.per_gate.get(&g).map_or(&[], Vec::as_slice)
    }

    /// Gate `g`'s outputs by command (for the key material); Err names the first that failed.
    pub(crate) fn outputs(&self, g: usize) -> Result<BTreeMap<String, RuntimeOutput>, String> {
        self.of(g)
            .iter()
            .map(|(command, result)| match result {
                Ok(out) => Ok((command.clone(), out.clone())),
                Err(why) => Err(format!("runtime input `{command}` failed: {why}")),
            })
            .collect()
    }

    /// Why gate `g` has no key: its first runtime input that failed, in words (None when they
    /// all gave an output).
    pub(crate) fn failure(&self, g: usize) -> Option<String> {
        self.outputs(g).err()
    }

    /// Run the runtime inputs of `selected` gates: each distinct (command, environment) once,
    /// in parallel.
    pub(crate) fn run(
        config: &Config,
        selected: &BTreeSet<usize>,
        environment: &GateEnvironment,
    ) -> Self {
        let mut jobs: Vec<(String, SpawnEnv)> = Vec::new();
        let mut wanted: Vec<(usize, usize)> = Vec::new();
        for &g in selected {
            let gate = &config.gates[g];
            if gate.runtime_inputs.is_empty() {
                continue;
            }
            let env = environment.for_gate(gate);
            for command in &gate.runtime_inputs {
                let at = jobs
                    .iter()
                    .position(|(c, e)| c == command && e.clear == env.clear && e.vars == env.vars)
                    .unwrap_or_else(|| {
                        jobs.push((command.clone(), env.clone()));
                        jobs.len() - 1
                    });
                wanted.push((g, at));
            }
        }
        if jobs.is_empty() {
            return RuntimeInputs::default();
        }
        let results: Vec<Result<RuntimeOutput, String>> = jobs
            .par_iter()
            .map(|(command, env)| run_one(config, command, env))
            .collect();
        let mut per_gate: HashMap<usize, Vec<_>> = HashMap::new();
        for (g, at) in wanted {
            per_gate
                .entry(g)
                .or_default()
                .push((jobs[at].0.clone(), results[at].clone()));
        }
        RuntimeInputs { per_gate }
    }
}

/// Run one command from the config folder: its output when it exits 0, else why it failed
/// (how it ended and the first line of its stderr, or of its stdout when stderr is empty).
/// What enters the key is everything it printed: stdout, then stderr (each up to 1 MiB).
fn run_one(config: &Config, command: &str, env: &SpawnEnv) -> Result<RuntimeOutput, String> {
    let temp = || tempfile::tempfile().map_err(|e| format!("cannot make a temp file: {e}"));
    let (mut stdout, mut stderr) = (temp()?, temp()?);
    let clone = |f: &std::fs::File| {
        f.try_clone()
            .map_err(|e| format!("cannot make a temp file: {e}"))
    };
    let mut group = Group::spawn(Spawn {
        run: command,
        cwd: &config.root,
        base: env,
        env: &[],
        output: clone(&stdout)?,
        stderr: Some(clone(&stderr)?),
    })
    .map_err(|e| format!("cannot start it: {e}"))?;
    if !group.wait_exit(TIMEOUT) {
        group.stop(crate::proc::GRACE);
        return Err(format!(
            "no answer after {}",
            crate::vocab::duration::humantime(TIMEOUT)
        ));
    }
    let status = group
        .wait()
        .map_err(|e| format!("waiting for it failed: {e}"))?;
    let read = |f: &mut std::fs::File| {
        let mut bytes = Vec::new();
        let _ = f.rewind();
        let _ = f.take(MAX_OUTPUT).read_to_end(&mut bytes);
        bytes
    };
    let (out, err) = (read(&mut stdout), read(&mut stderr));
    let first_line = |bytes: &[u8]| -> String {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .chars()
            .take(120)
            .collect()
    };
    if !status.success() {
        let ended = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            (None, None) => status.to_string(),
        };
        let said = Some(first_line(&err))
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| first_line(&out));
        return Err(if said.is_empty() {
            ended
        } else {
            format!("{ended}: {said}")
        });
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(&(out.len() as u64).to_le_bytes());
    hasher.update(&out);
    hasher.update(&err);
    let shown = Some(first_line(&out))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| first_line(&err));
    Ok(RuntimeOutput {
        hash: hex(hasher.finalize().as_bytes()),
        shown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnvMode;

    fn ran(command: &str) -> Result<BTreeMap<String, RuntimeOutput>, String> {
        let dir = tempfile::tempdir().unwrap();
        let text =
            format!("version = 1\n[gates.g]\nrun = \"true\"\ninputs = [{{ run = {command:?} }}]\n");
        let config = crate::config::parse("gates.toml", &text, dir.path()).unwrap();
        let env = GateEnvironment::from_process(EnvMode::Strict);
        RuntimeInputs::run(&config, &BTreeSet::from([0]), &env).outputs(0)
    }

    #[test]
    fn a_failure_names_the_command_its_exit_code_and_the_first_line_of_its_stderr() {
        let why = ran("echo banner; echo 'boom: no licence' >&2; echo detail >&2; exit 3")
            .expect_err("it failed");
        assert_eq!(
            why,
            "runtime input `echo banner; echo 'boom: no licence' >&2; echo detail >&2; exit 3` \
             failed: exit code 3: boom: no licence"
        );
        let why = ran("no-such-tool-here --version").expect_err("not found");
        assert!(
            why.contains("failed: exit code 127: ") && why.contains("no-such-tool-here"),
            "{why}"
        );
        // Nothing on stderr: stdout's first line.
        assert_eq!(
            ran("echo only out; exit 1").expect_err("failed"),
            "runtime input `echo only out; exit 1` failed: exit code 1: only out"
        );
    }

    #[test]
    fn stdout_and_stderr_both_enter_the_key() {
        let out = |c: &str| ran(c).unwrap().into_values().next().unwrap();
        let a = out("echo v1; echo warn >&2");
        let b = out("echo v1; echo other >&2");
        assert_eq!(a.shown, "v1");
        assert_ne!(a.hash, b.hash);
        // A version printed on stderr (java -version) is shown.
        assert_eq!(out("echo 'tool 2' >&2").shown, "tool 2");
        assert_ne!(out("echo x").hash, out("echo x >&2").hash);
    }
}
