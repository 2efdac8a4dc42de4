//! Array and group metadata of every format, parsed into one `ArrayMeta` that the chunk
//! engine works from. Each format module only translates its JSON.

pub mod fill;
pub mod json;
pub mod n5;
pub mod zarr_v2;
pub mod zarr_v3;

#[cfg(test)]
mod tests;

use crate::chunk::grid::ChunkGrid;
use crate::chunk::key::KeyEncoding;
use crate::codec::Compressor;
use crate::dtype::{DataType, Endian};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::store::Store;
use serde_json::Value;

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
    /// The metadata document as stored.
    pub doc: Value,
    /// Where the metadata document is (path or URL), for messages.
    pub meta_path: String,
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
    /// Zarr v2 structured dtype in numpy's list form (`dtype` is then `Opaque` of its size).
    pub record: Option<Value>,
    /// Codecs applied before the compressor (Zarr v2 `filters`, Zarr v3 `numcodecs.*`
    /// array-to-array codecs).
    pub filters: Vec<Compressor>,
}

impl ArraySpec {
    /// An array of `dtype` (little-endian where the format has a choice), uncompressed, with
    /// a fill value of zero and the format's defaults for the rest; set the other fields
    /// with struct update syntax (`ArraySpec { shards: ..., ..ArraySpec::new(...) }`).
    pub fn new(format: Format, shape: Vec<u64>, chunks: Vec<u64>, dtype: DataType) -> ArraySpec {
        ArraySpec {
            format,
            shape,
            chunks,
            dtype,
            endian: Endian::Little,
            compressor: Compressor::Raw,
            fill: vec![0; dtype.size()],
            separator: None,
            shards: None,
            key_encoding: None,
            record: None,
            filters: Vec::new(),
        }
    }
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

/// A node of a store: the store and the node's key prefix (`""`: the store's root).
#[derive(Clone, Copy)]
pub struct Loc<'a> {
    pub store: &'a dyn Store,
    pub prefix: &'a str,
}

impl<'a> Loc<'a> {
    pub fn new(store: &'a dyn Store, prefix: &'a str) -> Loc<'a> {
        Loc { store, prefix }
    }

    /// The key of `name` inside this node.
    pub fn key(&self, name: &str) -> String {
        crate::store::join(self.prefix, name)
    }

    /// Where `name` inside this node is, for messages (path or URL).
    pub fn location(&self, name: &str) -> String {
        self.store.location(&self.key(name))
    }
}

/// What the node at `at` is, judged by its metadata documents. A prefix holding other keys
/// but no metadata (an N5 group needs none) is `Dir`.
pub fn node_info(at: &Loc) -> Result<(NodeKind, Option<Format>)> {
    if let Some(doc) = json::read(at, ZARR_JSON)? {
        return match doc.get("node_type").and_then(Value::as_str) {
            Some("array") => Ok((NodeKind::Array, Some(Format::ZarrV3))),
            Some("group") => Ok((NodeKind::Group, Some(Format::ZarrV3))),
            _ => Err(Error::metadata(
                at.location(ZARR_JSON),
                "node_type must be \"array\" or \"group\"",
            )),
        };
    }
    if at.store.size(&at.key(ZARRAY))?.is_some() {
        return Ok((NodeKind::Array, Some(Format::ZarrV2)));
    }
    if at.store.size(&at.key(ZGROUP))?.is_some() {
        return Ok((NodeKind::Group, Some(Format::ZarrV2)));
    }
    if let Some(doc) = json::read(at, N5_ATTRS)? {
        let kind = if n5::is_dataset(&doc) {
            NodeKind::Array
        } else {
            NodeKind::Group
        };
        return Ok((kind, Some(Format::N5)));
    }
    match at.store.prefix_exists(at.prefix) {
        Ok(true) => Ok((NodeKind::Dir, None)),
        Ok(false) => Ok((NodeKind::Missing, None)),
        // a store that cannot be listed (HTTP) shows only nodes with metadata
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::Unsupported => {
            Ok((NodeKind::Missing, None))
        }
        Err(e) => Err(e),
    }
}

