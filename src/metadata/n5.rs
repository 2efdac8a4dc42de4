//! N5 `attributes.json`: dimensions and blockSize in N5's reversed (x-first) axis order,
//! dataType, and the compression object.

use super::Loc;
use super::{get, grid, json, u64_list, ArrayMeta, ArraySpec, Format, N5_ATTRS};
use crate::chunk::key::KeyEncoding;
use crate::codec::blosc::BloscConfig;
use crate::codec::{Compressor, Lz4Framing};
use crate::dtype::{DataType, Endian};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use serde_json::{json, Map, Value};

/// Keys of a dataset's `attributes.json` that belong to the format, not the user.
pub const RESERVED: [&str; 5] = [
    "dimensions",
    "blockSize",
    "dataType",
    "compression",
    "compressionType",
];
/// The root's version key.
pub const VERSION_KEY: &str = "n5";
pub const VERSION: &str = "2.0.0";

pub fn is_dataset(doc: &Value) -> bool {
    doc.as_object().is_some_and(is_dataset_object)
}

/// Whether an `attributes.json` object describes a dataset (N5's rule: it has
/// `dimensions`, `blockSize` and `dataType`).
pub fn is_dataset_object(doc: &Map<String, Value>) -> bool {
    ["dimensions", "blockSize", "dataType"]
        .iter()
        .all(|k| doc.contains_key(*k))
}

/// The major N5 version this library implements; roots declaring a later one are refused.
pub const MAX_MAJOR_VERSION: u64 = 4;

/// Check the `n5` version of a root `attributes.json` (absent is fine: N5-Java writes it,
/// other writers do not).
pub fn check_version(doc: &Value, file: &str) -> Result<()> {
    let Some(version) = doc.get(VERSION_KEY) else {
        return Ok(());
    };
    let text = version.as_str().ok_or_else(|| {
        Error::metadata(
            file,
            format!("\"n5\" must be a version string, got {version}"),
        )
    })?;
    let major = text
        .split('.')
        .next()
        .and_then(|m| m.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            Error::metadata(
                file,
                format!("\"n5\" version {text:?} is not MAJOR.MINOR.PATCH"),
            )
        })?;
    if major > MAX_MAJOR_VERSION {
        return Err(Error::unsupported(format!(
            "N5 version {text} in {file}: this library implements N5 up to version \
             {MAX_MAJOR_VERSION}.x"
        )));
    }
    Ok(())
}

fn int(c: &Value, key: &str, default: i64) -> i64 {
    c.get(key).and_then(Value::as_i64).unwrap_or(default)
}

fn compressor_from_json(doc: &Value, dtype: DataType, file: &str) -> Result<Compressor> {
    let c = match (doc.get("compression"), doc.get("compressionType")) {
        (Some(c), _) => c.clone(),
        (None, Some(Value::String(t))) => json!({ "type": t }),
        (None, _) => json!({ "type": "raw" }),
    };
    let ty = c
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::metadata(file, "compression has no \"type\""))?;
    Ok(match ty {
        "raw" => Compressor::Raw,
        "gzip" => {
            let level = int(&c, "level", 6);
            let zlib = c.get("useZlib").and_then(Value::as_bool).unwrap_or(false);
            Compressor::Gzip {
                level: if level < 0 { 6 } else { level as u32 },
                zlib,
            }
        }
        "bzip2" => Compressor::Bzip2 {
            level: int(&c, "blockSize", 9).clamp(1, 9) as u32,
        },
        "xz" => Compressor::Xz {
            preset: int(&c, "preset", 6).clamp(0, 9) as u32,
        },
        "lz4" => Compressor::Lz4 {
            framing: Lz4Framing::RawBlock,
            level: int(&c, "blockSize", 65536) as i32,
            acceleration: 1,
        },
        "blosc" => Compressor::Blosc(BloscConfig::from_json(
            |k| c.get(k),
            ("blosclz", 6),
            int(&c, "shuffle", 0) as i32,
            dtype.size(),
        )),
        "zstd" => Compressor::Zstd {
            level: int(&c, "level", 3) as i32,
            checksum: false,
        },
        other => {
            return Err(Error::unsupported(format!(
                "N5 compression type {other:?} in {}",
                file
            )))
        }
    })
}

