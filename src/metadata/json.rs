//! JSON reading and writing. Metadata is written the way z5 writes it (sorted keys, 4-space
//! indent, trailing newline) so files compare byte for byte. Attribute files written by
//! Python carry bare `NaN`/`Infinity` tokens, which strict JSON parsers reject; they are
//! carried through as marker strings.

use super::Loc;
use crate::error::{Error, Result};
use serde_json::Value;

const SPECIALS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];

/// Replace bare NaN/Infinity tokens (outside strings) by marker strings.
fn to_strict(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_str = false;
    let mut escaped = false;
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        let c = bytes[i];
        if in_str {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_str = false;
            }
        } else if c == b'"' {
            in_str = true;
        } else if let Some(tok) = SPECIALS.iter().find(|t| text[i..].starts_with(**t)) {
            out.push('"');
            out.push_str("\\u0001");
            out.push_str(tok);
            out.push('"');
            i += tok.len();
            continue;
        }
        let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + ch_len]);
        i += ch_len;
    }
    out
}

/// Turn marker strings back into bare tokens.
fn from_strict(text: String) -> String {
    if !text.contains("\\u0001") {
        return text;
    }
    let mut t = text;
    for tok in SPECIALS {
        t = t.replace(&format!("\"\\u0001{tok}\""), tok);
    }
    t
}

/// Parse JSON text that may contain NaN/Infinity tokens.
pub fn parse(text: &str, path: &str) -> Result<Value> {
    serde_json::from_str(&to_strict(text)).map_err(|e| Error::metadata(path, e.to_string()))
}

/// Read and parse the JSON document `name` of the node at `at`; `Ok(None)` when missing.
pub fn read(at: &Loc, name: &str) -> Result<Option<Value>> {
    match at.store.get(&at.key(name))? {
        Some(bytes) => parse_bytes(bytes, &at.location(name)).map(Some),
        None => Ok(None),
    }
}

/// Parse a stored JSON document; `location` names it in errors.
pub fn parse_bytes(bytes: Vec<u8>, location: &str) -> Result<Value> {
    let text = String::from_utf8(bytes).map_err(|_| Error::metadata(location, "not UTF-8 text"))?;
    parse(&text, location)
}

/// z5's layout: 4-space indent, `": "`, sorted keys, trailing newline.
pub fn pretty(v: &Value) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser)
        .expect("serializing a Value cannot fail");
    let mut s = from_strict(String::from_utf8(buf).expect("serde_json writes UTF-8"));
    s.push('\n');
    s
}

pub fn compact(v: &Value) -> String {
    from_strict(v.to_string())
}

/// Write pretty JSON atomically as the document `name` of the node at `at`.
pub fn write(at: &Loc, name: &str, v: &Value) -> Result<()> {
    at.store.put(&at.key(name), pretty(v).as_bytes())
}

/// Parse a JSON object given by the caller (attributes, options).
pub fn parse_object(text: &str, what: &str) -> Result<serde_json::Map<String, Value>> {
    match serde_json::from_str(&to_strict(text)) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::invalid(format!("{what} must be a JSON object"))),
        Err(e) => Err(Error::invalid(format!("{what}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_tokens_survive() {
        let v = parse(
            r#"{"a": NaN, "b": [Infinity, -Infinity], "c": "NaN in a string"}"#,
            "x",
        )
        .unwrap();
        let s = compact(&v);
        assert_eq!(
            s,
            r#"{"a":NaN,"b":[Infinity,-Infinity],"c":"NaN in a string"}"#
        );
    }

    #[test]
    fn pretty_layout() {
        let v: Value = serde_json::from_str(r#"{"b": [1, 2], "a": 5.0}"#).unwrap();
        assert_eq!(
            pretty(&v),
            "{\n    \"a\": 5.0,\n    \"b\": [\n        1,\n        2\n    ]\n}\n"
        );
    }
}