/// What lives at the root of a container (as `node_info`), with the root's own metadata
/// checked strictly: a `.zgroup`, `.zarray`, `zarr.json` or `attributes.json` that is not
/// valid JSON, not an object or of another format version is a `MetadataError` naming the
/// document, and an N5 root of a later major version than this library implements is
/// `Unsupported`.
pub fn root_info(at: &Loc) -> Result<(NodeKind, Option<Format>)> {
    let info = node_info(at)?;
    let (name, expected) = match info.1 {
        None => return Ok(info),
        Some(Format::N5) => {
            let doc = json::read(at, N5_ATTRS)?.unwrap_or(Value::Object(Default::default()));
            if !doc.is_object() {
                return Err(Error::metadata(
                    at.location(N5_ATTRS),
                    "expected a JSON object",
                ));
            }
            n5::check_version(&doc, &at.location(N5_ATTRS))?;
            return Ok(info);
        }
        Some(Format::ZarrV2) if info.0 == NodeKind::Group => (ZGROUP, 2),
        Some(Format::ZarrV2) => (ZARRAY, 2),
        Some(Format::ZarrV3) => (ZARR_JSON, 3),
    };
    let location = at.location(name);
    let doc = json::read(at, name)?.ok_or_else(|| Error::metadata(&location, "missing"))?;
    if !doc.is_object() {
        return Err(Error::metadata(&location, "expected a JSON object"));
    }
    match doc.get("zarr_format") {
        Some(v) if v.as_u64() == Some(expected) => Ok(info),
        other => Err(Error::metadata(
            &location,
            format!(
                "\"zarr_format\" must be {expected}, got {}",
                other.unwrap_or(&Value::Null)
            ),
        )),
    }
}

/// Read the metadata of the array at `at`, whatever its format.
pub fn open(at: &Loc) -> Result<ArrayMeta> {
    match node_info(at)? {
        (NodeKind::Array, Some(Format::N5)) => n5::parse(at),
        (NodeKind::Array, Some(Format::ZarrV2)) => zarr_v2::parse(at),
        (NodeKind::Array, Some(Format::ZarrV3)) => zarr_v3::parse(at),
        (NodeKind::Missing, _) => Err(Error::io(
            at.location(""),
            std::io::Error::new(std::io::ErrorKind::NotFound, "no array here"),
        )),
        _ => Err(Error::metadata(
            at.location(""),
            "not an array (no .zarray, zarr.json or N5 dataset attributes)",
        )),
    }
}

/// Write the metadata of a new array and return it as parsed back from the store.
pub fn create(at: &Loc, spec: &ArraySpec) -> Result<ArrayMeta> {
    ChunkGrid::new(spec.shape.clone(), spec.chunks.clone())?;
    if spec.fill.len() != spec.dtype.size() && !spec.dtype.is_object() {
        return Err(Error::invalid(format!(
            "fill value has {} bytes, data type {} needs {}",
            spec.fill.len(),
            spec.dtype.name(),
            spec.dtype.size()
        )));
    }
    match spec.format {
        Format::N5 => n5::create(at, spec)?,
        Format::ZarrV2 => zarr_v2::create(at, spec)?,
        Format::ZarrV3 => zarr_v3::create(at, spec)?,
    }
    open(at)
}

/// JSON helpers shared by the format parsers.
pub(crate) fn get<'a>(doc: &'a Value, key: &str, file: &str) -> Result<&'a Value> {
    doc.get(key)
        .ok_or_else(|| Error::metadata(file, format!("missing key {key:?}")))
}

pub(crate) fn u64_list(v: &Value, key: &str, file: &str) -> Result<Vec<u64>> {
    v.as_array()
        .and_then(|a| a.iter().map(Value::as_u64).collect::<Option<Vec<u64>>>())
        .ok_or_else(|| {
            Error::metadata(
                file,
                format!("{key:?} must be a list of non-negative integers, got {v}"),
            )
        })
}

pub(crate) fn grid(shape: Vec<u64>, chunks: Vec<u64>, file: &str) -> Result<ChunkGrid> {
    ChunkGrid::new(shape, chunks).map_err(|e| Error::metadata(file, e.to_string()))
}
