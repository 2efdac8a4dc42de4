//! Bytes-to-bytes codecs shared by every format. Each format only decides how a codec is
//! spelled in its JSON (see `metadata/`); the algorithms live here, one file per library.

pub mod adler32;
pub mod astype;
pub mod bitround;
pub mod blosc;
pub mod bzip2;
pub mod categorize;
mod checksum32;
pub mod crc32;
pub mod crc32c;
pub mod delta;
pub mod filter;
pub mod fixedscaleoffset;
pub mod fletcher32;
pub mod gzip;
pub mod json2;
pub mod lz4;
pub mod numeric;
pub mod options;
pub mod packbits;
pub mod quantize;
pub mod shuffle;
pub mod vlen;
pub mod xz;
pub mod zstd;

use crate::error::{Error, Result};

/// How an LZ4 payload is framed; every ecosystem chose differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lz4Framing {
    /// A bare LZ4 block (z5's N5 writer). Readers also accept lz4-java's `LZ4Block` stream.
    RawBlock,
    /// A 4-byte little-endian size followed by the block (numcodecs' Zarr `lz4`).
    SizePrefixed,
}

/// One compression step, with the parameters that shape its output.
#[derive(Clone, Debug, PartialEq)]
pub enum Compressor {
    Raw,
    /// Deflate in a gzip (RFC 1952) or zlib (RFC 1950) wrapper.
    Gzip {
        level: u32,
        zlib: bool,
    },
    Bzip2 {
        level: u32,
    },
    Xz {
        preset: u32,
    },
    Lz4 {
        framing: Lz4Framing,
        acceleration: i32,
        level: i32,
    },
    Blosc(blosc::BloscConfig),
    Zstd {
        level: i32,
        checksum: bool,
    },
    /// Zarr v3 `crc32c`: a 4-byte little-endian checksum appended.
    Crc32c,
    /// numcodecs `adler32`: a 4-byte little-endian checksum before the payload.
    Adler32,
    /// numcodecs `crc32`: a 4-byte little-endian checksum before the payload.
    Crc32,
    /// numcodecs `fletcher32`: a 4-byte little-endian checksum after the payload.
    Fletcher32,
    /// A numcodecs filter (Zarr v2 `filters`, Zarr v3 `numcodecs.*`).
    Filter(filter::Filter),
}

