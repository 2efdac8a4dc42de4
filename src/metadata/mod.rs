//! Array and group metadata of every format, parsed into one `ArrayMeta` that the chunk
//! engine works from. Each format module only translates its JSON.

pub mod fill;
pub mod json;
pub mod n5;
pub mod zarr_v2;
pub mod zarr_v3;

use crate::chunk::grid::ChunkGrid;
use crate::chunk::key::KeyEncoding;
use crate::codec::Compressor;
use crate::dtype::{DataType, Endian};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    N5,
    ZarrV2,
    ZarrV3,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::N5 => "n5",
            Format::ZarrV2 => "zarr2",
            Format::ZarrV3 => "zarr3",
        }
    }

    pub fn from_name(s: &str) -> Result<Format> {
        match s {
            "n5" => Ok(Format::N5),
            "zarr" | "zarr2" => Ok(Format::ZarrV2),
            "zarr3" => Ok(Format::ZarrV3),
            _ => Err(Error::invalid(format!(
                "unknown format {s:?}; use n5, zarr2 or zarr3"
            ))),
        }
    }
}

/// Where the inner chunks of a Zarr v3 shard live.
#[derive(Clone, Debug, PartialEq)]
pub struct Sharding {
    /// Inner chunk grid of one shard (shape = shard shape).
    pub inner: Vec<u64>,
    pub inner_pipeline: Pipeline,
    pub index_pipeline: Pipeline,
    pub index_at_start: bool,
}

/// Everything the chunk engine needs to know about an array.
#[derive(Clone, Debug)]
pub struct ArrayMeta {
    pub format: Format,
    /// Grid of stored objects: chunks, or shards when `sharding` is set.
    pub grid: ChunkGrid,
    pub dtype: DataType,
    pub endian: Endian,
    /// One element in native byte order.
    pub fill: Vec<u8>,
    pub pipeline: Pipeline,
    pub keys: KeyEncoding,
    /// The compressor users asked for (for `compression_options`).
    pub compressor: Compressor,
    pub sharding: Option<Sharding>,
    /// The metadata document as on disk.
    pub doc: Value,
    pub meta_path: PathBuf,
}

/// What a caller asks for when creating an array.
#[derive(Clone, Debug)]
pub struct ArraySpec {
    pub format: Format,
    pub shape: Vec<u64>,
    pub chunks: Vec<u64>,
    pub dtype: DataType,
    pub endian: Endian,
    pub compressor: Compressor,
    pub fill: Vec<u8>,
    pub separator: Option<char>,
    pub shards: Option<Vec<u64>>,
    pub key_encoding: Option<String>,
}

/// What lives at a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Array,
    Group,
    /// A directory without metadata (an N5 group needs none).
    Dir,
    Missing,
}

pub const N5_ATTRS: &str = "attributes.json";
pub const ZARRAY: &str = ".zarray";
pub const ZGROUP: &str = ".zgroup";
pub const ZATTRS: &str = ".zattrs";
pub const ZARR_JSON: &str = "zarr.json";

pub fn node_info(path: &Path) -> Result<(NodeKind, Option<Format>)> {
    if let Some(doc) = json::read(&path.join(ZARR_JSON))? {
        return match doc.get("node_type").and_then(Value::as_str) {
            Some("array") => Ok((NodeKind::Array, Some(Format::ZarrV3))),
            Some("group") => Ok((NodeKind::Group, Some(Format::ZarrV3))),
            _ => Err(Error::metadata(
                path.join(ZARR_JSON),
                "node_type must be \"array\" or \"group\"",
            )),
        };
    }
    if path.join(ZARRAY).is_file() {
        return Ok((NodeKind::Array, Some(Format::ZarrV2)));
    }
    if path.join(ZGROUP).is_file() {
        return Ok((NodeKind::Group, Some(Format::ZarrV2)));
    }
    if let Some(doc) = json::read(&path.join(N5_ATTRS))? {
        let kind = if n5::is_dataset(&doc) {
            NodeKind::Array
        } else {
            NodeKind::Group
        };
        return Ok((kind, Some(Format::N5)));
    }
    if path.is_dir() {
        return Ok((NodeKind::Dir, None));
    }
    Ok((NodeKind::Missing, None))
}

/// Read the metadata of the array at `path`, whatever its format.
pub fn open(path: &Path) -> Result<ArrayMeta> {
    match node_info(path)? {
        (NodeKind::Array, Some(Format::N5)) => n5::parse(path),
        (NodeKind::Array, Some(Format::ZarrV2)) => zarr_v2::parse(path),
        (NodeKind::Array, Some(Format::ZarrV3)) => zarr_v3::parse(path),
        (NodeKind::Missing, _) => Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no array here"),
        )),
        _ => Err(Error::metadata(
            path,
            "not an array (no .zarray, zarr.json or N5 dataset attributes)",
        )),
    }
}

/// Write the metadata of a new array and return it as parsed back from disk.
pub fn create(path: &Path, spec: &ArraySpec) -> Result<ArrayMeta> {
    ChunkGrid::new(spec.shape.clone(), spec.chunks.clone())?;
    if spec.fill.len() != spec.dtype.size() {
        return Err(Error::invalid(format!(
            "fill value has {} bytes, data type {} needs {}",
            spec.fill.len(),
            spec.dtype.name(),
            spec.dtype.size()
        )));
    }
    let existed = path.exists();
    std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
    let written = match spec.format {
        Format::N5 => n5::create(path, spec),
        Format::ZarrV2 => zarr_v2::create(path, spec),
        Format::ZarrV3 => zarr_v3::create(path, spec),
    };
    if let Err(e) = written {
        if !existed {
            // Only removes the directory if it is still empty.
            let _ = std::fs::remove_dir(path);
        }
        return Err(e);
    }
    open(path)
}

/// JSON helpers shared by the format parsers.
pub(crate) fn get<'a>(doc: &'a Value, key: &str, file: &Path) -> Result<&'a Value> {
    doc.get(key)
        .ok_or_else(|| Error::metadata(file, format!("missing key {key:?}")))
}

pub(crate) fn u64_list(v: &Value, key: &str, file: &Path) -> Result<Vec<u64>> {
    v.as_array()
        .and_then(|a| a.iter().map(Value::as_u64).collect::<Option<Vec<u64>>>())
        .ok_or_else(|| {
            Error::metadata(
                file,
                format!("{key:?} must be a list of non-negative integers, got {v}"),
            )
        })
}

pub(crate) fn grid(shape: Vec<u64>, chunks: Vec<u64>, file: &Path) -> Result<ChunkGrid> {
    ChunkGrid::new(shape, chunks).map_err(|e| Error::metadata(file, e.to_string()))
}
