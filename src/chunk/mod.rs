//! Chunk geometry, keys, the N5 block header and strided copies between chunks and regions.

pub mod copy;
pub mod grid;
pub mod key;
pub mod n5_header;
