//! numcodecs filters (Zarr v2 `filters`, Zarr v3 `numcodecs.*` codecs): the algorithms live
//! one file each; this file holds their numcodecs JSON spelling and dispatch.

use super::astype::AsType;
use super::bitround::BitRound;
use super::categorize::Categorize;
use super::delta::Delta;
use super::fixedscaleoffset::FixedScaleOffset;
use super::numeric::Typed;
use super::packbits::PackBits;
use super::quantize::Quantize;
use super::shuffle::Shuffle;
use crate::dtype::{DataType, Endian};
use crate::error::{Error, Result};
use serde_json::{json, Map, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Delta(Delta),
    Shuffle(Shuffle),
    FixedScaleOffset(FixedScaleOffset),
    Quantize(Quantize),
    BitRound(BitRound),
    AsType(AsType),
    PackBits(PackBits),
    Categorize(Categorize),
}

/// numcodecs ids of the filters.
pub const IDS: [&str; 8] = [
    "delta",
    "shuffle",
    "fixedscaleoffset",
    "quantize",
    "bitround",
    "astype",
    "packbits",
    "categorize",
];

fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

impl Filter {
    pub fn id(&self) -> &'static str {
        match self {
            Filter::Delta(_) => "delta",
            Filter::Shuffle(_) => "shuffle",
            Filter::FixedScaleOffset(_) => "fixedscaleoffset",
            Filter::Quantize(_) => "quantize",
            Filter::BitRound(_) => "bitround",
            Filter::AsType(_) => "astype",
            Filter::PackBits(_) => "packbits",
            Filter::Categorize(_) => "categorize",
        }
    }

    /// Whether Zarr v3 places it before the `bytes` codec (zarr-python 3's
    /// array-to-array numcodecs) rather than after it.
    pub fn array_to_array(&self) -> bool {
        !matches!(self, Filter::Shuffle(_))
    }

    /// Parse numcodecs' configuration (`id` and the codec's public attributes). `input`
    /// is the element type the filter receives (the array's, or the previous filter's
    /// output), which numcodecs takes from the array and does not store.
    pub fn from_numcodecs(
        id: &str,
        c: &Map<String, Value>,
        input: (DataType, Endian),
    ) -> Result<Filter> {
        let bad = |what: &str| Error::invalid(format!("numcodecs {id}: {what}"));
        let typed = |key: &str| -> Result<Option<Typed>> {
            match c.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Typed::parse(s).map(Some),
                Some(v) => Err(bad(&format!("{key} {v} is not a numpy type string"))),
            }
        };
        let input_typed = || -> Result<Typed> {
            let t = Typed {
                dtype: input.0,
                endian: input.1,
            };
            Typed::parse(&t.typestr())
        };
        let f64_of = |key: &str, default: Option<f64>| -> Result<f64> {
            match c.get(key) {
                None | Some(Value::Null) => default.ok_or_else(|| bad(&format!("needs {key}"))),
                Some(v) => v
                    .as_f64()
                    .ok_or_else(|| bad(&format!("{key} {v} is not a number"))),
            }
        };
        Ok(match id {
            "delta" => {
                let dtype = typed("dtype")?.ok_or_else(|| bad("needs dtype"))?;
                Filter::Delta(Delta {
                    dtype,
                    astype: typed("astype")?.unwrap_or(dtype),
                })
            }
            "shuffle" => Filter::Shuffle(Shuffle {
                elementsize: match c.get("elementsize") {
                    None | Some(Value::Null) => 4,
                    Some(v) => v
                        .as_u64()
                        .filter(|&e| e >= 1)
                        .ok_or_else(|| bad(&format!("elementsize {v}")))?
                        as usize,
                },
            }),
            "fixedscaleoffset" => {
                let dtype = typed("dtype")?.ok_or_else(|| bad("needs dtype"))?;
                Filter::FixedScaleOffset(FixedScaleOffset {
                    scale: f64_of("scale", None)?,
                    offset: f64_of("offset", None)?,
                    dtype,
                    astype: typed("astype")?.unwrap_or(dtype),
                })
            }
            "quantize" => {
                let dtype = typed("dtype")?.ok_or_else(|| bad("needs dtype"))?;
                let digits = c
                    .get("digits")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| bad("needs integer digits"))?;
                Filter::Quantize(Quantize {
                    digits: digits.clamp(-300, 300) as i32,
                    dtype,
                    astype: typed("astype")?.unwrap_or(dtype),
                })
            }
            "bitround" => Filter::BitRound(BitRound {
                keepbits: c
                    .get("keepbits")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| bad("needs keepbits"))? as u32,
                dtype: input_typed()?,
            }),
            "astype" => Filter::AsType(AsType {
                encode_dtype: typed("encode_dtype")?.ok_or_else(|| bad("needs encode_dtype"))?,
                decode_dtype: typed("decode_dtype")?.unwrap_or(input_typed()?),
            }),
            "packbits" => {
                if input.0 != DataType::Bool {
                    return Err(bad("needs bool data"));
                }
                Filter::PackBits(PackBits)
            }
            "categorize" => {
                let dtype = match c.get("dtype").and_then(Value::as_str) {
                    Some(s) => DataType::from_typestr(s)?,
                    None => input,
                };
                let labels = c
                    .get("labels")
                    .and_then(Value::as_array)
                    .and_then(|l| {
                        l.iter()
                            .map(|s| s.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| bad("labels must be a list of strings"))?;
                let cat = Categorize {
                    labels,
                    dtype,
                    astype: typed("astype")?.ok_or_else(|| bad("needs astype"))?,
                };
                cat.encode(&[])?; // refuses dtypes other than fixed-length unicode
                Filter::Categorize(cat)
            }
            other => {
                return Err(Error::unsupported(format!("numcodecs filter {other:?}")));
            }
        })
    }

    /// numcodecs' configuration without the `id`.
    pub fn config(&self) -> Map<String, Value> {
        let v = match self {
            Filter::Delta(d) => json!({"dtype": d.dtype.typestr(), "astype": d.astype.typestr()}),
            Filter::Shuffle(s) => json!({"elementsize": s.elementsize}),
            Filter::FixedScaleOffset(f) => json!({
                "scale": number(f.scale), "offset": number(f.offset),
                "dtype": f.dtype.typestr(), "astype": f.astype.typestr(),
            }),
            Filter::Quantize(q) => json!({
                "digits": q.digits, "dtype": q.dtype.typestr(), "astype": q.astype.typestr(),
            }),
            Filter::BitRound(b) => json!({"keepbits": b.keepbits}),
            Filter::AsType(a) => json!({
                "encode_dtype": a.encode_dtype.typestr(), "decode_dtype": a.decode_dtype.typestr(),
            }),
            Filter::PackBits(_) => json!({}),
            Filter::Categorize(c) => json!({
                "labels": c.labels, "dtype": c.dtype.0.typestr(c.dtype.1),
                "astype": c.astype.typestr(),
            }),
        };
        v.as_object().cloned().unwrap_or_default()
    }

    /// numcodecs' JSON (`{"id": ..., ...}`), as Zarr v2 `filters` hold it.
    pub fn to_numcodecs(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id()));
        m.extend(self.config());
        Value::Object(m)
    }

    /// The element type this filter hands on (what the next filter or codec receives).
    pub fn output(&self, input: (DataType, Endian)) -> (DataType, Endian) {
        let t = |t: Typed| (t.dtype, t.endian);
        match self {
            Filter::Delta(d) => t(d.astype),
            Filter::FixedScaleOffset(f) => t(f.astype),
            Filter::Quantize(q) => t(q.astype),
            Filter::AsType(a) => t(a.encode_dtype),
            Filter::Categorize(c) => t(c.astype),
            Filter::PackBits(_) => (DataType::UInt8, Endian::Little),
            Filter::Shuffle(_) | Filter::BitRound(_) => input,
        }
    }

    /// Size of the encoding of `len` bytes (None when `len` is not whole elements).
    pub fn encoded_len(&self, len: usize) -> Option<usize> {
        let ratio = |from: Typed, to: Typed| {
            (len % from.size() == 0).then(|| len / from.size() * to.size())
        };
        match self {
            Filter::Delta(d) => ratio(d.dtype, d.astype),
            Filter::FixedScaleOffset(f) => ratio(f.dtype, f.astype),
            Filter::Quantize(q) => ratio(q.dtype, q.astype),
            Filter::AsType(a) => ratio(a.decode_dtype, a.encode_dtype),
            Filter::Categorize(c) => {
                let size = c.dtype.0.size();
                (len % size == 0).then(|| len / size * c.astype.size())
            }
            Filter::PackBits(_) => Some(1 + len.div_ceil(8)),
            Filter::Shuffle(_) | Filter::BitRound(_) => Some(len),
        }
    }

    pub fn encode(&self, input: &[u8]) -> Result<Vec<u8>> {
        match self {
            Filter::Delta(f) => f.encode(input),
            Filter::Shuffle(f) => f.encode(input),
            Filter::FixedScaleOffset(f) => f.encode(input),
            Filter::Quantize(f) => f.encode(input),
            Filter::BitRound(f) => f.encode(input),
            Filter::AsType(f) => f.encode(input),
            Filter::PackBits(f) => f.encode(input),
            Filter::Categorize(f) => f.encode(input),
        }
    }

    pub fn decode(&self, input: &[u8]) -> Result<Vec<u8>> {
        match self {
            Filter::Delta(f) => f.decode(input),
            Filter::Shuffle(f) => f.decode(input),
            Filter::FixedScaleOffset(f) => f.decode(input),
            Filter::Quantize(f) => f.decode(input),
            Filter::BitRound(f) => f.decode(input),
            Filter::AsType(f) => f.decode(input),
            Filter::PackBits(f) => f.decode(input),
            Filter::Categorize(f) => f.decode(input),
        }
    }
}
