//! LZ4 with the three framings found in the wild (see `Lz4Framing`); pure Rust (lz4_flex).

use super::{size_mismatch, Lz4Framing};
use crate::error::{Error, Result};

const JAVA_MAGIC: &[u8; 8] = b"LZ4Block";

pub fn encode(input: &[u8], framing: Lz4Framing, _acceleration: i32) -> Vec<u8> {
    let block = lz4_flex::block::compress(input);
    match framing {
        Lz4Framing::RawBlock => block,
        Lz4Framing::SizePrefixed => {
            let mut out = Vec::with_capacity(block.len() + 4);
            out.extend_from_slice(&(input.len() as u32).to_le_bytes());
            out.extend_from_slice(&block);
            out
        }
    }
}

fn err(msg: impl Into<String>) -> Error {
    Error::codec("lz4", msg)
}

fn block_into(input: &[u8], out: &mut [u8]) -> Result<()> {
    let n = lz4_flex::block::decompress_into(input, out).map_err(|e| err(e.to_string()))?;
    if n != out.len() {
        return Err(size_mismatch("lz4", n, out.len()));
    }
    Ok(())
}

/// lz4-java's `LZ4BlockOutputStream` framing, as written by Java N5.
fn java_stream_into(mut input: &[u8], out: &mut [u8]) -> Result<()> {
    let mut filled = 0;
    loop {
        if input.len() < 21 || &input[..8] != JAVA_MAGIC {
            return Err(err("truncated LZ4Block stream"));
        }
        let token = input[8];
        let clen = u32::from_le_bytes(input[9..13].try_into().unwrap()) as usize;
        let olen = u32::from_le_bytes(input[13..17].try_into().unwrap()) as usize;
        input = &input[21..];
        if olen == 0 {
            break; // the terminating empty block
        }
        if clen > input.len() || olen > out.len() - filled {
            return Err(err("LZ4Block lengths exceed the data"));
        }
        let dst = &mut out[filled..filled + olen];
        match token & 0xF0 {
            0x10 if clen == olen => dst.copy_from_slice(&input[..clen]),
            0x20 => block_into(&input[..clen], dst)?,
            _ => return Err(err(format!("unknown LZ4Block token {token:#04x}"))),
        }
        filled += olen;
        input = &input[clen..];
        if input.is_empty() {
            break;
        }
    }
    if filled != out.len() {
        return Err(size_mismatch("lz4", filled, out.len()));
    }
    Ok(())
}

pub fn decode_into(input: &[u8], out: &mut [u8], framing: Lz4Framing) -> Result<()> {
    match framing {
        Lz4Framing::RawBlock if input.starts_with(JAVA_MAGIC) => java_stream_into(input, out),
        Lz4Framing::RawBlock => block_into(input, out),
        Lz4Framing::SizePrefixed => {
            if input.len() < 4 {
                return Err(err("missing size prefix"));
            }
            let n = u32::from_le_bytes(input[..4].try_into().unwrap()) as usize;
            if n != out.len() {
                return Err(size_mismatch("lz4", n, out.len()));
            }
            block_into(&input[4..], out)
        }
    }
}

pub fn decode_bounded(input: &[u8], max: usize, framing: Lz4Framing) -> Result<Vec<u8>> {
    match framing {
        Lz4Framing::SizePrefixed if input.len() >= 4 => {
            let n = u32::from_le_bytes(input[..4].try_into().unwrap()) as usize;
            if n > max {
                return Err(err(format!(
                    "claims {n} bytes, more than the {max}-byte bound"
                )));
            }
            let mut out = vec![0; n];
            block_into(&input[4..], &mut out)?;
            Ok(out)
        }
        _ => {
            let mut out = vec![0; max];
            let n = lz4_flex::block::decompress_into(input, &mut out)
                .map_err(|e| err(e.to_string()))?;
            out.truncate(n);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_java_block_stream() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 13) as u8).collect();
        let block = lz4_flex::block::compress(&data);
        let mut s = Vec::new();
        s.extend_from_slice(JAVA_MAGIC);
        s.push(0x20 | 6);
        s.extend_from_slice(&(block.len() as u32).to_le_bytes());
        s.extend_from_slice(&(data.len() as u32).to_le_bytes());
        s.extend_from_slice(&0u32.to_le_bytes());
        s.extend_from_slice(&block);
        s.extend_from_slice(JAVA_MAGIC);
        s.push(0x10 | 6);
        s.extend_from_slice(&[0; 12]);
        let mut out = vec![0; data.len()];
        decode_into(&s, &mut out, Lz4Framing::RawBlock).unwrap();
        assert_eq!(out, data);
    }
}
