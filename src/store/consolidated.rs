//! Consolidated metadata: a Zarr container's metadata documents gathered in one document
//! at its root, as zarr-python writes them (Zarr v2: `.zmetadata`, `{"metadata": {"a/.zarray":
//! {...}, ...}, "zarr_consolidated_format": 1}`; Zarr v3: the `consolidated_metadata` member
//! of the root `zarr.json`, `{"kind": "inline", "must_understand": false, "metadata": {"a":
//! {...zarr.json of a...}}}`).
//!
//! [`ConsolidatedStore`] lays that document over a store: the metadata of every node it
//! lists is answered from memory, a known node's missing metadata documents are known to be
//! missing, and a known group is listed from it, so that a hierarchy of thousands of nodes
//! opens with the one request that read the document (none more for `node_info`, metadata,
//! attributes or member names). Everything else (chunks, shards, nodes it does not list)
//! goes to the store below.
//!
//! Writes go to the store below, and every change of a metadata document through this
//! store also updates the consolidated document there, as a read-modify-write of that one
//! key (conditional on object stores, locked on disk) that applies only this change, so that
//! concurrent writers keep each other's entries; a consolidated document someone removed
//! meanwhile is not brought back. Writes that bypass this store (other libraries) leave it
//! stale, as they do for zarr-python.

use super::{
    ByteRange, ListableStore, Listing, PooledBuf, ReadableStore, Store, Update, Versioned,
    WritableStore,
};
use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

/// The v2 document's key.
pub const ZMETADATA: &str = ".zmetadata";
const ZARR_JSON: &str = "zarr.json";
/// The names of metadata documents: what the overlay answers for at the nodes it knows.
const META_NAMES: [&str; 5] = [
    ".zgroup",
    ".zarray",
    ".zattrs",
    "zarr.json",
    "attributes.json",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    V2,
    V3,
}

#[derive(Debug, Default)]
struct View {
    /// Metadata documents by key (`"a/.zarray"`, `"a/zarr.json"`, the root's `"zarr.json"`).
    docs: BTreeMap<String, Arc<Vec<u8>>>,
    /// Every node the document lists (`""`: the root), with its ancestors.
    nodes: BTreeSet<String>,
}

impl View {
    fn add_node(&mut self, node: &str) {
        let mut node = node.trim_matches('/');
        loop {
            self.nodes.insert(node.to_string());
            match node.rsplit_once('/') {
                Some((parent, _)) => node = parent,
                None if node.is_empty() => break,
                None => node = "",
            }
        }
    }
}

/// A store with a Zarr container's consolidated metadata laid over it (see the module).
#[derive(Debug)]
pub struct ConsolidatedStore {
    inner: Arc<dyn Store>,
    kind: Kind,
    view: RwLock<View>,
}

fn split(key: &str) -> (&str, &str) {
    key.rsplit_once('/').unwrap_or(("", key))
}

fn is_meta(key: &str) -> bool {
    META_NAMES.contains(&split(key).1)
}

fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap_or_default()
}

fn bad(location: String, msg: &str) -> Error {
    Error::metadata(location, msg)
}

impl ConsolidatedStore {
    /// The store with the consolidated metadata found at the root of `inner` laid over it,
    /// or None when there is none (a Zarr v3 root `zarr.json` is read first, then `.zmetadata`).
    pub fn open(inner: Arc<dyn Store>) -> Result<Option<ConsolidatedStore>> {
        let mut view = View::default();
        let kind = if let Some(raw) = inner.get(ZARR_JSON)? {
            let root: Value = serde_json::from_slice(&raw)
                .map_err(|e| bad(inner.location(ZARR_JSON), &e.to_string()))?;
            let Some(members) = root
                .get("consolidated_metadata")
                .and_then(|c| c.get("metadata"))
                .and_then(Value::as_object)
            else {
                return Ok(None);
            };
            view.add_node("");
            for (node, doc) in members {
                let node = node.trim_matches('/');
                view.add_node(node);
                view.docs
                    .insert(super::join(node, ZARR_JSON), Arc::new(to_bytes(doc)));
            }
            view.docs.insert(ZARR_JSON.to_string(), Arc::new(raw));
            Kind::V3
        } else if let Some(raw) = inner.get(ZMETADATA)? {
            let doc: Value = serde_json::from_slice(&raw)
                .map_err(|e| bad(inner.location(ZMETADATA), &e.to_string()))?;
            let members = doc
                .get("metadata")
                .and_then(Value::as_object)
                .ok_or_else(|| bad(inner.location(ZMETADATA), "missing \"metadata\" object"))?;
            view.add_node("");
            for (key, doc) in members {
                let key = key.trim_matches('/');
                if !is_meta(key) {
                    continue;
                }
                view.add_node(split(key).0);
                view.docs.insert(key.to_string(), Arc::new(to_bytes(doc)));
            }
            Kind::V2
        } else {
            return Ok(None);
        };
        Ok(Some(ConsolidatedStore {
            inner,
            kind,
            view: RwLock::new(view),
        }))
    }