impl Compressor {
    /// The z5py name of this compressor.
    pub fn z5py_name(&self) -> &'static str {
        match self {
            Compressor::Raw => "raw",
            Compressor::Gzip { zlib: false, .. } => "gzip",
            Compressor::Gzip { zlib: true, .. } => "zlib",
            Compressor::Bzip2 { .. } => "bzip2",
            Compressor::Xz { .. } => "xz",
            Compressor::Lz4 { .. } => "lz4",
            Compressor::Blosc(_) => "blosc",
            Compressor::Zstd { .. } => "zstd",
            Compressor::Crc32c => "crc32c",
            Compressor::Adler32 => "adler32",
            Compressor::Crc32 => "crc32",
            Compressor::Fletcher32 => "fletcher32",
            Compressor::Filter(f) => f.id(),
        }
    }

    /// Whether this is a checksum or a filter rather than a compressor.
    pub fn is_auxiliary(&self) -> bool {
        matches!(
            self,
            Compressor::Crc32c
                | Compressor::Adler32
                | Compressor::Crc32
                | Compressor::Fletcher32
                | Compressor::Filter(_)
        )
    }

    /// Size of the encoding of `len` bytes, when it depends on `len` alone (filters and
    /// checksums; None for compressors).
    pub fn encoded_len(&self, len: usize) -> Option<usize> {
        match self {
            Compressor::Raw => Some(len),
            Compressor::Crc32c
            | Compressor::Adler32
            | Compressor::Crc32
            | Compressor::Fletcher32 => Some(len + 4),
            Compressor::Filter(f) => f.encoded_len(len),
            _ => None,
        }
    }

    /// The payload inside a checksum frame, verified.
    fn unframe<'a>(&self, input: &'a [u8]) -> Result<Option<&'a [u8]>> {
        Ok(Some(match self {
            Compressor::Crc32c => crc32c::decode(input)?,
            Compressor::Adler32 => adler32::CODEC.decode(input)?,
            Compressor::Crc32 => crc32::CODEC.decode(input)?,
            Compressor::Fletcher32 => fletcher32::CODEC.decode(input)?,
            _ => return Ok(None),
        }))
    }

    /// Compress `input`.
    pub fn encode(&self, input: &[u8]) -> Result<Vec<u8>> {
        match self {
            Compressor::Raw => Ok(input.to_vec()),
            Compressor::Gzip { level, zlib } => gzip::encode(input, *level, *zlib),
            Compressor::Bzip2 { level } => bzip2::encode(input, *level),
            Compressor::Xz { preset } => xz::encode(input, *preset),
            Compressor::Lz4 {
                framing,
                acceleration,
                ..
            } => Ok(lz4::encode(input, *framing, *acceleration)),
            Compressor::Blosc(cfg) => blosc::encode(input, cfg),
            Compressor::Zstd { level, checksum } => zstd::encode(input, *level, *checksum),
            Compressor::Crc32c => Ok(crc32c::encode(input)),
            Compressor::Adler32 => Ok(adler32::CODEC.encode(input)),
            Compressor::Crc32 => Ok(crc32::CODEC.encode(input)),
            Compressor::Fletcher32 => Ok(fletcher32::CODEC.encode(input)),
            Compressor::Filter(f) => f.encode(input),
        }
    }

    /// Decompress `input` into `out`, which must end up exactly full.
    pub fn decode_into(&self, input: &[u8], out: &mut [u8]) -> Result<()> {
        match self {
            Compressor::Raw => {
                if input.len() != out.len() {
                    return Err(size_mismatch("raw", input.len(), out.len()));
                }
                out.copy_from_slice(input);
                Ok(())
            }
            Compressor::Gzip { .. } => gzip::decode_into(input, out),
            Compressor::Bzip2 { .. } => bzip2::decode_into(input, out),
            Compressor::Xz { .. } => xz::decode_into(input, out),
            Compressor::Lz4 { framing, .. } => lz4::decode_into(input, out, *framing),
            Compressor::Blosc(_) => blosc::decode_into(input, out),
            Compressor::Zstd { .. } => zstd::decode_into(input, out),
            Compressor::Crc32c
            | Compressor::Adler32
            | Compressor::Crc32
            | Compressor::Fletcher32 => {
                let payload = self.unframe(input)?.unwrap_or(input);
                if payload.len() != out.len() {
                    return Err(size_mismatch(self.z5py_name(), payload.len(), out.len()));
                }
                out.copy_from_slice(payload);
                Ok(())
            }
            Compressor::Filter(f) => {
                let dec = f.decode(input)?;
                if dec.len() != out.len() {
                    return Err(size_mismatch(f.id(), dec.len(), out.len()));
                }
                out.copy_from_slice(&dec);
                Ok(())
            }
        }
    }

    /// Decompress `input` when the output size is unknown, refusing more than `max` bytes.
    pub fn decode_bounded(&self, input: &[u8], max: usize) -> Result<Vec<u8>> {
        let too_big = || Error::codec("decode", format!("output exceeds the {max}-byte bound"));
        let out = match self {
            Compressor::Raw => input.to_vec(),
            Compressor::Gzip { .. } => gzip::decode_bounded(input, max)?,
            Compressor::Bzip2 { .. } => bzip2::decode_bounded(input, max)?,
            Compressor::Xz { .. } => xz::decode_bounded(input, max)?,
            Compressor::Lz4 { framing, .. } => lz4::decode_bounded(input, max, *framing)?,
            Compressor::Blosc(_) => blosc::decode_bounded(input, max)?,
            Compressor::Zstd { .. } => zstd::decode_bounded(input, max)?,
            Compressor::Crc32c
            | Compressor::Adler32
            | Compressor::Crc32
            | Compressor::Fletcher32 => self.unframe(input)?.unwrap_or(input).to_vec(),
            Compressor::Filter(f) => {
                // A filter's output is at most 8 times its input (packbits, astype).
                if input.len() / 8 > max {
                    return Err(too_big());
                }
                f.decode(input)?
            }
        };
        if out.len() > max {
            return Err(too_big());
        }
        Ok(out)
    }
}

