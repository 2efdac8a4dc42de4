//! Shards in a store, of any kind: reading a shard's index (one request: a suffix when it
//! is at the end) with the shard's version where the store has versions, reading the byte
//! ranges of inner chunks with close ranges merged into one request, starting again when
//! another writer replaced the shard in between, and rewriting a shard atomically under
//! the store's `update`. What the bytes mean is `super::format`'s; which inner chunks a
//! region needs is the layout's (`super`).

use std::sync::Arc;

use super::cache::IndexCache;
use super::format::{Index, ShardFormat};
use crate::error::{Error, Result};
use crate::store::{self, ByteRange, PooledBuf, Store, Update, Versioned};
use crate::threads::{self, Sink};

/// One shard of an array in its store: the store, the array's prefix (the node its
/// rewrites lock under), the shards' format, the array's remembered indexes, and the
/// shard's key and location (for messages).
pub(crate) struct Shard<'a> {
    pub store: &'a dyn Store,
    pub node: &'a str,
    pub format: &'a ShardFormat<'a>,
    pub cache: &'a IndexCache,
    pub key: String,
    pub path: String,
}

/// A byte range that reaches past a shard's end means its index is wrong: corrupt data.
fn short_shard(e: Error, path: &str) -> Error {
    match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::corrupt(
                path,
                format!("shard is shorter than its index says ({source})"),
            )
        }
        e => e,
    }
}

/// The bytes a read needs from one shard: a few spans (start offset and bytes), found by
/// the inner chunks' offsets. The first span is in the caller's pooled buffer.
pub(crate) struct Spans {
    starts: Vec<u64>,
    rest: Vec<Vec<u8>>,
}

impl Spans {
    /// The spans of a whole shard read into the caller's buffer.
    pub fn whole() -> Spans {
        Spans {
            starts: vec![0],
            rest: Vec::new(),
        }
    }

    /// The bytes of the entry (off, n); `first` is the caller's buffer holding span 0.
    pub fn get<'s>(&'s self, first: &'s [u8], (off, n): (u64, u64)) -> &'s [u8] {
        let i = self.starts.partition_point(|&s| s <= off) - 1;
        let span = if i == 0 { first } else { &self.rest[i - 1] };
        let at = (off - self.starts[i]) as usize;
        &span[at..at + n as usize]
    }
}

/// How often a partial read of one shard starts again because a writer replaced the shard
/// between its index and its inner chunks, before it gives up.
const REREADS: usize = 8;

/// Decides one inner chunk of a shard being rewritten: (scratch, local index, old bytes).
pub(crate) type InnerFn<'a> =
    dyn Fn(&mut Vec<u8>, &[u64], Option<&[u8]>) -> Result<Inner> + Sync + 'a;

/// What to do with one inner chunk when rewriting a shard.
pub(crate) enum Inner {
    Keep,
    Set(Option<PooledBuf>),
}

