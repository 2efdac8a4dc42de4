//! z5py's compression names and options (`create_dataset(compression="gzip", level=5)`),
//! translated to and from `Compressor`. Each format's JSON spelling lives in `metadata/`.

use super::blosc::{BloscConfig, CNAMES};
use super::{Compressor, Lz4Framing};
use crate::dtype::DataType;
use crate::error::{Error, Result};
use crate::metadata::Format;
use serde_json::{json, Map, Value};

/// Names accepted by `from_z5py` for a format, in z5py spelling.
pub fn names(format: Format) -> &'static [&'static str] {
    match format {
        Format::N5 => &["raw", "gzip", "zlib", "bzip2", "xz", "lz4", "blosc", "zstd"],
        Format::ZarrV2 => &[
            "raw",
            "blosc",
            "zlib",
            "gzip",
            "bzip2",
            "xz",
            "lzma",
            "zstd",
            "lz4",
            "adler32",
            "crc32",
            "crc32c",
            "fletcher32",
        ],
        // Besides the core codecs, the numcodecs ones zarr-python 3 writes (`numcodecs.*`).
        Format::ZarrV3 => &[
            "raw",
            "gzip",
            "blosc",
            "zstd",
            "zlib",
            "bzip2",
            "xz",
            "lzma",
            "lz4",
            "adler32",
            "crc32",
            "crc32c",
            "fletcher32",
        ],
    }
}

struct Opts<'a> {
    name: &'a str,
    map: &'a Map<String, Value>,
    used: Vec<&'static str>,
}

impl<'a> Opts<'a> {
    fn int(&mut self, keys: &[&'static str], default: i64) -> Result<i64> {
        for k in keys {
            self.used.push(k);
        }
        match keys.iter().find_map(|k| self.map.get(*k)) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v.as_i64().ok_or_else(|| {
                Error::invalid(format!(
                    "compression option {} for {} must be an integer, got {v}",
                    keys[0], self.name
                ))
            }),
        }
    }
    fn boolean(&mut self, keys: &[&'static str], default: bool) -> Result<bool> {
        for k in keys {
            self.used.push(k);
        }
        match keys.iter().find_map(|k| self.map.get(*k)) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| {
                Error::invalid(format!(
                    "compression option {} for {} must be a boolean, got {v}",
                    keys[0], self.name
                ))
            }),
        }
    }
    fn finish(self) -> Result<()> {
        let unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.used.contains(&k.as_str()))
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "unknown compression option(s) {unknown:?} for {}",
                self.name
            )))
        }
    }
}

fn level_in(name: &str, v: i64, lo: i64, hi: i64) -> Result<i64> {
    if v < lo || v > hi {
        return Err(Error::invalid(format!(
            "{name} level {v} is outside {lo}..={hi}"
        )));
    }
    Ok(v)
}

/// Parse a blosc shuffle given as 0/1/2/-1 or by name.
pub fn shuffle_from(v: Option<&Value>) -> Result<i32> {
    match v {
        None | Some(Value::Null) => Ok(1),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(s @ -1..=2) => Ok(s as i32),
            _ => Err(Error::invalid(format!(
                "blosc shuffle {n} is not one of -1, 0, 1, 2"
            ))),
        },
        Some(Value::String(s)) => match s.as_str() {
            "noshuffle" => Ok(0),
            "shuffle" => Ok(1),
            "bitshuffle" => Ok(2),
            _ => Err(Error::invalid(format!(
                "blosc shuffle {s:?} is not noshuffle, shuffle or bitshuffle"
            ))),
        },
        Some(v) => Err(Error::invalid(format!("blosc shuffle {v} is invalid"))),
    }
}

