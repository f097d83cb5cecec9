//! `--shard K/N`: a deterministic share of the gates by a hash of each name (SPEC 10).
//!
//! A gate belongs to shard `BLAKE3(name) mod N`, so the share of a gate depends on its name
//! alone: adding or removing a gate never moves another gate to a different shard.

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
