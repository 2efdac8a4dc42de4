//! The framing of the 32-bit checksum codecs: the checksum of the payload, 4 bytes
//! little-endian, before it (numcodecs' `CheckSum32`: `crc32`, `adler32`) or after it
//! (`fletcher32`). Each codec's file holds only its checksum function.

use crate::error::{Error, Result};

/// Where the 4 checksum bytes sit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    Start,
    End,
}

/// `input` framed with its checksum `sum`.
pub fn encode(input: &[u8], sum: u32, at: At) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 4);
    match at {
        At::Start => {
            out.extend_from_slice(&sum.to_le_bytes());
            out.extend_from_slice(input);
        }
        At::End => {
            out.extend_from_slice(input);
            out.extend_from_slice(&sum.to_le_bytes());
        }
    }
    out
}

/// The payload of a framed `input`, once its checksum is verified (a mismatch is a corrupt
/// chunk).
pub fn decode<'a>(
    codec: &'static str,
    input: &'a [u8],
    at: At,
    checksum: impl Fn(&[u8]) -> u32,
) -> Result<&'a [u8]> {
    if input.len() < 4 {
        return Err(Error::codec(
            codec,
            "input shorter than the 4-byte checksum",
        ));
    }
    let (sum, payload) = match at {
        At::Start => input.split_at(4),
        At::End => {
            let (payload, sum) = input.split_at(input.len() - 4);
            (sum, payload)
        }
    };
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