    fn view(&self) -> std::sync::RwLockReadGuard<'_, View> {
        self.view.read().unwrap_or_else(|p| p.into_inner())
    }

    /// What the overlay knows of `key`: Some(Some(doc)), Some(None) (known missing), or
    /// None (ask the store below).
    fn known(&self, key: &str) -> Option<Option<Arc<Vec<u8>>>> {
        if !is_meta(key) {
            return None;
        }
        let view = self.view();
        if let Some(doc) = view.docs.get(key) {
            return Some(Some(doc.clone()));
        }
        view.nodes.contains(split(key).0).then_some(None)
    }

    /// Record that the metadata document `key` is now `value` (None: removed), here and in
    /// the stored consolidated document.
    fn record(&self, key: &str, value: Option<&[u8]>) -> Result<()> {
        let parsed: Option<Value> = match value {
            Some(v) => Some(
                serde_json::from_slice(v).map_err(|e| bad(self.location(key), &e.to_string()))?,
            ),
            None => None,
        };
        {
            let mut view = self.view.write().unwrap_or_else(|p| p.into_inner());
            match value {
                Some(v) => {
                    view.add_node(split(key).0);
                    view.docs.insert(key.to_string(), Arc::new(v.to_vec()));
                }
                None => {
                    view.docs.remove(key);
                }
            }
        }
        if self.kind == Kind::V3 && key == ZARR_JSON {
            return Ok(()); // the root document carries the consolidated member itself
        }
        let (doc_key, member) = match self.kind {
            Kind::V2 => (ZMETADATA, key.to_string()),
            Kind::V3 => (ZARR_JSON, split(key).0.to_string()),
        };
        let location = self.location(doc_key);
        let mut apply = |current: Option<&[u8]>| -> Result<Update> {
            let Some(current) = current else {
                return Ok(Update::Keep);
            };
            let mut doc: Value = serde_json::from_slice(current)
                .map_err(|e| bad(location.clone(), &e.to_string()))?;
            let members = match self.kind {
                Kind::V2 => doc.get_mut("metadata"),
                Kind::V3 => doc
                    .get_mut("consolidated_metadata")
                    .and_then(|c| c.get_mut("metadata")),
            };
            let Some(Value::Object(members)) = members else {
                return Ok(Update::Keep); // consolidation was removed meanwhile
            };
            match &parsed {
                Some(v) => {
                    let mut v = v.clone();
                    if let Value::Object(m) = &mut v {
                        m.remove("consolidated_metadata");
                    }
                    members.insert(member.clone(), v);
                }
                None => {
                    members.remove(&member);
                }
            }
            if self.kind == Kind::V3 {
                sort(members);
            }
            Ok(Update::Put(vec![PooledBuf::from(to_bytes(&doc))]))
        };
        self.inner.update(doc_key, &mut apply)
    }

    /// Forget every document and node below `prefix` (and at it), here and in the stored
    /// consolidated document.
    fn forget_below(&self, prefix: &str) -> Result<()> {
        let prefix = prefix.trim_matches('/');
        let inside =
            |k: &str| prefix.is_empty() || k == prefix || k.starts_with(&format!("{prefix}/"));
        {
            let mut view = self.view.write().unwrap_or_else(|p| p.into_inner());
            view.docs.retain(|k, _| !inside(k));
            view.nodes.retain(|n| !inside(n));
        }
        if prefix.is_empty() {
            return Ok(()); // the document itself is gone with everything else
        }
        let doc_key = match self.kind {
            Kind::V2 => ZMETADATA,
            Kind::V3 => ZARR_JSON,
        };
        let location = self.location(doc_key);
        let kind = self.kind;
        let mut apply = |current: Option<&[u8]>| -> Result<Update> {
            let Some(current) = current else {
                return Ok(Update::Keep);
            };
            let mut doc: Value = serde_json::from_slice(current)
                .map_err(|e| bad(location.clone(), &e.to_string()))?;
            let members = match kind {
                Kind::V2 => doc.get_mut("metadata"),
                Kind::V3 => doc
                    .get_mut("consolidated_metadata")
                    .and_then(|c| c.get_mut("metadata")),
            };
            let Some(Value::Object(members)) = members else {
                return Ok(Update::Keep);
            };
            let before = members.len();
            members.retain(|k, _| !inside(k.trim_matches('/')));
            if members.len() == before {
                return Ok(Update::Keep);
            }
            Ok(Update::Put(vec![PooledBuf::from(to_bytes(&doc))]))
        };
        self.inner.update(doc_key, &mut apply)
    }
}

