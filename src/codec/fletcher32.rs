//! numcodecs `fletcher32`: HDF5's Fletcher-32 of the payload, 4 bytes little-endian, after it.

use super::checksum32::{At, Checksum32};

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

pub const CODEC: Checksum32 = Checksum32 {
    name: "fletcher32",
    at: At::End,
    checksum,
};
