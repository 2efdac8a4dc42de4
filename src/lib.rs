//! z5py's engine: chunked N-dimensional arrays in N5, Zarr v2 and Zarr v3 on the filesystem.
//!
//! The core knows nothing of Python; the optional `python` feature adds the PyO3 binding
//! (`python/`), which converts types and errors at the edge.

pub mod access;
pub mod array;
pub mod chunk;
pub mod codec;
pub mod dtype;
pub mod error;
pub mod metadata;
pub mod node;
pub mod objects;
pub mod pipeline;
pub mod plain;
pub mod prefault;
pub mod selection;
pub mod shard;
pub mod store;
pub mod threads;

#[cfg(feature = "python")]
mod python;

pub use array::Array;
pub use error::{Error, Result};
