//! The `pqc-bench` kind: Dilithium2 keygen, sign and verify latency, measured in process.

use serde::{Deserialize, Serialize};

use super::{BuiltinContext, BuiltinError, BuiltinOutcome, Kind, KindParser};

/// `kind = "pqc-bench"`: Dilithium2 keygen/sign/verify latency.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PqcSpec {
    /// Only "dilithium2" is supported.
    pub algorithm: String,
    /// Timed samples after a warm-up (default 200).
    pub iterations: u32,
    /// Size of the signed message (default 1024).
    pub message_bytes: usize,
}

impl Kind for PqcSpec {
    const NAME: &'static str = "pqc-bench";
    const KEYS: &'static [&'static str] = &["algorithm", "iterations", "message_bytes"];
    const ITEMS: &'static str = "benchmark rounds";

    fn parse(p: &mut KindParser<'_, '_, '_>) -> Option<Self> {
        if cfg!(not(feature = "pqc")) {
            p.needs_feature(Self::NAME, "pqc");
            return None;
        }
        let algorithm = p
            .fields
            .string(p.sink, "algorithm")
            .map_or_else(|| "dilithium2".to_owned(), |(a, _)| a);
        if !algorithm.eq_ignore_ascii_case("dilithium2")
            && let Some(v) = p.fields.value("algorithm")
        {
            p.sink.error_help(
                v.span(),
                format!("unsupported algorithm `{algorithm}` in gate `{}`", p.gate),
                "use \"dilithium2\"",
            );
        }
        Some(PqcSpec {
            algorithm,
            iterations: p.fields.u32(p.sink, "iterations").unwrap_or(200).max(1),
            message_bytes: p
                .fields
                .uint(p.sink, "message_bytes")
                .map_or(1024, |(n, _)| usize::try_from(n).unwrap_or(1024)),
        })
    }

    /// Latency is a measurement of this machine now: never replayed from the cache.
    fn measures(&self) -> bool {
        true
    }

    fn evaluate(&self, ctx: &mut BuiltinContext<'_>) -> Result<BuiltinOutcome, BuiltinError> {
        #[cfg(feature = "pqc")]
        return engine::evaluate(self, ctx);
        #[cfg(not(feature = "pqc"))]
        {
            let _ = ctx;
            Err(BuiltinError::Other(super::without_feature(
                "pqc-bench",
                "pqc",
            )))
        }
    }
}

/// The evaluator: needs the cargo feature `pqc`.
#[cfg(feature = "pqc")]
mod engine {
    use super::*;
    use crate::kinds::latency::{millis, percentile};
    use pqcrypto_dilithium::dilithium2;
    use serde_json::json;
    use std::time::Instant;
    /// Sign+verify rounds run before timing, so caches and branch predictors are warm.
    const WARM_UP: u32 = 10;

    /// Run the benchmark of a `pqc-bench` gate.
    ///
    /// The check itself always passes once the benchmark ran: latency limits are thresholds on the
    /// artifact, judged by the runner.
    ///
    /// # Errors
    ///
    /// An algorithm other than `dilithium2`, zero iterations, or a signature that does not verify.
    pub(super) fn evaluate(
        spec: &PqcSpec,
        ctx: &mut BuiltinContext<'_>,
    ) -> Result<BuiltinOutcome, BuiltinError> {
        if !spec.algorithm.eq_ignore_ascii_case("dilithium2") {
            return Err(BuiltinError::Other(format!(
                "pqc-bench: unsupported algorithm \"{}\"; only \"dilithium2\" is built in",
                spec.algorithm
            )));
        }
        // A failed log write must not fail the benchmark; the same holds for every log line below.
        let _ = writeln!(
            ctx.log,
            "pqc-bench: Dilithium2, {} warm-up rounds, {} timed rounds over a {}-byte message",
            WARM_UP, spec.iterations, spec.message_bytes
        );
        let artifact = bench(spec.iterations, spec.message_bytes)?;
        let _ = writeln!(ctx.log, "pqc-bench: {artifact}");
        Ok(BuiltinOutcome {
            passed: true,
            artifact,
            reason: None,
            judged: usize::try_from(spec.iterations).unwrap_or(usize::MAX),
            findings: Vec::new(),
        })
    }

