//! Zarr v3 `zarr.json` for arrays: data types, the regular chunk grid, chunk key encodings,
//! fill values and the codec chain, including `sharding_indexed`.

use super::Loc;
use super::{
    fill, get, grid, json, u64_list, zarr_v2, ArrayMeta, ArraySpec, Format, Sharding, ZARR_JSON,
};
use crate::chunk::key::KeyEncoding;
use crate::codec::blosc::BloscConfig;
use crate::codec::options::shuffle_from;
use crate::codec::Compressor;
use crate::dtype::{DataType, Endian, ObjectCodec, TimeUnit};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use serde_json::{json, Map, Value};

const KNOWN_KEYS: [&str; 11] = [
    "zarr_format",
    "node_type",
    "shape",
    "data_type",
    "chunk_grid",
    "chunk_key_encoding",
    "fill_value",
    "codecs",
    "attributes",
    "dimension_names",
    "storage_transformers",
];

/// `{"name": ..., "configuration": {...}}`, or a bare name string.
fn name_and_config(v: &Value, file: &str) -> Result<(String, Map<String, Value>)> {
    match v {
        Value::String(s) => Ok((s.clone(), Map::new())),
        Value::Object(o) => {
            let name = o.get("name").and_then(Value::as_str).ok_or_else(|| {
                Error::metadata(file, format!("extension object without a name: {v}"))
            })?;
            let config = match o.get("configuration") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(c)) => c.clone(),
                Some(c) => {
                    return Err(Error::metadata(
                        file,
                        format!("configuration of {name} is not an object: {c}"),
                    ))
                }
            };
            Ok((name.to_string(), config))
        }
        _ => Err(Error::metadata(
            file,
            format!("expected an extension object, got {v}"),
        )),
    }
}

fn int(c: &Map<String, Value>, key: &str, default: i64) -> i64 {
    c.get(key).and_then(Value::as_i64).unwrap_or(default)
}

/// The parsed codec chain of one (inner or outer) chunk.
struct Chain {
    pipeline: Pipeline,
    sharding: Option<Sharding>,
    compressor: Compressor,
}

