//! Zstandard frames. Decoding never trusts the frame's content size: Java N5 writes frames
//! without one, and a hostile frame may claim gigabytes.

use crate::error::{Error, Result};
use zstd::bulk::Compressor;
use zstd::zstd_safe::CParameter;

pub fn encode(input: &[u8], level: i32, checksum: bool) -> Result<Vec<u8>> {
    let err = |e: std::io::Error| Error::codec("zstd", e.to_string());
    let mut c = Compressor::new(level).map_err(err)?;
    c.set_parameter(CParameter::ChecksumFlag(checksum))
        .map_err(err)?;
    c.compress(input).map_err(err)
}

pub fn decode_into(input: &[u8], out: &mut [u8]) -> Result<()> {
    let n = zstd::bulk::decompress_to_buffer(input, out)
        .map_err(|e| Error::codec("zstd", e.to_string()))?;
    if n != out.len() {
        return Err(super::size_mismatch("zstd", n, out.len()));
    }
    Ok(())
}

pub fn decode_bounded(input: &[u8], max: usize) -> Result<Vec<u8>> {
    zstd::bulk::decompress(input, max).map_err(|e| Error::codec("zstd", e.to_string()))
}
