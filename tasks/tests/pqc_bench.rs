//! `pqc-bench` (formerly `runner pqc-bench`): the built binary prints the artifact.

use std::process::{Command, Output};

use serde_json::Value;

fn pqc_bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pqc-bench"))
        .args(args)
        .output()
        .expect("run pqc-bench")
}

const LATENCIES: [&str; 5] = [
    "keygen_ms",
    "sign_p50_ms",
    "sign_p95_ms",
    "verify_p50_ms",
    "verify_p95_ms",
];

#[test]
fn json_artifact_has_positive_latencies_and_ordered_percentiles() {
    let out = pqc_bench(&["--json", "--iterations", "5"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let artifact: Value = serde_json::from_str(&stdout).expect("stdout is JSON");
    let object = artifact.as_object().expect("an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = vec!["algorithm", "iterations"];
    expected.extend(LATENCIES);
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(artifact["algorithm"], "Dilithium2");
    assert_eq!(artifact["iterations"], 5);
    let number = |key: &str| {
        artifact[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} is not a number: {}", artifact[key]))
    };
    for key in LATENCIES {
        assert!(number(key) > 0.0, "{key} = {}", number(key));
    }
    assert!(number("sign_p50_ms") <= number("sign_p95_ms"), "{artifact}");
    assert!(
        number("verify_p50_ms") <= number("verify_p95_ms"),
        "{artifact}"
    );
}

#[test]
fn plain_output_is_one_line_per_latency() {
    let out = pqc_bench(&["--iterations", "2", "--message-bytes", "16"]);
    assert!(out.status.success(), "{:?}", out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), LATENCIES.len(), "{stdout}");
    for (line, key) in lines.iter().zip(LATENCIES) {
        let value = line
            .strip_prefix(&format!("{key:<14} "))
            .unwrap_or_else(|| panic!("{line:?} does not start with {key}"));
        let value: f64 = value.parse().unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert!(value > 0.0, "{line}");
    }
}

#[test]
fn bad_numbers_are_usage_errors() {
    for args in [
        &["--iterations", "many"][..],
        &["--message-bytes", "-1"][..],
    ] {
        let out = pqc_bench(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("pqc-bench: error: --"),
            "{args:?}: {stderr}"
        );
    }
}
