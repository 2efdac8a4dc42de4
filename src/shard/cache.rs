//! Shard indexes remembered between reads of an open array on an object store, each with
//! the version (ETag) of the shard it was read from. A partial read of a shard whose index
//! is known costs one request, not two: its inner chunks' byte ranges, asked for on the
//! condition that the shard still has that version (If-Match). A shard changed since (by
//! any writer) answers "changed", and the read fetches its index again, so the cache never
//! serves a stale index. Stores without versions (local disk, memory) cache nothing: an
//! index read costs them no round trip.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Index;

/// Index entries kept at most, over all shards (16 bytes each as stored): 4 Mi entries,
/// e.g. 512 shards of 8,192 inner chunks. Past it the cache starts again empty.
const MAX_ENTRIES: usize = 4 << 20;

/// Shard key -> (index, version of the shard it came from).
#[derive(Debug, Default)]
pub struct IndexCache {
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<String, (Arc<Index>, String)>,
    entries: usize,
}

impl IndexCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The index of the shard at `key` and the version it was read from, if known.
    pub fn get(&self, key: &str) -> Option<(Arc<Index>, String)> {
        self.entries().map.get(key).cloned()
    }

    /// Remember `index`, read from version `version` of the shard at `key`.
    pub fn put(&self, key: &str, index: Arc<Index>, version: String) {
        let mut e = self.entries();
        if e.entries + index.len() > MAX_ENTRIES {
            e.map.clear();
            e.entries = 0;
        }
        e.entries += index.len();
        if let Some((old, _)) = e.map.insert(key.to_string(), (index, version)) {
            e.entries -= old.len();
        }
    }

    /// Forget the shard at `key` (it changed, or this array is rewriting it).
    pub fn forget(&self, key: &str) {
        let mut e = self.entries();
        if let Some((old, _)) = e.map.remove(key) {
            e.entries -= old.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_forgets_and_stays_bounded() {
        let c = IndexCache::default();
        let idx = Arc::new(vec![Some((0u64, 4u64)); 8]);
        c.put("a", idx.clone(), "v1".into());
        assert_eq!(c.get("a").map(|(_, v)| v), Some("v1".to_string()));
        c.put("a", idx.clone(), "v2".into());
        assert_eq!(c.entries().entries, 8);
        c.forget("a");
        assert!(c.get("a").is_none());
        assert_eq!(c.entries().entries, 0);
        // past the bound it starts again, keeping the newest
        let big = Arc::new(vec![None; MAX_ENTRIES / 2 + 1]);
        c.put("x", big.clone(), "1".into());
        c.put("y", big, "1".into());
        assert!(c.get("x").is_none() && c.get("y").is_some());
    }
}
