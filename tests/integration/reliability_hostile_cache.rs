//! Hostile local cache content: hand-crafted, checksum-valid entries placed under the key the
//! gate will compute, holding absolute paths, `..`, a path through a symlinked `out/` folder,
//! a symlinked artifact, enormous declared sizes, and a multi-gigabyte sparse file. Each is
//! rejected with a warning, nothing is written outside the repository, and the gate runs.

use std::path::Path;
use std::time::Duration;

use runner::cache::{Entry, FileRecord, Manifest};
use runner::fingerprint::{CacheKey, KeyMaterial, hex};

use crate::harness::Repo;
use crate::reliability_support::{explain_key, run_measuring_memory, walk, warnings};

/// One gate; its command removes a planted `out` symlink first, so that running it (the
/// expected outcome) never writes outside either.
fn repo() -> Repo {
    let repo = Repo::new().gates(
        r#"
[gates.g]
run = "echo g >> runs.log; rm -f out; mkdir -p out; echo real > out/g.txt"
inputs = ["src/in.txt"]
artifacts = ["out/g.txt"]
"#,
    );
    repo.write("src/in.txt", "input\n");
    repo
}

/// A checksum-valid entry for `key` holding `files` (path, content), with honest sizes and
/// hashes unless `size` overrides the first file's declared size.
pub(crate) fn entry(key: &str, files: &[(&str, &[u8])], size: Option<u64>) -> Vec<u8> {
    let records = files
        .iter()
        .enumerate()
        .map(|(i, (path, bytes))| FileRecord {
            path: (*path).to_owned(),
            size: if i == 0 {
                size.unwrap_or(bytes.len() as u64)
            } else {
                bytes.len() as u64
            },
            executable: false,
            hash: hex(blake3::hash(bytes).as_bytes()),
            link: None,
        })
        .collect();
    Entry {
        manifest: Manifest {
            key: key.to_owned(),
            gate: "g".to_owned(),
            created_at: "2026-11-24T10:00:00Z".to_owned(),
            files: records,
            log_bytes: 4,
            material: KeyMaterial::default(),
            signature: None,
        },
        contents: files.iter().map(|(_, b)| b.to_vec()).collect(),
        log: b"evil".to_vec(),
    }
    .encode()
}

pub(crate) fn plant(repo: &Repo, key: &str, data: &[u8]) {
    let dir = repo.path(&format!("cache/entries/{}", &key[..2]));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(key), data).unwrap();
    let _ = std::fs::remove_file(repo.path("cache/index.bin"));
}

/// Run, and check: exit 0, the gate ran (not cached) and wrote its real artifact, one warning
/// containing `why`, and `outside` is still empty.
#[track_caller]
fn assert_rejected(repo: &Repo, outside: &Path, why: &str) {
    let out = repo.run(&["run"]);
    out.expect_code(0);
    let w = warnings(&out.stderr);
    assert_eq!(w.len(), 1, "one warning:\n{}", out.stderr);
    assert!(w[0].contains(why) && w[0].contains("gate `g`"), "{}", w[0]);
    assert_eq!(repo.status("g"), ("pass".into(), false));
    assert_eq!(repo.read("out/g.txt"), "real\n");
    assert_eq!(
        walk(outside),
        Vec::<std::path::PathBuf>::new(),
        "nothing written outside"
    );
    assert_ne!(
        repo.read("cache/logs/g.log"),
        "evil",
        "the planted log is not replayed"
    );
}

#[test]
fn absolute_and_dotdot_paths_are_rejected_before_anything_is_written() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("pwned.txt");
    for path in [
        target.display().to_string(),
        format!("../../../../../../../..{}", target.display()),
        "out/../../escape.txt".to_owned(),
        "out/./g.txt/..".to_owned(),
    ] {
        let repo = repo();
        let key = explain_key(&repo, "g");
        // The legitimate artifact comes first: a partial restore would write it.
        plant(
            &repo,
            &key,
            &entry(&key, &[("out/g.txt", b"evil\n"), (&path, b"evil\n")], None),
        );
        assert_rejected(&repo, outside.path(), "unsafe path");
        assert!(!repo.path("../escape.txt").exists(), "{path}");
    }
}

#[test]
fn a_symlinked_out_folder_is_not_written_through() {
    let outside = tempfile::tempdir().unwrap();
    let repo = repo();
    let key = explain_key(&repo, "g");
    std::os::unix::fs::symlink(outside.path(), repo.path("out")).unwrap();
    plant(&repo, &key, &entry(&key, &[("out/g.txt", b"evil\n")], None));
    assert_rejected(&repo, outside.path(), "symlink");
}

#[test]
fn a_symlinked_artifact_is_not_written_through() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    let repo = repo();
    let key = explain_key(&repo, "g");
    std::fs::create_dir_all(repo.path("out")).unwrap();
    std::os::unix::fs::symlink(&victim, repo.path("out/g.txt")).unwrap();
    plant(&repo, &key, &entry(&key, &[("out/g.txt", b"evil\n")], None));
    // The gate's own `echo > out/g.txt` would follow the link: make it replace it instead.
    let text = repo
        .read("gates.toml")
        .replace("rm -f out;", "rm -f out/g.txt;");
    repo.write("gates.toml", &text);
    let key = explain_key(&repo, "g");
    plant(&repo, &key, &entry(&key, &[("out/g.txt", b"evil\n")], None));
    assert_rejected(&repo, outside.path(), "symlink");
}

#[test]
fn enormous_declared_sizes_are_rejected() {
    let outside = tempfile::tempdir().unwrap();
    for size in [u64::MAX, 1 << 40, 6] {
        let repo = repo();
        let key = explain_key(&repo, "g");
        plant(
            &repo,
            &key,
            &entry(&key, &[("out/g.txt", b"evil\n")], Some(size)),
        );
        assert_rejected(&repo, outside.path(), "rejected");
    }
}

#[test]
fn a_huge_file_under_an_entry_name_is_not_read_into_memory() {
    let repo = repo();
    let key = explain_key(&repo, "g");
    plant(&repo, &key, b"");
    // A 3 GiB sparse file: costs no disk, but reading it would cost 3 GiB of memory.
    let path = repo.path(&format!("cache/entries/{}/{key}", &key[..2]));
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    let (code, peak_kib, stderr) =
        run_measuring_memory(&repo, &["run"], &[], Duration::from_secs(60));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        peak_kib < 100 * 1024,
        "the runner's peak memory was {peak_kib} KiB:\n{stderr}"
    );
    let w = warnings(&stderr);
    assert_eq!(w.len(), 1, "{stderr}");
    assert!(
        w[0].contains("more than any entry") && w[0].contains("gate `g`"),
        "{}",
        w[0]
    );
    assert_eq!(repo.status("g"), ("pass".into(), false));
    assert_eq!(repo.read("out/g.txt"), "real\n");
}

#[test]
fn an_entry_for_another_key_is_not_replayed_under_this_one() {
    // A valid entry of some other key, renamed to this gate's key (the cache-poisoning move
    // of copying a file): the key inside does not match.
    let outside = tempfile::tempdir().unwrap();
    let repo = repo();
    let key = explain_key(&repo, "g");
    let other = CacheKey([0x42; 32]).hex();
    plant(
        &repo,
        &key,
        &entry(&other, &[("out/g.txt", b"evil\n")], None),
    );
    assert_rejected(&repo, outside.path(), "rejected");
}
