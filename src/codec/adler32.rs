//! numcodecs `adler32`: the Adler-32 of the payload (zlib's), 4 bytes little-endian, before it.

use super::checksum32::{self, At};
use crate::error::Result;

pub fn checksum(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the most that cannot overflow u32 between reductions (zlib's NMAX).
    for block in data.chunks(5552) {
        for &x in block {
            a += x as u32;
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    b << 16 | a
}

pub fn encode(input: &[u8]) -> Vec<u8> {
    checksum32::encode(input, checksum(input), At::Start)
}

pub fn decode(input: &[u8]) -> Result<&[u8]> {
    checksum32::decode("adler32", input, At::Start, checksum)
}

#[cfg(test)]
mod tests {
    #[test]
    fn numcodecs_vector() {
        // numcodecs 0.16 Adler32().encode(np.arange(10, dtype="<u2"))
        let data: Vec<u8> = (0u16..10).flat_map(|v| v.to_le_bytes()).collect();
        let enc = super::encode(&data);
        assert_eq!(&enc[..4], &[0x2e, 0x00, 0x5e, 0x01]);
        assert_eq!(super::decode(&enc).unwrap(), &data[..]);
        assert_eq!(super::checksum(b"Wikipedia"), 0x11E6_0398);
    }
}
