//! Deflate in gzip (RFC 1952) or zlib (RFC 1950) framing. Whole-buffer work goes through
//! libdeflate (built from source), which the benchmark shows is faster than streaming zlib
//! for both directions; flate2 (zlib-rs) handles what libdeflate does not: level 0,
//! multi-member gzip streams (Java N5) and outputs of unknown size.

use super::{read_bounded, read_exact_all, size_mismatch};
use crate::error::{Error, Result};
use flate2::read::{MultiGzDecoder, ZlibDecoder};
use flate2::write::{GzEncoder, ZlibEncoder};
use libdeflater::{CompressionLvl, Compressor, DecompressionError, Decompressor};
use std::cell::RefCell;
use std::io::Write;

thread_local! {
    // libdeflate contexts are reused per thread: a compressor allocates hundreds of KiB.
    static INFLATE: RefCell<Option<Decompressor>> = const { RefCell::new(None) };
    static DEFLATE: RefCell<Option<(u32, Compressor)>> = const { RefCell::new(None) };
}

pub fn encode(input: &[u8], level: u32, zlib: bool) -> Result<Vec<u8>> {
    let level = level.min(9);
    if level == 0 {
        return encode_flate2(input, level, zlib);
    }
    DEFLATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            let lvl = CompressionLvl::new(level as i32)
                .map_err(|_| Error::codec("gzip", format!("level {level}")))?;
            *slot = Some((level, Compressor::new(lvl)));
        }
        let c = &mut slot.as_mut().expect("set above").1;
        let bound = if zlib {
            c.zlib_compress_bound(input.len())
        } else {
            c.gzip_compress_bound(input.len())
        };
        let mut out = vec![0u8; bound];
        let n = if zlib {
            c.zlib_compress(input, &mut out)
        } else {
            c.gzip_compress(input, &mut out)
        }
        .map_err(|e| Error::codec("gzip", e.to_string()))?;
        out.truncate(n);
        Ok(out)
    })
}

fn encode_flate2(input: &[u8], level: u32, zlib: bool) -> Result<Vec<u8>> {
    let level = flate2::Compression::new(level);
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

/// gzip magic means gzip; otherwise zlib (z5 auto-detects the same way).
fn is_gzip(input: &[u8]) -> bool {
    input.starts_with(&[0x1f, 0x8b])
}

pub fn decode_into(input: &[u8], out: &mut [u8]) -> Result<()> {
    let gzip = is_gzip(input);
    let fast = INFLATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let d = slot.get_or_insert_with(Decompressor::new);
        if gzip {
            d.gzip_decompress(input, out)
        } else {
            d.zlib_decompress(input, out)
        }
    });
    match fast {
        Ok(n) if n == out.len() => Ok(()),
        // Too much data is an error either way.
        Err(DecompressionError::InsufficientSpace) => Err(Error::codec(
            if gzip { "gzip" } else { "zlib" },
            format!("more than the expected {} bytes", out.len()),
        )),
        Ok(n) if !gzip => Err(size_mismatch("zlib", n, out.len())),
        // A short first member may be followed by more (Java N5 reads concatenated members);
        // anything else flate2 reports in its own words.
        _ if gzip => read_exact_all("gzip", MultiGzDecoder::new(input), out),
        _ => read_exact_all("zlib", ZlibDecoder::new(input), out),
    }
}

pub fn decode_bounded(input: &[u8], max: usize) -> Result<Vec<u8>> {
    if is_gzip(input) {
        read_bounded("gzip", MultiGzDecoder::new(input), max)
    } else {
        read_bounded("zlib", ZlibDecoder::new(input), max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_concatenated_gzip_members_and_flate2_output() {
        let a: Vec<u8> = (0..3000u32).map(|i| (i % 7) as u8).collect();
        let b: Vec<u8> = (0..2000u32).map(|i| (i % 11) as u8).collect();
        let mut two = encode_flate2(&a, 5, false).unwrap();
        two.extend(encode(&b, 5, false).unwrap());
        let mut out = vec![0u8; 5000];
        decode_into(&two, &mut out).unwrap();
        assert_eq!(&out[..3000], &a[..]);
        assert_eq!(&out[3000..], &b[..]);
        for zlib in [false, true] {
            let mut o = vec![0u8; 3000];
            decode_into(&encode_flate2(&a, 0, zlib).unwrap(), &mut o).unwrap();
            assert_eq!(o, a);
        }
    }
}
