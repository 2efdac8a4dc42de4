//! The regular chunk grid shared by every format (shapes in numpy's C axis order).

use crate::error::{Error, Result};

/// Most elements one chunk (or shard) may have.
pub const MAX_CHUNK_ELEMS: u64 = 1 << 32;

#[derive(Clone, Debug, PartialEq)]
pub struct ChunkGrid {
    pub shape: Vec<u64>,
    pub chunk: Vec<u64>,
}

impl ChunkGrid {
    pub fn new(shape: Vec<u64>, chunk: Vec<u64>) -> Result<Self> {
        if shape.len() != chunk.len() {
            return Err(Error::invalid(format!(
                "chunk shape {chunk:?} has {} dimensions, array shape {shape:?} has {}",
                chunk.len(),
                shape.len()
            )));
        }
        if chunk.contains(&0) {
            return Err(Error::invalid(format!(
                "chunk shape {chunk:?} has a zero extent"
            )));
        }
        let elems = chunk.iter().try_fold(1u64, |a, &c| a.checked_mul(c));
        // Larger chunks are not useful and would make one hostile metadata file allocate
        // terabytes.
        if elems.is_none_or(|n| n > MAX_CHUNK_ELEMS) {
            return Err(Error::invalid(format!(
                "chunk shape {chunk:?} is too large"
            )));
        }
        Ok(ChunkGrid { shape, chunk })
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    pub fn chunks_per_dim(&self) -> Vec<u64> {
        self.shape
            .iter()
            .zip(&self.chunk)
            .map(|(s, c)| s.div_ceil(*c))
            .collect()
    }

    pub fn num_chunks(&self) -> u64 {
        self.chunks_per_dim().iter().product()
    }

    pub fn chunk_elems(&self) -> usize {
        self.chunk.iter().product::<u64>() as usize
    }

    /// Bytes of one whole chunk of `elem`-byte elements.
    pub fn chunk_bytes(&self, elem: usize) -> usize {
        self.chunk.iter().product::<u64>() as usize * elem
    }

    pub fn origin(&self, idx: &[u64]) -> Vec<u64> {
        idx.iter().zip(&self.chunk).map(|(i, c)| i * c).collect()
    }

    /// Chunk extent clipped to the array bounds (what N5 stores at edges).
    pub fn clipped(&self, idx: &[u64]) -> Vec<u64> {
        idx.iter()
            .zip(&self.chunk)
            .zip(&self.shape)
            .map(|((i, c), s)| (*c).min(s.saturating_sub(i * c)))
            .collect()
    }

    pub fn check_index(&self, idx: &[u64]) -> Result<()> {
        let per = self.chunks_per_dim();
        if idx.len() != per.len() || idx.iter().zip(&per).any(|(i, n)| i >= n) {
            return Err(Error::invalid(format!(
                "chunk index {idx:?} is out of range for a grid of {per:?} chunks"
            )));
        }
        Ok(())
    }

    pub fn check_region(&self, start: &[u64], shape: &[u64]) -> Result<()> {
        let ok = start.len() == self.ndim()
            && shape.len() == self.ndim()
            && start
                .iter()
                .zip(shape)
                .zip(&self.shape)
                .all(|((b, n), s)| b.checked_add(*n).is_some_and(|e| e <= *s));
        if !ok {
            return Err(Error::invalid(format!(
                "region start {start:?} shape {shape:?} is out of bounds for array shape {:?}",
                self.shape
            )));
        }
        Ok(())
    }

    /// Indices of every chunk that intersects the region, in C order.
    pub fn chunks_in_region(&self, start: &[u64], shape: &[u64]) -> Vec<Vec<u64>> {
        if shape.contains(&0) {
            return Vec::new();
        }
        let lo: Vec<u64> = start.iter().zip(&self.chunk).map(|(b, c)| b / c).collect();
        let hi: Vec<u64> = start
            .iter()
            .zip(shape)
            .zip(&self.chunk)
            .map(|((b, n), c)| (b + n - 1) / c)
            .collect();
        let mut out = Vec::new();
        let mut cur = lo.clone();
        loop {
            out.push(cur.clone());
            let mut d = self.ndim();
            loop {
                if d == 0 {
                    return out;
                }
                d -= 1;
                if cur[d] < hi[d] {
                    cur[d] += 1;
                    break;
                }
                cur[d] = lo[d];
            }
        }
    }
}

/// The overlap of a chunk box and a region box: (offset in chunk, offset in region, extent).
pub fn overlap(
    chunk_origin: &[u64],
    chunk_extent: &[u64],
    start: &[u64],
    shape: &[u64],
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let mut in_chunk = Vec::with_capacity(start.len());
    let mut in_region = Vec::with_capacity(start.len());
    let mut extent = Vec::with_capacity(start.len());
    for d in 0..start.len() {
        let lo = chunk_origin[d].max(start[d]);
        let hi = (chunk_origin[d] + chunk_extent[d]).min(start[d] + shape[d]);
        in_chunk.push((lo - chunk_origin[d]) as usize);
        in_region.push((lo - start[d]) as usize);
        extent.push(hi.saturating_sub(lo) as usize);
    }
    (in_chunk, in_region, extent)
}

/// Whether an overlap's `extent` (see [`overlap`]) spans all of a chunk's `inside` (its
/// part within the array): a write that sets every element of it needs nothing of the old
/// chunk.
pub fn spans_all(extent: &[usize], inside: &[u64]) -> bool {
    extent.iter().zip(inside).all(|(e, i)| *e as u64 == *i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry() {
        let g = ChunkGrid::new(vec![10, 7], vec![4, 3]).unwrap();
        assert_eq!(g.chunks_per_dim(), vec![3, 3]);
        assert_eq!(g.num_chunks(), 9);
        assert_eq!(g.clipped(&[2, 2]), vec![2, 1]);
        assert_eq!(
            g.chunks_in_region(&[3, 2], &[2, 2]),
            vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]
        );
        assert!(g.check_region(&[9, 0], &[2, 1]).is_err());
        assert!(g.check_index(&[3, 0]).is_err());
        let (a, b, e) = overlap(&[4, 3], &[4, 3], &[3, 2], &[2, 2]);
        assert_eq!((a, b, e), (vec![0, 0], vec![1, 1], vec![1, 1]));
    }

    #[test]
    fn zero_dim_array_has_one_chunk() {
        let g = ChunkGrid::new(vec![], vec![]).unwrap();
        assert_eq!(g.num_chunks(), 1);
        assert_eq!(g.chunks_in_region(&[], &[]), vec![Vec::<u64>::new()]);
    }
}