pub(crate) fn size_mismatch(codec: &'static str, got: usize, expected: usize) -> Error {
    Error::wrong_size(codec, format!("decoded {got} bytes, expected {expected}"))
}

/// Read from a decoder into `out` and make sure the stream holds exactly `out.len()` bytes.
pub(crate) fn read_exact_all(
    codec: &'static str,
    mut reader: impl std::io::Read,
    out: &mut [u8],
) -> Result<()> {
    let mut filled = 0;
    while filled < out.len() {
        match reader.read(&mut out[filled..]) {
            Ok(0) => return Err(size_mismatch(codec, filled, out.len())),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::codec(codec, e.to_string())),
        }
    }
    let mut probe = [0u8; 1];
    loop {
        match reader.read(&mut probe) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                return Err(Error::wrong_size(
                    codec,
                    format!("more than the expected {} bytes", out.len()),
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::codec(codec, e.to_string())),
        }
    }
}

/// Read a whole decoder stream, refusing more than `max` bytes.
pub(crate) fn read_bounded(
    codec: &'static str,
    reader: impl std::io::Read,
    max: usize,
) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    reader
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::codec(codec, e.to_string()))?;
    if out.len() > max {
        return Err(Error::codec(
            codec,
            format!("output exceeds the {max}-byte bound"),
        ));
    }
    Ok(out)
}

/// One configuration of every codec and framing (blosc with each of its compressors and
/// shuffles), for round-trip tests and the decoder fuzz targets.
pub fn samples() -> Vec<Compressor> {
    let blosc = |cname: &str, shuffle| {
        Compressor::Blosc(blosc::BloscConfig {
            cname: cname.into(),
            clevel: 5,
            shuffle,
            blocksize: 0,
            typesize: 4,
        })
    };
    vec![
        Compressor::Raw,
        Compressor::Gzip {
            level: 5,
            zlib: false,
        },
        Compressor::Gzip {
            level: 1,
            zlib: true,
        },
        Compressor::Bzip2 { level: 5 },
        Compressor::Xz { preset: 3 },
        Compressor::Lz4 {
            framing: Lz4Framing::RawBlock,
            acceleration: 1,
            level: 6,
        },
        Compressor::Lz4 {
            framing: Lz4Framing::SizePrefixed,
            acceleration: 1,
            level: 6,
        },
        blosc("lz4", 1),
        blosc("zstd", 2),
        blosc("zlib", 0),
        blosc("blosclz", 1),
        Compressor::Zstd {
            level: 3,
            checksum: false,
        },
        Compressor::Zstd {
            level: 3,
            checksum: true,
        },
        Compressor::Crc32c,
        Compressor::Adler32,
        Compressor::Crc32,
        Compressor::Fletcher32,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..100_000u32)
            .map(|i| ((i / 7) % 251) as u8 ^ (i % 3) as u8)
            .collect()
    }

    #[test]
    fn round_trip_every_codec() {
        let data = sample();
        for c in samples() {
            let enc = c.encode(&data).unwrap();
            let mut out = vec![0u8; data.len()];
            c.decode_into(&enc, &mut out).unwrap();
            assert_eq!(out, data, "{c:?}");
            assert_eq!(c.decode_bounded(&enc, data.len()).unwrap(), data, "{c:?}");
            // A bound below the real size is refused, not allocated past.
            assert!(
                c.decode_bounded(&enc, data.len() - 1).is_err()
                    || matches!(c, Compressor::Raw)
                    || c.is_auxiliary(),
                "{c:?}"
            );
            // A wrong expected size is an error.
            let mut short = vec![0u8; data.len() - 1];
            assert!(c.decode_into(&enc, &mut short).is_err(), "{c:?}");
        }
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        let data = sample();
        for c in samples() {
            if c == Compressor::Raw {
                continue;
            }
            let enc = c.encode(&data).unwrap();
            let mut out = vec![0u8; data.len()];
            assert!(
                c.decode_into(&enc[..enc.len() / 2], &mut out).is_err(),
                "{c:?} truncated"
            );
            let garbage: Vec<u8> = (0..500u32).map(|i| (i * 37 % 256) as u8).collect();
            assert!(c.decode_into(&garbage, &mut out).is_err(), "{c:?} garbage");
        }
    }
}
