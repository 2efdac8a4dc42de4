//! numcodecs' `CheckSum32` framing shared by `crc32` and `adler32`: the 32-bit checksum,
//! little-endian, in the 4 bytes before the payload.

use crate::error::{Error, Result};

pub fn encode_start(input: &[u8], sum: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 4);
    out.extend_from_slice(&sum.to_le_bytes());
    out.extend_from_slice(input);
    out
}

/// The payload after the checksum, once it is verified (a mismatch is a corrupt chunk).
pub fn decode_start<'a>(
    codec: &'static str,
    input: &'a [u8],
    checksum: impl Fn(&[u8]) -> u32,
) -> Result<&'a [u8]> {
    if input.len() < 4 {
        return Err(Error::codec(
            codec,
            "input shorter than the 4-byte checksum",
        ));
    }
    let (sum, payload) = input.split_at(4);
    let stored = u32::from_le_bytes(sum.try_into().unwrap());
    let actual = checksum(payload);
    if stored != actual {
        return Err(Error::codec(
            codec,
            format!("checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"),
        ));
    }
    Ok(payload)
}
