//! A tiny length-prefixed binary codec with a trailing BLAKE3 checksum, for the runner's own
//! state files (stat cache, cache index): fast to read, and a torn or flipped file is detected.

use std::io;
use std::path::Path;

/// Appends fields to a buffer.
#[derive(Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    #[must_use]
    pub(crate) fn new(magic: &[u8]) -> Self {
        Writer {
            buf: magic.to_vec(),
        }
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.buf.extend_from_slice(v);
    }

    pub(crate) fn raw(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    /// Everything written, without a checksum (to embed in another file's body).
    #[must_use]
    pub(crate) fn into_body(self) -> Vec<u8> {
        self.buf
    }

    /// The encoded file: everything written, then the BLAKE3 of it.
    #[must_use]
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let sum = blake3::hash(&self.buf);
        self.buf.extend_from_slice(sum.as_bytes());
        self.buf
    }
}

/// Reads fields back; every read is bounds-checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

/// Why a state file could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("not a file of this kind (bad magic)")]
    Magic,
    #[error("checksum mismatch (the file is corrupt or truncated)")]
    Checksum,
    #[error("truncated")]
    Truncated,
    #[error("invalid content")]
    Invalid,
}

impl<'a> Reader<'a> {
    /// Check magic and checksum; returns a reader over the body.
    pub(crate) fn open(data: &'a [u8], magic: &[u8]) -> Result<Self, DecodeError> {
        if data.len() < magic.len() + 32 || !data.starts_with(magic) {
            return Err(if data.starts_with(magic) {
                DecodeError::Truncated
            } else {
                DecodeError::Magic
            });
        }
        let (body, sum) = data.split_at(data.len() - 32);
        if blake3::hash(body).as_bytes() != sum {
            return Err(DecodeError::Checksum);
        }
        Ok(Reader {
            buf: &body[magic.len()..],
        })
    }

    /// A reader over bytes that carry no magic or checksum (a body already checked).
    #[must_use]
    pub(crate) fn from_body(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(
            self.take(4)?
                .try_into()
                .map_err(|_| DecodeError::Truncated)?,
        ))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(
            self.take(8)?
                .try_into()
                .map_err(|_| DecodeError::Truncated)?,
        ))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(
            self.take(8)?
                .try_into()
                .map_err(|_| DecodeError::Truncated)?,
        ))
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    pub(crate) fn raw(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        self.take(n)
    }

    #[must_use]
    /// Bytes left to read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// A [`Reader`] over a file read as it is decoded, for state files whose decoded form is kept
/// (the stat cache: its 50 MB file at 100,000 gates is not held beside the map it becomes).
/// The checksum covers what was read: call [`StreamReader::finish`] and drop what was decoded
/// when it fails.
///
/// The body is read in chunks of [`STREAM_CHUNK`] bytes and each chunk is hashed whole as it
/// is read. Hashing field by field (three 8-byte numbers and a path per stat-cache entry) cost
/// more than the decoding: a quarter of a 2,500-gate no-op's instructions.
pub(crate) struct StreamReader<R> {
    inner: R,
    hasher: blake3::Hasher,
    /// Body bytes not read from `inner` yet (the checksum's 32 follow them).
    unread: u64,
    /// Body bytes read and hashed; those before `pos` were handed out.
    buf: Vec<u8>,
    pos: usize,
}

/// How many body bytes a [`StreamReader`] reads (and hashes) at a time.
const STREAM_CHUNK: usize = 64 * 1024;

