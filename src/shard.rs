//! `--shard K/N`: a deterministic share of the gates by a hash of each name (SPEC 10).
//!
//! A gate belongs to shard `BLAKE3(name) mod N`, so the share of a gate depends on its name
//! alone: adding or removing a gate never moves another gate to a different shard.
//!
//! `--balance duration` ([`balanced`]) instead spreads the gates by their recorded durations,
//! longest first, each to the shard with the least predicted time so far; gates without a
//! recorded duration keep their hash shard.

/// Shard K of N (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: u32,
    pub n: u32,
}

impl Shard {
    /// Parse `K/N` with 1 <= K <= N.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!("--shard {text}: {why}; write K/N with 1 <= K <= N, e.g. --shard 2/3")
        };
        let (k, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("expected K/N"))?;
        let k: u32 = k
            .trim()
            .parse()
            .map_err(|_| bad("K is not a whole number"))?;
        let n: u32 = n
            .trim()
            .parse()
            .map_err(|_| bad("N is not a whole number"))?;
        if n == 0 {
            return Err(bad("N must be at least 1"));
        }
        if k == 0 || k > n {
            return Err(bad(&format!("K must be between 1 and {n}")));
        }
        Ok(Shard { k, n })
    }

    /// Does this shard own the gate named `name`? Exactly one of the N shards does.
    #[must_use]
    pub fn owns(&self, name: &str) -> bool {
        bucket(name, self.n) == self.k - 1
    }
}

/// Shards balanced by duration: for each of `gates` (name, recorded milliseconds if any), its
/// shard (0-based) of `n`. Gates without a duration keep their hash shard ([`Shard::owns`]) and
/// are predicted to take the median of the recorded durations; the others go, longest first
/// (ties by name), to the shard with the least predicted time so far (ties to the lowest).
/// The same input gives the same answer whatever its order, so every shard computes the same
/// split.
#[must_use]
pub(crate) fn balanced(gates: &[(&str, Option<u64>)], n: u32) -> Vec<u32> {
    let n = n.max(1);
    let mut known: Vec<u64> = gates.iter().filter_map(|(_, d)| *d).collect();
    known.sort_unstable();
    let median = known.get(known.len() / 2).copied().unwrap_or(0);
    let mut load = vec![0u64; n as usize];
    let mut out = vec![0u32; gates.len()];
    for (i, (name, d)) in gates.iter().enumerate() {
        if d.is_none() {
            let b = bucket(name, n);
            out[i] = b;
            load[b as usize] += median;
        }
    }
    let mut order: Vec<usize> = (0..gates.len()).filter(|&i| gates[i].1.is_some()).collect();
    order.sort_by(|&a, &b| {
        gates[b]
            .1
            .cmp(&gates[a].1)
            .then_with(|| gates[a].0.cmp(gates[b].0))
    });
    for i in order {
        let (shard, _) = load
            .iter()
            .enumerate()
            .min_by_key(|(s, l)| (**l, *s))
            .unwrap_or((0, &0));
        load[shard] += gates[i].1.unwrap_or(0);
        out[i] = u32::try_from(shard).unwrap_or(0);
    }
    out
}

