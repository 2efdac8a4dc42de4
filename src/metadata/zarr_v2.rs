//! Zarr v2 `.zarray` (numcodecs compressor ids) and `.zgroup`.

use super::Loc;
use super::{fill, get, grid, json, u64_list, ArrayMeta, ArraySpec, Format, ZARRAY};
use crate::chunk::key::KeyEncoding;
use crate::codec::blosc::BloscConfig;
use crate::codec::filter::{self, Filter};
use crate::codec::options::shuffle_from;
use crate::codec::{Compressor, Lz4Framing};
use crate::dtype::{DataType, Endian, ObjectCodec};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use serde_json::{json, Value};

fn int(c: &Value, key: &str, default: i64) -> i64 {
    c.get(key).and_then(Value::as_i64).unwrap_or(default)
}

/// A numcodecs codec (`{"id": ...}`) in any position: a compressor, checksum or filter.
/// `input` is the element type it receives.
/// A numcodecs filter list; filters see the chunk in its stored dtype, each the previous
/// one's output. Returns the codecs and the element type the compressor receives.
pub fn filters_from_json(
    list: &[Value],
    input: (DataType, Endian),
    file: &str,
) -> Result<(Vec<Compressor>, (DataType, Endian))> {
    let mut current = input;
    let mut chain = Vec::new();
    for f in list {
        let codec = codec_from_json(f, current, file)?;
        if let Compressor::Filter(filter) = &codec {
            current = filter.output(current);
        }
        chain.push(codec);
    }
    Ok((chain, current))
}

pub(crate) fn codec_from_json(
    c: &Value,
    input: (DataType, Endian),
    file: &str,
) -> Result<Compressor> {
    let id = c
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::metadata(file, format!("codec without an \"id\": {c}")))?;
    if filter::IDS.contains(&id) {
        let config = c.as_object().cloned().unwrap_or_default();
        return Filter::from_numcodecs(id, &config, input)
            .map(Compressor::Filter)
            .map_err(|e| match e {
                Error::Unsupported { msg } => Error::unsupported(format!("{msg} in {}", file)),
                other => Error::metadata(file, other.to_string()),
            });
    }
    compressor_from_json(c, input.0, file)
}

/// numcodecs' JSON of any codec in a chain (None for no compression).
pub(crate) fn codec_to_json(c: &Compressor) -> Result<Value> {
    Ok(match c {
        Compressor::Filter(f) => f.to_numcodecs(),
        Compressor::Adler32 => json!({"id": "adler32"}),
        Compressor::Crc32 => json!({"id": "crc32"}),
        Compressor::Fletcher32 => json!({"id": "fletcher32"}),
        Compressor::Crc32c => json!({"id": "crc32c"}),
        other => compressor_to_json(other)?,
    })
}

fn compressor_from_json(c: &Value, dtype: DataType, file: &str) -> Result<Compressor> {
    if c.is_null() {
        return Ok(Compressor::Raw);
    }
    let id = c
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::metadata(file, "compressor has no \"id\""))?;
    Ok(match id {
        "zlib" => Compressor::Gzip {
            level: int(c, "level", 1).clamp(0, 9) as u32,
            zlib: true,
        },
        "gzip" => Compressor::Gzip {
            level: int(c, "level", 1).clamp(0, 9) as u32,
            zlib: false,
        },
        "bz2" => Compressor::Bzip2 {
            level: int(c, "level", 1).clamp(1, 9) as u32,
        },
        "lzma" => {
            let format = int(c, "format", 1);
            let filters = c.get("filters").unwrap_or(&Value::Null);
            if !(format == 1 || format == 0) || !filters.is_null() {
                return Err(Error::unsupported(format!(
                    "lzma format {format} with filters {filters} in {}",
                    file
                )));
            }
            Compressor::Xz {
                preset: int(c, "preset", 6).clamp(0, 9) as u32,
            }
        }
        "blosc" => Compressor::Blosc(BloscConfig::from_json(
            |k| c.get(k),
            ("lz4", 5),
            shuffle_from(c.get("shuffle")).map_err(|e| Error::metadata(file, e.to_string()))?,
            dtype.size(),
        )),
        "zstd" => Compressor::Zstd {
            level: int(c, "level", 0) as i32,
            checksum: c.get("checksum").and_then(Value::as_bool).unwrap_or(false),
        },
        "lz4" => Compressor::Lz4 {
            framing: Lz4Framing::SizePrefixed,
            acceleration: int(c, "acceleration", 1) as i32,
            level: 6,
        },
        "adler32" => Compressor::Adler32,
        "crc32" => Compressor::Crc32,
        "fletcher32" => Compressor::Fletcher32,
        // numcodecs' CRC32C frames like Zarr v3's crc32c (checksum after the payload).
        "crc32c" => Compressor::Crc32c,
        other => {
            return Err(Error::unsupported(format!(
                "Zarr compressor {other:?} in {}",
                file
            )))
        }
    })
}

