//! The storage boundary. Everything the engine stores (chunks, shards, metadata, attributes)
//! goes through these traits as values under string keys, so that the same array code runs
//! on a directory, in memory, on an object store or (read-only) on a web server.
//!
//! Keys are relative to the container root, `/`-separated, without a leading `/` (`""` is
//! the root itself, `"raw/0/1/2"` a chunk, `"raw/.zarray"` metadata). Errors name the
//! key's full location (path or URL, see [`ReadableStore::location`]), never a bare key.
//!
//! Listings show values and sub-prefixes. Dot-named values (`.zarray`, `.zattrs`) are
//! values like any other; what a store keeps for itself (the filesystem store's
//! `.z5tmp.*` temporaries and `.z5lock` lock files) is never listed, read or deleted as
//! a value. A prefix is a key path: `list_prefix("a")` lists keys below `a/`, never `ab`.
//!
//! Backends: [`FsStore`] (a directory), [`MemoryStore`] (a map, also by name for
//! `memory://NAME`); object stores implement the same traits. Every backend passes the one
//! conformance suite in `store::conformance` (tests).

pub mod buf;
#[cfg(test)]
pub(crate) mod conformance;
pub mod consolidated;
pub mod fs;
pub mod lockfile;
pub mod memory;
pub mod object;
pub mod url;

pub use buf::*;
pub use fs::*;
pub use lockfile::LockScope;
pub use memory::MemoryStore;

use crate::error::{Error, Result};
use std::ops::Range;

/// A byte range of a stored value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `start..end` from the value's first byte.
    Span(Range<u64>),
    /// The last `n` bytes (a shard's index at its end), without knowing the size first.
    Suffix(u64),
}

impl ByteRange {
    /// The span this range covers in a value of `size` bytes, or None when it reaches past
    /// the end (or starts after it ends).
    pub fn resolve(&self, size: u64) -> Option<Range<u64>> {
        match self {
            ByteRange::Span(r) if r.start <= r.end && r.end <= size => Some(r.clone()),
            ByteRange::Suffix(n) if *n <= size => Some(size - n..size),
            _ => None,
        }
    }
}

/// Resolve every range against a value of `size` bytes at `location`; a range out of it is
/// an error naming the location, the range and the size (the same words for every store).
pub fn resolve_ranges(ranges: &[ByteRange], size: u64, location: &str) -> Result<Vec<Range<u64>>> {
    ranges
        .iter()
        .map(|r| {
            r.resolve(size).ok_or_else(|| {
                crate::error::Error::io(
                    location,
                    std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("byte range {r:?} is out of the value's {size} bytes"),
                    ),
                )
            })
        })
        .collect()
}

/// A ranged read that must see one version of a value: the bytes and the value's version
/// (the store's ETag) where the store tags values, or why there are none.
#[derive(Debug)]
pub enum Versioned {
    /// The ranges, in order, and the version they all came from (None: the store has no
    /// versions, or its answers did not agree on one).
    Got(Vec<Vec<u8>>, Option<String>),
    /// No value at the key.
    Missing,
    /// The value no longer has the version the read was made for.
    Changed,
}

/// `get_ranges_versioned` of a value without versions: its plain ranges, and `Changed` for
/// a read that asks for a version.
pub fn unversioned<S: ReadableStore + ?Sized>(
    store: &S,
    key: &str,
    ranges: &[ByteRange],
    if_version: Option<&str>,
) -> Result<Versioned> {
    if if_version.is_some() {
        return Ok(Versioned::Changed);
    }
    Ok(match store.get_ranges(key, ranges)? {
        Some(got) => Versioned::Got(got, None),
        None => Versioned::Missing,
    })
}

/// What an update (a read-modify-write) decides to do with the value it was shown.
pub enum Update {
    /// Store these parts, concatenated, as the new value.
    Put(Vec<PooledBuf>),
    /// Remove the value.
    Delete,
    /// Leave the value as it is.
    Keep,
}

impl Update {
    /// The update that makes a value `parts` (None: no value) where one was (`had_old`) or
    /// was not: removing a value that is missing keeps things as they are.
    pub fn replacing(parts: Option<Vec<PooledBuf>>, had_old: bool) -> Update {
        match parts {
            Some(parts) => Update::Put(parts),
            None if had_old => Update::Delete,
            None => Update::Keep,
        }
    }
}

/// A finished value for the store: its parts, stored atomically, or None to remove it.
pub struct Put {
    pub key: String,
    pub parts: Option<Vec<PooledBuf>>,
}

impl Put {
    /// Store or remove the value.
    pub fn apply(&self, store: &dyn WritableStore) -> Result<()> {
        match &self.parts {
            None => store.delete(&self.key),
            Some(parts) => {
                let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
                store.put_parts(&self.key, &refs)
            }
        }
    }
}

/// One level of a listing: the values directly under a prefix and the sub-prefixes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Full keys of the values directly below the prefix, sorted.
    pub keys: Vec<String>,
    /// Full keys of the sub-prefixes ("directories") directly below it, without a trailing
    /// `/`, sorted.
    pub prefixes: Vec<String>,
}

/// Reading values.
pub trait ReadableStore: Send + Sync + std::fmt::Debug {
    /// Where `key` lives, for messages and errors: a path or a URL.
    fn location(&self, key: &str) -> String;

    /// Read the value at `key` into `buf` (reusing its allocation); false when it is missing.
    fn get_into(&self, key: &str, buf: &mut Vec<u8>) -> Result<bool>;

