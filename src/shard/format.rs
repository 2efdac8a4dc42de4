//! The `sharding_indexed` shard format, apart from any store: the grid of inner chunks a
//! shard holds, its index of (offset, nbytes) pairs (shape, encoding, checksum, place at
//! the start or the end), decoding an inner chunk, and building a shard's bytes from its
//! encoded inner chunks. Reading shards from a store and rewriting them is `super::io`'s
//! job; this module does no I/O, so both it and the layout code above it can trust one
//! definition of the bytes.

use crate::chunk::copy::ChunkView;
use crate::chunk::grid::ChunkGrid;
use crate::codec::Compressor;
use crate::error::{Error, Result};
use crate::metadata::Sharding;
use crate::store::PooledBuf;

/// The index entry of an inner chunk that is not stored: both fields all ones.
const EMPTY: u64 = u64::MAX;

/// A decoded shard index: (offset, nbytes) of each inner chunk in C order, None where the
/// inner chunk is not stored.
pub(crate) type Index = Vec<Option<(u64, u64)>>;

/// How the shards of one array are laid out: the array's sharding and the inner chunks
/// per shard along each dimension.
pub(crate) struct ShardFormat<'a> {
    pub sharding: &'a Sharding,
    /// Inner chunks per shard, per dimension.
    pub per: Vec<u64>,
}

impl<'a> ShardFormat<'a> {
    /// The format of shards of `shard_shape` (the array's storage grid) with `sharding`.
    pub fn new(shard_shape: &[u64], sharding: &'a Sharding) -> Self {
        let per = shard_shape
            .iter()
            .zip(&sharding.inner)
            .map(|(o, i)| o / i)
            .collect();
        ShardFormat { sharding, per }
    }

    /// The grid of inner chunks over an array of `shape`.
    pub fn inner_grid(&self, shape: &[u64]) -> ChunkGrid {
        ChunkGrid {
            shape: shape.to_vec(),
            chunk: self.sharding.inner.clone(),
        }
    }

    /// Every inner chunk's index in its shard, in the index's (C) order.
    pub fn locals(&self) -> Vec<Vec<u64>> {
        ChunkGrid {
            shape: self.per.clone(),
            chunk: vec![1; self.per.len()],
        }
        .chunks_in_region(&vec![0; self.per.len()], &self.per)
    }

    /// The position of inner chunk `local` in the index.
    pub fn linear(&self, local: &[u64]) -> usize {
        local
            .iter()
            .zip(&self.per)
            .fold(0u64, |acc, (i, n)| acc * n + i) as usize
    }

    /// The index in its shard of the inner chunk at `gidx` of the inner chunk grid.
    pub fn local(&self, gidx: &[u64]) -> Vec<u64> {
        gidx.iter().zip(&self.per).map(|(g, n)| g % n).collect()
    }

    /// The inner chunk grid index of inner chunk `local` of shard `sidx`.
    pub fn global(&self, sidx: &[u64], local: &[u64]) -> Vec<u64> {
        sidx.iter()
            .zip(local)
            .zip(&self.per)
            .map(|((s, l), n)| s * n + l)
            .collect()
    }

    /// The shard holding inner chunk `gidx`, and its index in that shard.
    pub fn split(&self, gidx: &[u64]) -> (Vec<u64>, Vec<u64>) {
        (
            gidx.iter().zip(&self.per).map(|(i, n)| i / n).collect(),
            self.local(gidx),
        )
    }

    fn index_shape(&self) -> Vec<u64> {
        let mut s = self.per.clone();
        s.push(2);
        s
    }

    /// Bytes of the encoded index: 16 per inner chunk, and 4 per crc32c checksum.
    pub fn index_len(&self) -> usize {
        let n: u64 = self.per.iter().product();
        let crcs = self
            .sharding
            .index_pipeline
            .compressors
            .iter()
            .filter(|c| **c == Compressor::Crc32c)
            .count();
        16 * n as usize + 4 * crcs
    }

