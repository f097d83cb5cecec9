//! Prefetch: before the scheduler starts, download in parallel the remote entries of every
//! gate whose cache key can be known up front, walking the graph through needs that are cached.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Condvar, Mutex};

use super::remote::Remote;
use super::{Cache, Entry, Store};
use crate::config::{Config, Gate};
use crate::fingerprint::{ArtifactSpec, CacheKey, ExpandedInputs, Fingerprinter};
use crate::graph::GateGraph;

impl Cache {
    /// Fill the local store from the remote, in parallel, for every selected gate whose key can
    /// be known before anything runs: gates without needs, and then, walking the graph, gates
    /// whose needs are all cached (their upstream artifact hashes are read from the entries'
    /// manifests instead of the disk). Each entry is verified like a lookup's before it is kept;
    /// the scheduler's lookups then find them locally. A no-op without a readable remote.
    ///
    /// The key computed here must equal the scheduler's (`Scheduler::material`); if it ever did
    /// not, the only cost would be a wasted download.
    pub fn prefetch(
        &self,
        config: &Config,
        graph: &GateGraph,
        selected: &BTreeSet<usize>,
        inputs: &ExpandedInputs,
        fp: &Fingerprinter,
    ) {
        if !self.remote.as_ref().is_some_and(Remote::readable)
            || std::env::var_os("RUNNER_REMOTE_PREFETCH").is_some_and(|v| v == "0")
        {
            return;
        }
        let eligible = |g: usize| {
            let gate = &config.gates[g];
            // A runtime input's output is known only once the scheduler ran it.
            gate.cacheable()
                && gate.runtime_inputs.is_empty()
                && gate
                    .skip_unless_env
                    .iter()
                    .all(|(k, v)| std::env::var(k).ok().as_deref() == Some(v.as_str()))
        };
        let mut waiting = HashMap::new();
        let mut ready = VecDeque::new();
        for &g in selected {
            let n = graph.needs(g).filter(|n| selected.contains(n)).count();
            if n == 0 && eligible(g) {
                ready.push_back(g);
            }
            waiting.insert(g, n);
        }
        let walk = Walk {
            state: Mutex::new(WalkState {
                ready,
                waiting,
                known: HashMap::new(),
                active: 0,
            }),
            wake: Condvar::new(),
        };
        let threads = super::remote::PARALLEL_REQUESTS.min(selected.len()).max(1);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    while let Some((g, upstream)) = walk.next(config, graph) {
                        let gate = &config.gates[g];
                        let files = inputs.of(g);
                        let key = fp.material(gate, files, upstream, BTreeMap::new()).key();
                        let hashes = self.prefetch_one(gate, &key);
                        walk.done(g, hashes, graph, selected, &eligible);
                    }
                });
            }
        });
    }

    /// The artifact hashes `gate` will have once replayed from `key`, fetching the entry from
    /// the remote into the local store when only the remote has it. None: it will run.
    fn prefetch_one(&self, gate: &Gate, key: &CacheKey) -> Option<Artifacts> {
        let from_index = self
            .index
            .lock()
            .ok()
            .and_then(|i| i.get(&gate.name).cloned())
            .filter(|r| r.key == *key);
        if let Some(record) = from_index {
            return predicted(gate, &record.files);
        }
        let entry = match self.local.get(key) {
            Ok(Some(data)) => Entry::decode(&data, key).ok()?,
            _ => {
                let (entry, data) = self.remote_fetch(&gate.name, key)?;
                if let Err(e) = self.put_local(&gate.name, key, &data) {
                    self.warn(format!(
                        "cannot keep the remote cache entry of gate `{}` locally: {e}",
                        gate.name
                    ));
                    return None;
                }
                entry
            }
        };
        predicted(gate, &super::digests(gate, &entry.manifest.files))
    }
}

/// A gate's artifacts as `Fingerprinter::artifact_hashes` gives them: path -> hex hash.
type Artifacts = BTreeMap<String, Option<String>>;

