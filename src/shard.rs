//! Zarr v3 `sharding_indexed` (not yet implemented; see the Zarr v3 issue).

use crate::array::{Array, ChunkData};
use crate::error::{Error, Result};

fn unsupported() -> Error {
    Error::unsupported("sharded arrays are not implemented yet")
}

pub fn read_region(_a: &Array, _start: &[u64], _shape: &[u64], _out: &mut [u8], _n: usize) -> Result<()> {
    Err(unsupported())
}
pub fn write_region(_a: &Array, _start: &[u64], _shape: &[u64], _data: &[u8], _n: usize) -> Result<()> {
    Err(unsupported())
}
pub fn read_chunk(_a: &Array, _idx: &[u64]) -> Result<Option<ChunkData>> {
    Err(unsupported())
}
pub fn write_chunk(_a: &Array, _idx: &[u64], _data: &[u8]) -> Result<()> {
    Err(unsupported())
}
pub fn chunk_exists(_a: &Array, _idx: &[u64]) -> Result<bool> {
    Err(unsupported())
}
pub fn existing_chunks(_a: &Array) -> Result<Vec<Vec<u64>>> {
    Err(unsupported())
}
