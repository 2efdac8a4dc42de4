//! numcodecs `fletcher32`: HDF5's Fletcher-32 of the payload, 4 bytes little-endian, after it.

use super::checksum32::{self, At};
use crate::error::Result;

pub fn checksum(data: &[u8]) -> u32 {
    let (mut sum1, mut sum2) = (0u32, 0u32);
    let words = data.len() / 2;
    let mut pairs = data.chunks_exact(2);
    let mut left = words;
    while left > 0 {
        let n = left.min(360);
        left -= n;
        for w in pairs.by_ref().take(n) {
            sum1 += (w[0] as u32) << 8 | w[1] as u32;
            sum2 += sum1;
        }
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    if data.len() % 2 == 1 {
        sum1 += (data[data.len() - 1] as u32) << 8;
        sum2 += sum1;
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    sum2 << 16 | sum1
}

pub fn encode(input: &[u8]) -> Vec<u8> {
    checksum32::encode(input, checksum(input), At::End)
}

pub fn decode(input: &[u8]) -> Result<&[u8]> {
    checksum32::decode("fletcher32", input, At::End, checksum)
}

#[cfg(test)]
mod tests {
    #[test]
    fn numcodecs_vector() {
        // numcodecs 0.16 Fletcher32().encode(np.arange(10, dtype="<u2"))
        let data: Vec<u8> = (0u16..10).flat_map(|v| v.to_le_bytes()).collect();
        let enc = super::encode(&data);
        assert_eq!(&enc[20..], &[0x00, 0x2d, 0x00, 0xa5]);
        assert_eq!(super::decode(&enc).unwrap(), &data[..]);
        let mut bad = enc.clone();
        bad[3] ^= 1;
        assert!(super::decode(&bad).is_err());
    }
}
