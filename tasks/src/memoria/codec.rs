//! Deflate encoding and decoding (raw deflate, RFC 1951) through the pure-Rust
//! `miniz_oxide`.

use miniz_oxide::deflate::compress_to_vec;
use miniz_oxide::inflate::decompress_to_vec_with_limit;

/// Default compression level (0 = store, 9 = best, 10 = uber).
pub const DEFAULT_LEVEL: u8 = 9;

/// Compresses `data` at `level` (clamped to 0..=10).
#[must_use]
pub fn compress(data: &[u8], level: u8) -> Vec<u8> {
    compress_to_vec(data, level.min(10))
}

/// Decompresses `data`, refusing to produce more than `limit` bytes.
///
/// # Errors
/// A message when the stream is corrupt or too large.
pub fn decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    decompress_to_vec_with_limit(data, limit).map_err(|err| format!("deflate stream: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_lossless_at_every_level() {
        let text = "2026-11-24T10:00:00Z INFO registry checkpoint stored\n".repeat(50);
        for level in 0..=10 {
            let packed = compress(text.as_bytes(), level);
            assert_eq!(
                decompress(&packed, text.len()).unwrap(),
                text.as_bytes(),
                "level {level}"
            );
        }
    }

    #[test]
    fn repetitive_text_shrinks() {
        let text = "the same line again\n".repeat(100);
        assert!(compress(text.as_bytes(), DEFAULT_LEVEL).len() < text.len() / 10);
    }

    #[test]
    fn corrupt_or_oversized_streams_fail() {
        assert!(decompress(&[0xFF, 0xFF, 0xFF], 1024).is_err());
        let packed = compress(&[b'a'; 100], DEFAULT_LEVEL);
        assert!(decompress(&packed, 10).is_err());
    }
}
