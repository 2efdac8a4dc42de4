//! Groups and user attributes, for every format, on any store. Attribute changes are
//! read-modify-writes of one document through `WritableStore::update`, so writers in other
//! threads and processes lose nothing.

use crate::error::{Error, Result};
use crate::metadata::{json, n5, Format, Loc, NodeKind, N5_ATTRS, ZARR_JSON, ZATTRS, ZGROUP};
use crate::store::Update;
use serde_json::{json, Map, Value};

fn as_object(doc: Option<Value>, location: impl FnOnce() -> String) -> Result<Map<String, Value>> {
    match doc {
        None => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(Error::metadata(location(), "expected a JSON object")),
    }
}

fn read_object(at: &Loc, name: &str) -> Result<Map<String, Value>> {
    as_object(json::read(at, name)?, || at.location(name))
}

/// Create the group's metadata (and, on the filesystem, its directory); existing metadata
/// is left alone.
pub fn create_group(at: &Loc, format: Format, is_root: bool) -> Result<()> {
    at.store.create_prefix(at.prefix)?;
    match format {
        Format::N5 if is_root => edit_doc(at, N5_ATTRS, false, &mut |doc| {
            Ok(match doc.contains_key(n5::VERSION_KEY) {
                true => false,
                false => {
                    doc.insert(n5::VERSION_KEY.into(), json!(n5::VERSION));
                    true
                }
            })
        }),
        // An N5 group is a directory without metadata; where empty directories do not
        // exist (object stores, memory), it gets an empty attributes.json to be seen at all.
        Format::N5 if !at.store.prefix_exists(at.prefix)? => create_once(at, N5_ATTRS, &json!({})),
        Format::N5 => Ok(()),
        Format::ZarrV2 => create_once(at, ZGROUP, &json!({ "zarr_format": 2 })),
        Format::ZarrV3 => create_once(
            at,
            ZARR_JSON,
            &json!({ "zarr_format": 3, "node_type": "group", "attributes": {} }),
        ),
    }
}

fn create_once(at: &Loc, name: &str, doc: &Value) -> Result<()> {
    at.store.update(&at.key(name), &mut |old| {
        Ok(match old {
            Some(_) => Update::Keep,
            None => Update::Put(vec![json::pretty(doc).into_bytes().into()]),
        })
    })
}

/// Read-modify-write of the JSON object `name` at `at`: `f` edits it and says whether it
/// changed. A missing document starts empty unless `must_exist`.
fn edit_doc(
    at: &Loc,
    name: &str,
    must_exist: bool,
    f: &mut dyn FnMut(&mut Map<String, Value>) -> Result<bool>,
) -> Result<()> {
    let location = at.location(name);
    at.store.update(&at.key(name), &mut |old| {
        if old.is_none() && must_exist {
            return Err(Error::metadata(&location, "missing"));
        }
        let doc = old
            .map(|b| json::parse_bytes(b.to_vec(), &location))
            .transpose()?;
        let mut doc = as_object(doc, || location.clone())?;
        Ok(match f(&mut doc)? {
            true => Update::Put(vec![json::pretty(&Value::Object(doc)).into_bytes().into()]),
            false => Update::Keep,
        })
    })
}

fn missing_node(at: &Loc) -> Error {
    Error::io(
        at.location(""),
        std::io::Error::new(std::io::ErrorKind::NotFound, "no such group or dataset"),
    )
}

/// Whether `key` of an N5 `attributes.json` belongs to the format where N5 gives it a
/// meaning: the dataset keys in a dataset's document, the version key at the root. On
/// other groups they are ordinary attributes (BigDataViewer puts `dataType` on groups).
fn n5_reserved(key: &str, dataset: bool, is_root: bool) -> bool {
    (dataset && n5::RESERVED.contains(&key)) || (is_root && key == n5::VERSION_KEY)
}

/// The attribute names N5 reserves at `at` (empty for Zarr).
pub fn reserved_attrs(at: &Loc, format: Format, is_root: bool) -> Result<Vec<&'static str>> {
    if format != Format::N5 {
        return Ok(Vec::new());
    }
    let dataset = n5::is_dataset_object(&read_object(at, N5_ATTRS)?);
    Ok(n5::RESERVED
        .iter()
        .chain(std::iter::once(&n5::VERSION_KEY))
        .copied()
        .filter(|k| n5_reserved(k, dataset, is_root))
        .collect())
}