fn sort(members: &mut Map<String, Value>) {
    let sorted: BTreeMap<String, Value> = std::mem::take(members).into_iter().collect();
    members.extend(sorted);
}

impl ReadableStore for ConsolidatedStore {
    fn location(&self, key: &str) -> String {
        self.inner.location(key)
    }

    fn get_into(&self, key: &str, buf: &mut Vec<u8>) -> Result<bool> {
        match self.known(key) {
            Some(Some(doc)) => {
                buf.clear();
                buf.extend_from_slice(&doc);
                Ok(true)
            }
            Some(None) => Ok(false),
            None => self.inner.get_into(key, buf),
        }
    }

    fn get_ranges(&self, key: &str, ranges: &[ByteRange]) -> Result<Option<Vec<Vec<u8>>>> {
        match self.known(key) {
            Some(Some(doc)) => {
                let spans = super::resolve_ranges(ranges, doc.len() as u64, &self.location(key))?;
                Ok(Some(
                    spans
                        .into_iter()
                        .map(|r| doc[r.start as usize..r.end as usize].to_vec())
                        .collect(),
                ))
            }
            Some(None) => Ok(None),
            None => self.inner.get_ranges(key, ranges),
        }
    }

    // Chunks are never in the document: they keep the store's own ranged read (a pread into
    // a pooled buffer on the filesystem).
    fn get_range_into(&self, key: &str, range: &ByteRange, buf: &mut Vec<u8>) -> Result<bool> {
        match self.known(key) {
            Some(_) => match self.get_ranges(key, std::slice::from_ref(range))? {
                Some(mut got) => {
                    *buf = got.pop().unwrap_or_default();
                    Ok(true)
                }
                None => Ok(false),
            },
            None => self.inner.get_range_into(key, range, buf),
        }
    }

    // Shards are never in the document: their versioned reads are the store's own.
    fn get_ranges_versioned(
        &self,
        key: &str,
        ranges: &[ByteRange],
        if_version: Option<&str>,
    ) -> Result<Versioned> {
        match self.known(key) {
            Some(_) => super::unversioned(self, key, ranges, if_version),
            None => self.inner.get_ranges_versioned(key, ranges, if_version),
        }
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        match self.known(key) {
            Some(doc) => Ok(doc.map(|d| d.len() as u64)),
            None => self.inner.size(key),
        }
    }

    fn concurrency(&self) -> usize {
        self.inner.concurrency()
    }
}