    /// The value at `key`, or None when it is missing.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut buf = Vec::new();
        Ok(self.get_into(key, &mut buf)?.then_some(buf))
    }

    /// The given byte ranges of the value at `key`, in order; None when it is missing. A
    /// range reaching past the value's end (a `Suffix` longer than the value too) is an
    /// error naming the key's location (see [`resolve_ranges`]).
    fn get_ranges(&self, key: &str, ranges: &[ByteRange]) -> Result<Option<Vec<Vec<u8>>>>;

    /// One byte range of the value at `key` into `buf` (reusing its allocation, as
    /// `get_into`: the engine reads shards and chunk parts into pooled buffers); false when
    /// the value is missing. The errors of `get_ranges`.
    fn get_range_into(&self, key: &str, range: &ByteRange, buf: &mut Vec<u8>) -> Result<bool> {
        match self.get_ranges(key, std::slice::from_ref(range))? {
            Some(mut got) => {
                *buf = got.pop().unwrap_or_default();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// `get_ranges` together with the value's version, where the store tags values (object
    /// stores: the ETag); with `if_version`, only if the value still has that version
    /// (`Versioned::Changed` otherwise), so that bytes read in two requests (a shard's index,
    /// then its inner chunks) come from one version. Stores without versions return none,
    /// and a read asking for one is `Changed`.
    fn get_ranges_versioned(
        &self,
        key: &str,
        ranges: &[ByteRange],
        if_version: Option<&str>,
    ) -> Result<Versioned> {
        unversioned(self, key, ranges, if_version)
    }

    /// The size in bytes of the value at `key`, or None when it is missing.
    fn size(&self, key: &str) -> Result<Option<u64>>;

    /// How many requests this store serves well at once: 1 for local storage (the engine's
    /// own threads are enough), tens for object stores, where each request waits on a link.
    fn concurrency(&self) -> usize {
        1
    }
}

/// Writing values. Every put is atomic: a reader (or a killed writer) sees the old value or
/// the new one, never a mix.
pub trait WritableStore: ReadableStore {
    /// Store the concatenation of `parts` as the value at `key`.
    fn put_parts(&self, key: &str, parts: &[&[u8]]) -> Result<()>;

    /// Store `bytes` as the value at `key`.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.put_parts(key, &[bytes])
    }

    /// Remove the value at `key`; a missing value is not an error.
    fn delete(&self, key: &str) -> Result<()>;

    /// Remove every value whose key starts with `prefix/` (and `prefix` itself).
    fn delete_prefix(&self, prefix: &str) -> Result<()>;

    /// Make `prefix` exist as an empty "directory" where the store has such a thing (the
    /// filesystem; an N5 group is a directory without metadata); a no-op elsewhere.
    fn create_prefix(&self, _prefix: &str) -> Result<()> {
        Ok(())
    }

    /// Read-modify-write of one value with no lost update: `f` sees the current value (None
    /// when missing) and decides what to store. Local stores hold an exclusive lock on the
    /// key (in-process and between processes) from the read to the write; object stores put
    /// conditionally (If-Match / create-only) and call `f` again on a conflict.
    ///
    /// `node` is the prefix of `key` naming the array or group the value belongs to, where
    /// the filesystem store keeps one lock file for all of its keys (so that a write call
    /// touching chunks in many directories opens one). Every writer of a key must name the
    /// same node: the array's prefix for its chunks and shards (`Ctx::update_stored`), the
    /// key's own directory for metadata and attribute documents ([`WritableStore::update`]).
    /// Wrappers forward this method, never `update`.
    fn update_under(
        &self,
        node: &str,
        key: &str,
        f: &mut dyn FnMut(Option<&[u8]>) -> Result<Update>,
    ) -> Result<()>;

    /// [`WritableStore::update_under`] for a value of the node that is its key's directory
    /// (a metadata or attribute document).
    fn update(&self, key: &str, f: &mut dyn FnMut(Option<&[u8]>) -> Result<Update>) -> Result<()> {
        self.update_under(parent(key), key, f)
    }
}

/// The prefix holding `key` (`"a/b/c"` -> `"a/b"`, `"a"` -> `""`).
pub fn parent(key: &str) -> &str {
    key.rsplit_once('/').map_or("", |(p, _)| p)
}

/// `key` relative to `node` (`"a"`, `"a/b/c"` -> `"b/c"`); an error naming both when `node`
/// does not hold it (see [`WritableStore::update_under`]).
pub fn below<'k>(node: &str, key: &'k str) -> Result<&'k str> {
    let rel = match node {
        "" => Some(key),
        _ => key.strip_prefix(node).and_then(|r| r.strip_prefix('/')),
    };
    match rel {
        Some(r) if !r.is_empty() => Ok(r),
        _ => Err(Error::invalid(format!(
            "the key {key:?} is not below the node {node:?} named for its update"
        ))),
    }
}

/// Listing keys.
pub trait ListableStore: ReadableStore {
    /// The values and sub-prefixes directly below `prefix` (`""`: the root).
    fn list_dir(&self, prefix: &str) -> Result<Listing>;

    /// Every key below `prefix`, at any depth, sorted.
    fn list_prefix(&self, prefix: &str) -> Result<Vec<String>>;

    /// Whether anything is stored below `prefix` (or, on the filesystem, its directory
    /// exists, empty or not: see `create_prefix`).
    fn prefix_exists(&self, prefix: &str) -> Result<bool> {
        let l = self.list_dir(prefix)?;
        Ok(!l.keys.is_empty() || !l.prefixes.is_empty())
    }
}

/// A store the engine can read, write and list.
pub trait Store: WritableStore + ListableStore {}
impl<T: WritableStore + ListableStore> Store for T {}

/// Join a prefix and a name into a key (`""` + `"a"` = `"a"`, `"a"` + `"b"` = `"a/b"`).
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else if name.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}