fn parse_codecs(list: &Value, dtype: DataType, ndim: usize, file: &str) -> Result<Chain> {
    let list = list
        .as_array()
        .ok_or_else(|| Error::metadata(file, "\"codecs\" must be a list"))?;
    let mut permutation: Option<Vec<usize>> = None;
    let mut endian: Option<Endian> = None;
    let mut sharding = None;
    let mut compressors = Vec::new();
    // numcodecs array-to-array codecs before `bytes`, and the element type they hand on.
    let mut pre_filters = Vec::new();
    let mut current = (dtype, Endian::NATIVE);
    for codec in list {
        let (name, c) = name_and_config(codec, file)?;
        let after_bytes = endian.is_some() || sharding.is_some();
        if let Some(id) = name.strip_prefix("numcodecs.") {
            let mut numcodec = c.clone();
            numcodec.insert("id".into(), json!(id));
            let parsed = zarr_v2::codec_from_json(&Value::Object(numcodec), current, file)?;
            let array_to_array = matches!(&parsed, Compressor::Filter(f) if f.array_to_array());
            if array_to_array == after_bytes || sharding.is_some() {
                return Err(Error::unsupported(format!(
                    "Zarr v3 codec {name:?} {} the array-to-bytes codec in {}",
                    if after_bytes { "after" } else { "before" },
                    file
                )));
            }
            if let Compressor::Filter(f) = &parsed {
                current = f.output(current);
            }
            if array_to_array {
                pre_filters.push(parsed);
            } else {
                compressors.push(parsed);
            }
            continue;
        }
        match name.as_str() {
            "transpose" if !after_bytes && !pre_filters.is_empty() => {
                return Err(Error::unsupported(format!(
                    "transpose after a numcodecs filter in {}",
                    file
                )));
            }
            "transpose" if !after_bytes => {
                let order: Vec<usize> = match c.get("order") {
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|x| x.as_u64().map(|u| u as usize))
                        .collect::<Option<_>>(),
                    _ => None,
                }
                .ok_or_else(|| {
                    Error::metadata(
                        file,
                        format!("transpose order must be a list of axes: {codec}"),
                    )
                })?;
                let mut sorted = order.clone();
                sorted.sort();
                if sorted != (0..ndim).collect::<Vec<_>>() {
                    return Err(Error::metadata(
                        file,
                        format!("transpose order {order:?} is not a permutation of {ndim} axes"),
                    ));
                }
                // Compose with an earlier transpose: stored axis i holds logical axis perm[i].
                permutation = Some(match permutation {
                    None => order,
                    Some(prev) => order.iter().map(|&o| prev[o]).collect(),
                });
            }
            "vlen-utf8" | "vlen-bytes" if !after_bytes => {
                let codec = ObjectCodec::from_id(&name).expect("a vlen codec");
                if dtype != DataType::Object(codec) {
                    return Err(Error::metadata(
                        file,
                        format!("codec {name:?} does not encode data type {}", dtype.name()),
                    ));
                }
                endian = Some(Endian::Little);
                current = (DataType::UInt8, Endian::Little);
            }
            "bytes" if !after_bytes && dtype.is_object() => {
                return Err(Error::metadata(
                    file,
                    format!(
                        "data type {} needs the {} codec, not bytes",
                        dtype.name(),
                        match dtype {
                            DataType::Object(c) => c.id(),
                            _ => "vlen",
                        }
                    ),
                ));
            }
            "bytes" if !after_bytes => {
                endian = Some(match c.get("endian").and_then(Value::as_str) {
                    Some("big") => Endian::Big,
                    Some("little") | None => Endian::Little,
                    Some(e) => return Err(Error::metadata(file, format!("bytes endian {e:?}"))),
                });
            }
            "sharding_indexed" if !after_bytes => {
                if permutation.is_some() {
                    return Err(Error::unsupported(format!(
                        "transpose before sharding_indexed in {}",
                        file
                    )));
                }
                let inner = u64_list(
                    get(&Value::Object(c.clone()), "chunk_shape", file)?,
                    "chunk_shape",
                    file,
                )?;
                if inner.len() != ndim {
                    return Err(Error::metadata(
                        file,
                        "sharding chunk_shape has the wrong number of dimensions",
                    ));
                }
                let inner_chain = parse_codecs(
                    c.get("codecs").unwrap_or(&json!([{"name": "bytes"}])),
                    dtype,
                    ndim,
                    file,
                )?;
                if inner_chain.sharding.is_some() {
                    return Err(Error::unsupported(format!("nested sharding in {}", file)));
                }
                let index_chain = parse_codecs(
                    c.get("index_codecs").unwrap_or(&json!([{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}])),
                    DataType::UInt64,
                    ndim + 1,
                    file,
                )?;
                if index_chain.pipeline.permutation.is_some()
                    || index_chain
                        .pipeline
                        .compressors
                        .iter()
                        .any(|c| !matches!(c, Compressor::Crc32c | Compressor::Raw))
                {
                    return Err(Error::unsupported(format!(
                        "shard index codecs other than bytes and crc32c in {}",
                        file
                    )));
                }
                let index_at_start = match c.get("index_location").and_then(Value::as_str) {
                    None | Some("end") => false,
                    Some("start") => true,
                    Some(l) => return Err(Error::metadata(file, format!("index_location {l:?}"))),
                };
                sharding = Some(Sharding {
                    inner,
                    inner_pipeline: inner_chain.pipeline,
                    index_pipeline: index_chain.pipeline,
                    index_at_start,
                });
                // A sharded array reports its inner compressor.
                compressors.push(inner_chain.compressor);
            }
            _ if !after_bytes => {
                return Err(Error::unsupported(format!(
                    "Zarr v3 codec {name:?} before the array-to-bytes codec in {}",
                    file
                )));
            }
            _ if sharding.is_some() => {
                return Err(Error::unsupported(format!(
                    "codec {name:?} after sharding_indexed in {}",
                    file
                )));
            }
            "gzip" => compressors.push(Compressor::Gzip {
                level: int(&c, "level", 5).clamp(0, 9) as u32,
                zlib: false,
            }),
            "zstd" => compressors.push(Compressor::Zstd {
                level: int(&c, "level", 0) as i32,
                checksum: c.get("checksum").and_then(Value::as_bool).unwrap_or(false),
            }),
            "blosc" => compressors.push(Compressor::Blosc(BloscConfig::from_json(
                |k| c.get(k),
                ("lz4", 5),
                shuffle_from(c.get("shuffle")).map_err(|e| Error::metadata(file, e.to_string()))?,
                int(&c, "typesize", current.0.size() as i64).max(1) as usize,
            ))),
            "crc32c" => compressors.push(Compressor::Crc32c),
            other => {
                return Err(Error::unsupported(format!(
                    "Zarr v3 codec {other:?} in {}",
                    file
                )))
            }
        }
    }
    if endian.is_none() && sharding.is_none() {
        return Err(Error::metadata(
            file,
            "codecs need exactly one array-to-bytes codec (bytes or sharding_indexed)",
        ));
    }
    if !pre_filters.is_empty() {
        if sharding.is_some() {
            return Err(Error::unsupported(format!(
                "numcodecs filters before sharding_indexed in {}",
                file
            )));
        }
        // zarr-python applies them to the array in memory (native order) and `bytes` then
        // orders the filtered elements; the engine filters stored bytes, which is the same
        // thing when the stored order is the native one.
        if endian.is_some_and(|e| e != Endian::NATIVE) && current.0.swap_unit() > 1 {
            return Err(Error::unsupported(format!(
                "numcodecs filters with a non-native bytes endian in {}",
                file
            )));
        }
    }
    let compressor = if sharding.is_some() {
        compressors.pop().unwrap_or(Compressor::Raw)
    } else {
        // The compressor, or (with none) the checksum, as the chain's reported name.
        compressors
            .iter()
            .find(|c| !c.is_auxiliary())
            .or_else(|| {
                compressors
                    .iter()
                    .rev()
                    .find(|c| !matches!(c, Compressor::Filter(_)))
            })
            .cloned()
            .unwrap_or(Compressor::Raw)
    };
    pre_filters.extend(compressors);
    let compressors = pre_filters;
    Ok(Chain {
        pipeline: Pipeline {
            dtype,
            permutation,
            endian: endian.unwrap_or(Endian::Little),
            compressors: if sharding.is_some() {
                vec![]
            } else {
                compressors
            },
            n5_header: false,
        },
        sharding,
        compressor,
    })
}