/// Build a compressor from z5py's name and options for a format and data type.
pub fn from_z5py(
    name: &str,
    options: &Map<String, Value>,
    format: Format,
    dtype: DataType,
) -> Result<Compressor> {
    if !names(format).contains(&name) {
        return Err(Error::invalid(format!(
            "compression {name:?} is not available for {}; choose one of {:?}",
            format.name(),
            names(format)
        )));
    }
    let mut o = Opts {
        name,
        map: options,
        used: vec![],
    };
    let c = match name {
        "raw" => Compressor::Raw,
        "adler32" => Compressor::Adler32,
        "crc32" => Compressor::Crc32,
        "crc32c" => Compressor::Crc32c,
        "fletcher32" => Compressor::Fletcher32,
        "gzip" | "zlib" => {
            let level = level_in(name, o.int(&["level"], 5)?, -1, 9)?;
            let zlib = name == "zlib" || o.boolean(&["use_zlib", "useZlib"], false)?;
            Compressor::Gzip {
                level: if level < 0 { 6 } else { level as u32 },
                zlib,
            }
        }
        "bzip2" => Compressor::Bzip2 {
            level: level_in(name, o.int(&["level", "blockSize"], 5)?, 1, 9)? as u32,
        },
        "xz" | "lzma" => Compressor::Xz {
            preset: level_in(name, o.int(&["level", "preset"], 6)?, 0, 9)? as u32,
        },
        "lz4" => {
            let framing = if format == Format::N5 {
                Lz4Framing::RawBlock
            } else {
                Lz4Framing::SizePrefixed
            };
            Compressor::Lz4 {
                framing,
                level: o.int(&["level", "blockSize"], 6)? as i32,
                acceleration: o.int(&["acceleration"], 1)? as i32,
            }
        }
        "blosc" => {
            o.used.extend(["codec", "cname", "shuffle"]);
            let cname = match options.get("codec").or_else(|| options.get("cname")) {
                None | Some(Value::Null) => "lz4".to_string(),
                Some(Value::String(s)) if CNAMES.contains(&s.as_str()) => s.clone(),
                Some(v) => {
                    return Err(Error::invalid(format!(
                        "blosc codec {v} is not one of {CNAMES:?}"
                    )))
                }
            };
            let clevel = level_in("blosc", o.int(&["clevel", "level"], 5)?, 0, 9)? as i32;
            let shuffle = shuffle_from(options.get("shuffle"))?;
            let blocksize = o.int(&["blocksize"], 0)?.max(0) as usize;
            let _ = o.int(&["nthreads"], 1)?;
            Compressor::Blosc(BloscConfig {
                cname,
                clevel,
                shuffle,
                blocksize,
                typesize: dtype.size(),
            })
        }
        "zstd" => Compressor::Zstd {
            level: level_in(name, o.int(&["level"], 3)?, -131072, 22)? as i32,
            checksum: o.boolean(&["checksum"], false)?,
        },
        _ => unreachable!("checked against names()"),
    };
    o.finish()?;
    Ok(c)
}

/// z5py's name and options for a compressor.
pub fn to_z5py(c: &Compressor) -> (&'static str, Map<String, Value>) {
    let v = match c {
        Compressor::Raw
        | Compressor::Crc32c
        | Compressor::Adler32
        | Compressor::Crc32
        | Compressor::Fletcher32 => json!({}),
        Compressor::Filter(f) => Value::Object(f.config()),
        Compressor::Gzip { level, .. } => json!({ "level": level }),
        Compressor::Bzip2 { level } => json!({ "level": level }),
        Compressor::Xz { preset } => json!({ "level": preset }),
        Compressor::Lz4 {
            level,
            acceleration,
            framing,
        } => match framing {
            Lz4Framing::RawBlock => json!({ "level": level }),
            Lz4Framing::SizePrefixed => json!({ "acceleration": acceleration }),
        },
        Compressor::Blosc(b) => json!({
            "codec": b.cname, "clevel": b.clevel, "shuffle": b.shuffle, "blocksize": b.blocksize
        }),
        Compressor::Zstd { level, checksum } => json!({ "level": level, "checksum": checksum }),
    };
    let name = match c {
        Compressor::Xz { .. } => "xz",
        other => other.z5py_name(),
    };
    (name, v.as_object().cloned().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let empty = Map::new();
        assert_eq!(
            from_z5py("gzip", &empty, Format::N5, DataType::UInt8).unwrap(),
            Compressor::Gzip {
                level: 5,
                zlib: false
            }
        );
        let bad: Map<String, Value> = serde_json::from_str(r#"{"levle": 3}"#).unwrap();
        let e = from_z5py("gzip", &bad, Format::N5, DataType::UInt8).unwrap_err();
        assert!(e.to_string().contains("levle"));
        assert!(from_z5py("lz4", &empty, Format::ZarrV3, DataType::UInt8).is_ok());
        assert!(from_z5py("crc32", &empty, Format::N5, DataType::UInt8).is_err());
        let b: Map<String, Value> =
            serde_json::from_str(r#"{"codec": "zstd", "shuffle": "bitshuffle"}"#).unwrap();
        match from_z5py("blosc", &b, Format::ZarrV2, DataType::UInt16).unwrap() {
            Compressor::Blosc(cfg) => assert_eq!(
                (cfg.cname.as_str(), cfg.shuffle, cfg.typesize),
                ("zstd", 2, 2)
            ),
            other => panic!("{other:?}"),
        }
    }
}
