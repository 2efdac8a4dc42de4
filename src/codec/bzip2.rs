//! bzip2 streams via the pure-Rust libbz2-rs backend of the `bzip2` crate.

use super::{read_bounded, read_exact_all};
use crate::error::{Error, Result};
use bzip2::read::MultiBzDecoder;
use bzip2::write::BzEncoder;
use bzip2::Compression;
use std::io::Write;

pub fn encode(input: &[u8], level: u32) -> Result<Vec<u8>> {
    let mut e = BzEncoder::new(
        Vec::with_capacity(input.len() / 2 + 64),
        Compression::new(level.clamp(1, 9)),
    );
    e.write_all(input)
        .and_then(|_| e.finish())
        .map_err(|e| Error::codec("bzip2", e.to_string()))
}

pub fn decode_into(input: &[u8], out: &mut [u8]) -> Result<()> {
    read_exact_all("bzip2", MultiBzDecoder::new(input), out)
}

pub fn decode_bounded(input: &[u8], max: usize) -> Result<Vec<u8>> {
    read_bounded("bzip2", MultiBzDecoder::new(input), max)
}