/// The artifact digests of `gate` after a replay of an entry holding `files` (path, digest),
/// a path named exactly that it lacks being absent; None when the lookup will not replay it
/// (it lacks one, and the gate does not allow empty ones).
fn predicted(gate: &Gate, files: &[(String, [u8; 32])]) -> Option<Artifacts> {
    let mut out: Artifacts = files
        .iter()
        .map(|(p, h)| (p.clone(), Some(crate::fingerprint::hex(h))))
        .collect();
    for e in gate
        .artifact_entries()
        .filter(|e| !crate::config::is_glob(e))
    {
        if !files.iter().any(|(p, _)| super::at_or_under(p, e)) {
            if !gate.allow_empty {
                return None;
            }
            out.insert(e.to_owned(), None);
        }
    }
    Some(out)
}

/// The prefetch's walk over the graph: a gate is ready when all its needs are predicted.
struct Walk {
    state: Mutex<WalkState>,
    wake: Condvar,
}

struct WalkState {
    ready: VecDeque<usize>,
    /// Needs not yet predicted, per selected gate.
    waiting: HashMap<usize, usize>,
    known: HashMap<usize, Artifacts>,
    /// Gates being worked on (their dependents may still become ready).
    active: usize,
}

impl Walk {
    /// The next ready gate with its upstream hashes; None when the walk is over.
    fn next(
        &self,
        config: &Config,
        graph: &GateGraph,
    ) -> Option<(usize, BTreeMap<String, Artifacts>)> {
        let mut st = self.state.lock().ok()?;
        loop {
            if let Some(g) = st.ready.pop_front() {
                st.active += 1;
                let gate = &config.gates[g];
                let upstream = graph
                    .needs(g)
                    .map(|n| {
                        let need = &config.gates[n];
                        let keyed = ArtifactSpec::of_entries(need, gate.keyed_artifacts_of(need));
                        let mut hashes = st.known.get(&n).cloned().unwrap_or_default();
                        hashes.retain(|a, _| keyed.contains(a));
                        (need.name.clone(), hashes)
                    })
                    .collect();
                return Some((g, upstream));
            }
            if st.active == 0 {
                return None;
            }
            st = self.wake.wait(st).ok()?;
        }
    }

    fn done(
        &self,
        g: usize,
        hashes: Option<Artifacts>,
        graph: &GateGraph,
        selected: &BTreeSet<usize>,
        eligible: &dyn Fn(usize) -> bool,
    ) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        st.active -= 1;
        if let Some(h) = hashes {
            st.known.insert(g, h);
            for d in graph.dependents(g).filter(|d| selected.contains(d)) {
                let now_ready = st.waiting.get_mut(&d).is_some_and(|n| {
                    *n -= 1;
                    *n == 0
                });
                if now_ready && eligible(d) {
                    st.ready.push_back(d);
                }
            }
        }
        drop(st);
        self.wake.notify_all();
    }
}