fn compressor_to_json(c: &Compressor) -> Result<Value> {
    Ok(match c {
        Compressor::Raw => Value::Null,
        Compressor::Gzip { level, zlib: true } => json!({ "id": "zlib", "level": level }),
        Compressor::Gzip { level, zlib: false } => json!({ "id": "gzip", "level": level }),
        Compressor::Bzip2 { level } => json!({ "id": "bz2", "level": level }),
        Compressor::Xz { preset } => {
            json!({ "id": "lzma", "format": 1, "check": -1, "preset": preset, "filters": null })
        }
        Compressor::Blosc(b) => json!({
            "id": "blosc", "cname": b.cname, "clevel": b.clevel, "shuffle": b.shuffle, "blocksize": b.blocksize
        }),
        // numcodecs writes "checksum" only when set, and tensorstore rejects it otherwise.
        Compressor::Zstd {
            level,
            checksum: false,
        } => json!({ "id": "zstd", "level": level }),
        Compressor::Zstd {
            level,
            checksum: true,
        } => json!({ "id": "zstd", "level": level, "checksum": true }),
        Compressor::Lz4 { acceleration, .. } => {
            json!({ "id": "lz4", "acceleration": acceleration })
        }
        Compressor::Crc32c
        | Compressor::Adler32
        | Compressor::Crc32
        | Compressor::Fletcher32
        | Compressor::Filter(_) => return codec_to_json(c),
    })
}

/// Size of a structured dtype in numpy's list form (`[["label", "<u8"], ["xy", "<f4", [2]]]`).
fn record_size(fields: &[Value]) -> Option<usize> {
    let mut size = 0usize;
    for f in fields {
        let f = f.as_array()?;
        if f.len() < 2 || f.len() > 3 || !f[0].is_string() {
            return None;
        }
        let one = match &f[1] {
            Value::String(t) => DataType::from_typestr(t).ok()?.0.size(),
            Value::Array(inner) => record_size(inner)?,
            _ => return None,
        };
        let count = match f.get(2) {
            None => 1,
            Some(shape) => shape
                .as_array()?
                .iter()
                .try_fold(1usize, |n, d| n.checked_mul(d.as_u64()? as usize))?,
        };
        size = size.checked_add(one.checked_mul(count)?)?;
    }
    (size > 0 && size <= 1 << 28).then_some(size)
}

/// A `.zarray` dtype: a numpy type string, or a structured dtype in list form (an opaque
/// record of its size to the engine; the Python layer reads its fields from the metadata).
pub fn dtype_from_json(dt: &Value) -> Result<(DataType, Endian)> {
    match dt {
        Value::String(t) => DataType::from_typestr(t),
        Value::Array(fields) => match record_size(fields) {
            Some(n) => Ok((DataType::Opaque(n as u32), Endian::Little)),
            None => Err(Error::unsupported(format!("structured dtype {dt}"))),
        },
        _ => Err(Error::unsupported(format!("dtype {dt}"))),
    }
}

/// The object codec of a `|O` array (the first of its `filters`) and the filters after it.
fn object_codec(filters: Option<&Value>, file: &str) -> Result<(ObjectCodec, Vec<Value>)> {
    let list = match filters {
        Some(Value::Array(list)) if !list.is_empty() => list,
        _ => {
            return Err(Error::metadata(
                file,
                "dtype \"|O\" (object) without an object codec in \"filters\"",
            ))
        }
    };
    let id = list[0].get("id").and_then(Value::as_str).unwrap_or("");
    let codec = ObjectCodec::from_id(id).ok_or_else(|| {
        Error::unsupported(format!(
            "object codec {id:?} in {file} (vlen-utf8, vlen-bytes and json2 are supported)"
        ))
    })?;
    Ok((codec, list[1..].to_vec()))
}

