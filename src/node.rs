//! Groups and user attributes, for every format.

use crate::error::{Error, Result};
use crate::metadata::{json, n5, Format, N5_ATTRS, ZARR_JSON, ZATTRS, ZGROUP};
use serde_json::{json, Map, Value};
use std::path::Path;

fn read_object(file: &Path) -> Result<Map<String, Value>> {
    match json::read(file)? {
        None => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(Error::metadata(file, "expected a JSON object")),
    }
}

/// Create the group directory and its metadata; existing metadata is left alone.
pub fn create_group(dir: &Path, format: Format, is_root: bool) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    match format {
        Format::N5 if is_root => {
            let file = dir.join(N5_ATTRS);
            let mut doc = read_object(&file)?;
            if !doc.contains_key(n5::VERSION_KEY) {
                doc.insert(n5::VERSION_KEY.into(), json!(n5::VERSION));
                json::write(&file, &Value::Object(doc))?;
            }
            Ok(())
        }
        Format::N5 => Ok(()),
        Format::ZarrV2 => {
            let file = dir.join(ZGROUP);
            if file.exists() {
                return Ok(());
            }
            json::write(&file, &json!({ "zarr_format": 2 }))
        }
        Format::ZarrV3 => {
            let file = dir.join(ZARR_JSON);
            if file.exists() {
                return Ok(());
            }
            json::write(
                &file,
                &json!({ "zarr_format": 3, "node_type": "group", "attributes": {} }),
            )
        }
    }
}

/// Keys of an N5 `attributes.json` that the user does not own.
fn n5_reserved(key: &str) -> bool {
    n5::RESERVED.contains(&key) || key == n5::VERSION_KEY
}

/// The user attributes at `dir` as a JSON object.
pub fn read_attrs(dir: &Path, format: Format) -> Result<Map<String, Value>> {
    match format {
        Format::N5 => {
            let mut m = read_object(&dir.join(N5_ATTRS))?;
            m.retain(|k, _| !n5_reserved(k));
            Ok(m)
        }
        Format::ZarrV2 => read_object(&dir.join(ZATTRS)),
        Format::ZarrV3 => {
            let file = dir.join(ZARR_JSON);
            match read_object(&file)?.remove("attributes") {
                None | Some(Value::Null) => Ok(Map::new()),
                Some(Value::Object(m)) => Ok(m),
                Some(_) => Err(Error::metadata(&file, "\"attributes\" must be an object")),
            }
        }
    }
}

/// Replace the user attributes at `dir`.
pub fn write_attrs(dir: &Path, format: Format, attrs: Map<String, Value>) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such group or dataset"),
        ));
    }
    match format {
        Format::N5 => {
            if let Some(k) = attrs.keys().find(|k| n5_reserved(k)) {
                return Err(Error::invalid(format!(
                    "attribute {k:?} is reserved by the N5 format"
                )));
            }
            let file = dir.join(N5_ATTRS);
            let mut doc = read_object(&file)?;
            doc.retain(|k, _| n5_reserved(k));
            doc.extend(attrs);
            json::write(&file, &Value::Object(doc))
        }
        Format::ZarrV2 => crate::store::write_atomic(
            &dir.join(ZATTRS),
            json::compact(&Value::Object(attrs)).as_bytes(),
        ),
        Format::ZarrV3 => {
            let file = dir.join(ZARR_JSON);
            let mut doc = read_object(&file)?;
            if doc.is_empty() {
                return Err(Error::metadata(&file, "missing"));
            }
            doc.insert("attributes".into(), Value::Object(attrs));
            json::write(&file, &Value::Object(doc))
        }
    }
}