impl<R: io::Read> StreamReader<R> {
    /// Check the magic of the `len` bytes `inner` holds.
    pub(crate) fn open(mut inner: R, len: u64, magic: &[u8]) -> Result<Self, DecodeError> {
        let fixed = magic.len() as u64 + 32;
        let mut head = vec![0; magic.len()];
        if inner.read_exact(&mut head).is_err() || head != magic {
            return Err(DecodeError::Magic);
        }
        if len < fixed {
            return Err(DecodeError::Truncated);
        }
        let mut hasher = blake3::Hasher::new();
        hasher.update(magic);
        Ok(StreamReader {
            inner,
            hasher,
            unread: len - fixed,
            buf: Vec::new(),
            pos: 0,
        })
    }

    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if (n as u64) > self.remaining() {
            return Err(DecodeError::Truncated);
        }
        let held = self.buf.len() - self.pos;
        if held < n {
            // Keep what is left of the chunk, then read the next one (or the rest of a field
            // longer than a chunk) behind it.
            self.buf.copy_within(self.pos.., 0);
            self.buf.truncate(held);
            self.pos = 0;
            let more = (n - held).max(STREAM_CHUNK) as u64;
            let more =
                usize::try_from(more.min(self.unread)).map_err(|_| DecodeError::Truncated)?;
            self.buf.resize(held + more, 0);
            self.inner
                .read_exact(&mut self.buf[held..])
                .map_err(|_| DecodeError::Truncated)?;
            self.hasher.update(&self.buf[held..]);
            self.unread -= more as u64;
        }
        let field = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(field)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(
            b.try_into().map_err(|_| DecodeError::Truncated)?,
        ))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(
            b.try_into().map_err(|_| DecodeError::Truncated)?,
        ))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, DecodeError> {
        let b = self.take(8)?;
        Ok(i64::from_le_bytes(
            b.try_into().map_err(|_| DecodeError::Truncated)?,
        ))
    }

    /// A length-prefixed field (valid until the next read).
    pub(crate) fn bytes(&mut self) -> Result<&[u8], DecodeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    /// `n` bytes (valid until the next read).
    pub(crate) fn raw(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        self.take(n)
    }

    /// Body bytes left to read.
    pub(crate) fn remaining(&self) -> u64 {
        self.unread + (self.buf.len() - self.pos) as u64
    }

    /// The whole body was read and the checksum matches it.
    pub(crate) fn finish(mut self) -> Result<(), DecodeError> {
        if self.remaining() != 0 {
            return Err(DecodeError::Invalid);
        }
        let mut sum = [0; 32];
        self.inner
            .read_exact(&mut sum)
            .map_err(|_| DecodeError::Truncated)?;
        if self.hasher.finalize().as_bytes() == &sum {
            Ok(())
        } else {
            Err(DecodeError::Checksum)
        }
    }
}

/// Write `data` to `path` atomically: a unique temporary name in the same folder, then rename.
/// The file is readable by its owner only (mode 0600, a temporary file's): for the runner's own
/// state. Files meant for people and other tools use [`write_atomic_shared`].
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    write_atomic_mode(path, data, None)
}

/// [`write_atomic`] for files meant for people and other tools (reports, `JUnit`, summaries,
/// metrics): created with mode 0666 less the umask, as `std::fs::write` or a shell redirection
/// would (0644 under umask 022), instead of 0600.
///
/// The mode is given to `open(2)` when the temporary file is created, and the kernel applies the
/// umask (and a folder's default ACL) there, so the process-wide umask is never read or set (it
/// cannot be read without setting it, which would race with other threads creating files).
pub(crate) fn write_atomic_shared(path: &Path, data: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    write_atomic_mode(path, data, Some(std::fs::Permissions::from_mode(0o666)))
}

fn write_atomic_mode(
    path: &Path,
    data: &[u8],
    mode: Option<std::fs::Permissions>,
) -> io::Result<()> {
    write_atomic_with(path, mode, |w| io::Write::write_all(w, data))
}

/// The buffered temporary file [`write_atomic_shared_with`] hands out. A concrete type, not
/// `dyn Write`: a serializer writes a few bytes at a time (a quote, a colon, a name), and each
/// write through a trait object was a call that could not be inlined (a fifth of the JSON
/// report's cost).
pub(crate) type AtomicOut = io::BufWriter<tempfile::NamedTempFile>;

/// [`write_atomic_shared`] of what `write` writes, streamed to the temporary file through a
/// buffer instead of built in memory first (a 100,000-gate report is tens of megabytes).
pub(crate) fn write_atomic_shared_with(
    path: &Path,
    write: impl FnOnce(&mut AtomicOut) -> io::Result<()>,
) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    write_atomic_with(path, Some(std::fs::Permissions::from_mode(0o666)), write)
}