/// A `data_type`: a bare name, or one of the parameterised types zarr-python 3 writes.
fn dtype_from_json(dt: &Value) -> Option<DataType> {
    if let Some(name) = dt.as_str() {
        return match name {
            "string" => Some(DataType::Object(ObjectCodec::VlenUtf8)),
            "variable_length_bytes" => Some(DataType::Object(ObjectCodec::VlenBytes)),
            _ => DataType::from_name(name),
        };
    }
    let name = dt.get("name")?.as_str()?;
    let config = dt.get("configuration")?;
    let length = || {
        let n = config.get("length_bytes")?.as_u64()?;
        (1..=1 << 28).contains(&n).then_some(n as u32)
    };
    let unit = || {
        let scale = config.get("scale_factor").map_or(Some(1), Value::as_u64)?;
        TimeUnit::new(config.get("unit")?.as_str()?, u32::try_from(scale).ok()?)
    };
    Some(match name {
        "null_terminated_bytes" => DataType::FixedBytes(length()?),
        "raw_bytes" => DataType::Opaque(length()?),
        "fixed_length_utf32" => {
            let n = length()?;
            if n % 4 != 0 {
                return None;
            }
            DataType::FixedUtf32(n / 4)
        }
        "numpy.datetime64" => DataType::DateTime(unit()?),
        "numpy.timedelta64" => DataType::TimeDelta(unit()?),
        _ => return None,
    })
}

fn dtype_to_json(dtype: DataType) -> Value {
    let time = |name: &str, u: TimeUnit| json!({"name": name, "configuration": {"unit": u.name(), "scale_factor": u.scale}});
    match dtype {
        DataType::FixedBytes(n) => {
            json!({"name": "null_terminated_bytes", "configuration": {"length_bytes": n}})
        }
        DataType::Opaque(n) => json!({"name": "raw_bytes", "configuration": {"length_bytes": n}}),
        DataType::FixedUtf32(n) => {
            json!({"name": "fixed_length_utf32", "configuration": {"length_bytes": 4 * n}})
        }
        DataType::DateTime(u) => time("numpy.datetime64", u),
        DataType::TimeDelta(u) => time("numpy.timedelta64", u),
        other => json!(other.name()),
    }
}

