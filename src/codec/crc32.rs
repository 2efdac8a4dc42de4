//! numcodecs `crc32`: the CRC-32 of the payload (zlib's), 4 bytes little-endian, before it.

use super::checksum32::{self, At};
use crate::error::Result;

const fn table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static TABLE: [u32; 256] = table();

pub fn checksum(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

pub fn encode(input: &[u8]) -> Vec<u8> {
    checksum32::encode(input, checksum(input), At::Start)
}

pub fn decode(input: &[u8]) -> Result<&[u8]> {
    checksum32::decode("crc32", input, At::Start, checksum)
}

#[cfg(test)]
mod tests {
    #[test]
    fn numcodecs_vector() {
        // numcodecs 0.16 CRC32().encode(np.arange(10, dtype="<u2"))
        let data: Vec<u8> = (0u16..10).flat_map(|v| v.to_le_bytes()).collect();
        let enc = super::encode(&data);
        assert_eq!(&enc[..4], &[0x76, 0x77, 0x75, 0x31]);
        assert_eq!(&enc[4..], &data[..]);
        assert_eq!(super::checksum(b"123456789"), 0xCBF4_3926);
    }
}