impl WritableStore for ConsolidatedStore {
    fn put_parts(&self, key: &str, parts: &[&[u8]]) -> Result<()> {
        if self.kind == Kind::V3 && key == ZARR_JSON {
            // a new root document keeps the stored consolidated member
            let value = parts.concat();
            return self.update(key, &mut |_| {
                Ok(Update::Put(vec![PooledBuf::from(value.clone())]))
            });
        }
        self.inner.put_parts(key, parts)?;
        if is_meta(key) {
            self.record(key, Some(&parts.concat()))?;
        }
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key)?;
        if is_meta(key) {
            self.record(key, None)?;
        }
        Ok(())
    }

    fn delete_prefix(&self, prefix: &str) -> Result<()> {
        self.inner.delete_prefix(prefix)?;
        self.forget_below(prefix)
    }

    fn create_prefix(&self, prefix: &str) -> Result<()> {
        self.inner.create_prefix(prefix)
    }

    fn update_under(
        &self,
        node: &str,
        key: &str,
        f: &mut dyn FnMut(Option<&[u8]>) -> Result<Update>,
    ) -> Result<()> {
        if !is_meta(key) {
            return self.inner.update_under(node, key, f);
        }
        let root_v3 = self.kind == Kind::V3 && key == ZARR_JSON;
        let mut decided: Option<Option<Vec<u8>>> = None;
        let mut wrapped = |current: Option<&[u8]>| -> Result<Update> {
            Ok(match f(current)? {
                Update::Put(parts) => {
                    let mut value: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
                    if root_v3 {
                        value = keep_member(current, value);
                    }
                    decided = Some(Some(value.clone()));
                    Update::Put(vec![PooledBuf::from(value)])
                }
                Update::Delete => {
                    decided = Some(None);
                    Update::Delete
                }
                Update::Keep => {
                    decided = None;
                    Update::Keep
                }
            })
        };
        self.inner.update_under(node, key, &mut wrapped)?;
        match decided {
            Some(value) => self.record(key, value.as_deref()),
            None => Ok(()),
        }
    }
}

/// A new root `zarr.json` (`value`) with the `consolidated_metadata` member of the stored
/// one (`current`) when it has none of its own.
fn keep_member(current: Option<&[u8]>, value: Vec<u8>) -> Vec<u8> {
    let member = current
        .and_then(|c| serde_json::from_slice::<Value>(c).ok())
        .and_then(|mut c| c.get_mut("consolidated_metadata").map(Value::take));
    let (Some(member), Ok(Value::Object(mut doc))) = (member, serde_json::from_slice(&value))
    else {
        return value;
    };
    if doc.contains_key("consolidated_metadata") {
        return value;
    }
    doc.insert("consolidated_metadata".into(), member);
    to_bytes(&Value::Object(doc))
}

impl ListableStore for ConsolidatedStore {
    /// A group the document lists is listed from it (its metadata documents and member
    /// nodes); anything else by the store below.
    fn list_dir(&self, prefix: &str) -> Result<Listing> {
        let prefix = prefix.trim_matches('/');
        let view = self.view();
        let v3_array = view
            .docs
            .get(&super::join(prefix, ZARR_JSON))
            .and_then(|d| serde_json::from_slice::<Value>(d).ok())
            .is_some_and(|d| d.get("node_type").and_then(Value::as_str) == Some("array"));
        let is_group = view.nodes.contains(prefix)
            && !view.docs.contains_key(&super::join(prefix, ".zarray"))
            && !v3_array;
        if !is_group {
            drop(view);
            return self.inner.list_dir(prefix);
        }
        let mut out = Listing::default();
        let start = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        for key in view.docs.keys() {
            if let Some(rest) = key.strip_prefix(&start) {
                if !rest.contains('/') {
                    out.keys.push(key.clone());
                }
            }
        }
        for node in &view.nodes {
            if let Some(rest) = node.strip_prefix(&start) {
                if !rest.is_empty() && !rest.contains('/') {
                    out.prefixes.push(node.clone());
                }
            }
        }
        if prefix.is_empty() && self.kind == Kind::V2 {
            out.keys.push(ZMETADATA.to_string());
            out.keys.sort();
        }
        Ok(out)
    }

