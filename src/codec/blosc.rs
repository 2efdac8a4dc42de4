//! c-blosc 1.x frames (the format numcodecs, n5-blosc and Zarr v3 `blosc` write), built from
//! source by blosc-src. Only the thread-safe `_ctx` entry points are used.

use super::size_mismatch;
use crate::error::{Error, Result};
use blosc_src as ffi;
use std::ffi::{c_void, CString};

/// Parameters of a blosc frame.
#[derive(Clone, Debug, PartialEq)]
pub struct BloscConfig {
    /// Inner compressor: blosclz, lz4, lz4hc, snappy, zlib, zstd.
    pub cname: String,
    pub clevel: i32,
    /// 0 none, 1 byte shuffle, 2 bit shuffle (-1, "auto", resolves to byte shuffle).
    pub shuffle: i32,
    pub blocksize: usize,
    /// Element size the shuffle works on.
    pub typesize: usize,
}

pub const CNAMES: [&str; 6] = ["blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"];
const OVERHEAD: usize = 16;

fn err(msg: impl Into<String>) -> Error {
    Error::codec("blosc", msg)
}

pub fn encode(input: &[u8], cfg: &BloscConfig) -> Result<Vec<u8>> {
    if !CNAMES.contains(&cfg.cname.as_str()) {
        return Err(Error::unsupported(format!(
            "blosc compressor {:?}",
            cfg.cname
        )));
    }
    let cname = CString::new(cfg.cname.as_str()).unwrap();
    let shuffle = if cfg.shuffle < 0 { 1 } else { cfg.shuffle };
    let mut out = vec![0u8; input.len() + OVERHEAD];
    // SAFETY: both buffers are valid for the lengths given; blosc never writes past destsize.
    let n = unsafe {
        ffi::blosc_compress_ctx(
            cfg.clevel.clamp(0, 9),
            shuffle,
            cfg.typesize.max(1),
            input.len(),
            input.as_ptr() as *const c_void,
            out.as_mut_ptr() as *mut c_void,
            out.len(),
            cname.as_ptr(),
            cfg.blocksize,
            1,
        )
    };
    if n <= 0 {
        return Err(err(format!("compression failed ({n})")));
    }
    out.truncate(n as usize);
    Ok(out)
}

/// Uncompressed size of a frame, after checking its header is safe to decode.
fn validated_size(input: &[u8]) -> Result<usize> {
    let mut nbytes = 0usize;
    // SAFETY: blosc_cbuffer_validate reads at most `input.len()` bytes.
    let rc = unsafe {
        ffi::blosc_cbuffer_validate(input.as_ptr() as *const c_void, input.len(), &mut nbytes)
    };
    if rc < 0 || input.len() < OVERHEAD {
        return Err(err("not a valid blosc frame"));
    }
    Ok(nbytes)
}

pub fn decode_into(input: &[u8], out: &mut [u8]) -> Result<()> {
    let nbytes = validated_size(input)?;
    if nbytes != out.len() {
        return Err(size_mismatch("blosc", nbytes, out.len()));
    }
    if nbytes == 0 {
        return Ok(());
    }
    // SAFETY: the header was validated and `out` holds exactly nbytes.
    let n = unsafe {
        ffi::blosc_decompress_ctx(
            input.as_ptr() as *const c_void,
            out.as_mut_ptr() as *mut c_void,
            out.len(),
            1,
        )
    };
    if n < 0 || n as usize != nbytes {
        return Err(err(format!("decompression failed ({n})")));
    }
    Ok(())
}

pub fn decode_bounded(input: &[u8], max: usize) -> Result<Vec<u8>> {
    let nbytes = validated_size(input)?;
    if nbytes > max {
        return Err(err(format!(
            "frame claims {nbytes} bytes, more than the {max}-byte bound"
        )));
    }
    let mut out = vec![0; nbytes];
    decode_into(input, &mut out)?;
    Ok(out)
}
