//! The in-memory store: a sorted map of keys to values behind a lock. It lets the array
//! engine be tested without temporary directories, and backs `memory://NAME` containers,
//! which live in a process-wide registry by name until the process ends.

use super::WritableStore;
use super::{resolve_ranges, ByteRange, ListableStore, Listing, ReadableStore, Update};
use crate::error::Result;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};

/// Values by key. Values are shared (`Arc`) so that a read copies outside the map's lock.
#[derive(Debug, Default)]
pub struct MemoryStore {
    name: String,
    map: RwLock<BTreeMap<String, Arc<Vec<u8>>>>,
    /// Striped locks serialising `update`s of one key (a put does not wait for them: an
    /// update then a put, or a put then an update, are both valid orders).
    stripes: [Mutex<()>; 32],
}

impl MemoryStore {
    /// A new, empty store of its own (not in the registry).
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The store registered under `name`, created empty on first use; it lives until the
    /// process ends, so every `memory://NAME` of this process sees the same values.
    pub fn named(name: &str) -> Arc<MemoryStore> {
        static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<MemoryStore>>>> = OnceLock::new();
        let mut reg = REGISTRY
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        reg.entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(MemoryStore {
                    name: name.to_string(),
                    ..MemoryStore::default()
                })
            })
            .clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Vec<u8>>>> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Vec<u8>>>> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }

    fn value(&self, key: &str) -> Option<Arc<Vec<u8>>> {
        self.read().get(key).cloned()
    }

    fn stripe(&self, key: &str) -> MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        self.stripes[(h.finish() % 32) as usize]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The keys strictly below `prefix` (all keys for the root), in order.
    fn below<'m>(
        map: &'m BTreeMap<String, Arc<Vec<u8>>>,
        prefix: &str,
    ) -> impl Iterator<Item = &'m String> + 'm {
        let start = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        map.range(start.clone()..)
            .map(|(k, _)| k)
            .take_while(move |k| k.starts_with(&start))
    }
}

impl ReadableStore for MemoryStore {
    fn location(&self, key: &str) -> String {
        format!("memory://{}/{key}", self.name)
    }

    fn get_into(&self, key: &str, buf: &mut Vec<u8>) -> Result<bool> {
        let Some(v) = self.value(key) else {
            return Ok(false);
        };
        buf.clear();
        buf.extend_from_slice(&v);
        Ok(true)
    }

    fn get_ranges(&self, key: &str, ranges: &[ByteRange]) -> Result<Option<Vec<Vec<u8>>>> {
        let Some(v) = self.value(key) else {
            return Ok(None);
        };
        let spans = resolve_ranges(ranges, v.len() as u64, &self.location(key))?;
        Ok(Some(
            spans
                .into_iter()
                .map(|r| v[r.start as usize..r.end as usize].to_vec())
                .collect(),
        ))
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        Ok(self.read().get(key).map(|v| v.len() as u64))
    }
}

impl WritableStore for MemoryStore {
    fn put_parts(&self, key: &str, parts: &[&[u8]]) -> Result<()> {
        let v = Arc::new(parts.concat());
        self.write().insert(key.to_string(), v);
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.write().remove(key);
        Ok(())
    }

    fn delete_prefix(&self, prefix: &str) -> Result<()> {
        let mut map = self.write();
        let doomed: Vec<String> = MemoryStore::below(&map, prefix).cloned().collect();
        for k in doomed {
            map.remove(&k);
        }
        map.remove(prefix);
        Ok(())
    }

    fn update_under(
        &self,
        node: &str,
        key: &str,
        f: &mut dyn FnMut(Option<&[u8]>) -> Result<Update>,
    ) -> Result<()> {
        super::below(node, key)?;
        let _guard = self.stripe(key);
        let old = self.value(key);
        match f(old.as_deref().map(|v| v.as_slice()))? {
            Update::Put(parts) => {
                let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
                self.put_parts(key, &refs)
            }
            Update::Delete => self.delete(key),
            Update::Keep => Ok(()),
        }
    }
}

impl ListableStore for MemoryStore {
    fn list_dir(&self, prefix: &str) -> Result<Listing> {
        let map = self.read();
        let skip = if prefix.is_empty() {
            0
        } else {
            prefix.len() + 1
        };
        let mut out = Listing::default();
        for k in MemoryStore::below(&map, prefix) {
            match k[skip..].split_once('/') {
                None => out.keys.push(k.clone()),
                Some((dir, _)) => {
                    let p = super::join(prefix, dir);
                    if out.prefixes.last() != Some(&p) {
                        out.prefixes.push(p);
                    }
                }
            }
        }
        // Keys come sorted; sub-prefixes too, but "a/b" sorts after "a.x/..." as a key
        // while "a" sorts before "a.x" as a prefix.
        out.prefixes.sort();
        out.prefixes.dedup();
        Ok(out)
    }

    fn list_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(MemoryStore::below(&self.read(), prefix).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        crate::store::conformance::check_store(&MemoryStore::new());
    }

    #[test]
    fn named_stores_are_shared_and_say_where() {
        let a = MemoryStore::named("conformance-shared");
        a.put("k", b"v").unwrap();
        assert_eq!(
            MemoryStore::named("conformance-shared")
                .get("k")
                .unwrap()
                .unwrap(),
            b"v"
        );
        assert!(MemoryStore::named("conformance-other")
            .get("k")
            .unwrap()
            .is_none());
        assert_eq!(a.location("x/y"), "memory://conformance-shared/x/y");
    }
}
