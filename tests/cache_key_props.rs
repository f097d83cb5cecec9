//! Property tests of the cache key (SPEC 4): it does not depend on the order files are listed
//! or maps are filled, nor on where the repository is checked out; it changes with every input
//! byte, every declared env value (set, unset, empty), every upstream artifact byte and the run
//! text. Checked on `KeyMaterial` directly and through the real `Fingerprinter` over files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use runner::fingerprint::{self, CacheKey, FORMAT_VERSION, Fingerprinter, KeyMaterial, StatCache};

/// Upstream gate -> artifact path -> content hash (None when absent).
type Upstream = BTreeMap<String, BTreeMap<String, Option<String>>>;

fn hex_hash(bytes: &[u8]) -> String {
    fingerprint::hex(blake3::hash(bytes).as_bytes())
}

/// Small alphabets so that structurally different materials with similar text (a boundary
/// moved between a path and its hash, a value moved between fields) are generated often.
fn short() -> impl Strategy<Value = String> {
    "[ab/=]{0,3}"
}

fn material() -> impl Strategy<Value = KeyMaterial> {
    (
        (0u32..3, prop_oneof![Just("strict"), Just("loose")]),
        short(),
        vec(short(), 0..3),
        btree_map(short(), short(), 0..3),
        btree_map(short(), proptest::option::of(short()), 0..3),
        btree_map(
            short(),
            btree_map(short(), proptest::option::of(short()), 0..2),
            0..2,
        ),
    )
        .prop_map(
            |((format, env_mode), kind, artifacts, inputs, env, upstream)| KeyMaterial {
                format,
                env_mode: env_mode.to_owned(),
                kind,
                artifacts,
                inputs,
                env,
                upstream,
                runtime: BTreeMap::new(),
            },
        )
}

/// A command gate `g` reading `src/**` in a fresh repository holding `files`.
struct Checkout {
    dir: tempfile::TempDir,
    config: runner::config::Config,
}