fn compressor_to_json(c: &Compressor) -> Result<Value> {
    Ok(match c {
        Compressor::Raw => json!({ "type": "raw" }),
        Compressor::Gzip { level, zlib: false } => json!({ "type": "gzip", "level": level }),
        Compressor::Gzip { level, zlib: true } => {
            json!({ "type": "gzip", "level": level, "useZlib": true })
        }
        Compressor::Bzip2 { level } => json!({ "type": "bzip2", "blockSize": level }),
        Compressor::Xz { preset } => json!({ "type": "xz", "preset": preset }),
        Compressor::Lz4 { level, .. } => json!({ "type": "lz4", "blockSize": level }),
        Compressor::Blosc(b) => json!({
            // z5 and Java also write "nthreads"; tensorstore rejects unknown members.
            "type": "blosc", "cname": b.cname, "clevel": b.clevel, "shuffle": b.shuffle,
            "blocksize": b.blocksize
        }),
        Compressor::Zstd { level, .. } => json!({ "type": "zstd", "level": level }),
        other => {
            return Err(Error::invalid(format!(
                "{} is not an N5 compression",
                other.z5py_name()
            )))
        }
    })
}

pub fn parse(at: &Loc) -> Result<ArrayMeta> {
    let file = at.location(N5_ATTRS);
    let doc = json::read(at, N5_ATTRS)?.ok_or_else(|| Error::metadata(&file, "missing"))?;
    let mut shape = u64_list(get(&doc, "dimensions", &file)?, "dimensions", &file)?;
    let mut chunks = u64_list(get(&doc, "blockSize", &file)?, "blockSize", &file)?;
    shape.reverse();
    chunks.reverse();
    let name = get(&doc, "dataType", &file)?
        .as_str()
        .ok_or_else(|| Error::metadata(&file, "\"dataType\" must be a string"))?;
    let dtype = DataType::from_name(name)
        .filter(|d| d.in_n5())
        .ok_or_else(|| Error::unsupported(format!("N5 dataType {name:?} in {}", file)))?;
    let compressor = compressor_from_json(&doc, dtype, &file)?;
    Ok(ArrayMeta {
        format: Format::N5,
        grid: grid(shape, chunks, &file)?,
        dtype,
        endian: Endian::Big,
        fill: vec![0; dtype.size()],
        pipeline: Pipeline {
            dtype,
            permutation: None,
            endian: Endian::Big,
            compressors: vec![compressor.clone()],
            n5_header: true,
        },
        keys: KeyEncoding::N5,
        compressor,
        sharding: None,
        doc,
        meta_path: file,
    })
}

pub fn create(at: &Loc, spec: &ArraySpec) -> Result<()> {
    if !spec.filters.is_empty() {
        return Err(Error::invalid("N5 has no filters (they need Zarr)"));
    }
    if spec.dtype.is_object() {
        return Err(Error::unsupported(format!(
            "variable-length data ({}) in the N5 dataset {}: N5 has no such type; use Zarr",
            spec.dtype.name(),
            at.location("")
        )));
    }
    if !spec.dtype.in_n5() {
        return Err(Error::unsupported(format!(
            "data type {} in N5",
            spec.dtype.name()
        )));
    }
    if spec.fill.iter().any(|&b| b != 0) {
        return Err(Error::invalid("N5 has no fill value; only 0 is possible"));
    }
    if spec.shards.is_some() {
        return Err(Error::invalid("sharding needs Zarr v3"));
    }
    if spec.shape.is_empty() {
        // Its one block would have to be the dataset directory itself.
        return Err(Error::unsupported("0-dimensional datasets in N5"));
    }
    // Keep user attributes that may already be there.
    let mut doc: Map<String, Value> = match json::read(at, N5_ATTRS)? {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let rev = |v: &[u64]| v.iter().rev().copied().collect::<Vec<u64>>();
    doc.insert("dimensions".into(), json!(rev(&spec.shape)));
    doc.insert("blockSize".into(), json!(rev(&spec.chunks)));
    doc.insert("dataType".into(), json!(spec.dtype.name()));
    doc.insert("compression".into(), compressor_to_json(&spec.compressor)?);
    doc.remove("compressionType");
    json::write(at, N5_ATTRS, &Value::Object(doc))
}
