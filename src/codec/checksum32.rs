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

/// A 32-bit checksum codec: its name, where its checksum sits and the checksum function.
pub struct Checksum32 {
    pub name: &'static str,
    pub at: At,
    pub checksum: fn(&[u8]) -> u32,
}

impl Checksum32 {
    /// `input` framed with its checksum.
    pub fn encode(&self, input: &[u8]) -> Vec<u8> {
        encode(input, (self.checksum)(input), self.at)
    }

    /// The payload of a framed `input`, once its checksum is verified.
    pub fn decode<'a>(&self, input: &'a [u8]) -> Result<&'a [u8]> {
        decode(self.name, input, self.at, self.checksum)
    }
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

#[cfg(test)]
mod tests {
    use super::super::{adler32, crc32, fletcher32};
    use super::At;

    /// The checksum bytes numcodecs 0.16 writes for `np.arange(10, dtype="<u2")`
    /// (`Adler32().encode(...)` and so on), and that a damaged frame is refused.
    #[test]
    fn numcodecs_vectors() {
        let data: Vec<u8> = (0u16..10).flat_map(|v| v.to_le_bytes()).collect();
        for (codec, sum) in [
            (&adler32::CODEC, [0x2e, 0x00, 0x5e, 0x01]),
            (&crc32::CODEC, [0x76, 0x77, 0x75, 0x31]),
            (&fletcher32::CODEC, [0x00, 0x2d, 0x00, 0xa5]),
        ] {
            let enc = codec.encode(&data);
            let (stored, payload) = match codec.at {
                At::Start => (&enc[..4], &enc[4..]),
                At::End => (&enc[20..], &enc[..20]),
            };
            assert_eq!((stored, payload), (&sum[..], &data[..]), "{}", codec.name);
            assert_eq!(codec.decode(&enc).unwrap(), &data[..], "{}", codec.name);
            let mut bad = enc.clone();
            bad[3] ^= 1;
            assert!(codec.decode(&bad).is_err(), "{}", codec.name);
        }
    }

    /// The published check values of Adler-32 and CRC-32.
    #[test]
    fn check_values() {
        assert_eq!(adler32::checksum(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(crc32::checksum(b"123456789"), 0xCBF4_3926);
    }
}
