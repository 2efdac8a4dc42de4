//! numcodecs' `json2` object codec (zarr-python 2): a chunk is one JSON array holding the
//! items as nested lists of the chunk's shape (numpy's `tolist()`), then the dtype string
//! and the shape: `[["a","b"],["c",null],"|O",[2,2]]`. Written as numcodecs' defaults
//! write it: compact separators, sorted keys, non-ASCII escaped.

use crate::error::{Error, Result};
use serde_json::Value;

const CODEC: &str = "json2";

/// Decode a chunk of `shape` into its items in C order.
pub fn decode(buf: &[u8], shape: &[usize]) -> Result<Vec<Value>> {
    let doc: Value =
        serde_json::from_slice(buf).map_err(|e| Error::codec(CODEC, format!("not JSON: {e}")))?;
    let Value::Array(mut parts) = doc else {
        return Err(Error::codec(CODEC, "chunk is not a JSON array"));
    };
    if parts.len() < 2 {
        return Err(Error::codec(CODEC, "chunk lacks its dtype and shape"));
    }
    let stored_shape = parts.pop().expect("checked");
    let dtype = parts.pop().expect("checked");
    if dtype.as_str() != Some("|O") {
        return Err(Error::codec(
            CODEC,
            format!("dtype {dtype} is not an object dtype"),
        ));
    }
    let got: Option<Vec<usize>> = stored_shape
        .as_array()
        .and_then(|a| a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect());
    if got.as_deref() != Some(shape) {
        return Err(Error::wrong_size(
            CODEC,
            format!("chunk has shape {stored_shape}, expected {shape:?}"),
        ));
    }
    let mut out = Vec::with_capacity(shape.iter().product());
    flatten(parts, shape, &mut out)?;
    Ok(out)
}

/// Append the items of nested lists of `shape` to `out`.
fn flatten(level: Vec<Value>, shape: &[usize], out: &mut Vec<Value>) -> Result<()> {
    let n = shape.first().copied().unwrap_or(1);
    if level.len() != n {
        return Err(Error::wrong_size(
            CODEC,
            format!(
                "a level of the chunk has {} items, expected {n}",
                level.len()
            ),
        ));
    }
    if shape.len() <= 1 {
        out.extend(level);
        return Ok(());
    }
    for v in level {
        match v {
            Value::Array(inner) => flatten(inner, &shape[1..], out)?,
            other => {
                return Err(Error::codec(
                    CODEC,
                    format!("expected a nested list, got {other}"),
                ))
            }
        }
    }
    Ok(())
}

/// Encode items (C order) of a chunk of `shape`.
pub fn encode(items: &[&Value], shape: &[usize]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(items.len() * 8 + 16);
    out.push(b'[');
    let mut first = true;
    if shape.is_empty() {
        write_value(&mut out, items.first().copied().unwrap_or(&Value::Null))?;
        first = false;
    } else {
        let mut at = 0;
        nest(&mut out, items, shape, &mut at, &mut first)?;
    }
    if !first {
        out.push(b',');
    }
    out.extend_from_slice(b"\"|O\",[");
    for (i, d) in shape.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(d.to_string().as_bytes());
    }
    out.extend_from_slice(b"]]");
    Ok(out)
}

fn nest(
    out: &mut Vec<u8>,
    items: &[&Value],
    shape: &[usize],
    at: &mut usize,
    first: &mut bool,
) -> Result<()> {
    for _ in 0..shape[0] {
        if !*first {
            out.push(b',');
        }
        *first = false;
        if shape.len() == 1 {
            write_value(out, items[*at])?;
            *at += 1;
        } else {
            out.push(b'[');
            let mut inner_first = true;
            nest(out, items, &shape[1..], at, &mut inner_first)?;
            out.push(b']');
        }
    }
    Ok(())
}

/// Python's `json.dumps(..., ensure_ascii=True)` escaping: non-ASCII as `\uXXXX`.
struct AsciiFormatter;

impl serde_json::ser::Formatter for AsciiFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                write!(writer, "\\u{:04x}", u)?;
            }
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

fn write_value(out: &mut Vec<u8>, v: &Value) -> Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, AsciiFormatter);
    serde::Serialize::serialize(v, &mut ser).map_err(|e| Error::invalid(format!("json2 item: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Bytes zarr-python 2.18 / numcodecs 0.15 wrote for a (2, 2) chunk holding
    /// `{"a": [1, 2.5, None]}`, "h\u00e9llo", 3 and None.
    const VECTOR: &[u8] = br#"[[{"a":[1,2.5,null]},"h\u00e9llo"],[3,null],"|O",[2,2]]"#;

    #[test]
    fn known_vector() {
        let items = decode(VECTOR, &[2, 2]).unwrap();
        assert_eq!(
            items,
            [
                json!({"a": [1, 2.5, null]}),
                json!("h\u{e9}llo"),
                json!(3),
                json!(null)
            ]
        );
        let refs: Vec<&Value> = items.iter().collect();
        assert_eq!(encode(&refs, &[2, 2]).unwrap(), VECTOR);
        let one = br#"["a","b\u00e9",0,"|O",[3]]"#;
        let items = decode(one, &[3]).unwrap();
        let refs: Vec<&Value> = items.iter().collect();
        assert_eq!(encode(&refs, &[3]).unwrap(), one);
        // an astral character is a surrogate pair, as Python writes it
        let v = json!("\u{1F600}");
        assert_eq!(
            encode(&[&v], &[1]).unwrap(),
            br#"["\ud83d\ude00","|O",[1]]"#
        );
        assert_eq!(decode(br#"["\ud83d\ude00","|O",[1]]"#, &[1]).unwrap(), [v]);
    }

    #[test]
    fn malformed_chunks_are_refused() {
        for bad in [
            &br#"["a","|O",[2]]"#[..],
            br#"["a","|O",[1,1]]"#,
            br#"["a","<f8",[1]]"#,
            br#"[[1],[2,3],"|O",[2,1]]"#,
            br#"{"a":1}"#,
            br#"["a"]"#,
            b"[",
        ] {
            assert!(decode(bad, &[2, 1]).is_err() || decode(bad, &[1]).is_err());
        }
        assert!(decode(br#"[[1],[2],"|O",[2,1]]"#, &[2, 1]).is_ok());
    }
}