/// Write through `write` into a temporary file beside `path`, then rename it over `path`.
fn write_atomic_with(
    path: &Path,
    mode: Option<std::fs::Permissions>,
    write: impl FnOnce(&mut AtomicOut) -> io::Result<()>,
) -> io::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    if let Some(mode) = mode {
        builder.permissions(mode);
    }
    let tmp = builder.tempfile_in(dir)?;
    let mut out = io::BufWriter::with_capacity(64 * 1024, tmp);
    write(&mut out)?;
    out.flush()?;
    let tmp = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn shared_files_follow_the_umask_and_state_files_stay_private() {
        let dir = tempfile::tempdir().unwrap();
        let mode = |name: &str| {
            std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        // What any new file of this process gets (the umask applied by the kernel).
        std::fs::write(dir.path().join("plain"), b"x").unwrap();
        write_atomic_shared(&dir.path().join("shared"), b"x").unwrap();
        assert_eq!(mode("shared"), mode("plain"));
        write_atomic(&dir.path().join("state"), b"x").unwrap();
        assert_eq!(mode("state"), 0o600);
        // Replacing a file gives the new one the mode of a new file, not the old one's.
        std::fs::set_permissions(
            dir.path().join("shared"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        write_atomic_shared(&dir.path().join("shared"), b"y").unwrap();
        assert_eq!(mode("shared"), mode("plain"));
        assert_eq!(std::fs::read(dir.path().join("shared")).unwrap(), b"y");
    }

    /// The streaming reader reads what `Reader` reads and sees the same corruptions: a flipped
    /// byte, a cut file, another kind of file.
    #[test]
    fn the_stream_reader_agrees_with_the_reader() {
        let mut w = Writer::new(b"TEST1");
        w.u32(7);
        w.bytes(b"hello");
        w.i64(-3);
        w.raw(&[9; 32]);
        let data = w.finish();
        fn open(d: &[u8]) -> Result<StreamReader<&[u8]>, DecodeError> {
            StreamReader::open(d, d.len() as u64, b"TEST1")
        }
        let read_all = |d: &[u8]| -> Result<(u32, Vec<u8>, i64), DecodeError> {
            let mut r = open(d)?;
            let v = (r.u32()?, r.bytes()?.to_vec(), r.i64()?);
            assert_eq!(r.raw(32)?, [9; 32]);
            assert_eq!(r.remaining(), 0);
            r.finish()?;
            Ok(v)
        };
        assert_eq!(read_all(&data).unwrap(), (7, b"hello".to_vec(), -3));
        let mut flipped = data.clone();
        flipped[8] ^= 1;
        assert!(matches!(read_all(&flipped), Err(DecodeError::Checksum)));
        assert!(matches!(
            read_all(&data[..data.len() - 3]),
            Err(DecodeError::Truncated)
        ));
        assert!(matches!(read_all(b"OTHER..."), Err(DecodeError::Magic)));
        // A body left unread is not a whole file read.
        let mut r = open(&data).unwrap();
        r.u32().unwrap();
        assert!(matches!(r.finish(), Err(DecodeError::Invalid)));
    }

    /// Fields across chunk boundaries, one longer than a chunk, from a source that gives a few
    /// bytes per read: the same values, and a flipped byte in a later chunk still fails the
    /// checksum.
    #[test]
    fn the_stream_reader_reads_across_chunks() {
        struct Trickle<'a>(&'a [u8]);
        impl io::Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = out.len().min(self.0.len()).min(7);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let long: Vec<u8> = (0..3 * STREAM_CHUNK + 5)
            .map(|i| u8::try_from(i % 253).expect("below 256"))
            .collect();
        let mut w = Writer::new(b"TEST1");
        for i in 0..20_000u64 {
            w.u64(i);
            w.bytes(format!("in/g{i:05}/f0.txt").as_bytes());
        }
        w.bytes(&long);
        w.i64(-1);
        let data = w.finish();
        // The long field is given back, not compared: a flipped byte in it must be found by
        // the checksum alone.
        let read_all = |d: &[u8]| -> Result<Vec<u8>, DecodeError> {
            let mut r = StreamReader::open(Trickle(d), d.len() as u64, b"TEST1")?;
            for i in 0..20_000u64 {
                assert_eq!(r.u64()?, i);
                assert_eq!(r.bytes()?, format!("in/g{i:05}/f0.txt").as_bytes());
            }
            let got = r.bytes()?.to_vec();
            assert_eq!(r.i64()?, -1);
            assert_eq!(r.remaining(), 0);
            assert!(matches!(r.u32(), Err(DecodeError::Truncated)));
            r.finish()?;
            Ok(got)
        };
        assert_eq!(read_all(&data).expect("reads back"), long);
        let mut flipped = data.clone();
        let at = data.len() - 40 - STREAM_CHUNK;
        flipped[at] ^= 1;
        assert!(matches!(read_all(&flipped), Err(DecodeError::Checksum)));
    }

    #[test]
    fn round_trip_and_corruption() {
        let mut w = Writer::new(b"TEST1");
        w.u32(7);
        w.bytes(b"hello");
        w.i64(-3);
        let mut data = w.finish();
        let mut r = Reader::open(&data, b"TEST1").unwrap();
        assert_eq!(r.u32().unwrap(), 7);
        assert_eq!(r.bytes().unwrap(), b"hello");
        assert_eq!(r.i64().unwrap(), -3);
        assert!(r.is_empty());
        data[6] ^= 1;
        assert!(matches!(
            Reader::open(&data, b"TEST1"),
            Err(DecodeError::Checksum)
        ));
        assert!(Reader::open(&data[..10], b"TEST1").is_err());
        assert!(matches!(
            Reader::open(b"nope", b"TEST1"),
            Err(DecodeError::Magic)
        ));
    }
}
