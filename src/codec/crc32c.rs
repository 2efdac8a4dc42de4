//! Zarr v3 `crc32c`: the payload followed by its CRC-32C (Castagnoli), little-endian.

use crate::error::{Error, Result};

pub fn encode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 4);
    out.extend_from_slice(input);
    out.extend_from_slice(&::crc32c::crc32c(input).to_le_bytes());
    out
}

/// The payload without its checksum, after verifying it.
pub fn decode(input: &[u8]) -> Result<&[u8]> {
    if input.len() < 4 {
        return Err(Error::codec(
            "crc32c",
            "input shorter than the 4-byte checksum",
        ));
    }
    let (payload, sum) = input.split_at(input.len() - 4);
    let stored = u32::from_le_bytes(sum.try_into().unwrap());
    let actual = ::crc32c::crc32c(payload);
    if stored != actual {
        return Err(Error::codec(
            "crc32c",
            format!("checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"),
        ));
    }
    Ok(payload)
}
