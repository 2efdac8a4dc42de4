//! Deflate in gzip (RFC 1952) or zlib (RFC 1950) framing, via flate2's zlib-rs backend.

use super::{read_bounded, read_exact_all};
use crate::error::{Error, Result};
use flate2::read::{MultiGzDecoder, ZlibDecoder};
use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;
use std::io::Write;

pub fn encode(input: &[u8], level: u32, zlib: bool) -> Result<Vec<u8>> {
    let level = Compression::new(level.min(9));
    let out = Vec::with_capacity(input.len() / 2 + 64);
    let res = if zlib {
        let mut e = ZlibEncoder::new(out, level);
        e.write_all(input).and_then(|_| e.finish())
    } else {
        let mut e = GzEncoder::new(out, level);
        e.write_all(input).and_then(|_| e.finish())
    };
    res.map_err(|e| Error::codec("gzip", e.to_string()))
}

/// gzip magic means gzip (possibly several members, as Java N5 reads them); otherwise zlib.
fn is_gzip(input: &[u8]) -> bool {
    input.starts_with(&[0x1f, 0x8b])
}

pub fn decode_into(input: &[u8], out: &mut [u8]) -> Result<()> {
    if is_gzip(input) {
        read_exact_all("gzip", MultiGzDecoder::new(input), out)
    } else {
        read_exact_all("zlib", ZlibDecoder::new(input), out)
    }
}

pub fn decode_bounded(input: &[u8], max: usize) -> Result<Vec<u8>> {
    if is_gzip(input) {
        read_bounded("gzip", MultiGzDecoder::new(input), max)
    } else {
        read_bounded("zlib", ZlibDecoder::new(input), max)
    }
}
