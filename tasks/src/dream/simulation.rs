//! `Simulation`: the seeded "dream" dynamics that turn a seed into a unit
//! vector.
//!
//! Each seed drives a ring of coupled leaky units fed with noise from
//! [`SplitMix64`]. Only `+ - * /` and `sqrt` are used (all correctly rounded
//! in IEEE 754), in a fixed order and on one thread, so every machine
//! produces the same bits.

use crate::prng::SplitMix64;

/// Default number of update steps per seed.
pub const DEFAULT_STEPS: usize = 256;

/// Mixed into every seed so that seed 0 does not start from the generator's
/// plain zero state.
const SEED_SALT: u64 = 0x4D41_5452_495A_0007; // "MATRIZ" and the phase number

/// How much of a unit's previous value it keeps per step.
const LEAK: f64 = 0.82;
/// How strongly each unit is pulled by its two ring neighbours.
const COUPLING: f64 = 0.07;
/// Amplitude of the injected noise.
const NOISE: f64 = 0.25;

/// Parameters of one harness run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Simulation {
    /// Number of seeds (seed values `0..seeds`).
    pub seeds: usize,
    /// Length of each vector.
    pub dims: usize,
    /// Update steps per seed.
    pub steps: usize,
}

impl Simulation {
    /// Runs every seed in order and returns one unit vector per seed.
    #[must_use]
    pub fn run(&self) -> Vec<Vec<f64>> {
        (0..self.seeds as u64)
            .map(|seed| self.embed(seed))
            .collect()
    }

    /// The unit vector of one seed.
    #[must_use]
    pub fn embed(&self, seed: u64) -> Vec<f64> {
        let dims = self.dims;
        let mut rng = SplitMix64::new(seed ^ SEED_SALT);
        let mut state: Vec<f64> = (0..dims).map(|_| rng.next_signed()).collect();
        let mut next = vec![0.0; dims];
        for _ in 0..self.steps {
            for i in 0..dims {
                let left = state[(i + dims - 1) % dims];
                let right = state[(i + 1) % dims];
                let drive = LEAK * state[i] + COUPLING * (left + right) + NOISE * rng.next_signed();
                next[i] = squash(drive);
            }
            std::mem::swap(&mut state, &mut next);
        }
        normalize(&mut state);
        state
    }
}

/// A smooth saturating map onto `(-1, 1)` that needs no transcendental
/// functions (whose results may differ between C libraries).
fn squash(x: f64) -> f64 {
    x / (1.0 + x.abs())
}

fn normalize(vector: &mut [f64]) {
    let norm = vector.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        for x in vector.iter_mut() {
            *x /= norm;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Simulation = Simulation {
        seeds: 3,
        dims: 8,
        steps: 32,
    };

    #[test]
    fn same_seed_same_bits() {
        assert_eq!(SMALL.run(), SMALL.run());
    }

    #[test]
    fn seeds_differ_and_vectors_are_unit_length() {
        let vectors = SMALL.run();
        assert_eq!(vectors.len(), 3);
        assert_ne!(vectors[0], vectors[1]);
        for vector in &vectors {
            assert_eq!(vector.len(), 8);
            let norm: f64 = vector.iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!((norm - 1.0).abs() < 1e-12, "norm {norm}");
        }
    }

    #[test]
    fn more_steps_change_the_result() {
        let longer = Simulation { steps: 33, ..SMALL };
        assert_ne!(SMALL.embed(1), longer.embed(1));
    }

    #[test]
    fn zero_dims_is_empty() {
        let empty = Simulation {
            seeds: 2,
            dims: 0,
            steps: 4,
        };
        assert_eq!(empty.run(), vec![Vec::<f64>::new(), Vec::new()]);
    }
}