pub fn parse(at: &Loc) -> Result<ArrayMeta> {
    let file = at.location(ZARRAY);
    let doc = json::read(at, ZARRAY)?.ok_or_else(|| Error::metadata(&file, "missing"))?;
    if get(&doc, "zarr_format", &file)?.as_u64() != Some(2) {
        return Err(Error::metadata(&file, "zarr_format must be 2"));
    }
    let shape = u64_list(get(&doc, "shape", &file)?, "shape", &file)?;
    let chunks = u64_list(get(&doc, "chunks", &file)?, "chunks", &file)?;
    let dt = get(&doc, "dtype", &file)?;
    let mut filters = doc.get("filters").cloned();
    let (dtype, endian) = if dt.as_str() == Some("|O") {
        // An object array: its first filter is the object codec, which turns the items
        // into bytes for the rest of the chain.
        let (codec, rest) = object_codec(filters.as_ref(), &file)?;
        filters = Some(Value::Array(rest));
        (DataType::Object(codec), Endian::Little)
    } else {
        dtype_from_json(dt).map_err(|_| Error::unsupported(format!("dtype {dt} in {}", file)))?
    };
    let chain_input = if dtype.is_object() {
        (DataType::UInt8, Endian::Little)
    } else {
        (dtype, endian)
    };
    let (mut chain, current) = match filters.as_ref() {
        None | Some(Value::Null) => (vec![], chain_input),
        Some(Value::Array(list)) => filters_from_json(list, chain_input, &file)?,
        Some(f) => {
            return Err(Error::metadata(
                &file,
                format!("filters must be a list or null, got {f}"),
            ))
        }
    };
    let compressor = match doc.get("compressor").unwrap_or(&Value::Null) {
        Value::Null => Compressor::Raw,
        c => codec_from_json(c, current, &file)?,
    };
    chain.push(compressor.clone());
    let fill = fill::from_json(dtype, doc.get("fill_value").unwrap_or(&Value::Null))
        .map_err(|e| Error::metadata(&file, e.to_string()))?;
    let ndim = shape.len();
    let permutation = match doc.get("order").and_then(Value::as_str) {
        Some("C") | None => None,
        Some("F") => Some((0..ndim).rev().collect()),
        Some(o) => return Err(Error::metadata(&file, format!("order {o:?} is not C or F"))),
    };
    let separator = match doc.get("dimension_separator").and_then(Value::as_str) {
        None | Some(".") => '.',
        Some("/") => '/',
        Some(s) => {
            return Err(Error::metadata(
                &file,
                format!("dimension_separator {s:?} is not . or /"),
            ))
        }
    };
    Ok(ArrayMeta {
        format: Format::ZarrV2,
        grid: grid(shape, chunks, &file)?,
        dtype,
        endian,
        fill,
        pipeline: Pipeline {
            dtype,
            permutation,
            endian,
            compressors: chain,
            n5_header: false,
        },
        keys: KeyEncoding::V2 { separator },
        compressor,
        sharding: None,
        doc,
        meta_path: file,
    })
}

/// An object codec's numcodecs JSON, as numcodecs writes it (json2 with its defaults).
pub fn object_codec_json(codec: ObjectCodec) -> Value {
    match codec {
        ObjectCodec::Json2 => json!({
            "allow_nan": true, "check_circular": true, "encoding": "utf-8",
            "ensure_ascii": true, "id": "json2", "indent": null, "separators": [",", ":"],
            "skipkeys": false, "sort_keys": true, "strict": true,
        }),
        other => json!({ "id": other.id() }),
    }
}

pub fn create(at: &Loc, spec: &ArraySpec) -> Result<()> {
    if spec.shards.is_some() {
        return Err(Error::invalid("sharding needs Zarr v3"));
    }
    let sep = spec.separator.unwrap_or('.');
    if sep != '.' && sep != '/' {
        return Err(Error::invalid(format!(
            "dimension_separator {sep:?} is not . or /"
        )));
    }
    let mut list = match spec.dtype {
        DataType::Object(codec) => vec![object_codec_json(codec)],
        _ => vec![],
    };
    for f in &spec.filters {
        list.push(codec_to_json(f)?);
    }
    let filters = if list.is_empty() {
        Value::Null
    } else {
        Value::Array(list)
    };
    let doc = json!({
        "zarr_format": 2,
        "shape": spec.shape,
        "chunks": spec.chunks,
        "dtype": match &spec.record {
            Some(fields) => {
                if dtype_from_json(fields)?.0 != spec.dtype {
                    return Err(Error::invalid(format!(
                        "structured dtype {fields} does not have {} bytes",
                        spec.dtype.size()
                    )));
                }
                fields.clone()
            }
            None => json!(spec.dtype.typestr(spec.endian)),
        },
        "compressor": codec_to_json(&spec.compressor)?,
        "fill_value": fill::to_json(spec.dtype, &spec.fill),
        "order": "C",
        "filters": filters,
        "dimension_separator": sep.to_string(),
    });
    json::write(at, ZARRAY, &doc)
}
