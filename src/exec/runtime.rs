//! Runtime inputs: `inputs = ["src/**", { run = "mypy --version" }]`. Each distinct command (in
//! the environment its gate gets) runs once per run, before any key is computed; its output
//! enters the key of every gate that lists it, so a pass under mypy 1.15 is not replayed under
//! mypy 2.4. A command that fails makes its gates `error`, naming it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read as _, Seek as _};
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

/// A runtime input's command, and its output or why there is none.
type Ran = (String, Result<RuntimeOutput, String>);

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

/// Run one command from the config folder; its output (stdout and stderr) when it exits 0.
fn run_one(config: &Config, command: &str, env: &SpawnEnv) -> Result<RuntimeOutput, String> {
    let mut output = tempfile::tempfile().map_err(|e| format!("cannot make a temp file: {e}"))?;
    let log = output
        .try_clone()
        .map_err(|e| format!("cannot make a temp file: {e}"))?;
    let mut group = Group::spawn(Spawn {
        run: command,
        cwd: &config.root,
        base: env,
        env: &[],
        output: log,
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
    let mut bytes = Vec::new();
    let _ = output.rewind();
    let _ = (&mut output).take(MAX_OUTPUT).read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    if !status.success() {
        let tail = crate::proc::tail::last_lines(&bytes, 5);
        return Err(format!(
            "{status}{}",
            if tail.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", tail.trim())
            }
        ));
    }
    let shown: String = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .chars()
        .take(120)
        .collect();
    Ok(RuntimeOutput {
        hash: hex(blake3::hash(&bytes).as_bytes()),
        shown,
    })
}
