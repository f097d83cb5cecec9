//! A snapshot of the last validated config, so a run whose gates.toml did not change skips
//! parsing and validating it (at 2,000 gates that was a quarter of a no-op run's instructions:
//! the TOML parser alone, then every SPEC 2 check).
//!
//! The snapshot is `.runner/config.snapshot` beside gates.toml: a checksummed `bincodec` file
//! holding a key and the validated `Config` in a compact binary encoding (JSON was tried: at
//! 2,000 gates decoding it cost 37M instructions against 72M for parsing gates.toml). It is used only when the key matches, and
//! the key covers everything `load::parse` depends on: the file's bytes, the name it is
//! reported under, the folder paths resolve against, and the runner executable itself (its
//! version, size, modification time and inode), so a rebuilt or upgraded runner never reads a
//! snapshot an older one wrote. Parsing is a pure function of those, so a matching snapshot is
//! exactly what parsing would give. Anything else (missing, torn, another key, a decoding
//! error) means: parse as usual, then write a new snapshot.
//!
//! A snapshot is written only when decoding it gives back exactly the config it was made from
//! (compared by `Debug` text, so a float or duration that would not survive the trip is caught)
//! and never for an invalid config. Failing to write it changes nothing but speed.

use std::ops::Range;
use std::os::unix::ffi::OsStringExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::model::{
    BaselineThreshold, CacheSettings, Config, EnvMode, Gate, InputGlob, NarrowedNeed,
    RemoteCacheSettings, Settings, SigningSettings, Statistic, Threshold,
};
use super::threshold_expr::{BaselineExpr, Op, Scale, ThresholdExpr};
use crate::bincodec::{DecodeError, Reader, Writer, write_atomic};
use crate::kinds::GateKind;
use crate::vocab::{MetricPath, Mode};

const MAGIC: &[u8] = b"runner-config-snapshot-5\n";

/// Where the snapshot of the config in `root` lives.
#[must_use]
pub(super) fn path(root: &Path) -> PathBuf {
    root.join(".runner").join("config.snapshot")
}

/// The key of a config: what `load::parse` reads, and which runner parses it.
#[must_use]
pub(super) fn key(file: &str, source: &str, root: &Path) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(env!("CARGO_PKG_VERSION").as_bytes());
    field(&executable_identity());
    field(file.as_bytes());
    field(root.as_os_str().as_encoded_bytes());
    field(source.as_bytes());
    *h.finalize().as_bytes()
}

/// The running executable's version, size, modification time and inode: a rebuilt runner
/// (whose config model may differ) gets other snapshots. All zero when unknown, which is still
/// safe within one executable.
fn executable_identity() -> Vec<u8> {
    let meta = std::env::current_exe().and_then(std::fs::metadata);
    let mut out = Vec::with_capacity(40);
    if let Ok(m) = meta {
        for v in [m.dev(), m.ino(), m.size()] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&m.mtime().to_le_bytes());
        out.extend_from_slice(&m.mtime_nsec().to_le_bytes());
    }
    out
}

/// The config stored under `key`, if the snapshot at `file` holds it. Its text is not held
/// (`Config::source_text` reads it when a diagnostic needs it).
#[must_use]
pub(super) fn read(file: &Path, key: &[u8; 32]) -> Option<Config> {
    let data = std::fs::read(file).ok()?;
    let mut r = Reader::open(&data, MAGIC).ok()?;
    if r.raw(32).ok()? != key {
        return None;
    }
    let config = Config::decode(&mut r).ok()?;
    if !r.is_empty() {
        return None;
    }
    Some(config)
}

/// Store `config` under `key`, if it survives the round trip exactly. Errors are ignored: the
/// snapshot only saves time.
pub(super) fn write(file: &Path, key: &[u8; 32], config: &Config) {
    let mut body = Writer::new(b"");
    config.encode(&mut body);
    let body = body.into_body();
    let mut r = Reader::from_body(&body);
    let Ok(mut back) = Config::decode(&mut r) else {
        return;
    };
    back.source.clone_from(&config.source);
    if !r.is_empty() || debug_digest(&back) != debug_digest(config) {
        return;
    }
    let mut w = Writer::new(MAGIC);
    w.raw(key);
    w.raw(&body);
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = write_atomic(file, &w.finish());
}