pub fn parse(at: &Loc) -> Result<ArrayMeta> {
    let file = at.location(ZARR_JSON);
    let doc = json::read(at, ZARR_JSON)?.ok_or_else(|| Error::metadata(&file, "missing"))?;
    if get(&doc, "zarr_format", &file)?.as_u64() != Some(3) {
        return Err(Error::metadata(&file, "zarr_format must be 3"));
    }
    if get(&doc, "node_type", &file)?.as_str() != Some("array") {
        return Err(Error::metadata(&file, "node_type is not \"array\""));
    }
    if let Value::Object(m) = &doc {
        for (k, v) in m {
            let optional = v.get("must_understand").and_then(Value::as_bool) == Some(false);
            if !KNOWN_KEYS.contains(&k.as_str()) && !optional {
                return Err(Error::unsupported(format!(
                    "Zarr v3 extension {k:?} in {}",
                    file
                )));
            }
        }
    }
    match doc.get("storage_transformers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(t) => {
            return Err(Error::unsupported(format!(
                "storage transformers {t} in {}",
                file
            )))
        }
    }
    let shape = u64_list(get(&doc, "shape", &file)?, "shape", &file)?;
    let dt = get(&doc, "data_type", &file)?;
    let dtype = dtype_from_json(dt)
        .ok_or_else(|| Error::unsupported(format!("Zarr v3 data_type {dt} in {}", file)))?;
    let (grid_name, grid_cfg) = name_and_config(get(&doc, "chunk_grid", &file)?, &file)?;
    if grid_name != "regular" {
        return Err(Error::unsupported(format!(
            "chunk grid {grid_name:?} in {}",
            file
        )));
    }
    let chunks = u64_list(
        grid_cfg
            .get("chunk_shape")
            .ok_or_else(|| Error::metadata(&file, "chunk_grid has no chunk_shape"))?,
        "chunk_shape",
        &file,
    )?;
    let (enc_name, enc_cfg) = name_and_config(
        doc.get("chunk_key_encoding")
            .unwrap_or(&json!({"name": "default"})),
        &file,
    )?;
    let sep = |default: char| -> Result<char> {
        match enc_cfg.get("separator").and_then(Value::as_str) {
            None => Ok(default),
            Some("/") => Ok('/'),
            Some(".") => Ok('.'),
            Some(s) => Err(Error::metadata(&file, format!("chunk key separator {s:?}"))),
        }
    };
    let keys = match enc_name.as_str() {
        "default" => KeyEncoding::V3Default {
            separator: sep('/')?,
        },
        "v2" => KeyEncoding::V2 {
            separator: sep('.')?,
        },
        other => {
            return Err(Error::unsupported(format!(
                "chunk key encoding {other:?} in {}",
                file
            )))
        }
    };
    let fill = fill::from_json(dtype, get(&doc, "fill_value", &file)?)
        .map_err(|e| Error::metadata(&file, e.to_string()))?;
    let chain = parse_codecs(get(&doc, "codecs", &file)?, dtype, shape.len(), &file)?;
    let grid = grid(shape, chunks, &file)?;
    if let Some(s) = &chain.sharding {
        if s.inner
            .iter()
            .zip(&grid.chunk)
            .any(|(i, o)| *i == 0 || o % i != 0)
        {
            return Err(Error::metadata(
                &file,
                format!(
                    "inner chunks {:?} do not divide the shard {:?}",
                    s.inner, grid.chunk
                ),
            ));
        }
    }
    let endian = match &chain.sharding {
        Some(s) => s.inner_pipeline.endian,
        None => chain.pipeline.endian,
    };
    Ok(ArrayMeta {
        format: Format::ZarrV3,
        grid,
        dtype,
        endian,
        fill,
        pipeline: chain.pipeline,
        keys,
        compressor: chain.compressor,
        sharding: chain.sharding,
        doc,
        meta_path: file,
    })
}

fn codec_json(c: &Compressor) -> Result<Option<Value>> {
    Ok(Some(match c {
        Compressor::Raw => return Ok(None),
        Compressor::Gzip { level, zlib: false } => {
            json!({"name": "gzip", "configuration": {"level": level}})
        }
        Compressor::Zstd { level, checksum } => {
            json!({"name": "zstd", "configuration": {"level": level, "checksum": checksum}})
        }
        Compressor::Blosc(b) => {
            let shuffle = ["noshuffle", "shuffle", "bitshuffle"][b.shuffle.clamp(0, 2) as usize];
            json!({"name": "blosc", "configuration": {
                "cname": b.cname, "clevel": b.clevel, "blocksize": b.blocksize, "typesize": b.typesize,
                "shuffle": shuffle,
            }})
        }
        Compressor::Crc32c => json!({"name": "crc32c"}),
        // Everything else as zarr-python 3 writes numcodecs: "numcodecs.<id>" with the
        // numcodecs configuration.
        other => {
            let mut config = zarr_v2::codec_to_json(other)?
                .as_object()
                .cloned()
                .unwrap_or_default();
            let id = config.remove("id").unwrap_or(json!(other.z5py_name()));
            let id = id.as_str().unwrap_or_default();
            json!({"name": format!("numcodecs.{id}"), "configuration": config})
        }
    }))
}

