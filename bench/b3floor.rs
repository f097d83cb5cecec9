//! The hashing floor: walk the given folders, read every regular file and BLAKE3 its bytes, files
//! spread over a rayon pool (RAYON_NUM_THREADS, default one thread per CPU), as a content-hashing
//! tool must on a cold or touch-everything run. Prints "<files> files <bytes> bytes <xor of
//! the first 8 bytes of every hash>" so the work cannot be optimised away.
//!
//! bench/run.sh builds it as the only source of a tiny crate in the bench's temp folder
//! (dependencies blake3 and rayon, from the local cargo registry when possible).
use rayon::prelude::*;
use std::path::PathBuf;

fn walk(dir: PathBuf, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(&dir) else { return };
    for e in rd.flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            walk(e.path(), out);
        } else if t.is_file() {
            out.push(e.path());
        }
    }
}

fn main() {
    let mut files = Vec::new();
    for d in std::env::args().skip(1) {
        walk(PathBuf::from(d), &mut files);
    }
    let (bytes, acc) = files
        .par_iter()
        .map(|p| {
            let data = std::fs::read(p).expect("read");
            let h = blake3::hash(&data);
            let mut first = [0u8; 8];
            first.copy_from_slice(&h.as_bytes()[..8]);
            (data.len() as u64, u64::from_le_bytes(first))
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 ^ b.1));
    println!("{} files {} bytes {:016x}", files.len(), bytes, acc);
}