    fn list_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.list_prefix(prefix)
    }

    fn prefix_exists(&self, prefix: &str) -> Result<bool> {
        if self.view().nodes.contains(prefix.trim_matches('/')) {
            return Ok(true);
        }
        self.inner.prefix_exists(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn v2() -> Arc<MemoryStore> {
        let m = Arc::new(MemoryStore::new());
        let doc = serde_json::json!({
            "metadata": {
                ".zgroup": {"zarr_format": 2},
                ".zattrs": {"top": 1},
                "a/.zgroup": {"zarr_format": 2},
                "a/b/.zarray": {"zarr_format": 2, "shape": [4]},
            },
            "zarr_consolidated_format": 1
        });
        m.put(ZMETADATA, &serde_json::to_vec(&doc).unwrap())
            .unwrap();
        m.put("a/b/0", b"chunk").unwrap();
        m
    }

    fn stored(m: &MemoryStore) -> Value {
        serde_json::from_slice(&m.get(ZMETADATA).unwrap().unwrap()).unwrap()
    }

    #[test]
    fn reads_and_lists_from_the_document_and_chunks_from_below() {
        let m = v2();
        let c = ConsolidatedStore::open(m.clone()).unwrap().unwrap();
        assert!(c.get("a/b/.zarray").unwrap().is_some());
        assert_eq!(c.get("a/b/.zattrs").unwrap(), None); // known node, known missing
        assert_eq!(c.get("zarr.json").unwrap(), None);
        assert_eq!(c.get("a/b/0").unwrap().unwrap(), b"chunk");
        let root = c.list_dir("").unwrap();
        assert_eq!(root.prefixes, ["a"]);
        assert_eq!(root.keys, [".zattrs", ".zgroup", ".zmetadata"]);
        assert_eq!(c.list_dir("a").unwrap().prefixes, ["a/b"]);
        assert_eq!(c.list_dir("a/b").unwrap().keys, ["a/b/0"]); // an array: from below
        assert!(c.prefix_exists("a/b").unwrap());
        assert!(ConsolidatedStore::open(Arc::new(MemoryStore::new()))
            .unwrap()
            .is_none());
    }

    #[test]
    fn writes_keep_the_document_true() {
        let m = v2();
        let c = ConsolidatedStore::open(m.clone()).unwrap().unwrap();
        c.put("a/c/.zarray", br#"{"zarr_format": 2, "shape": [2]}"#)
            .unwrap();
        c.update("a/.zattrs", &mut |_| {
            Ok(Update::Put(vec![PooledBuf::from(br#"{"k": 2}"#.to_vec())]))
        })
        .unwrap();
        c.put("a/c/0", b"not metadata").unwrap();
        let doc = stored(&m);
        assert_eq!(
            doc["metadata"]["a/c/.zarray"]["shape"],
            serde_json::json!([2])
        );
        assert_eq!(doc["metadata"]["a/.zattrs"]["k"], 2);
        assert!(doc["metadata"].get("a/c/0").is_none());
        assert_eq!(c.list_dir("a").unwrap().prefixes, ["a/b", "a/c"]);
        c.delete_prefix("a/b").unwrap();
        let doc = stored(&m);
        assert!(doc["metadata"].get("a/b/.zarray").is_none());
        assert_eq!(c.list_dir("a").unwrap().prefixes, ["a/c"]);
        // a document removed meanwhile is not brought back
        m.delete(ZMETADATA).unwrap();
        c.put("a/d/.zarray", b"{}").unwrap();
        assert_eq!(m.get(ZMETADATA).unwrap(), None);
    }

    #[test]
    fn v3_root_keeps_its_member_and_members_follow_writes() {
        let m = Arc::new(MemoryStore::new());
        let root = serde_json::json!({
            "zarr_format": 3, "node_type": "group", "attributes": {},
            "consolidated_metadata": {"kind": "inline", "must_understand": false, "metadata": {
                "x": {"zarr_format": 3, "node_type": "array", "shape": [3]}
            }}
        });
        m.put(ZARR_JSON, &serde_json::to_vec(&root).unwrap())
            .unwrap();
        let c = ConsolidatedStore::open(m.clone()).unwrap().unwrap();
        assert!(c.get("x/zarr.json").unwrap().is_some());
        assert_eq!(c.get("x/.zarray").unwrap(), None);
        // the root's attributes rewritten without the member: the member stays
        c.put(
            ZARR_JSON,
            br#"{"zarr_format": 3, "node_type": "group", "attributes": {"a": 1}}"#,
        )
        .unwrap();
        c.put(
            "g/zarr.json",
            br#"{"zarr_format": 3, "node_type": "group", "attributes": {}}"#,
        )
        .unwrap();
        let doc: Value = serde_json::from_slice(&m.get(ZARR_JSON).unwrap().unwrap()).unwrap();
        assert_eq!(doc["attributes"]["a"], 1);
        let members = doc["consolidated_metadata"]["metadata"]
            .as_object()
            .unwrap();
        assert_eq!(members.keys().collect::<Vec<_>>(), ["g", "x"]);
        assert_eq!(c.list_dir("").unwrap().prefixes, ["g", "x"]);
    }
}
