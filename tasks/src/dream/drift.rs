//! `DriftReport`: how far a run's vectors moved from the baseline, and the
//! JSON artifact that the `dream-drift` gate judges.

use serde_json::{Value, json};

use super::{Baseline, Simulation};

/// The drift of one seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedDrift {
    /// Seed value.
    pub seed: usize,
    /// `|run - baseline| / |baseline|` (plain distance when the baseline
    /// vector is zero).
    pub drift: f64,
}

/// Drift of a whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftReport {
    /// Parameters of the run.
    pub simulation: Simulation,
    /// Mean of the per-seed drifts (0 when there are no seeds).
    pub drift: f64,
    /// Largest per-seed drift.
    pub max_drift: f64,
    /// One entry per seed, in seed order.
    pub per_seed: Vec<SeedDrift>,
}

impl DriftReport {
    /// Compares `vectors` (one per seed) with `baseline`, which must have
    /// been checked to match `simulation`.
    #[must_use]
    pub fn compare(simulation: Simulation, vectors: &[Vec<f64>], baseline: &Baseline) -> Self {
        let per_seed: Vec<SeedDrift> = vectors
            .iter()
            .zip(&baseline.vectors)
            .enumerate()
            .map(|(seed, (run, base))| SeedDrift {
                seed,
                drift: normalized_distance(run, base),
            })
            .collect();
        let max_drift = per_seed.iter().map(|s| s.drift).fold(0.0, f64::max);
        let drift = if per_seed.is_empty() {
            0.0
        } else {
            #[expect(clippy::cast_precision_loss, reason = "seed counts are small")]
            let count = per_seed.len() as f64;
            per_seed.iter().map(|s| s.drift).sum::<f64>() / count
        };
        Self {
            simulation,
            drift,
            max_drift,
            per_seed,
        }
    }

    /// The artifact: `{"seeds", "dims", "steps", "drift", "max_drift", "per_seed"}`.
    #[must_use]
    pub fn to_json(&self, baseline_path: &str) -> Value {
        json!({
            "seeds": self.simulation.seeds,
            "dims": self.simulation.dims,
            "steps": self.simulation.steps,
            "baseline": baseline_path,
            "drift": self.drift,
            "max_drift": self.max_drift,
            "per_seed": self.per_seed.iter()
                .map(|s| json!({"seed": s.seed, "drift": s.drift}))
                .collect::<Vec<_>>(),
        })
    }
}

fn normalized_distance(run: &[f64], base: &[f64]) -> f64 {
    let distance = run
        .iter()
        .zip(base)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    let norm = base.iter().map(|b| b * b).sum::<f64>().sqrt();
    if norm > 0.0 {
        distance / norm
    } else {
        distance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIM: Simulation = Simulation {
        seeds: 2,
        dims: 2,
        steps: 1,
    };

    fn baseline(vectors: Vec<Vec<f64>>) -> Baseline {
        Baseline {
            simulation: SIM,
            vectors,
        }
    }

    #[test]
    fn identical_vectors_have_zero_drift() {
        let vectors = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let report = DriftReport::compare(SIM, &vectors, &baseline(vectors.clone()));
        assert_eq!(report.drift, 0.0);
        assert_eq!(report.max_drift, 0.0);
    }

    #[test]
    fn drift_is_mean_of_normalized_distances() {
        let base = baseline(vec![vec![2.0, 0.0], vec![0.0, 1.0]]);
        // Seed 0 moved by 1 against a norm of 2 (0.5); seed 1 by 0.1 against 1.
        let run = vec![vec![2.0, 1.0], vec![0.0, 1.1]];
        let report = DriftReport::compare(SIM, &run, &base);
        assert!((report.per_seed[0].drift - 0.5).abs() < 1e-12);
        assert!((report.per_seed[1].drift - 0.1).abs() < 1e-12);
        assert!((report.drift - 0.3).abs() < 1e-12);
        assert!((report.max_drift - 0.5).abs() < 1e-12);
        let json = report.to_json("b.json");
        assert_eq!(json["seeds"], 2);
        assert_eq!(json["per_seed"][1]["seed"], 1);
        assert_eq!(json["baseline"], "b.json");
    }

    #[test]
    fn zero_baseline_uses_plain_distance() {
        assert!((normalized_distance(&[3.0, 4.0], &[0.0, 0.0]) - 5.0).abs() < 1e-12);
    }

    #[test]
    fn committed_baseline_matches_the_current_code() {
        // The `dream-drift` gate expects drift 0 today; if the dynamics change,
        // regenerate with `dream-harness --update-baseline` in the same commit.
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/dream_baseline.json");
        let baseline = Baseline::load(&path).unwrap();
        let simulation = Simulation {
            seeds: 10,
            dims: 64,
            steps: crate::dream::DEFAULT_STEPS,
        };
        baseline.ensure_matches(&simulation, &path).unwrap();
        let report = DriftReport::compare(simulation, &simulation.run(), &baseline);
        assert_eq!(report.drift, 0.0);
        assert_eq!(report.max_drift, 0.0);
    }
}
