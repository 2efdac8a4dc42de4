//! Fill values: native element bytes in memory, each format's JSON spelling on disk.

use crate::dtype::{DataType, ObjectCodec};
use crate::error::{Error, Result};
use serde_json::{json, Value};

pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: renormalise.
            let shift = m.leading_zeros() - 21;
            sign | ((113 - shift) << 23) | (((m << shift) & 0x3ff) << 13)
        }
        (31, 0) => sign | 0x7f80_0000,
        (31, m) => sign | 0x7fc0_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

pub(crate) fn f32_to_f16(f: f32) -> u16 {
    let x = f.to_bits();
    let sign = ((x >> 16) & 0x8000) as u16;
    let exp = ((x >> 23) & 0xff) as i32;
    let man = x & 0x7f_ffff;
    if exp == 255 {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 31 {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = (man | 0x80_0000) >> (1 - e);
        return sign | ((m + 0x1000) >> 13) as u16;
    }
    let h = sign as u32 | ((e as u32) << 10) | (man >> 13);
    // Round to nearest.
    (h + ((man >> 12) & 1)) as u16
}

fn float_value(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

fn float_json(x: f64) -> Value {
    if x.is_nan() {
        json!("NaN")
    } else if x.is_infinite() {
        json!(if x > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(x)
    }
}

/// Hex bit pattern ("0x7fc00000") as Zarr v3 allows for floats.
fn hex_bits(v: &Value, size: usize) -> Option<Vec<u8>> {
    let s = v.as_str()?.strip_prefix("0x")?;
    let bits = u64::from_str_radix(s, 16).ok()?;
    Some(match size {
        2 => (bits as u16).to_ne_bytes().to_vec(),
        4 => (bits as u32).to_ne_bytes().to_vec(),
        _ => bits.to_ne_bytes().to_vec(),
    })
}

fn float_bytes(dtype: DataType, v: &Value) -> Option<Vec<u8>> {
    let size = match dtype {
        DataType::Float16 => 2,
        DataType::Float32 | DataType::Complex64 => 4,
        _ => 8,
    };
    if let Some(b) = hex_bits(v, size) {
        return Some(b);
    }
    let x = float_value(v)?;
    Some(match size {
        2 => f32_to_f16(x as f32).to_ne_bytes().to_vec(),
        4 => (x as f32).to_ne_bytes().to_vec(),
        _ => x.to_ne_bytes().to_vec(),
    })
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (numcodecs' and zarr-python's spelling of byte fill values).
pub fn base64_encode(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for ch in s.bytes() {
        let v = B64.iter().position(|&c| c == ch)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Element bytes of a JSON fill value; `null` (undefined) gives zeros.
pub fn from_json(dtype: DataType, v: &Value) -> Result<Vec<u8>> {
    use DataType::*;
    let bad = || {
        Error::invalid(format!(
            "fill_value {v} does not fit data type {}",
            dtype.name()
        ))
    };
    if let Object(codec) = dtype {
        return object_from_json(codec, v).ok_or_else(bad);
    }
    if v.is_null() {
        return Ok(vec![0; dtype.size()]);
    }
    let int = |v: &Value| -> Option<i128> {
        match v {
            Value::Number(n) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from))
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 1.9e19)
                        .map(|f| f as i128)
                }),
            Value::Bool(b) => Some(*b as i128),
            _ => None,
        }
    };
    macro_rules! int_bytes {
        ($t:ty) => {{
            let i = int(v).ok_or_else(bad)?;
            <$t>::try_from(i).map_err(|_| bad())?.to_ne_bytes().to_vec()
        }};
    }
    let padded = |mut b: Vec<u8>, n: usize| -> Result<Vec<u8>> {
        if b.len() > n {
            return Err(bad());
        }
        b.resize(n, 0);
        Ok(b)
    };
    Ok(match dtype {
        // Byte strings and records are base64 (zarr-python 2 and 3 alike); 0 means zeros.
        FixedBytes(n) | Opaque(n) => match v {
            Value::String(s) => padded(base64_decode(s).ok_or_else(bad)?, n as usize)?,
            _ if int(v) == Some(0) => vec![0; n as usize],
            _ => return Err(bad()),
        },
        FixedUtf32(n) => match v {
            Value::String(s) => padded(
                s.chars().flat_map(|c| (c as u32).to_ne_bytes()).collect(),
                4 * n as usize,
            )?,
            _ if int(v) == Some(0) => vec![0; 4 * n as usize],
            _ => return Err(bad()),
        },
        DateTime(_) | TimeDelta(_) => match v {
            Value::String(s) if s == "NaT" => i64::MIN.to_ne_bytes().to_vec(),
            _ => int_bytes!(i64),
        },
        Object(_) => unreachable!("handled above"),
        Bool => match v {
            Value::Bool(b) => vec![*b as u8],
            _ => vec![(int(v).ok_or_else(bad)? != 0) as u8],
        },
        UInt8 => int_bytes!(u8),
        UInt16 => int_bytes!(u16),
        UInt32 => int_bytes!(u32),
        UInt64 => int_bytes!(u64),
        Int8 => int_bytes!(i8),
        Int16 => int_bytes!(i16),
        Int32 => int_bytes!(i32),
        Int64 => int_bytes!(i64),
        Float16 | Float32 | Float64 => float_bytes(dtype, v).ok_or_else(bad)?,
        Complex64 | Complex128 => match v {
            Value::Array(parts) if parts.len() == 2 => {
                let mut b = float_bytes(dtype, &parts[0]).ok_or_else(bad)?;
                b.extend(float_bytes(dtype, &parts[1]).ok_or_else(bad)?);
                b
            }
            other => {
                let mut b = float_bytes(dtype, other).ok_or_else(bad)?;
                b.extend(vec![0; b.len()]);
                b
            }
        },
    })
}

/// JSON spelling of a fill value (integers exact, floats with NaN/Infinity as strings,
/// complex as `[re, im]`).
pub fn to_json(dtype: DataType, b: &[u8]) -> Value {
    use DataType::*;
    let f32_at = |o: usize| f32::from_ne_bytes(b[o..o + 4].try_into().unwrap()) as f64;
    let f64_at = |o: usize| f64::from_ne_bytes(b[o..o + 8].try_into().unwrap());
    match dtype {
        Bool => json!(b[0] != 0),
        UInt8 => json!(b[0]),
        UInt16 => json!(u16::from_ne_bytes([b[0], b[1]])),
        UInt32 => json!(u32::from_ne_bytes(b[..4].try_into().unwrap())),
        UInt64 => json!(u64::from_ne_bytes(b[..8].try_into().unwrap())),
        Int8 => json!(b[0] as i8),
        Int16 => json!(i16::from_ne_bytes([b[0], b[1]])),
        Int32 => json!(i32::from_ne_bytes(b[..4].try_into().unwrap())),
        Int64 => json!(i64::from_ne_bytes(b[..8].try_into().unwrap())),
        Float16 => float_json(f16_to_f32(u16::from_ne_bytes([b[0], b[1]])) as f64),
        Float32 => float_json(f32_at(0)),
        Float64 => float_json(f64_at(0)),
        Complex64 => json!([float_json(f32_at(0)), float_json(f32_at(4))]),
        Complex128 => json!([float_json(f64_at(0)), float_json(f64_at(8))]),
        // All n bytes, as zarr-python 2 writes them (tensorstore insists on n).
        FixedBytes(_) | Opaque(_) => json!(base64_encode(b)),
        FixedUtf32(_) => json!(b
            .chunks_exact(4)
            .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
            .take_while(|&c| c != 0)
            .map(|c| char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect::<String>()),
        DateTime(_) | TimeDelta(_) => json!(i64::from_ne_bytes(b[..8].try_into().unwrap())),
        Object(ObjectCodec::Json2) => serde_json::from_slice(b).unwrap_or(Value::Null),
        // zarr-python 3 writes the empty string; bytes that are not UTF-8 go as base64
        Object(_) => match std::str::from_utf8(b) {
            Ok(s) => json!(s),
            Err(_) => json!(base64_encode(b)),
        },
    }
}

/// The fill item of an object array: its bytes (`vlen-utf8`, `vlen-bytes`), or its JSON
/// text (`json2`). zarr-python 3 writes `""`; zarr-python 2 writes `0` by default, or
/// `null`, or any number: the item that pads a chunk is then the empty one (numcodecs
/// encodes 0, None and False so), and the value of chunks never written is the JSON value
/// itself (`Array::object_missing`).
fn object_from_json(codec: ObjectCodec, v: &Value) -> Option<Vec<u8>> {
    match (codec, v) {
        (ObjectCodec::Json2, v) => serde_json::to_vec(v).ok(),
        (_, Value::String(s)) => Some(s.as_bytes().to_vec()),
        (_, Value::Null | Value::Number(_) | Value::Bool(_)) => Some(Vec::new()),
        _ => None,
    }
}

/// Whether every element of `data` equals the fill value, bit for bit.
pub fn all_fill(data: &[u8], fill: &[u8]) -> bool {
    let elem = fill.len();
    if fill.iter().all(|&b| b == 0) {
        return data.iter().all(|&b| b == 0);
    }
    // Bitwise: a NaN with another payload (or sign) than the fill value's is data, and
    // dropping its chunk would change what reads back.
    data.chunks_exact(elem).all(|e| e == fill)
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataType::*;

    #[test]
    fn round_trips() {
        for (d, v) in [
            (DataType::UInt64, json!(u64::MAX)),
            (DataType::Int64, json!(i64::MIN)),
            (DataType::Float32, json!("NaN")),
            (DataType::Float64, json!("-Infinity")),
            (DataType::Float16, json!(1.5)),
            (DataType::Complex128, json!([1.0, -2.0])),
            (DataType::Bool, json!(true)),
        ] {
            let b = from_json(d, &v).unwrap();
            assert_eq!(to_json(d, &b), v, "{d:?}");
        }
        assert!(from_json(DataType::UInt8, &json!(300)).is_err());
        assert!(from_json(DataType::Int8, &json!("x")).is_err());
        assert_eq!(
            from_json(DataType::Float32, &json!("0x3f800000")).unwrap(),
            1.0f32.to_ne_bytes()
        );
        assert_eq!(
            from_json(DataType::Int32, &json!(0.0)).unwrap(),
            0i32.to_ne_bytes()
        );
    }

    #[test]
    fn string_and_time_fills() {
        use crate::dtype::TimeUnit;
        for s in ["", "YQ==", "YWI=", "YWJj", "AwAAAD/4AAAAAAAA"] {
            assert_eq!(base64_encode(&base64_decode(s).unwrap()), s);
        }
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert_eq!(from_json(FixedBytes(4), &json!("YWI=")).unwrap(), b"ab\0\0");
        assert_eq!(to_json(FixedBytes(4), b"ab\0\0"), json!("YWIAAA=="));
        assert!(from_json(FixedBytes(1), &json!("YWI=")).is_err());
        let u = from_json(FixedUtf32(3), &json!("xé")).unwrap();
        assert_eq!(u.len(), 12);
        assert_eq!(to_json(FixedUtf32(3), &u), json!("xé"));
        let ns = DateTime(TimeUnit::new("ns", 1).unwrap());
        assert_eq!(
            from_json(ns, &json!("NaT")).unwrap(),
            i64::MIN.to_ne_bytes()
        );
        assert_eq!(to_json(ns, &i64::MIN.to_ne_bytes()), json!(i64::MIN));
        assert_eq!(to_json(Opaque(3), &[1, 2, 3]), json!("AQID"));
    }

    #[test]
    fn f16_conversion() {
        for x in [0.0f32, 1.0, -2.5, 65504.0, 0.000061035156, 5.9604645e-8] {
            assert_eq!(f16_to_f32(f32_to_f16(x)), x, "{x}");
        }
        assert!(f16_to_f32(f32_to_f16(f32::NAN)).is_nan());
    }

    #[test]
    fn all_fill_nan() {
        let nan = f32::NAN.to_ne_bytes();
        let data: Vec<u8> = [f32::NAN, -f32::NAN]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        assert!(!all_fill(&data, &nan));
        assert!(all_fill(&[nan, nan].concat(), &nan));
        assert!(!all_fill(&1.0f32.to_ne_bytes(), &nan));
    }
}
