//! numcodecs `adler32`: the Adler-32 of the payload (zlib's), 4 bytes little-endian, before it.

use super::checksum32::{At, Checksum32};

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

pub const CODEC: Checksum32 = Checksum32 {
    name: "adler32",
    at: At::Start,
    checksum,
};