impl Checkout {
    fn new(files: &[(String, Vec<u8>)], run: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for (rel, bytes) in files {
            let p = dir.path().join("src").join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, bytes).expect("write");
        }
        let text = format!(
            "version = 1\n[gates.g]\nrun = {run:?}\ninputs = [\"src/**\"]\nallow_empty = true\nenv = [\"RUNNER_PROP_UNSET_VARIABLE\"]\nartifacts = [\"out/g.txt\"]\n"
        );
        let root = std::fs::canonicalize(dir.path()).expect("canonicalize");
        let config = runner::config::parse("gates.toml", &text, &root)
            .unwrap_or_else(|d| panic!("config: {d:?}"));
        Checkout { dir, config }
    }

    /// The gate's inputs as expanded by the runner (relative paths).
    fn inputs(&self) -> Vec<PathBuf> {
        let expanded =
            fingerprint::expand(&self.config, &BTreeSet::from([0])).expect("inputs expand");
        expanded.of(0).to_vec()
    }

    /// The key of gate `g` for `inputs` listed in that order, with a fresh stat cache (so no
    /// hash is remembered from an earlier call).
    fn key(&self, inputs: &[PathBuf], upstream: Upstream) -> KeyMaterial {
        let state = tempfile::tempdir().expect("state dir");
        let stat = StatCache::load(&state.path().join("stat-cache.bin"));
        let fp = Fingerprinter::new(&self.config.root, stat, self.config.settings.env_mode);
        fp.material(&self.config.gates[0], inputs, upstream, BTreeMap::new())
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// Relative file names (some with spaces and non-ASCII) and their contents; names unique.
fn files() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    btree_map("[a-c]{1,2}(/[a-c é]{1,3})?", vec(any::<u8>(), 1..64), 1..6)
        .prop_map(|m| m.into_iter().collect())
        .prop_filter(
            "a file name is not also a folder",
            |files: &Vec<(String, Vec<u8>)>| {
                files
                    .iter()
                    .all(|(a, _)| !files.iter().any(|(b, _)| b.starts_with(&format!("{a}/"))))
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Equal materials give equal keys, different ones different keys: the length-prefixed
    /// encoding is injective on everything the generator produces.
    #[test]
    fn key_equality_follows_material_equality(a in material(), b in material()) {
        prop_assert_eq!(a == b, a.key() == b.key(), "{:?}\n{:?}", a, b);
    }

    /// Maps filled in any order (BTreeMap from a shuffled list, or from a HashMap with a random
    /// iteration order) give the same key.
    #[test]
    fn key_ignores_insertion_order(
        m in material(),
        seed in any::<u64>(),
    ) {
        let mut inputs: Vec<(String, String)> = m.inputs.clone().into_iter().collect();
        let mut env: Vec<(String, Option<String>)> = m.env.clone().into_iter().collect();
        shuffle(&mut inputs, seed);
        shuffle(&mut env, seed.rotate_left(17));
        let via_hash_map: HashMap<String, String> = inputs.iter().cloned().collect();
        let rebuilt = KeyMaterial {
            inputs: via_hash_map.into_iter().collect(),
            env: env.into_iter().collect(),
            ..m.clone()
        };
        prop_assert_eq!(rebuilt.key(), m.key());
    }

    /// Every declared env variable's state enters the key: unset, empty and any value are
    /// three different keys, and any two values differ.
    #[test]
    fn key_sees_every_env_value(
        m in material(),
        name in "[A-Z_]{1,8}",
        a in ".{0,8}",
        b in ".{0,8}",
    ) {
        let with = |v: Option<&str>| {
            let mut m = m.clone();
            m.env.insert(name.clone(), v.map(str::to_owned));
            m.key()
        };
        prop_assert_ne!(with(None), with(Some("")));
        prop_assert_ne!(with(None), with(Some(&a)));
        prop_assert_eq!(a == b, with(Some(&a)) == with(Some(&b)));
        if !a.is_empty() {
            prop_assert_ne!(with(Some("")), with(Some(&a)));
        }
    }

    /// Every byte of every upstream artifact enters the key (through its content hash), and so
    /// does an artifact's absence.
    #[test]
    fn key_sees_every_upstream_artifact_byte(
        m in material(),
        bytes in vec(any::<u8>(), 1..256),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let with = |content: Option<&[u8]>| {
            let mut m = m.clone();
            m.upstream
                .entry("up".to_owned())
                .or_default()
                .insert("out/up.bin".to_owned(), content.map(hex_hash));
            m.key()
        };
        let mut changed = bytes.clone();
        changed[at.index(bytes.len())] ^= flip;
        prop_assert_ne!(with(Some(&bytes)), with(Some(&changed)));
        prop_assert_ne!(with(Some(&bytes)), with(None));
        prop_assert_eq!(with(Some(&bytes)), with(Some(&bytes.clone())));
    }
}

proptest! {
    // Each case writes a repository or two to disk: fewer cases.
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Through the real fingerprinter: the order inputs are listed in does not matter, and two
    /// checkouts of the same files at different absolute paths get the same key.
    #[test]
    fn real_key_ignores_file_order_and_checkout_path(files in files(), seed in any::<u64>()) {
        let one = Checkout::new(&files, "cat src/* > out/g.txt");
        let two = Checkout::new(&files, "cat src/* > out/g.txt");
        prop_assert_ne!(one.root(), two.root());
        let inputs = one.inputs();
        prop_assert_eq!(inputs.len(), files.len());
        let mut shuffled = inputs.clone();
        shuffle(&mut shuffled, seed);
        let a = one.key(&inputs, Upstream::new());
        prop_assert_eq!(a.key(), one.key(&shuffled, Upstream::new()).key());
        prop_assert_eq!(a.key(), two.key(&two.inputs(), Upstream::new()).key());
        // The material names files relative to the checkout, never by absolute path.
        let root = one.root().to_string_lossy().into_owned();
        prop_assert!(a.inputs.keys().all(|p| !p.contains(&root)), "{:?}", a.inputs);
    }

    /// Through the real fingerprinter: changing any one byte of any input file changes the key.
    #[test]
    fn real_key_sees_every_input_byte(
        files in files(),
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let base = Checkout::new(&files, "true");
        let before = base.key(&base.inputs(), Upstream::new()).key();
        let mut changed = files.clone();
        let file = which.index(changed.len());
        let byte = at.index(changed[file].1.len());
        changed[file].1[byte] ^= flip;
        let other = Checkout::new(&changed, "true");
        prop_assert_ne!(before, other.key(&other.inputs(), Upstream::new()).key());
        // Same files again: same key (the change, not the new checkout, made the difference).
        let again = Checkout::new(&files, "true");
        prop_assert_eq!(before, again.key(&again.inputs(), Upstream::new()).key());
    }

    /// The run text enters the key: any change to it changes the key.
    #[test]
    fn real_key_sees_the_run_text(a in "[ -~]{1,24}", b in "[ -~]{1,24}") {
        let files = vec![("x".to_owned(), b"same".to_vec())];
        let one = Checkout::new(&files, &a);
        let two = Checkout::new(&files, &b);
        let ka = one.key(&one.inputs(), Upstream::new()).key();
        let kb = two.key(&two.inputs(), Upstream::new()).key();
        prop_assert_eq!(a == b, ka == kb);
    }
}

/// An unset declared variable is recorded as unset (not as empty) by the real fingerprinter.
#[test]
fn real_key_records_an_unset_env_variable_as_unset() {
    let repo = Checkout::new(&[("x".to_owned(), b"1".to_vec())], "true");
    let m = repo.key(&repo.inputs(), Upstream::new());
    assert_eq!(m.env.get("RUNNER_PROP_UNSET_VARIABLE"), Some(&None));
    assert_eq!(m.format, FORMAT_VERSION);
    assert_eq!(m.env_mode, "strict", "the default mode is in the material");
    let mut empty = m.clone();
    empty
        .env
        .insert("RUNNER_PROP_UNSET_VARIABLE".into(), Some(String::new()));
    assert_ne!(m.key(), empty.key());
    let _: CacheKey = m.key();
}

/// Deterministic Fisher-Yates from a seed (splitmix64), so failures replay.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let j = usize::try_from(z % (i as u64 + 1)).unwrap_or(0);
        items.swap(i, j);
    }
}
