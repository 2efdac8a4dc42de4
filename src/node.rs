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

/// Remove every user attribute at `at` but those named in `keep` (attributes z5py itself
/// stores among them), in one read-modify-write: a key another writer sets meanwhile is
/// either removed with the rest or set after, never half of both. The format's own keys
/// (N5 dataset metadata, the root's version) stay, as for every attribute change.
pub fn clear_attrs(at: &Loc, format: Format, keep: &[String], is_root: bool) -> Result<()> {
    edit_attrs(at, format, is_root, &mut |m| {
        m.retain(|k, _| keep.contains(k));
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

#[cfg(test)]
mod tests {
    //! Groups, attributes and the listing of a container's nodes, on the in-memory store
    //! (no directories: a node is seen only through its metadata documents).

    use super::*;
    use crate::dtype::DataType;
    use crate::metadata::{create, node_info, ArraySpec, ZARRAY};
    use crate::store::{ListableStore, MemoryStore, ReadableStore, WritableStore};

    const FORMATS: [Format; 3] = [Format::N5, Format::ZarrV2, Format::ZarrV3];

    fn array_at(at: &Loc, format: Format) {
        let spec = ArraySpec::new(format, vec![4, 6], vec![2, 3], DataType::UInt16);
        create(at, &spec).unwrap();
    }

    fn attrs(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn is_not_found(r: Result<()>) -> bool {
        matches!(r, Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// A container of each format holding a group `g` with a subgroup and an array: what
    /// the store lists at each level, and what each listed node is.
    #[test]
    fn every_format_lists_its_groups_and_arrays() {
        for format in FORMATS {
            let s = MemoryStore::new();
            create_group(&Loc::new(&s, ""), format, true).unwrap();
            create_group(&Loc::new(&s, "g"), format, false).unwrap();
            create_group(&Loc::new(&s, "g/sub"), format, false).unwrap();
            array_at(&Loc::new(&s, "g/arr"), format);

            let kinds = |prefix: &str| -> Vec<(String, NodeKind, Option<Format>)> {
                let listing = s.list_dir(prefix).unwrap();
                listing
                    .prefixes
                    .iter()
                    .map(|p| {
                        let (kind, f) = node_info(&Loc::new(&s, p)).unwrap();
                        (p.clone(), kind, f)
                    })
                    .collect()
            };
            let f = Some(format);
            assert_eq!(kinds(""), [("g".into(), NodeKind::Group, f)], "{format:?}");
            assert_eq!(
                kinds("g"),
                [
                    ("g/arr".into(), NodeKind::Array, f),
                    ("g/sub".into(), NodeKind::Group, f)
                ],
                "{format:?}"
            );
            assert_eq!(node_info(&Loc::new(&s, "")).unwrap(), (NodeKind::Group, f));
            assert_eq!(
                node_info(&Loc::new(&s, "g/none")).unwrap(),
                (NodeKind::Missing, None)
            );
            // the values at the root are the root's metadata only
            let root_docs = s.list_dir("").unwrap().keys;
            let want: &[&str] = match format {
                Format::N5 => &[N5_ATTRS],
                Format::ZarrV2 => &[ZGROUP],
                Format::ZarrV3 => &[ZARR_JSON],
            };
            assert_eq!(root_docs, want, "{format:?}");
        }
        // an N5 array is a dataset's attributes.json, a Zarr v2 one its .zarray
        let s = MemoryStore::new();
        array_at(&Loc::new(&s, "a"), Format::ZarrV2);
        assert!(s.size(&format!("a/{ZARRAY}")).unwrap().is_some());
    }

    #[test]
    fn creating_a_group_again_keeps_its_metadata() {
        for format in FORMATS {
            for (prefix, is_root) in [("", true), ("g", false)] {
                let s = MemoryStore::new();
                let at = Loc::new(&s, prefix);
                create_group(&at, format, is_root).unwrap();
                write_attrs(&at, format, attrs(json!({"a": 1})), is_root).unwrap();
                create_group(&at, format, is_root).unwrap();
                assert_eq!(
                    read_attrs(&at, format, is_root).unwrap(),
                    attrs(json!({"a": 1})),
                    "{format:?} {prefix:?}"
                );
            }
        }
        // an N5 root keeps the version another writer put there
        let s = MemoryStore::new();
        s.put(N5_ATTRS, br#"{"n5": "4.0.0"}"#).unwrap();
        create_group(&Loc::new(&s, ""), Format::N5, true).unwrap();
        let doc: Value = serde_json::from_slice(&s.get(N5_ATTRS).unwrap().unwrap()).unwrap();
        assert_eq!(doc, json!({"n5": "4.0.0"}));
    }

    #[test]
    fn attributes_are_written_read_and_updated_in_place() {
        for format in FORMATS {
            let s = MemoryStore::new();
            let group = Loc::new(&s, "g");
            create_group(&group, format, false).unwrap();
            let arr = Loc::new(&s, "g/arr");
            array_at(&arr, format);
            for at in [&group, &arr] {
                assert!(read_attrs(at, format, false).unwrap().is_empty());
                write_attrs(at, format, attrs(json!({"a": 1, "b": [1, 2]})), false).unwrap();
                update_attrs(
                    at,
                    format,
                    attrs(json!({"c": "x", "a": 2})),
                    &["b".to_string(), "absent".to_string()],
                    false,
                )
                .unwrap();
                assert_eq!(
                    read_attrs(at, format, false).unwrap(),
                    attrs(json!({"a": 2, "c": "x"})),
                    "{format:?} {}",
                    at.prefix
                );
            }
            // the array's metadata is untouched by its attributes
            let meta = crate::metadata::open(&arr).unwrap();
            assert_eq!(meta.grid.shape, vec![4, 6]);
            assert_eq!(meta.dtype, DataType::UInt16);
        }
        // Zarr v3 keeps attributes inside zarr.json, beside the other fields
        let s = MemoryStore::new();
        let at = Loc::new(&s, "g");
        create_group(&at, Format::ZarrV3, false).unwrap();
        update_attrs(&at, Format::ZarrV3, attrs(json!({"k": 1})), &[], false).unwrap();
        let doc: Value = serde_json::from_slice(&s.get("g/zarr.json").unwrap().unwrap()).unwrap();
        assert_eq!(doc["node_type"], "group");
        assert_eq!(doc["attributes"], json!({"k": 1}));
    }

    #[test]
    fn n5_keeps_its_own_keys_out_of_the_user_attributes() {
        let s = MemoryStore::new();
        let root = Loc::new(&s, "");
        create_group(&root, Format::N5, true).unwrap();
        let ds = Loc::new(&s, "ds");
        array_at(&ds, Format::N5);
        let g = Loc::new(&s, "g");
        create_group(&g, Format::N5, false).unwrap();

        // the root's version and a dataset's metadata are hidden and reserved
        assert!(read_attrs(&root, Format::N5, true).unwrap().is_empty());
        assert_eq!(reserved_attrs(&root, Format::N5, true).unwrap(), ["n5"]);
        assert!(read_attrs(&ds, Format::N5, false).unwrap().is_empty());
        let mut reserved = reserved_attrs(&ds, Format::N5, false).unwrap();
        reserved.sort_unstable();
        let mut want = n5::RESERVED.to_vec();
        want.sort_unstable();
        assert_eq!(reserved, want);
        assert!(reserved_attrs(&g, Format::N5, false).unwrap().is_empty());
        for f in [Format::ZarrV2, Format::ZarrV3] {
            assert!(reserved_attrs(&Loc::new(&s, "x"), f, false)
                .unwrap()
                .is_empty());
        }

        // writing them is refused, and the document is left as it was
        for (at, is_root, key) in [(&root, true, "n5"), (&ds, false, "dataType")] {
            let r = update_attrs(at, Format::N5, attrs(json!({key: "x"})), &[], is_root);
            assert!(matches!(r, Err(Error::InvalidArgument(_))), "{key}");
        }
        assert_eq!(crate::metadata::open(&ds).unwrap().dtype, DataType::UInt16);
        assert_eq!(reserved_attrs(&root, Format::N5, true).unwrap(), ["n5"]);

        // user attributes live beside them; replacing the user attributes keeps them
        write_attrs(&ds, Format::N5, attrs(json!({"u": 1})), false).unwrap();
        write_attrs(&root, Format::N5, attrs(json!({"r": 1})), true).unwrap();
        assert_eq!(
            read_attrs(&ds, Format::N5, false).unwrap(),
            attrs(json!({"u": 1}))
        );
        assert_eq!(crate::metadata::open(&ds).unwrap().grid.shape, vec![4, 6]);
        assert_eq!(
            read_attrs(&root, Format::N5, true).unwrap(),
            attrs(json!({"r": 1}))
        );
        assert_eq!(
            node_info(&root).unwrap(),
            (NodeKind::Group, Some(Format::N5))
        );

        // on other groups they are ordinary attributes, unless all three together would
        // make the group a dataset
        update_attrs(
            &g,
            Format::N5,
            attrs(json!({"dataType": "uint8"})),
            &[],
            false,
        )
        .unwrap();
        assert_eq!(
            read_attrs(&g, Format::N5, false).unwrap(),
            attrs(json!({"dataType": "uint8"}))
        );
        let r = update_attrs(
            &g,
            Format::N5,
            attrs(json!({"dimensions": [1], "blockSize": [1]})),
            &[],
            false,
        );
        assert!(matches!(r, Err(Error::InvalidArgument(_))));
        assert_eq!(node_info(&g).unwrap(), (NodeKind::Group, Some(Format::N5)));
    }

    #[test]
    fn attributes_of_a_missing_node_are_not_found_and_bad_documents_are_named() {
        for format in FORMATS {
            let s = MemoryStore::new();
            let at = Loc::new(&s, "nothing");
            assert!(is_not_found(write_attrs(&at, format, Map::new(), false)));
            assert!(is_not_found(update_attrs(
                &at,
                format,
                Map::new(),
                &[],
                false
            )));
            assert!(read_attrs(&at, format, false).unwrap().is_empty());
            assert!(s.list_prefix("").unwrap().is_empty(), "{format:?}");
        }
        // attributes that are not a JSON object are a metadata error naming the document
        let s = MemoryStore::new();
        s.put("z2/.zgroup", br#"{"zarr_format": 2}"#).unwrap();
        s.put("z2/.zattrs", b"[1, 2]").unwrap();
        s.put(
            "z3/zarr.json",
            br#"{"zarr_format": 3, "node_type": "group", "attributes": 5}"#,
        )
        .unwrap();
        for (prefix, format, doc) in [
            ("z2", Format::ZarrV2, ".zattrs"),
            ("z3", Format::ZarrV3, "zarr.json"),
        ] {
            let at = Loc::new(&s, prefix);
            for r in [
                read_attrs(&at, format, false).map(|_| ()),
                update_attrs(&at, format, Map::new(), &[], false),
            ] {
                match r {
                    Err(Error::Metadata { location, .. }) => {
                        assert_eq!(location, s.location(&format!("{prefix}/{doc}")))
                    }
                    other => panic!("{prefix}: {other:?}"),
                }
            }
        }
    }
}
