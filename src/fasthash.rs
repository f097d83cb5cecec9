//! The hash of the runner's hot maps (paths of the stat cache and the fingerprinter's memo,
//! gate names of the history): foldhash's fast variant with a fixed seed, the hash hashbrown
//! itself defaults to. Keys come from the user's own repository, so hashing them fast matters
//! more than resisting crafted collisions; `SipHash`, the standard default, showed as several
//! percent of a no-op run.
//!
//! Why not the Fx hash (rustc's), used here before: its last step is a multiplication, so the
//! low bits that pick a bucket depend only on the low bits of the last eight bytes hashed. For
//! paths such as `in/g00042/f0.txt` that left about a thousand distinct buckets for 400,000
//! files: at 100,000 gates a no-op spent most of its time comparing colliding keys (10.5 s
//! against 0.39 s at 10,000). `tests::similar_paths_spread_over_the_buckets` keeps it honest.

use std::collections::HashMap;

/// A `HashMap` hashed with [`FastBuild`].
pub(crate) type FastMap<K, V> = HashMap<K, V, FastBuild>;

/// Builds the hashers: deterministic (a fixed seed), so a run does not depend on chance.
pub(crate) type FastBuild = foldhash::fast::FixedState;

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::ffi::OsString;
    use std::hash::BuildHasher as _;

    use super::*;

    /// Paths that differ only in a few digits, as generated and real monorepos have, land in
    /// nearly as many buckets (low bits) as there are paths, and their tags (top 7 bits) are
    /// spread too.
    #[test]
    fn similar_paths_spread_over_the_buckets() {
        let build = FastBuild::default();
        let n = 1 << 16;
        let mut low = HashSet::new();
        let mut top = HashSet::new();
        for i in 0..n / 4 {
            for f in 0..4 {
                let path = OsString::from(format!("in/g{i:05}/f{f}.txt"));
                let h = build.hash_one(&path);
                low.insert(h & (n as u64 - 1));
                top.insert(h >> 57);
            }
        }
        // Random hashing fills about 63% of n buckets with n keys.
        assert!(
            low.len() > n * 55 / 100,
            "{} of {n} buckets used",
            low.len()
        );
        assert_eq!(top.len(), 128, "tags used: {}", top.len());
    }
}