    /// Decode a shard's index. With the shard's length known (`file_len`) every entry must
    /// lie in it; without (an index read as a suffix) entries are checked when their bytes
    /// are read.
    pub fn decode_index(&self, bytes: &[u8], file_len: Option<u64>, path: &str) -> Result<Index> {
        let shape = self.index_shape();
        let mut scratch = Vec::new();
        self.sharding
            .index_pipeline
            .decode(bytes, &shape, &shape, &mut scratch)
            .map_err(|e| Error::corrupt(path, format!("shard index: {}", e.in_chunk(path))))?;
        let ilen = self.index_len() as u64;
        let (lo, hi) = match (self.sharding.index_at_start, file_len) {
            (true, Some(n)) => (ilen, n),
            (true, None) => (ilen, u64::MAX),
            (false, Some(n)) => (0, n - ilen),
            (false, None) => (0, u64::MAX),
        };
        scratch
            .chunks_exact(16)
            .map(|e| {
                let off = u64::from_ne_bytes(e[..8].try_into().unwrap());
                let n = u64::from_ne_bytes(e[8..].try_into().unwrap());
                if off == EMPTY && n == EMPTY {
                    return Ok(None);
                }
                match off.checked_add(n) {
                    Some(end) if off >= lo && end <= hi => Ok(Some((off, n))),
                    _ => Err(Error::corrupt(
                        path,
                        format!(
                            "shard index entry ({off}, {n}) points outside the shard's {} bytes",
                            file_len.map_or("".into(), |n| n.to_string())
                        ),
                    )),
                }
            })
            .collect()
    }

    /// The index of a whole shard's bytes (at its start or end).
    pub fn index_of_shard(&self, shard: &[u8], path: &str) -> Result<Index> {
        let ilen = self.index_len();
        if shard.len() < ilen {
            return Err(Error::corrupt(
                path,
                format!("shard is shorter than its {ilen}-byte index"),
            ));
        }
        let bytes = if self.sharding.index_at_start {
            &shard[..ilen]
        } else {
            &shard[shard.len() - ilen..]
        };
        self.decode_index(bytes, Some(shard.len() as u64), path)
    }

    fn encode_index(&self, index: &Index) -> Result<Vec<u8>> {
        let raw: Vec<u8> = index
            .iter()
            .flat_map(|e| {
                let (o, n) = e.unwrap_or((EMPTY, EMPTY));
                o.to_ne_bytes().into_iter().chain(n.to_ne_bytes())
            })
            .collect();
        self.sharding
            .index_pipeline
            .encode(&raw, &self.index_shape(), false)
    }

    /// The parts of a shard holding `parts` (each inner chunk's encoded bytes in the
    /// index's order, None: not stored), with its index; None when it holds no inner
    /// chunk. The parts go to the store as they are (writev), without one more copy into a
    /// shard buffer.
    pub fn build(&self, parts: Vec<Option<PooledBuf>>) -> Result<Option<Vec<PooledBuf>>> {
        if parts.iter().all(Option::is_none) {
            return Ok(None);
        }
        let at_start = self.sharding.index_at_start;
        let mut offset = if at_start { self.index_len() as u64 } else { 0 };
        let mut index: Index = Vec::with_capacity(parts.len());
        for p in &parts {
            index.push(p.as_ref().map(|b| {
                let e = (offset, b.len() as u64);
                offset += b.len() as u64;
                e
            }));
        }
        let mut index_bytes = Some(PooledBuf::from(self.encode_index(&index)?));
        let mut out: Vec<PooledBuf> = Vec::with_capacity(parts.len() + 1);
        if at_start {
            out.extend(index_bytes.take());
        }
        out.extend(parts.into_iter().flatten());
        out.extend(index_bytes);
        Ok(Some(out))
    }

    /// Decode inner chunk `local` of the shard at `path`: `bytes` themselves when they need
    /// no decoding, else `scratch`.
    pub fn decode_inner<'b>(
        &self,
        bytes: &'b [u8],
        scratch: &'b mut Vec<u8>,
        path: &str,
        local: &[u64],
    ) -> Result<ChunkView<'b>> {
        let s = self.sharding;
        let (d, data) = s
            .inner_pipeline
            .decode_ref(bytes, &s.inner, &s.inner, scratch)
            .map_err(|e| e.in_inner_chunk(path, local))?;
        Ok(ChunkView {
            layout: d.layout,
            bytes: data,
            swap: d.swap,
        })
    }
}