/// BLAKE3 of `value`'s `Debug` text, written through a small buffer into the hasher: comparing
/// two configs' texts this way holds no text (at 100,000 gates each was 130 MB). `Debug` writes
/// a few bytes at a time (a field name, a comma); handed to the hasher one by one they cost 61%
/// of writing the snapshot, which was 47% of the runner's instructions in a cold run of 2,500
/// gates.
fn debug_digest(value: &impl std::fmt::Debug) -> [u8; 32] {
    struct Sink {
        hasher: blake3::Hasher,
        buf: Vec<u8>,
    }
    impl std::fmt::Write for Sink {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            if self.buf.len() + s.len() > self.buf.capacity() {
                self.hasher.update(&self.buf);
                self.buf.clear();
            }
            if s.len() >= self.buf.capacity() {
                self.hasher.update(s.as_bytes());
            } else {
                self.buf.extend_from_slice(s.as_bytes());
            }
            Ok(())
        }
    }
    let mut sink = Sink {
        hasher: blake3::Hasher::new(),
        buf: Vec::with_capacity(DIGEST_BUFFER),
    };
    let _ = std::fmt::write(&mut sink, format_args!("{value:?}"));
    sink.hasher.update(&sink.buf);
    *sink.hasher.finalize().as_bytes()
}

/// How many bytes of `Debug` text `debug_digest` gathers before hashing them.
const DIGEST_BUFFER: usize = 16 * 1024;

