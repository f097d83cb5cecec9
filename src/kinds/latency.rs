//! Latency samples of the kinds that measure (`http`, `pqc-bench`): milliseconds and
//! nearest-rank percentiles.

use std::time::Duration;

/// The nearest-rank percentile `p` (0 to 100) of ascending `sorted` samples; 0 when empty.
///
/// Nearest rank picks an observed sample (the smallest whose rank reaches `p`% of the count), so
/// p95 of 20 samples is the 19th, and p50 of 4 samples is the 2nd.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
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
pub(crate) fn millis(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        let cases: &[(&[f64], f64, f64)] = &[
            (&[], 50.0, 0.0),
            (&[7.0], 50.0, 7.0),
            (&[7.0], 95.0, 7.0),
            (&[1.0, 2.0, 3.0, 4.0], 50.0, 2.0),
            (&[1.0, 2.0, 3.0, 4.0], 95.0, 4.0),
            (&[1.0, 2.0, 3.0, 4.0], 0.0, 1.0),
            (&[1.0, 2.0, 3.0, 4.0], 100.0, 4.0),
            (&twenty, 95.0, 19.0),
            (&twenty, 50.0, 10.0),
            (&twenty, 96.0, 20.0),
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
}
