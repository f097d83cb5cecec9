//! `dream-harness`: the built binary judged on the maximum drift over seeds,
//! against the committed baseline and against a copy with one seed perturbed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The `dream-drift` gate's limit on `drift_max`.
const LIMIT: f64 = 0.05;
/// The seed whose baseline vector the perturbed copy changes.
const PERTURBED_SEED: usize = 3;
/// Its baseline vector is scaled by this, so its drift is |1 - k| / k = 3/7.
const SCALE: f64 = 0.7;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn committed_baseline() -> PathBuf {
    manifest_dir().join("data/dream_baseline.json")
}

fn dream_harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dream-harness"))
        .args(args)
        .output()
        .expect("run dream-harness")
}

fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the gate's command line (10 seeds x 64 dims) against `baseline`
/// and returns the artifact it wrote with `--out`.
fn gate_run(baseline: &Path, dir: &Path) -> Value {
    let out_path = dir.join("dream_drift.json");
    let out = dream_harness(&[
        "--seeds",
        "10",
        "--dims",
        "64",
        "--baseline",
        baseline.to_str().expect("UTF-8 path"),
        "--out",
        out_path.to_str().expect("UTF-8 path"),
    ]);
    assert_success(&out);
    let text = std::fs::read_to_string(&out_path).expect("artifact written");
    serde_json::from_str(&text).expect("artifact is JSON")
}

fn number(artifact: &Value, key: &str) -> f64 {
    artifact[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number: {artifact}"))
}

fn per_seed(artifact: &Value) -> Vec<(u64, f64)> {
    artifact["per_seed"]
        .as_array()
        .expect("per_seed is an array")
        .iter()
        .map(|entry| {
            (
                entry["seed"].as_u64().expect("seed"),
                entry["drift"].as_f64().expect("drift"),
            )
        })
        .collect()
}

fn norm(vector: &[f64]) -> f64 {
    vector.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[test]
fn committed_baseline_gives_zero_drift_in_every_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let artifact = gate_run(&committed_baseline(), dir.path());
    let mut keys: Vec<&str> = artifact
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "baseline",
            "dims",
            "drift",
            "drift_max",
            "drift_mean",
            "max_drift",
            "per_seed",
            "seeds",
            "steps"
        ]
    );
    assert_eq!(artifact["seeds"], 10);
    assert_eq!(artifact["dims"], 64);
    for key in ["drift", "drift_max", "drift_mean", "max_drift"] {
        assert_eq!(number(&artifact, key), 0.0, "{key}");
    }
    let expected: Vec<(u64, f64)> = (0..10).map(|seed| (seed, 0.0)).collect();
    assert_eq!(per_seed(&artifact), expected);
}

#[test]
fn one_perturbed_seed_sets_drift_max_to_that_seeds_drift() {
    // The run reproduces the committed baseline exactly, so a copy with one
    // seed's vector scaled drifts on that seed only.
    let text = std::fs::read_to_string(committed_baseline()).expect("committed baseline");
    let mut baseline: Value = serde_json::from_str(&text).expect("baseline is JSON");
    let original: Vec<f64> = baseline["vectors"][PERTURBED_SEED]
        .as_array()
        .expect("a vector")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect();
    let scaled: Vec<f64> = original.iter().map(|x| x * SCALE).collect();
    baseline["vectors"][PERTURBED_SEED] = Value::from(scaled.clone());
    let dir = tempfile::tempdir().expect("temp dir");
    let perturbed = dir.path().join("dream_baseline.json");
    std::fs::write(&perturbed, serde_json::to_string(&baseline).unwrap()).expect("write copy");

    let artifact = gate_run(&perturbed, dir.path());

    let difference: Vec<f64> = original.iter().zip(&scaled).map(|(a, b)| a - b).collect();
    let expected = norm(&difference) / norm(&scaled);
    assert!((expected - 3.0 / 7.0).abs() < 1e-9, "{expected}");

    let seeds = per_seed(&artifact);
    assert_eq!(seeds.len(), 10, "{artifact}");
    for (index, &(seed, drift)) in seeds.iter().enumerate() {
        assert_eq!(seed, index as u64, "per_seed in seed order: {artifact}");
        if index == PERTURBED_SEED {
            assert!((drift - expected).abs() < 1e-12, "{drift} vs {expected}");
        } else {
            assert_eq!(drift, 0.0, "seed {seed}");
        }
    }
    let seed_drift = seeds[PERTURBED_SEED].1;
    assert_eq!(number(&artifact, "drift_max"), seed_drift);
    assert_eq!(number(&artifact, "drift"), seed_drift);
    assert_eq!(number(&artifact, "max_drift"), seed_drift);
    let mean = number(&artifact, "drift_mean");
    assert!((mean - seed_drift / 10.0).abs() < 1e-12, "{mean}");
    // The mean (about 0.043) is under the limit; the judged maximum is not.
    assert!(mean < LIMIT, "{mean}");
    assert!(number(&artifact, "drift_max") >= LIMIT, "{artifact}");
}

#[test]
fn help_says_drift_is_drift_max_the_judged_score() {
    let out = dream_harness(&["--help"]);
    assert_success(&out);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("drift_max   maximum over seeds: the judged score"),
        "{help}"
    );
    assert!(help.contains("drift       same as drift_max"), "{help}");
}

/// The lines of one `[section]` of gates.toml, up to the next section.
fn section<'a>(toml: &'a str, header: &str) -> Vec<&'a str> {
    toml.lines()
        .skip_while(|line| line.trim() != header)
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with('['))
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

#[test]
fn dream_drift_gate_judges_and_exports_drift_max() {
    let gates = manifest_dir().join("../gates.toml");
    let toml = std::fs::read_to_string(&gates).expect("gates.toml beside tasks/");
    assert_eq!(
        section(&toml, "[gates.dream-drift.thresholds]"),
        [r#"drift_max = "< 0.05""#]
    );
    let gate = section(&toml, "[gates.dream-drift]");
    assert!(
        gate.contains(&r#"export = { "dream.drift.score" = "drift_max" }"#),
        "{gate:#?}"
    );
}