/// `BLAKE3(name)`'s first 8 bytes as a little-endian u64, mod `n`.
fn bucket(name: &str, n: u32) -> u32 {
    let hash = blake3::hash(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    // The remainder is below n, which is a u32.
    u32::try_from(u64::from_le_bytes(first) % u64::from(n)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn parses_valid_and_rejects_invalid() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { k: 2, n: 3 }));
        assert_eq!(Shard::parse("1/1"), Ok(Shard { k: 1, n: 1 }));
        for bad in [
            "0/3", "4/3", "1/0", "0/0", "a/3", "2", "2/", "/3", "-1/3", "1/3/4", "",
        ] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert!(Shard::parse("4/3").unwrap_err().contains("between 1 and 3"));
    }

    #[test]
    fn every_gate_has_exactly_one_shard() {
        let names: Vec<String> = (0..500).map(|i| format!("gate-{i}")).collect();
        for n in 1..=5 {
            let shards: Vec<Shard> = (1..=n).map(|k| Shard { k, n }).collect();
            for name in &names {
                assert_eq!(
                    shards.iter().filter(|s| s.owns(name)).count(),
                    1,
                    "{name} in {n} shards"
                );
            }
            // Roughly even: no shard gets less than half its fair share of 500 gates.
            for s in &shards {
                let owned = names.iter().filter(|g| s.owns(g)).count();
                assert!(
                    owned * 2 * n as usize >= names.len(),
                    "shard {}/{n} owns {owned}",
                    s.k
                );
            }
        }
    }

    /// A skewed workload (a few long gates, many short ones; durations falling like 1/i):
    /// the shards' predicted times end within 10% of each other, every gate in one shard.
    #[test]
    fn balanced_shards_are_within_ten_percent_on_a_skewed_workload() {
        let names: Vec<String> = (0..120).map(|i| format!("gate-{i:03}")).collect();
        let durations: Vec<u64> = (0..120u64).map(|i| 600_000 / (i + 1) + 50).collect();
        let gates: Vec<(&str, Option<u64>)> = names
            .iter()
            .zip(&durations)
            .map(|(n, d)| (n.as_str(), Some(*d)))
            .collect();
        for n in [2u32, 3, 4] {
            let shards = balanced(&gates, n);
            let mut load = vec![0u64; n as usize];
            for (s, d) in shards.iter().zip(&durations) {
                assert!(*s < n);
                load[*s as usize] += d;
            }
            let (lo, hi) = (load.iter().min().unwrap(), load.iter().max().unwrap());
            assert!(
                (hi - lo) * 10 <= *hi,
                "{n} shards: {load:?} are not within 10%"
            );
            // By name hash, the same workload is far from balanced.
            let mut hashed = vec![0u64; n as usize];
            for (name, d) in names.iter().zip(&durations) {
                hashed[bucket(name, n) as usize] += d;
            }
            let (lo, hi) = (hashed.iter().min().unwrap(), hashed.iter().max().unwrap());
            assert!(
                (hi - lo) * 10 > *hi,
                "{n}: the hash split {hashed:?} was balanced too"
            );
        }
    }

    #[test]
    fn balanced_shards_do_not_depend_on_the_order_of_the_gates() {
        let mut gates: Vec<(String, Option<u64>)> = (0..50u64)
            .map(|i| {
                let d = (!i.is_multiple_of(7)).then_some((i * 37 % 11) * 100);
                (format!("g{i}"), d)
            })
            .collect();
        let split = |gates: &[(String, Option<u64>)]| -> BTreeMap<String, u32> {
            let refs: Vec<(&str, Option<u64>)> =
                gates.iter().map(|(n, d)| (n.as_str(), *d)).collect();
            gates
                .iter()
                .map(|(n, _)| n.clone())
                .zip(balanced(&refs, 3))
                .collect()
        };
        let first = split(&gates);
        gates.reverse();
        assert_eq!(split(&gates), first);
        gates.sort_by_key(|g| g.1);
        assert_eq!(split(&gates), first);
        // Gates without a duration keep their hash shard.
        for (name, shard) in &first {
            let i: usize = name[1..].parse().unwrap();
            if i.is_multiple_of(7) {
                assert_eq!(*shard, bucket(name, 3), "{name}");
            }
        }
    }

    /// Shard assignment must not change between runner versions: shards of one CI run may be
    /// run by different builds, and they must still split the gates the same way.
    #[test]
    fn assignment_is_pinned() {
        let golden = [
            ("lint", 797),
            ("test", 696),
            ("build", 412),
            ("pqc-sign-verify", 713),
        ];
        for (name, bucket_of_1000) in golden {
            assert_eq!(bucket(name, 1000), bucket_of_1000, "{name}");
            // 4 and 8 divide 1000, so these follow from the same hash.
            assert!(
                Shard {
                    k: bucket_of_1000 % 4 + 1,
                    n: 4
                }
                .owns(name),
                "{name}"
            );
            assert!(
                Shard {
                    k: bucket_of_1000 % 8 + 1,
                    n: 8
                }
                .owns(name),
                "{name}"
            );
        }
    }
}