impl Shard<'_> {
    /// Read the shard's index (one request: a suffix when it is at the end) and the
    /// shard's version where the store has versions; None when the shard does not exist.
    pub fn open(&self) -> Result<Option<(Index, Option<String>)>> {
        let ilen = self.format.index_len() as u64;
        let range = if self.format.sharding.index_at_start {
            ByteRange::Span(0..ilen)
        } else {
            ByteRange::Suffix(ilen)
        };
        let got = self
            .store
            .get_ranges_versioned(&self.key, &[range], None)
            .map_err(|e| match short_shard(e, &self.path) {
                Error::CorruptChunk { location, .. } => Error::corrupt(
                    location,
                    format!("shard is shorter than its {ilen}-byte index"),
                ),
                e => e,
            })?;
        match got {
            Versioned::Got(got, version) => Ok(Some((
                self.format.decode_index(&got[0], None, &self.path)?,
                version,
            ))),
            Versioned::Missing | Versioned::Changed => Ok(None),
        }
    }

    /// Read the whole shard into `buf` and decode its index from those bytes; None when
    /// the shard does not exist.
    pub fn read_whole(&self, buf: &mut Vec<u8>) -> Result<Option<Index>> {
        if !self.store.get_into(&self.key, buf)? {
            return Ok(None);
        }
        self.format.index_of_shard(buf, &self.path).map(Some)
    }

    /// Ranges of a shard closer than this are read as one (the bytes between cost less
    /// than one more request): 64 KiB on local storage, 1 MiB over a network.
    fn merge_gap(&self) -> u64 {
        if self.store.concurrency() > 1 {
            1 << 20
        } else {
            64 << 10
        }
    }

    /// Read the byte ranges of `entries` from the shard in one request, merging ranges
    /// that lie close together; the first merged span goes into `buf`. With `version`,
    /// only from that version of the shard. None when the shard changed or vanished since
    /// its index was read: the caller reads the index again.
    fn read_spans(
        &self,
        entries: &mut [(u64, u64)],
        buf: &mut Vec<u8>,
        version: Option<&str>,
    ) -> Result<Option<Spans>> {
        entries.sort_unstable();
        let gap = self.merge_gap();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for &(off, n) in entries.iter() {
            match merged.last_mut() {
                Some((_, end)) if off <= *end + gap => *end = (*end).max(off + n),
                _ => merged.push((off, off + n)),
            }
        }
        let starts: Vec<u64> = merged.iter().map(|m| m.0).collect();
        let rest = match (merged.len(), version) {
            (0, _) => Vec::new(),
            (1, None) => {
                // Local storage: a pread into the pooled buffer.
                let r = ByteRange::Span(merged[0].0..merged[0].1);
                if !self
                    .store
                    .get_range_into(&self.key, &r, buf)
                    .map_err(|e| short_shard(e, &self.path))?
                {
                    return Ok(None);
                }
                Vec::new()
            }
            _ => {
                let ranges: Vec<ByteRange> =
                    merged.iter().map(|m| ByteRange::Span(m.0..m.1)).collect();
                let got = self
                    .store
                    .get_ranges_versioned(&self.key, &ranges, version)
                    .map_err(|e| short_shard(e, &self.path))?;
                let Versioned::Got(mut got, _) = got else {
                    return Ok(None);
                };
                *buf = std::mem::take(&mut got[0]);
                got.remove(0);
                got
            }
        };
        Ok(Some(Spans { starts, rest }))
    }

    /// The shard's index and the bytes of the inner chunks `entries_of` picks from it,
    /// both from one version of the shard: with an index remembered from an earlier read,
    /// one request on the condition that the shard is unchanged; otherwise the index, then
    /// the chunks. None when the shard does not exist.
    pub fn read_partial(
        &self,
        entries_of: impl Fn(&Index) -> Vec<(u64, u64)>,
        buf: &mut Vec<u8>,
    ) -> Result<Option<(Arc<Index>, Spans)>> {
        let mut known = self.cache.get(&self.key).map(|(i, v)| (i, Some(v)));
        for _ in 0..REREADS {
            let (index, version) = match known.take() {
                Some(hit) => hit,
                None => match self.open()? {
                    Some((index, version)) => (Arc::new(index), version),
                    None => return Ok(None),
                },
            };
            let mut entries = entries_of(&index);
            match self.read_spans(&mut entries, buf, version.as_deref())? {
                Some(spans) => {
                    if let Some(v) = version {
                        self.cache.put(&self.key, index.clone(), v);
                    }
                    return Ok(Some((index, spans)));
                }
                None => self.cache.forget(&self.key),
            }
        }
        Err(Error::io(
            &self.path,
            std::io::Error::other(format!(
                "the shard changed {REREADS} times while being read (other writers)"
            )),
        ))
    }

    /// Rewrite the shard: `f` decides each inner chunk from its local index and old bytes
    /// (read only with `read_old`).
    pub fn rewrite(
        &self,
        read_old: bool,
        n_threads: usize,
        f: &InnerFn,
        sink: &Sink,
    ) -> Result<()> {
        self.cache.forget(&self.key);
        if !read_old {
            // A whole-shard overwrite encodes in parallel, and takes no lock.
            let parts = self.build(None, n_threads, f)?;
            return sink.put(store::Put {
                key: self.key.clone(),
                parts,
            });
        }
        // A read-modify-write holds the shard's lock throughout (see
        // `WritableStore::update`) and so must not wait on the thread pool (a pool worker
        // may be blocked on the same lock): its inner chunks are encoded on this thread.
        self.store.update_under(self.node, &self.key, &mut |old| {
            Ok(Update::replacing(self.build(old, 1, f)?, old.is_some()))
        })
    }

    /// The parts of the new shard built from the old one's bytes (if any) by `f`, or None
    /// when it holds no inner chunk.
    fn build(
        &self,
        old: Option<&[u8]>,
        n_threads: usize,
        f: &InnerFn,
    ) -> Result<Option<Vec<PooledBuf>>> {
        let old: Option<(&[u8], Index)> = match old {
            None => None,
            Some(bytes) => Some((bytes, self.format.index_of_shard(bytes, &self.path)?)),
        };
        let parts: Vec<Option<PooledBuf>> = threads::map(
            n_threads,
            &self.format.locals(),
            |scratch: &mut Vec<u8>, local| {
                let old_bytes = old.as_ref().and_then(|(b, idx)| {
                    idx[self.format.linear(local)].map(|(o, n)| &b[o as usize..(o + n) as usize])
                });
                Ok(match f(scratch, local, old_bytes)? {
                    Inner::Keep => old_bytes.map(|b| b.to_vec().into()),
                    Inner::Set(v) => v,
                })
            },
        )?;
        self.format.build(parts)
    }
}
