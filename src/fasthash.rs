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
//!
//! [`PathMap`] is the map of the stat cache and the memo, which hold one entry per file of the
//! repository (half a million at 100,000 gates): its keys lie end to end in one buffer.

use std::collections::HashMap;
use std::hash::BuildHasher as _;

use hashbrown::HashTable;

/// A `HashMap` hashed with [`FastBuild`].
pub(crate) type FastMap<K, V> = HashMap<K, V, FastBuild>;

/// Builds the hashers: deterministic (a fixed seed), so a run does not depend on chance.
pub(crate) type FastBuild = foldhash::fast::FixedState;

/// A map from byte strings (paths) to values whose keys lie end to end in one buffer and whose
/// table holds 4-byte slot numbers. An entry costs its key's bytes, its value and 20 bytes,
/// where a `HashMap<OsString, V>` costs an allocation per key (with the allocator's header) and
/// a table slot as large as key and value together, up to half of them empty after a resize:
/// at 100,000 gates the stat cache took 126 MB that way, for 500,000 paths.
///
/// A removed entry keeps its key and slot (inserting the key again reuses them): the maps
/// here remove few entries in a run.
pub(crate) struct PathMap<V> {
    bytes: Vec<u8>,
    slots: Vec<Slot<V>>,
    table: HashTable<u32>,
    live: usize,
}

struct Slot<V> {
    start: usize,
    len: usize,
    /// None: removed.
    value: Option<V>,
}

impl<V> Default for PathMap<V> {
    fn default() -> Self {
        PathMap {
            bytes: Vec::new(),
            slots: Vec::new(),
            table: HashTable::new(),
            live: 0,
        }
    }
}

fn hash(key: &[u8]) -> u64 {
    FastBuild::default().hash_one(key)
}

impl<V> PathMap<V> {
    /// Room for `n` entries whose keys take `bytes` bytes in all.
    pub(crate) fn with_capacity(n: usize, bytes: usize) -> Self {
        PathMap {
            bytes: Vec::with_capacity(bytes),
            slots: Vec::with_capacity(n),
            table: HashTable::with_capacity(n),
            live: 0,
        }
    }

    fn key_of(&self, slot: u32) -> &[u8] {
        let s = &self.slots[slot as usize];
        &self.bytes[s.start..s.start + s.len]
    }

    fn find(&self, key: &[u8]) -> Option<u32> {
        self.table
            .find(hash(key), |&i| self.key_of(i) == key)
            .copied()
    }

    /// The slot of `key` (also of a removed key): a number below `slots()`, stable for the
    /// map's life, to keep facts about the entry beside the map.
    pub(crate) fn slot(&self, key: &[u8]) -> Option<u32> {
        self.find(key)
    }

    /// The value in `slot`.
    pub(crate) fn at(&self, slot: u32) -> Option<&V> {
        self.slots.get(slot as usize)?.value.as_ref()
    }

    /// The key in `slot`.
    pub(crate) fn key_at(&self, slot: u32) -> Option<&[u8]> {
        self.slots
            .get(slot as usize)
            .map(|s| &self.bytes[s.start..s.start + s.len])
    }

    /// How many slots there are (live and removed entries).
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    /// The value of `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&V> {
        self.slots[self.find(key)? as usize].value.as_ref()
    }

    /// The value of `key`, to change it in place.
    #[cfg(test)]
    pub(crate) fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let i = self.find(key)?;
        self.slots[i as usize].value.as_mut()
    }

    /// `key` has a value.
    pub(crate) fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Set `key`'s value; the value it had, if any.
    ///
    /// # Panics
    /// Past 4,294,967,295 keys (a slot number is 4 bytes).
    pub(crate) fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        let h = hash(key);
        let (bytes, slots) = (&self.bytes, &self.slots);
        let at = |i: u32| {
            let s = &slots[i as usize];
            &bytes[s.start..s.start + s.len]
        };
        if let Some(&i) = self.table.find(h, |&i| at(i) == key) {
            let old = self.slots[i as usize].value.replace(value);
            if old.is_none() {
                self.live += 1;
            }
            return old;
        }
        let i = u32::try_from(self.slots.len()).expect("fewer than 2^32 paths");
        self.table.insert_unique(h, i, |&j| hash(at(j)));
        self.slots.push(Slot {
            start: self.bytes.len(),
            len: key.len(),
            value: Some(value),
        });
        self.bytes.extend_from_slice(key);
        self.live += 1;
        None
    }

    /// Remove `key`'s value; the value it had, if any.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<V> {
        let i = self.find(key)?;
        let old = self.slots[i as usize].value.take();
        if old.is_some() {
            self.live -= 1;
        }
        old
    }

    /// Keep only the entries `keep` says yes to.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&[u8], &V) -> bool) {
        let bytes = &self.bytes;
        for s in &mut self.slots {
            if let Some(v) = &s.value
                && !keep(&bytes[s.start..s.start + s.len], v)
            {
                s.value = None;
                self.live -= 1;
            }
        }
    }

    /// Live entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// No live entry.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The live entries, in insertion order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.slots.iter().filter_map(|s| {
            s.value
                .as_ref()
                .map(|v| (&self.bytes[s.start..s.start + s.len], v))
        })
    }

    /// The live values, to change them in place.
    #[cfg(test)]
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.slots.iter_mut().filter_map(|s| s.value.as_mut())
    }
}

impl<'a, V> Extend<(&'a [u8], V)> for PathMap<V> {
    fn extend<I: IntoIterator<Item = (&'a [u8], V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

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

    /// `PathMap` against `HashMap` on random operations over keys that share prefixes.
    #[test]
    fn path_map_agrees_with_a_hash_map() {
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut map: PathMap<u64> = PathMap::default();
        let mut model: HashMap<Vec<u8>, u64> = HashMap::new();
        for _ in 0..20_000 {
            let key = format!("in/g{:03}/f{}.txt", next() % 500, next() % 4).into_bytes();
            match next() % 4 {
                0 | 1 => {
                    let v = next();
                    assert_eq!(map.insert(&key, v), model.insert(key.clone(), v));
                }
                2 => assert_eq!(map.remove(&key), model.remove(&key)),
                _ => assert_eq!(map.get(&key), model.get(&key)),
            }
            assert_eq!(map.len(), model.len());
        }
        map.retain(|k, v| k.ends_with(b"0.txt") || v % 2 == 0);
        model.retain(|k, v| k.ends_with(b"0.txt") || *v % 2 == 0);
        let mut got: Vec<(Vec<u8>, u64)> = map.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
        let mut want: Vec<(Vec<u8>, u64)> = model.into_iter().collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        assert!(!map.is_empty());
        assert!(!map.contains_key(b"in/g999/f0.txt"));
    }
}