#[cfg(all(test, feature = "pqc"))]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// An in-memory remote.
    #[derive(Clone, Default)]
    struct Mem(Arc<Mutex<HashMap<CacheKey, Vec<u8>>>>);

    impl Store for Mem {
        fn name(&self) -> &'static str {
            "memory"
        }
        fn get(&self, key: &CacheKey) -> std::io::Result<Option<Vec<u8>>> {
            Ok(self.0.lock().unwrap().get(key).cloned())
        }
        fn put(&self, key: &CacheKey, data: &[u8]) -> std::io::Result<()> {
            self.0.lock().unwrap().insert(*key, data.to_vec());
            Ok(())
        }
    }

    /// The prefetch predicts the keys of gates whose needs are cached from the entries'
    /// manifests; they must equal the keys computed from the artifacts on disk after a replay
    /// (as `Scheduler::material` does), or the prefetch would fetch nothing useful.
    #[cfg(feature = "pqc")]
    #[test]
    fn prefetch_walks_through_cached_needs() {
        use crate::graph::GateGraph;
        let gates = "version = 1\n[gates.a]\nrun = \"x\"\ninputs = [\"src/*\"]\nartifacts = [\"out/a.txt\"]\n\
                     [gates.b]\nrun = \"y\"\nneeds = [\"a\"]\nartifacts = [\"out/b.txt\"]\n\
                     [gates.c]\nrun = \"z\"\nneeds = [\"b\"]\nartifacts = [\"out/c.txt\"]\n";
        let key_dir = tempfile::tempdir().unwrap();
        let (key_path, _, _) = crate::signing::keygen(&key_dir.path().join("ci")).unwrap();
        let secret = std::fs::read_to_string(key_path).unwrap();
        let mut trusted = crate::signing::TrustedKeys::default();
        trusted.add(
            "ci.pub",
            crate::signing::Signer::parse(&secret)
                .unwrap()
                .public()
                .to_vec(),
        );
        let mem = Mem::default();
        let setup = |dir: &std::path::Path| {
            std::fs::create_dir_all(dir.join("src")).unwrap();
            std::fs::write(dir.join("src/in.txt"), "input").unwrap();
            std::fs::write(dir.join("gates.toml"), gates).unwrap();
            let config = crate::config::load(&dir.join("gates.toml"))
                .map_err(|e| e.render())
                .unwrap();
            let graph = GateGraph::build(&config).map_err(|_| "graph").unwrap();
            let selected: BTreeSet<usize> = (0..config.gates.len()).collect();
            let inputs = crate::fingerprint::expand(&config, &selected)
                .map_err(|_| "inputs")
                .unwrap();
            let fp = Fingerprinter::new(
                dir,
                crate::fingerprint::StatCache::load(&dir.join("stat")),
                config.settings.env_mode,
            );
            (config, graph, selected, inputs, fp)
        };
        let key_of = |config: &Config,
                      graph: &GateGraph,
                      inputs: &ExpandedInputs,
                      fp: &Fingerprinter,
                      g: usize| {
            let upstream = graph
                .needs(g)
                .map(|n| {
                    (
                        config.gates[n].name.clone(),
                        fp.artifact_hashes(&config.gates[n]),
                    )
                })
                .collect();
            let files = inputs.of(g);
            let material = fp.material(&config.gates[g], files, upstream, BTreeMap::new());
            (material.key(), material)
        };

        // A trusted writer "runs" a, b and c in order and publishes each.
        let origin = tempfile::tempdir().unwrap();
        let (config, graph, _, inputs, fp) = setup(origin.path());
        let writer = Cache::open(origin.path(), &origin.path().join("cache")).with_remote_store(
            Remote::new(Box::new(mem.clone()), "mem", true, true),
            Some(trusted.clone()),
            Some(crate::signing::Signer::parse(&secret).unwrap()),
        );
        let mut keys = Vec::new();
        for (g, name) in ["a", "b", "c"].iter().enumerate() {
            std::fs::create_dir_all(origin.path().join("out")).unwrap();
            std::fs::write(
                origin.path().join(format!("out/{name}.txt")),
                format!("made by {name}"),
            )
            .unwrap();
            let (key, material) = key_of(&config, &graph, &inputs, &fp, g);
            writer.store(&config.gates[g], &key, &material, &fp, "now");
            keys.push(key);
        }
        assert_eq!(mem.0.lock().unwrap().len(), 3);

        // A fresh clone prefetches all three, though only a's key is known from its inputs.
        let clone = tempfile::tempdir().unwrap();
        let (config, graph, selected, inputs, fp) = setup(clone.path());
        let cache = Cache::open(clone.path(), &clone.path().join("cache")).with_remote_store(
            Remote::new(Box::new(mem.clone()), "mem", true, false),
            Some(trusted.clone()),
            None,
        );
        cache.prefetch(&config, &graph, &selected, &inputs, &fp);
        assert!(cache.take_warnings().is_empty());
        let local = Cache::open(clone.path(), &clone.path().join("cache"));
        for (g, key) in keys.iter().enumerate() {
            assert!(
                local.contains(&config.gates[g], key),
                "gate {g} was prefetched into the local store"
            );
        }
    }
}