/// The user attributes at `at` as a JSON object (`is_root`: `at` is a container root).
pub fn read_attrs(at: &Loc, format: Format, is_root: bool) -> Result<Map<String, Value>> {
    match format {
        Format::N5 => {
            let mut m = read_object(at, N5_ATTRS)?;
            let dataset = n5::is_dataset_object(&m);
            m.retain(|k, _| !n5_reserved(k, dataset, is_root));
            Ok(m)
        }
        Format::ZarrV2 => read_object(at, ZATTRS),
        Format::ZarrV3 => match read_object(at, ZARR_JSON)?.remove("attributes") {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m),
            Some(_) => Err(Error::metadata(
                at.location(ZARR_JSON),
                "\"attributes\" must be an object",
            )),
        },
    }
}

/// Replace the user attributes at `at` (`is_root`: `at` is a container root).
pub fn write_attrs(
    at: &Loc,
    format: Format,
    attrs: Map<String, Value>,
    is_root: bool,
) -> Result<()> {
    if format == Format::ZarrV2 {
        // The whole document is replaced: no need to read (or be able to parse) the old one.
        if crate::metadata::node_info(at)?.0 == NodeKind::Missing {
            return Err(missing_node(at));
        }
        let text = json::compact(&Value::Object(attrs));
        return at.store.put(&at.key(ZATTRS), text.as_bytes());
    }
    edit_attrs(at, format, is_root, &mut |m| {
        *m = attrs.clone();
        Ok(())
    })
}

/// Set `set` and remove `delete` among the user attributes at `at`, leaving the others as
/// they are at the time of the update (other writers' keys survive).
pub fn update_attrs(
    at: &Loc,
    format: Format,
    set: Map<String, Value>,
    delete: &[String],
    is_root: bool,
) -> Result<()> {
    edit_attrs(at, format, is_root, &mut |m| {
        for k in delete {
            m.remove(k);
        }
        m.extend(set.clone());
        Ok(())
    })
}

/// Read-modify-write of the user attributes at `at` (only the attributes of a node that
/// exists).
fn edit_attrs(
    at: &Loc,
    format: Format,
    is_root: bool,
    f: &mut dyn FnMut(&mut Map<String, Value>) -> Result<()>,
) -> Result<()> {
    if crate::metadata::node_info(at)?.0 == NodeKind::Missing {
        return Err(missing_node(at));
    }
    match format {
        Format::N5 => edit_doc(at, N5_ATTRS, false, &mut |doc| {
            let dataset = n5::is_dataset_object(doc);
            let mut user: Map<String, Value> = doc.clone();
            user.retain(|k, _| !n5_reserved(k, dataset, is_root));
            f(&mut user)?;
            if let Some(k) = user.keys().find(|k| n5_reserved(k, dataset, is_root)) {
                return Err(Error::invalid(format!(
                    "attribute {k:?} is reserved by the N5 format {}",
                    if dataset {
                        "on a dataset"
                    } else {
                        "at the root"
                    }
                )));
            }
            doc.retain(|k, _| n5_reserved(k, dataset, is_root));
            doc.extend(user);
            if !dataset && n5::is_dataset_object(doc) {
                return Err(Error::invalid(format!(
                    "attributes \"dimensions\", \"blockSize\" and \"dataType\" together would \
                     turn the group {} into an N5 dataset (reserved there)",
                    at.location("")
                )));
            }
            Ok(true)
        }),
        Format::ZarrV2 => {
            let location = at.location(ZATTRS);
            at.store.update(&at.key(ZATTRS), &mut |old| {
                let doc = old
                    .map(|b| json::parse_bytes(b.to_vec(), &location))
                    .transpose()?;
                let mut m = as_object(doc, || location.clone())?;
                f(&mut m)?;
                let text = json::compact(&Value::Object(m));
                Ok(Update::Put(vec![text.into_bytes().into()]))
            })
        }
        Format::ZarrV3 => edit_doc(at, ZARR_JSON, true, &mut |doc| {
            let mut user = match doc.remove("attributes") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(m)) => m,
                Some(_) => {
                    return Err(Error::metadata(
                        at.location(ZARR_JSON),
                        "\"attributes\" must be an object",
                    ))
                }
            };
            f(&mut user)?;
            doc.insert("attributes".into(), Value::Object(user));
            Ok(true)
        }),
    }
}
