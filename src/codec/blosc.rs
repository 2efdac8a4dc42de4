//! c-blosc 1.x frames (the format numcodecs, n5-blosc and Zarr v3 `blosc` write), built from
//! source by blosc-src. Only the thread-safe `_ctx` entry points are used.

use super::size_mismatch;
use crate::error::{Error, Result};
use blosc_src as ffi;
use serde_json::Value;
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

impl BloscConfig {
    /// The configuration in the JSON object whose members `get` looks up, with the keys N5,
    /// numcodecs (Zarr v2) and Zarr v3 share (`cname`, `clevel`, `blocksize`); absent ones
    /// take the format's defaults `cname` and `clevel`. `shuffle` and `typesize` are read by
    /// the caller, as the formats spell them differently.
    pub fn from_json<'a>(
        get: impl Fn(&str) -> Option<&'a Value>,
        (cname, clevel): (&str, i64),
        shuffle: i32,
        typesize: usize,
    ) -> Self {
        let int = |key, default| get(key).and_then(Value::as_i64).unwrap_or(default);
        BloscConfig {
            cname: get("cname")
                .and_then(Value::as_str)
                .unwrap_or(cname)
                .to_string(),
            clevel: int("clevel", clevel) as i32,
            shuffle,
            blocksize: int("blocksize", 0).max(0) as usize,
            typesize,
        }
    }
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

/// The frame at the start of `input`, as long as its header says (`cbytes`, bytes 12..16).
/// Bytes after it are not part of it: z5py 2.x wrote 16 elements of padding after every
/// frame, which numcodecs ignores as well. A frame longer than `input` is truncated.
fn frame(input: &[u8]) -> Result<&[u8]> {
    if input.len() < OVERHEAD {
        return Err(err("not a valid blosc frame"));
    }
    let cbytes = u32::from_le_bytes([input[12], input[13], input[14], input[15]]) as usize;
    if cbytes > input.len() {
        return Err(err(format!(
            "frame declares {cbytes} bytes but only {} are stored",
            input.len()
        )));
    }
    Ok(&input[..cbytes])
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
    let input = frame(input)?;
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
    let input = frame(input)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BloscConfig {
        BloscConfig {
            cname: "lz4".into(),
            clevel: 5,
            shuffle: 1,
            blocksize: 0,
            typesize: 2,
        }
    }

    #[test]
    fn bytes_after_the_frame_are_ignored() {
        let data: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8).collect();
        let mut stored = encode(&data, &config()).unwrap();
        // z5py 2.x: the frame, then 16 elements (here 2 bytes each) of zeros.
        stored.extend_from_slice(&[0u8; 32]);
        let mut out = vec![0u8; data.len()];
        decode_into(&stored, &mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(decode_bounded(&stored, data.len()).unwrap(), data);
    }

    #[test]
    fn a_frame_longer_than_the_input_is_an_error() {
        let data = vec![7u8; 1000];
        let stored = encode(&data, &config()).unwrap();
        let mut out = vec![0u8; data.len()];
        assert!(decode_into(&stored[..stored.len() - 1], &mut out).is_err());
        let mut lying = stored.clone();
        lying[12..16].copy_from_slice(&(10u32).to_le_bytes()); // shorter than a header
        assert!(decode_into(&lying, &mut out).is_err());
    }
}