    /// Time Dilithium2: one keygen, 10 untimed warm-up rounds, then `iterations` detached signs and
    /// verifies of a `message_bytes` message. Returns the artifact of SPEC section 7, latencies in
    /// milliseconds rounded to the microsecond, percentiles by nearest rank.
    ///
    /// # Errors
    ///
    /// Zero iterations (no percentile to report), or a signature that does not verify.
    pub(super) fn bench(
        iterations: u32,
        message_bytes: usize,
    ) -> Result<serde_json::Value, BuiltinError> {
        if iterations == 0 {
            return Err(BuiltinError::Other(
                "pqc-bench: iterations must be at least 1".to_owned(),
            ));
        }
        let message = message(message_bytes);

        let start = Instant::now();
        let (public, secret) = dilithium2::keypair();
        let keygen_ms = millis(start.elapsed());

        for _ in 0..WARM_UP {
            let signature = dilithium2::detached_sign(&message, &secret);
            verify(&signature, &message, &public)?;
        }

        let capacity = usize::try_from(iterations).unwrap_or(0);
        let mut sign = Vec::with_capacity(capacity);
        let mut verify_times = Vec::with_capacity(capacity);
        for _ in 0..iterations {
            let start = Instant::now();
            let signature = dilithium2::detached_sign(&message, &secret);
            sign.push(millis(start.elapsed()));

            let start = Instant::now();
            verify(&signature, &message, &public)?;
            verify_times.push(millis(start.elapsed()));
        }
        sign.sort_by(f64::total_cmp);
        verify_times.sort_by(f64::total_cmp);

        Ok(json!({
            "algorithm": "Dilithium2",
            "iterations": iterations,
            "sign_p50_ms": percentile(&sign, 50.0),
            "sign_p95_ms": percentile(&sign, 95.0),
            "verify_p50_ms": percentile(&verify_times, 50.0),
            "verify_p95_ms": percentile(&verify_times, 95.0),
            "keygen_ms": keygen_ms,
        }))
    }

    /// A deterministic, non-repeating-looking message (xorshift), so runs compare like for like.
    fn message(len: usize) -> Vec<u8> {
        let mut state: u32 = 0x9E37_79B9;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state.to_le_bytes()[0]
            })
            .collect()
    }

    fn verify(
        signature: &dilithium2::DetachedSignature,
        message: &[u8],
        public: &dilithium2::PublicKey,
    ) -> Result<(), BuiltinError> {
        dilithium2::verify_detached_signature(signature, message, public).map_err(|err| {
            BuiltinError::Other(format!(
                "pqc-bench: a Dilithium2 signature did not verify: {err}"
            ))
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn message_is_deterministic_and_sized() {
            assert_eq!(message(0), Vec::<u8>::new());
            assert_eq!(message(64), message(64));
            assert_eq!(message(1024).len(), 1024);
            assert!(message(64).iter().any(|&byte| byte != message(64)[0]));
        }

        #[test]
        fn bench_reports_exactly_the_spec_keys() {
            let artifact = bench(5, 32).expect("bench runs");
            let keys: Vec<&str> = artifact
                .as_object()
                .expect("object")
                .keys()
                .map(String::as_str)
                .collect();
            let mut expected = vec![
                "algorithm",
                "iterations",
                "sign_p50_ms",
                "sign_p95_ms",
                "verify_p50_ms",
                "verify_p95_ms",
                "keygen_ms",
            ];
            let mut sorted_keys = keys.clone();
            sorted_keys.sort_unstable();
            expected.sort_unstable();
            assert_eq!(sorted_keys, expected);
            assert_eq!(artifact["algorithm"], "Dilithium2");
            assert_eq!(artifact["iterations"], 5);
            for key in [
                "sign_p50_ms",
                "sign_p95_ms",
                "verify_p50_ms",
                "verify_p95_ms",
                "keygen_ms",
            ] {
                let value = artifact[key].as_f64().expect("number");
                assert!(value > 0.0, "{key} = {value}");
            }
            assert!(artifact["sign_p50_ms"].as_f64() <= artifact["sign_p95_ms"].as_f64());
        }

        #[test]
        fn bench_refuses_zero_iterations() {
            assert!(matches!(bench(0, 32), Err(BuiltinError::Other(_))));
        }

        #[test]
        fn evaluate_accepts_any_case_and_refuses_other_algorithms() {
            let cases = [
                ("dilithium2", true),
                ("Dilithium2", true),
                ("DILITHIUM2", true),
                ("dilithium3", false),
                ("", false),
            ];
            for (algorithm, ok) in cases {
                let spec = PqcSpec {
                    algorithm: algorithm.to_owned(),
                    iterations: 2,
                    message_bytes: 16,
                };
                let mut log = Vec::new();
                let root = std::path::Path::new(".");
                let mut ctx = BuiltinContext {
                    root,
                    inputs: &[],
                    log: &mut log,
                    env: &crate::proc::SpawnEnv::default(),
                };
                match evaluate(&spec, &mut ctx) {
                    Ok(outcome) => {
                        assert!(ok, "{algorithm} should be refused");
                        assert!(outcome.passed);
                        assert!(outcome.reason.is_none());
                        assert!(String::from_utf8_lossy(&log).contains("pqc-bench"));
                    }
                    Err(err) => {
                        assert!(!ok, "{algorithm}: {err}");
                        assert!(err.to_string().contains("unsupported algorithm"), "{err}");
                    }
                }
            }
        }
    }
}
