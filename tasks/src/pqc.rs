//! `pqc-bench`: Dilithium2 keygen, sign and verify latency, measured in process. Ported from
//! the runner's `pqc-bench` kind (`src/gate/pqc.rs`): the same artifact, the same rounds, the
//! same message.

use std::time::{Duration, Instant};

use pqcrypto_dilithium::dilithium2;
use serde_json::json;

use crate::Failure;

/// Sign+verify rounds run before timing, so caches and branch predictors are warm.
pub const WARM_UP: u32 = 10;

/// Timed rounds when `--iterations` is not given.
pub const DEFAULT_ITERATIONS: u32 = 200;

/// Message size in bytes when `--message-bytes` is not given.
pub const DEFAULT_MESSAGE_BYTES: usize = 1024;

/// The latency keys of the artifact, in the order the plain output prints them.
pub const LATENCY_KEYS: [&str; 5] = [
    "keygen_ms",
    "sign_p50_ms",
    "sign_p95_ms",
    "verify_p50_ms",
    "verify_p95_ms",
];

/// Time Dilithium2: one keygen, 10 untimed warm-up rounds, then `iterations` detached signs and
/// verifies of a `message_bytes` message. Returns the artifact (`algorithm`, `iterations`,
/// `sign_p50_ms`, `sign_p95_ms`, `verify_p50_ms`, `verify_p95_ms`, `keygen_ms`), latencies in
/// milliseconds rounded to the microsecond, percentiles by nearest rank.
///
/// # Errors
///
/// A runtime [`Failure`] for zero iterations (no percentile to report) or a signature that
/// does not verify.
pub fn bench(iterations: u32, message_bytes: usize) -> Result<serde_json::Value, Failure> {
    if iterations == 0 {
        return Err(Failure::runtime("iterations must be at least 1"));
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

/// The plain output: one `KEY VALUE` line per latency key, the key padded to 14 columns.
#[must_use]
pub fn plain_lines(artifact: &serde_json::Value) -> String {
    LATENCY_KEYS
        .iter()
        .map(|key| {
            let value = artifact
                .get(key)
                .map_or_else(String::new, ToString::to_string);
            format!("{key:<14} {value}\n")
        })
        .collect()
}

/// The nearest-rank percentile `p` (0 to 100) of ascending `sorted` samples; 0 when empty.
///
/// Nearest rank picks an observed sample (the smallest whose rank reaches `p`% of the count), so
/// p95 of 20 samples is the 19th, and p50 of 4 samples is the 2nd.
#[must_use]
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let count = u32::try_from(sorted.len()).unwrap_or(u32::MAX);
    if count == 0 {
        return 0.0;
    }
    // Multiply before dividing so whole ranks (95 * 20 / 100 = 19) stay exact in floating point.
    let target = p * f64::from(count) / 100.0;
    let rank = (1..=count)
        .find(|&rank| f64::from(rank) >= target)
        .unwrap_or(count);
    let index = usize::try_from(rank).map_or(0, |rank| rank.saturating_sub(1));
    sorted.get(index).copied().unwrap_or(0.0)
}

/// A duration in milliseconds, rounded to the microsecond.
fn millis(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0
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
) -> Result<(), Failure> {
    dilithium2::verify_detached_signature(signature, message, public)
        .map_err(|err| Failure::runtime(format!("a Dilithium2 signature did not verify: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        let cases: &[(&[f64], f64, f64)] = &[
            (&[], 50.0, 0.0),
            (&[], 95.0, 0.0),
            (&[7.0], 50.0, 7.0),
            (&[7.0], 95.0, 7.0),
            (&[1.0, 2.0, 3.0, 4.0], 50.0, 2.0),
            (&[1.0, 2.0, 3.0, 4.0], 95.0, 4.0),
            (&[1.0, 2.0, 3.0, 4.0], 0.0, 1.0),
            (&[1.0, 2.0, 3.0, 4.0], 100.0, 4.0),
            (&[1.0, 2.0, 3.0, 4.0, 5.0], 50.0, 3.0),
            (&twenty, 95.0, 19.0),
            (&twenty, 50.0, 10.0),
            (&twenty, 96.0, 20.0),
            (&twenty, 5.0, 1.0),
            (&twenty, 5.1, 2.0),
        ];
        for (samples, p, expected) in cases {
            let got = percentile(samples, *p);
            // Nearest rank returns one of the samples, bit for bit.
            assert_eq!(
                got.to_bits(),
                expected.to_bits(),
                "p{p} of {samples:?} = {got}, expected {expected}"
            );
        }
    }

    #[test]
    fn percentile_of_200_samples() {
        // The default iteration count: p50 is the 100th sample, p95 the 190th.
        let samples: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0).to_bits(), 100.0_f64.to_bits());
        assert_eq!(percentile(&samples, 95.0).to_bits(), 190.0_f64.to_bits());
    }

    #[test]
    fn millis_rounds_to_microseconds() {
        let cases = [
            (Duration::from_nanos(1_234_567), 1.235),
            (Duration::from_nanos(1_234_499), 1.234),
            (Duration::from_secs(2), 2000.0),
        ];
        for (elapsed, expected) in cases {
            assert!(
                (millis(elapsed) - expected).abs() < 1e-9,
                "{elapsed:?} = {}",
                millis(elapsed)
            );
        }
    }

    #[test]
    fn message_is_deterministic_and_sized() {
        assert_eq!(message(0), Vec::<u8>::new());
        assert_eq!(message(64), message(64));
        assert_eq!(message(1024).len(), 1024);
        assert!(message(64).iter().any(|&byte| byte != message(64)[0]));
    }

    #[test]
    fn plain_lines_pad_keys_to_14_columns() {
        let artifact = json!({
            "algorithm": "Dilithium2", "iterations": 3, "keygen_ms": 0.5,
            "sign_p50_ms": 1.25, "sign_p95_ms": 2.0, "verify_p50_ms": 0.125, "verify_p95_ms": 0.25
        });
        assert_eq!(
            plain_lines(&artifact),
            "keygen_ms      0.5\n\
             sign_p50_ms    1.25\n\
             sign_p95_ms    2.0\n\
             verify_p50_ms  0.125\n\
             verify_p95_ms  0.25\n"
        );
    }

    #[test]
    fn bench_reports_exactly_the_artifact_keys() {
        let artifact = bench(5, 32).unwrap();
        let mut keys: Vec<&str> = artifact
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = vec!["algorithm", "iterations"];
        expected.extend(LATENCY_KEYS);
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(artifact["algorithm"], "Dilithium2");
        assert_eq!(artifact["iterations"], 5);
    }

    #[test]
    fn bench_refuses_zero_iterations() {
        let failure = bench(0, 32).unwrap_err();
        assert_eq!(failure.code, 1);
        assert_eq!(failure.message, "iterations must be at least 1");
    }
}
