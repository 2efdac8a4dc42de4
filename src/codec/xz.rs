//! The .xz container (LZMA2, CRC64 check) via liblzma, built from source.

use super::{read_bounded, read_exact_all};
use crate::error::{Error, Result};
use liblzma::read::XzDecoder;
use liblzma::write::XzEncoder;
use std::io::Write;

pub fn encode(input: &[u8], preset: u32) -> Result<Vec<u8>> {
    let mut e = XzEncoder::new(Vec::with_capacity(input.len() / 2 + 64), preset.min(9));
    e.write_all(input)
        .and_then(|_| e.finish())
        .map_err(|e| Error::codec("xz", e.to_string()))
}

pub fn decode_into(input: &[u8], out: &mut [u8]) -> Result<()> {
    read_exact_all("xz", XzDecoder::new_multi_decoder(input), out)
}

pub fn decode_bounded(input: &[u8], max: usize) -> Result<Vec<u8>> {
    read_bounded("xz", XzDecoder::new_multi_decoder(input), max)
}