pub fn create(at: &Loc, spec: &ArraySpec) -> Result<()> {
    if spec.record.is_some() {
        return Err(Error::unsupported(
            "structured dtypes in Zarr v3 (zarr-python's `structured` data type is not settled)",
        ));
    }
    let endian = if spec.endian == Endian::Big {
        "big"
    } else {
        "little"
    };
    let is_pre = |c: &&Compressor| matches!(c, Compressor::Filter(f) if f.array_to_array());
    if spec.endian != Endian::NATIVE && spec.filters.iter().any(|c| is_pre(&c)) {
        return Err(Error::invalid(
            "numcodecs filters need the native byte order in Zarr v3",
        ));
    }
    let mut chain = Vec::new();
    for c in spec.filters.iter().filter(is_pre) {
        chain.extend(codec_json(c)?);
    }
    match spec.dtype {
        DataType::Object(ObjectCodec::Json2) => {
            return Err(Error::unsupported(
                "json2 object arrays in Zarr v3 (only zarr-python 2 writes json2; use Zarr v2)",
            ))
        }
        DataType::Object(codec) => {
            chain.push(json!({"name": codec.id(), "configuration": {}}));
        }
        _ => chain.push(json!({"name": "bytes", "configuration": {"endian": endian}})),
    }
    for c in spec.filters.iter().filter(|c| !is_pre(c)) {
        chain.extend(codec_json(c)?);
    }
    chain.extend(codec_json(&spec.compressor)?);
    let (grid_chunks, codecs) = match &spec.shards {
        None => (spec.chunks.clone(), chain),
        Some(shard) => {
            if shard.len() != spec.chunks.len()
                || shard
                    .iter()
                    .zip(&spec.chunks)
                    .any(|(s, c)| *c == 0 || s % c != 0)
            {
                return Err(Error::invalid(format!(
                    "shards {shard:?} must be a multiple of the chunks {:?} in every dimension",
                    spec.chunks
                )));
            }
            let sharding = json!({"name": "sharding_indexed", "configuration": {
                "chunk_shape": spec.chunks,
                "codecs": chain,
                "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
                "index_location": "end",
            }});
            (shard.clone(), vec![sharding])
        }
    };
    // The encoding is named by `key_encoding` ("default" or "v2", or a bare separator as a
    // shorthand for "default" with it); `separator` picks the separator for either.
    let (name, default_sep) = match spec.key_encoding.as_deref() {
        None | Some("default") => ("default", '/'),
        Some("/") => ("default", '/'),
        Some(".") => ("default", '.'),
        Some("v2") => ("v2", '.'),
        Some(other) => {
            return Err(Error::invalid(format!(
                "chunk_key_encoding {other:?}: use 'default' or 'v2' (or '/' / '.')"
            )))
        }
    };
    let sep = spec.separator.unwrap_or(default_sep);
    if sep != '/' && sep != '.' {
        return Err(Error::invalid(format!(
            "chunk key separator {sep:?} is not '/' or '.'"
        )));
    }
    let key_encoding = json!({"name": name, "configuration": {"separator": sep.to_string()}});
    // Keep the attributes of an array being re-created in place.
    let attributes = json::read(at, ZARR_JSON)?
        .and_then(|d| d.get("attributes").cloned())
        .unwrap_or(json!({}));
    let doc = json!({
        "zarr_format": 3,
        "node_type": "array",
        "shape": spec.shape,
        "data_type": dtype_to_json(spec.dtype),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": grid_chunks}},
        "chunk_key_encoding": key_encoding,
        "fill_value": fill::to_json(spec.dtype, &spec.fill),
        "codecs": codecs,
        "attributes": attributes,
        "storage_transformers": [],
    });
    json::write(at, ZARR_JSON, &doc)
}