/// A value in the snapshot's encoding.
trait Codec: Sized {
    fn encode(&self, w: &mut Writer);
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

impl Codec for String {
    fn encode(&self, w: &mut Writer) {
        w.bytes(self.as_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        String::from_utf8(r.bytes()?.to_vec()).map_err(|_| DecodeError::Truncated)
    }
}

impl Codec for PathBuf {
    fn encode(&self, w: &mut Writer) {
        w.bytes(self.as_os_str().as_encoded_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(PathBuf::from(std::ffi::OsString::from_vec(
            r.bytes()?.to_vec(),
        )))
    }
}

impl Codec for u64 {
    fn encode(&self, w: &mut Writer) {
        w.u64(*self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u64()
    }
}

impl Codec for u32 {
    fn encode(&self, w: &mut Writer) {
        w.u32(*self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u32()
    }
}

impl Codec for usize {
    fn encode(&self, w: &mut Writer) {
        w.u64(*self as u64);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        usize::try_from(r.u64()?).map_err(|_| DecodeError::Truncated)
    }
}

impl Codec for bool {
    fn encode(&self, w: &mut Writer) {
        w.raw(&[u8::from(*self)]);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.raw(1)? {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(DecodeError::Truncated),
        }
    }
}

impl Codec for Duration {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.as_secs());
        w.u32(self.subsec_nanos());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let secs = r.u64()?;
        let nanos = r.u32()?;
        if nanos >= 1_000_000_000 {
            return Err(DecodeError::Truncated);
        }
        Ok(Duration::new(secs, nanos))
    }
}

impl Codec for Range<usize> {
    fn encode(&self, w: &mut Writer) {
        self.start.encode(w);
        self.end.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(usize::decode(r)?..usize::decode(r)?)
    }
}

impl<T: Codec> Codec for Option<T> {
    fn encode(&self, w: &mut Writer) {
        match self {
            None => false.encode(w),
            Some(v) => {
                true.encode(w);
                v.encode(w);
            }
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(if bool::decode(r)? {
            Some(T::decode(r)?)
        } else {
            None
        })
    }
}

impl<T: Codec> Codec for Box<T> {
    fn encode(&self, w: &mut Writer) {
        (**self).encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        T::decode(r).map(Box::new)
    }
}

impl<T: Codec> Codec for Vec<T> {
    fn encode(&self, w: &mut Writer) {
        self.len().encode(w);
        for v in self {
            v.encode(w);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let n = usize::decode(r)?;
        // A damaged length must not reserve gigabytes: at most 16 bytes of memory for each
        // byte left to decode (every element takes some), else grow as elements decode. The
        // exact size matters at 100,000 gates: doubling from 1,024 left a third unused.
        let bound = r.remaining().saturating_mul(16) / std::mem::size_of::<T>().max(1);
        let mut out = Vec::with_capacity(n.min(bound.max(1024)));
        for _ in 0..n {
            out.push(T::decode(r)?);
        }
        Ok(out)
    }
}

impl<T: Codec> Codec for Box<[T]> {
    fn encode(&self, w: &mut Writer) {
        self.len().encode(w);
        for v in self {
            v.encode(w);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Vec::decode(r).map(Vec::into_boxed_slice)
    }
}

impl<A: Codec, B: Codec> Codec for (A, B) {
    fn encode(&self, w: &mut Writer) {
        self.0.encode(w);
        self.1.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok((A::decode(r)?, B::decode(r)?))
    }
}

/// Encode and decode a struct field by field (both directions listed once).
macro_rules! codec_struct {
    ($ty:ident { $($field:ident),* $(,)? } $(, $extra:ident: $value:expr)?) => {
        impl Codec for $ty {
            fn encode(&self, w: &mut Writer) {
                $(self.$field.encode(w);)*
            }
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok($ty {
                    $($field: Codec::decode(r)?,)*
                    $($extra: $value,)?
                })
            }
        }
    };
}

codec_struct!(Config { file_name, root, settings, gates }, source: String::new());
codec_struct!(Settings {
    cache_dir,
    history,
    jobs,
    graduate_after_days,
    remote_cache,
    signing,
    env_mode,
    resources,
    cache
});
codec_struct!(CacheSettings { max_size, max_age });
codec_struct!(RemoteCacheSettings {
    url,
    team,
    token_env,
    read,
    write,
    timeout
});
codec_struct!(SigningSettings {
    key_env,
    trusted_keys
});
codec_struct!(InputGlob {
    pattern,
    exclude,
    span
});
codec_struct!(Threshold { metric, expr });
codec_struct!(NarrowedNeed {
    gate,
    artifacts,
    span
});
codec_struct!(ThresholdExpr { op, limit });
codec_struct!(Gate {
    name,
    description,
    kind,
    kind_json,
    mode,
    needs,
    inputs,
    allow_empty,
    gitignore,
    env,
    pass_env,
    tool_dirs,
    runtime_inputs,
    narrowed,
    artifacts,
    metrics,
    junit,
    timeout,
    retries,
    uses,
    cache,
    tags,
    skip_unless_env,
    graduate_after_days,
    thresholds,
    baselines,
    export,
    span,
});
codec_struct!(BaselineThreshold {
    metric,
    expr,
    window,
    branch,
    min_samples,
    min_delta,
    statistic
});
codec_struct!(BaselineExpr { op, scale });

impl Codec for Scale {
    fn encode(&self, w: &mut Writer) {
        let (factor, x) = match *self {
            Scale::Factor(f) => (true, f),
            Scale::Offset(d) => (false, d),
        };
        factor.encode(w);
        x.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let factor = bool::decode(r)?;
        let x = f64::decode(r)?;
        Ok(if factor {
            Scale::Factor(x)
        } else {
            Scale::Offset(x)
        })
    }
}

impl Codec for Statistic {
    fn encode(&self, w: &mut Writer) {
        let i = Statistic::ALL
            .iter()
            .position(|(_, s)| s == self)
            .unwrap_or(0);
        w.raw(&[u8::try_from(i).unwrap_or(0)]);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Statistic::ALL
            .get(usize::from(r.raw(1)?[0]))
            .map(|(_, s)| *s)
            .ok_or(DecodeError::Truncated)
    }
}

/// A metric path as its text, parsed again on decoding (it parsed when the config was loaded).
impl Codec for MetricPath {
    fn encode(&self, w: &mut Writer) {
        w.bytes(self.as_str().as_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        MetricPath::parse(&String::decode(r)?).map_err(|_| DecodeError::Truncated)
    }
}

impl Codec for f64 {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.to_bits());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(f64::from_bits(r.u64()?))
    }
}

impl Codec for EnvMode {
    fn encode(&self, w: &mut Writer) {
        (*self == EnvMode::Loose).encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(if bool::decode(r)? {
            EnvMode::Loose
        } else {
            EnvMode::Strict
        })
    }
}

impl Codec for Mode {
    fn encode(&self, w: &mut Writer) {
        (*self == Mode::Blocking).encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(if bool::decode(r)? {
            Mode::Blocking
        } else {
            Mode::Observational
        })
    }
}

const OPS: [Op; 6] = [Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::Eq, Op::Ne];

impl Codec for Op {
    fn encode(&self, w: &mut Writer) {
        let i = OPS.iter().position(|o| o == self).unwrap_or(0);
        w.raw(&[u8::try_from(i).unwrap_or(0)]);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        OPS.get(usize::from(r.raw(1)?[0]))
            .copied()
            .ok_or(DecodeError::Truncated)
    }
}

/// Command gates (nearly all of them) as their command; the built-in kinds, rare, as the JSON
/// their settings already serialise to for the cache key.
impl Codec for GateKind {
    fn encode(&self, w: &mut Writer) {
        match self {
            GateKind::Command(command) => {
                true.encode(w);
                command.run.encode(w);
            }
            other => {
                false.encode(w);
                serde_json::to_string(other).unwrap_or_default().encode(w);
            }
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        if bool::decode(r)? {
            Ok(GateKind::Command(Box::new(crate::kinds::CommandSpec {
                run: String::decode(r)?,
            })))
        } else {
            serde_json::from_str(&String::decode(r)?).map_err(|_| DecodeError::Truncated)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn the_debug_digest_is_the_hash_of_the_whole_debug_text_however_it_is_written() {
        let whole =
            |value: &dyn std::fmt::Debug| *blake3::hash(format!("{value:?}").as_bytes()).as_bytes();
        // Shorter than the buffer; many small pieces across several buffers; one piece longer
        // than the buffer, between small ones.
        let short = ("a", 1, [2.5f64]);
        let many: Vec<String> = (0..5_000).map(|i| format!("gate-{i}")).collect();
        let long = ("x", "y".repeat(3 * DIGEST_BUFFER + 7), "z");
        assert_eq!(debug_digest(&short), whole(&short));
        assert_eq!(debug_digest(&many), whole(&many));
        assert_eq!(debug_digest(&long), whole(&long));
        // A single byte apart, anywhere, tells them apart.
        let mut other = many.clone();
        other[4_321].push('!');
        assert_ne!(debug_digest(&many), debug_digest(&other));
    }

    const EVERY_KIND: &str = r#"
version = 1

[settings]
jobs = 3
graduate_after_days = 5

[settings.remote_cache]
url = "http://127.0.0.1:3000"
team = "t"
token_env = "TOK"
timeout = "1500ms"

[settings.signing]
key_env = "KEY"
trusted_keys = ["keys/ci.pub"]

[settings.resources]
gpu = 2
db = 1
[settings.cache]
max_size = "1.5GiB"
max_age = "7d12h"

[gates.build]
run = "make"
inputs = ["src/**/*.c", "!src/gen/*.c"]
artifacts = ["out/a.json", "out/junit.xml"]
metrics = "out/a.json"
junit = "out/junit.xml"
thresholds = { ratio = ">= 0.7", p95 = "<= 49.999999999999993", zero = "== 0" }
export = { "a.b" = "p95" }
timeout = "90s"
env = ["B", "A"]
tags = ["fast"]
skip_unless_env = { CI = "true" }
description = "builds"
retries = 2
uses = ["gpu", "db", "gpu"]

[gates.schema]
kind = "schema"
schema = "s.json"
inputs = ["docs/*.json"]
needs = ["build"]

[gates.policy]
kind = "policy"
policy = ["p.rego"]
input = "in.json"
data = ["d.json"]
query = "data.x.allow"
expect = { ok = true, n = 0.1, list = [1, 2.5e-10] }

[gates.checklist]
kind = "checklist"
file = "c.md"
require = ["one", "two"]
mode = "observational"
graduate_after_days = 2

[gates.http]
kind = "http"
url = "http://127.0.0.1:1/x"
method = "POST"
body = "{}"
expect_headers = { "X-A" = "b" }
service = { run = "serve", ready_url = "http://127.0.0.1:1/", ready_timeout = "3s" }

[gates.pqc]
kind = "pqc-bench"
iterations = 10
"#;

    #[test]
    fn a_snapshot_gives_back_exactly_the_parsed_config() {
        let dir = tempfile::tempdir().unwrap();
        let config = parse("gates.toml", EVERY_KIND, dir.path()).expect("valid");
        let file = path(dir.path());
        let k = key("gates.toml", EVERY_KIND, dir.path());
        write(&file, &k, &config);
        let mut back = read(&file, &k).expect("snapshot written and read");
        // The text is not held (it is the file itself); everything else comes back.
        assert!(back.source.is_empty());
        back.source.clone_from(&config.source);
        assert_eq!(format!("{back:?}"), format!("{config:?}"));
    }

    #[test]
    fn another_key_or_a_damaged_file_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let config = parse("gates.toml", EVERY_KIND, dir.path()).expect("valid");
        let file = path(dir.path());
        let k = key("gates.toml", EVERY_KIND, dir.path());
        write(&file, &k, &config);
        let edited = EVERY_KIND.replace("jobs = 3", "jobs = 4");
        assert_ne!(key("gates.toml", &edited, dir.path()), k);
        assert!(read(&file, &key("gates.toml", &edited, dir.path())).is_none());
        assert_ne!(key("other.toml", EVERY_KIND, dir.path()), k);
        assert_ne!(key("gates.toml", EVERY_KIND, Path::new("/elsewhere")), k);
        let mut bytes = std::fs::read(&file).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(&file, &bytes).unwrap();
        assert!(read(&file, &k).is_none());
    }

    #[test]
    fn a_config_that_would_not_survive_the_trip_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = parse("gates.toml", EVERY_KIND, dir.path()).expect("valid");
        // The http service's ready_timeout is stored in whole milliseconds.
        let http = config.gates.iter_mut().find(|g| g.name == "http").unwrap();
        let crate::kinds::GateKind::Http(spec) = &mut http.kind else {
            panic!("http gate")
        };
        spec.service.as_mut().unwrap().ready_timeout = std::time::Duration::from_micros(1500);
        let file = path(dir.path());
        let k = key("gates.toml", EVERY_KIND, dir.path());
        write(&file, &k, &config);
        assert!(read(&file, &k).is_none());
        assert!(!file.exists());
    }
}
