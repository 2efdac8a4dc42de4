//! Zarr v3 `sharding_indexed`: many inner chunks in one shard file, located by an index of
//! (offset, nbytes) pairs at the end or the start. Reads fetch only the index and the byte
//! ranges they need; writes rewrite each shard once per call, atomically. Over a network
//! the indexes read are remembered (`cache`), so a later partial read is one request.

mod cache;
pub use cache::IndexCache;

use crate::array::{to_c_order, Array, ChunkData, Modify};
use crate::chunk::copy::{ChunkView, OutputBuffer};
use crate::chunk::grid::{overlap, ChunkGrid};
use crate::codec::Compressor;
use crate::dtype::swap_bytes;
use crate::error::{Error, Result};
use crate::metadata::{fill, Sharding};
use crate::prefault::Prefault;
use crate::store::{ByteRange, PooledBuf, Update, Versioned};
use crate::threads::Sink;
use crate::{store, threads};

const EMPTY: u64 = u64::MAX;

pub(crate) type Index = Vec<Option<(u64, u64)>>;

fn sharding(a: &Array) -> &Sharding {
    a.meta.sharding.as_ref().expect("called on a sharded array")
}

/// Inner chunks per shard, per dimension.
fn per_shard(a: &Array) -> Vec<u64> {
    a.meta
        .grid
        .chunk
        .iter()
        .zip(&sharding(a).inner)
        .map(|(o, i)| o / i)
        .collect()
}

fn index_shape(a: &Array) -> Vec<u64> {
    let mut s = per_shard(a);
    s.push(2);
    s
}

fn index_len(a: &Array) -> usize {
    let n: u64 = per_shard(a).iter().product();
    let crcs = sharding(a)
        .index_pipeline
        .compressors
        .iter()
        .filter(|c| **c == Compressor::Crc32c)
        .count();
    16 * n as usize + 4 * crcs
}

fn linear(local: &[u64], per: &[u64]) -> usize {
    local.iter().zip(per).fold(0u64, |acc, (i, n)| acc * n + i) as usize
}

/// Decode a shard's index. With the shard's length known (`file_len`) every entry must lie
/// in it; without (an index read as a suffix) entries are checked when their bytes are read.
fn decode_index(a: &Array, bytes: &[u8], file_len: Option<u64>, path: &str) -> Result<Index> {
    let s = sharding(a);
    let shape = index_shape(a);
    let mut scratch = Vec::new();
    s.index_pipeline
        .decode(bytes, &shape, &shape, &mut scratch)
        .map_err(|e| Error::corrupt(path, format!("shard index: {}", e.in_chunk(path))))?;
    let ilen = index_len(a) as u64;
    let (lo, hi) = match (s.index_at_start, file_len) {
        (true, Some(n)) => (ilen, n),
        (true, None) => (ilen, u64::MAX),
        (false, Some(n)) => (0, n - ilen),
        (false, None) => (0, u64::MAX),
    };
    scratch
        .chunks_exact(16)
        .map(|e| {
            let off = u64::from_ne_bytes(e[..8].try_into().unwrap());
            let n = u64::from_ne_bytes(e[8..].try_into().unwrap());
            if off == EMPTY && n == EMPTY {
                return Ok(None);
            }
            match off.checked_add(n) {
                Some(end) if off >= lo && end <= hi => Ok(Some((off, n))),
                _ => Err(Error::corrupt(
                    path,
                    format!(
                        "shard index entry ({off}, {n}) points outside the shard's {} bytes",
                        file_len.map_or("".into(), |n| n.to_string())
                    ),
                )),
            }
        })
        .collect()
}

fn encode_index(a: &Array, index: &Index) -> Result<Vec<u8>> {
    let raw: Vec<u8> = index
        .iter()
        .flat_map(|e| {
            let (o, n) = e.unwrap_or((EMPTY, EMPTY));
            o.to_ne_bytes().into_iter().chain(n.to_ne_bytes())
        })
        .collect();
    sharding(a)
        .index_pipeline
        .encode(&raw, &index_shape(a), false)
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

/// Read a shard's index (one request: a suffix when it is at the end) and the shard's
/// version where the store has versions; None when the shard does not exist.
fn open_shard(a: &Array, sidx: &[u64]) -> Result<Option<(Index, Option<String>)>> {
    let key = a.chunk_key(sidx);
    let ilen = index_len(a) as u64;
    let range = if sharding(a).index_at_start {
        ByteRange::Span(0..ilen)
    } else {
        ByteRange::Suffix(ilen)
    };
    let path = a.chunk_path(sidx);
    let got = a
        .store
        .get_ranges_versioned(&key, &[range], None)
        .map_err(|e| match short_shard(e, &path) {
            Error::CorruptChunk { location, .. } => Error::corrupt(
                location,
                format!("shard is shorter than its {ilen}-byte index"),
            ),
            e => e,
        })?;
    match got {
        Versioned::Got(got, version) => Ok(Some((decode_index(a, &got[0], None, &path)?, version))),
        Versioned::Missing | Versioned::Changed => Ok(None),
    }
}

/// Read a whole shard into `buf` and decode its index from those bytes; None when the
/// shard does not exist.
fn read_whole_shard(
    a: &Array,
    sidx: &[u64],
    path: &str,
    buf: &mut Vec<u8>,
) -> Result<Option<Index>> {
    if !a.store.get_into(&a.chunk_key(sidx), buf)? {
        return Ok(None);
    }
    let ilen = index_len(a);
    if buf.len() < ilen {
        return Err(Error::corrupt(
            path,
            format!("shard is shorter than its {ilen}-byte index"),
        ));
    }
    let bytes = if sharding(a).index_at_start {
        &buf[..ilen]
    } else {
        &buf[buf.len() - ilen..]
    };
    decode_index(a, bytes, Some(buf.len() as u64), path).map(Some)
}

/// Ranges of a shard closer than this are read as one (the bytes between cost less than
/// one more request): 64 KiB on local storage, 1 MiB over a network.
fn merge_gap(a: &Array) -> u64 {
    if a.store.concurrency() > 1 {
        1 << 20
    } else {
        64 << 10
    }
}

/// The bytes a read needs from one shard: a few spans (start offset and bytes), found by
/// the inner chunks' offsets. The first span is in the caller's pooled buffer.
struct Spans {
    starts: Vec<u64>,
    rest: Vec<Vec<u8>>,
}

impl Spans {
    /// The bytes of the entry (off, n); `first` is the caller's buffer holding span 0.
    fn get<'s>(&'s self, first: &'s [u8], (off, n): (u64, u64)) -> &'s [u8] {
        let i = self.starts.partition_point(|&s| s <= off) - 1;
        let span = if i == 0 { first } else { &self.rest[i - 1] };
        let at = (off - self.starts[i]) as usize;
        &span[at..at + n as usize]
    }
}

/// Read the byte ranges of `entries` from the shard at `key` in one request, merging
/// ranges that lie close together; the first merged span goes into `buf`. With `version`,
/// only from that version of the shard. None when the shard changed or vanished since its
/// index was read: the caller reads the index again.
fn read_spans(
    a: &Array,
    key: &str,
    path: &str,
    entries: &mut [(u64, u64)],
    buf: &mut Vec<u8>,
    version: Option<&str>,
) -> Result<Option<Spans>> {
    entries.sort_unstable();
    let gap = merge_gap(a);
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
            if !a
                .store
                .get_range_into(key, &r, buf)
                .map_err(|e| short_shard(e, path))?
            {
                return Ok(None);
            }
            Vec::new()
        }
        _ => {
            let ranges: Vec<ByteRange> = merged.iter().map(|m| ByteRange::Span(m.0..m.1)).collect();
            let got = a
                .store
                .get_ranges_versioned(key, &ranges, version)
                .map_err(|e| short_shard(e, path))?;
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

/// How often a partial read of one shard starts again because a writer replaced the shard
/// between its index and its inner chunks, before it gives up.
const REREADS: usize = 8;

/// A shard's index and the bytes of the inner chunks `entries_of` picks from it, both from
/// one version of the shard: with an index remembered from an earlier read, one request on
/// the condition that the shard is unchanged; otherwise the index, then the chunks. None
/// when the shard does not exist.
fn read_partial(
    a: &Array,
    sidx: &[u64],
    path: &str,
    entries_of: impl Fn(&Index) -> Vec<(u64, u64)>,
    buf: &mut Vec<u8>,
) -> Result<Option<(std::sync::Arc<Index>, Spans)>> {
    let key = a.chunk_key(sidx);
    let mut known = a.shard_indexes.get(&key).map(|(i, v)| (i, Some(v)));
    for _ in 0..REREADS {
        let (index, version) = match known.take() {
            Some(hit) => hit,
            None => match open_shard(a, sidx)? {
                Some((index, version)) => (std::sync::Arc::new(index), version),
                None => return Ok(None),
            },
        };
        let mut entries = entries_of(&index);
        match read_spans(a, &key, path, &mut entries, buf, version.as_deref())? {
            Some(spans) => {
                if let Some(v) = version {
                    a.shard_indexes.put(&key, index.clone(), v);
                }
                return Ok(Some((index, spans)));
            }
            None => a.shard_indexes.forget(&key),
        }
    }
    Err(Error::io(
        path,
        std::io::Error::other(format!(
            "the shard changed {REREADS} times while being read (other writers)"
        )),
    ))
}

/// Decode one inner chunk: `bytes` themselves when they need no decoding, else `scratch`.
fn decode_inner<'b>(
    a: &Array,
    bytes: &'b [u8],
    scratch: &'b mut Vec<u8>,
    path: &str,
    local: &[u64],
) -> Result<ChunkView<'b>> {
    let s = sharding(a);
    let (d, data) = s
        .inner_pipeline
        .decode_ref(bytes, &s.inner, &s.inner, scratch)
        .map_err(|e| inner_error(path, local, e))?;
    Ok(ChunkView {
        layout: d.layout,
        bytes: data,
        swap: d.swap,
    })
}

fn inner_grid(a: &Array) -> ChunkGrid {
    ChunkGrid {
        shape: a.meta.grid.shape.clone(),
        chunk: sharding(a).inner.clone(),
    }
}

fn split(a: &Array, idx: &[u64]) -> (Vec<u64>, Vec<u64>) {
    let per = per_shard(a);
    (
        idx.iter().zip(&per).map(|(i, n)| i / n).collect(),
        idx.iter().zip(&per).map(|(i, n)| i % n).collect(),
    )
}

/// What a read needs of one shard: its index (None: the shard is not stored), the inner
/// chunks of the region it holds, and their bytes (the first span in the caller's buffer).
struct Fetched {
    path: String,
    index: Option<std::sync::Arc<Index>>,
    inner: Vec<Vec<u64>>,
    spans: Option<Spans>,
}

impl Fetched {
    /// The stored bytes of inner chunk `local` (None: not stored); `first` holds span 0.
    fn bytes<'s>(&'s self, first: &'s [u8], local: &[u64], per: &[u64]) -> Option<&'s [u8]> {
        let entry = self
            .index
            .as_ref()
            .and_then(|idx| idx[linear(local, per)])?;
        Some(self.spans.as_ref()?.get(first, entry))
    }
}

/// The store side of reading the region at `start` of `shape` from shard `sidx`: its index
/// (one request), the inner chunks the region touches, and their bytes (one more request,
/// close ranges merged).
fn fetch_shard(
    a: &Array,
    sidx: &[u64],
    start: &[u64],
    shape: &[u64],
    span: &mut Vec<u8>,
) -> Result<Fetched> {
    let per = per_shard(a);
    let path = a.chunk_path(sidx);
    let origin = a.meta.grid.origin(sidx);
    let (_, in_region, extent) = overlap(&origin, &a.meta.grid.chunk, start, shape);
    let sub_start: Vec<u64> = start
        .iter()
        .zip(&in_region)
        .map(|(s, r)| s + *r as u64)
        .collect();
    let sub_shape: Vec<u64> = extent.iter().map(|&e| e as u64).collect();
    let inner = inner_grid(a).chunks_in_region(&sub_start, &sub_shape);
    // Over a network a request costs more than the few bytes a whole shard holds
    // beyond what a read of all of it needs: one request, the index from its own bytes.
    if a.store.concurrency() > 1 && sub_shape == a.meta.grid.clipped(sidx) {
        let index = read_whole_shard(a, sidx, &path, span)?.map(std::sync::Arc::new);
        let spans = index.as_ref().map(|_| Spans {
            starts: vec![0],
            rest: Vec::new(),
        });
        return Ok(Fetched {
            path,
            index,
            inner,
            spans,
        });
    }
    let entries_of = |index: &Index| {
        inner
            .iter()
            .filter_map(|g| {
                let local: Vec<u64> = g.iter().zip(&per).map(|(g, n)| g % n).collect();
                index[linear(&local, &per)]
            })
            .collect()
    };
    let (index, spans) = match read_partial(a, sidx, &path, entries_of, span)? {
        Some((index, spans)) => (Some(index), Some(spans)),
        None => (None, None),
    };
    Ok(Fetched {
        path,
        index,
        inner,
        spans,
    })
}

pub fn read_region(
    a: &Array,
    start: &[u64],
    shape: &[u64],
    out: &mut [u8],
    n_threads: usize,
) -> Result<()> {
    let elem = a.elem();
    let ushape: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
    let dst = OutputBuffer::c_order(out, &ushape, elem)?;
    let grid = inner_grid(a);
    let per = per_shard(a);
    let shards = a.meta.grid.chunks_in_region(start, shape);
    let shard_bytes = a.meta.grid.chunk_bytes(elem);
    let prefault = Prefault::new(&dst, &a.meta.grid, start, shape, elem);
    threads::for_each_fetched(
        n_threads,
        &shards,
        shard_bytes,
        |sidx, span| fetch_shard(a, sidx, start, shape, span),
        |group| prefault.step_after(group),
        |_: &mut (), _, fetched, span| {
            threads::for_each(
                n_threads,
                &fetched.inner,
                |scratch: &mut store::PooledBuf, gidx| {
                    let local: Vec<u64> = gidx.iter().zip(&per).map(|(g, n)| g % n).collect();
                    let (in_chunk, in_reg, ext) =
                        overlap(&grid.origin(gidx), &grid.chunk, start, shape);
                    // SAFETY: inner chunks are disjoint boxes of the output.
                    let mut region = unsafe { dst.region(&in_reg, &ext) }?;
                    match fetched.bytes(span, &local, &per) {
                        Some(bytes) => decode_inner(a, bytes, scratch, &fetched.path, &local)?
                            .copy_to(&in_chunk, &mut region),
                        None => region.fill(&a.meta.fill),
                    }
                },
            )
        },
    )
}

/// One inner chunk a read touches, for arrays that decode inner chunks themselves
/// (`crate::objects`): its index in the inner chunk grid, in its shard, the shard's path
/// (for errors) and its stored bytes (None: not stored).
pub(crate) struct InnerRead<'s> {
    pub gidx: &'s [u64],
    pub local: &'s [u64],
    pub path: &'s str,
    pub bytes: Option<&'s [u8]>,
}

/// Map `f` over the inner chunks the region at `start` of `shape` touches (shards in
/// parallel, each shard's inner chunks in parallel), with their stored bytes.
pub(crate) fn read_inner_chunks<R: Send>(
    a: &Array,
    start: &[u64],
    shape: &[u64],
    n_threads: usize,
    f: impl Fn(&mut Vec<u8>, &InnerRead) -> Result<R> + Sync + Send,
) -> Result<Vec<R>> {
    let per = per_shard(a);
    let shards = a.meta.grid.chunks_in_region(start, shape);
    let per_shard_results = threads::map(n_threads, &shards, |span, sidx| {
        let fetched = fetch_shard(a, sidx, start, shape, span)?;
        threads::map(n_threads, &fetched.inner, |scratch, gidx| {
            let local: Vec<u64> = gidx.iter().zip(&per).map(|(g, n)| g % n).collect();
            let inner = InnerRead {
                gidx,
                local: &local,
                path: &fetched.path,
                bytes: fetched.bytes(span, &local, &per),
            };
            f(scratch, &inner)
        })
    })?;
    Ok(per_shard_results.into_iter().flatten().collect())
}

/// An error of decoding inner chunk `local` of the shard at `path`: corrupt data named by
/// the shard.
pub(crate) fn inner_error(path: &str, local: &[u64], e: Error) -> Error {
    Error::corrupt(path, format!("inner chunk {local:?}: {}", e.in_chunk(path)))
}

/// Decides one inner chunk of a shard being rewritten: (scratch, local index, old bytes).
type InnerFn<'a> = dyn Fn(&mut Vec<u8>, &[u64], Option<&[u8]>) -> Result<Inner> + Sync + 'a;

/// What to do with one inner chunk when rewriting a shard.
enum Inner {
    Keep,
    Set(Option<PooledBuf>),
}

/// Rewrite one shard: `f` decides each inner chunk from its local index and old bytes.
fn rewrite_shard(
    a: &Array,
    sidx: &[u64],
    read_old: bool,
    n_threads: usize,
    f: &InnerFn,
    sink: &Sink,
) -> Result<()> {
    let key = a.chunk_key(sidx);
    a.shard_indexes.forget(&key);
    if !read_old {
        // A whole-shard overwrite encodes in parallel, and takes no lock.
        let parts = build_shard(a, sidx, None, n_threads, f)?;
        return sink.put(store::Put { key, parts });
    }
    // A read-modify-write holds the shard's lock throughout (see `WritableStore::update`)
    // and so must not wait on the thread pool (a pool worker may be blocked on the same
    // lock): its inner chunks are encoded on this thread.
    a.store.update(&key, &mut |old| {
        Ok(match build_shard(a, sidx, old, 1, f)? {
            Some(parts) => Update::Put(parts),
            None if old.is_none() => Update::Keep,
            None => Update::Delete,
        })
    })
}

/// The parts of the new shard built from the old one's bytes (if any) by `f`, or None
/// when it holds no inner chunk.
fn build_shard(
    a: &Array,
    sidx: &[u64],
    old: Option<&[u8]>,
    n_threads: usize,
    f: &InnerFn,
) -> Result<Option<Vec<PooledBuf>>> {
    let old: Option<(&[u8], Index)> = match old {
        None => None,
        Some(bytes) => {
            let path = a.chunk_path(sidx);
            let ilen = index_len(a);
            if bytes.len() < ilen {
                return Err(Error::corrupt(&path, "shard is shorter than its index"));
            }
            let ib = if sharding(a).index_at_start {
                &bytes[..ilen]
            } else {
                &bytes[bytes.len() - ilen..]
            };
            let index = decode_index(a, ib, Some(bytes.len() as u64), &path)?;
            Some((bytes, index))
        }
    };
    let per = per_shard(a);
    let locals = ChunkGrid {
        shape: per.clone(),
        chunk: vec![1; per.len()],
    }
    .chunks_in_region(&vec![0; per.len()], &per);
    let parts: Vec<Option<PooledBuf>> =
        threads::map(n_threads, &locals, |scratch: &mut Vec<u8>, local| {
            let old_bytes = old.as_ref().and_then(|(b, idx)| {
                idx[linear(local, &per)].map(|(o, n)| &b[o as usize..(o + n) as usize])
            });
            Ok(match f(scratch, local, old_bytes)? {
                Inner::Keep => old_bytes.map(|b| b.to_vec().into()),
                Inner::Set(v) => v,
            })
        })?;
    if parts.iter().all(Option::is_none) {
        return Ok(None);
    }
    let ilen = index_len(a) as u64;
    let mut offset = if sharding(a).index_at_start { ilen } else { 0 };
    let mut index: Index = Vec::with_capacity(parts.len());
    for p in &parts {
        index.push(p.as_ref().map(|b| {
            let e = (offset, b.len() as u64);
            offset += b.len() as u64;
            e
        }));
    }
    let index_bytes = encode_index(a, &index)?;
    // The parts go to the store as they are (writev), without one more copy into a shard
    // buffer.
    let mut out: Vec<PooledBuf> = Vec::with_capacity(parts.len() + 1);
    let at_start = sharding(a).index_at_start;
    let mut index_bytes = Some(PooledBuf::from(index_bytes));
    if at_start {
        out.extend(index_bytes.take());
    }
    out.extend(parts.into_iter().flatten());
    out.extend(index_bytes);
    Ok(Some(out))
}

/// Encode an inner chunk buffer, or None when it holds only the fill value. A raw inner
/// chunk is stored from `buf` itself.
fn encode_inner(a: &Array, buf: PooledBuf) -> Result<Option<PooledBuf>> {
    if !a.write_empty_chunks && fill::all_fill(&buf, &a.meta.fill) {
        return Ok(None);
    }
    let s = sharding(a);
    let (_, body) = s.inner_pipeline.encode_owned(buf, &s.inner)?;
    Ok(Some(body))
}

/// One inner chunk of a shard a region write touches, inside the array: its index in its
/// shard, the shard's path, where it meets the region (as `overlap` gives it), whether the
/// write sets all of it that lies in the array (`full`: the old bytes are not needed), and
/// its old bytes (when the shard is rewritten from its old bytes and held it).
pub(crate) struct InnerWrite<'s> {
    pub local: &'s [u64],
    pub path: &'s str,
    pub in_chunk: Vec<usize>,
    pub in_reg: Vec<usize>,
    pub ext: Vec<usize>,
    pub full: bool,
    pub old: Option<&'s [u8]>,
}

/// The new stored bytes of an inner chunk a region write touches (None: not stored).
pub(crate) type InnerWriteFn<'a> =
    dyn Fn(&mut Vec<u8>, &InnerWrite) -> Result<Option<PooledBuf>> + Sync + 'a;

/// Write the region at `start` of `shape`: each shard it touches is rewritten once
/// (atomically; a read-modify-write under the store's `update` unless the write sets all
/// of it: `sets_all`, `f` sets every element of the region), `f` giving the new bytes of
/// every inner chunk the region touches; the others keep their bytes. `shard_bytes` is a
/// shard's decoded size, for batching the I/O.
pub(crate) fn write_inner_chunks(
    a: &Array,
    start: &[u64],
    shape: &[u64],
    sets_all: bool,
    n_threads: usize,
    shard_bytes: usize,
    f: &InnerWriteFn,
) -> Result<()> {
    let grid = inner_grid(a);
    let per = per_shard(a);
    let shards = a.meta.grid.chunks_in_region(start, shape);
    threads::for_each_put(
        &*a.store,
        n_threads,
        &shards,
        shard_bytes,
        |_: &mut (), sidx, sink| {
            let path = a.chunk_path(sidx);
            let inside = a.meta.grid.clipped(sidx);
            let (_, _, ext) = overlap(&a.meta.grid.origin(sidx), &inside, start, shape);
            let covers = sets_all && ext.iter().zip(&inside).all(|(e, i)| *e as u64 == *i);
            // Several shards already keep the threads busy; one shard parallelises its chunks.
            let inner_threads = if shards.len() == 1 { n_threads } else { 1 };
            rewrite_shard(
                a,
                sidx,
                !covers,
                inner_threads,
                &|scratch, local, old| {
                    let gidx: Vec<u64> = sidx
                        .iter()
                        .zip(local)
                        .zip(&per)
                        .map(|((s, l), n)| s * n + l)
                        .collect();
                    if gidx
                        .iter()
                        .zip(&grid.shape)
                        .zip(&grid.chunk)
                        .any(|((g, s), c)| g * c >= *s)
                    {
                        return Ok(Inner::Set(None)); // entirely beyond the array edge
                    }
                    let in_bounds = grid.clipped(&gidx);
                    let (in_chunk, in_reg, ext) =
                        overlap(&grid.origin(&gidx), &in_bounds, start, shape);
                    if ext.contains(&0) {
                        return Ok(Inner::Keep);
                    }
                    let full = sets_all && ext.iter().zip(&in_bounds).all(|(e, i)| *e as u64 == *i);
                    let inner = InnerWrite {
                        local,
                        path: &path,
                        in_chunk,
                        in_reg,
                        ext,
                        full,
                        old,
                    };
                    Ok(Inner::Set(f(scratch, &inner)?))
                },
                sink,
            )
        },
    )
}

/// [`Array::modify_region`] of a sharded array: each inner chunk the region touches is
/// merged by [`Array::merge_piece`] inside its shard's rewrite.
pub fn modify_region(
    a: &Array,
    start: &[u64],
    shape: &[u64],
    sets_all: bool,
    n_threads: usize,
    modify: &Modify,
) -> Result<()> {
    let inner_u: Vec<usize> = sharding(a).inner.iter().map(|&s| s as usize).collect();
    let shard_bytes = a.meta.grid.chunk_bytes(a.elem());
    let each = |scratch: &mut Vec<u8>, c: &InnerWrite| {
        let old = match c.old.filter(|_| !c.full) {
            Some(bytes) => Some(decode_inner(a, bytes, scratch, c.path, c.local)?),
            None => None,
        };
        let at = (&c.in_chunk[..], &c.in_reg[..], &c.ext[..]);
        encode_inner(a, a.merge_piece(&inner_u, old, c.full, at, modify)?)
    };
    write_inner_chunks(a, start, shape, sets_all, n_threads, shard_bytes, &each)
}

pub fn read_chunk(a: &Array, idx: &[u64]) -> Result<Option<ChunkData>> {
    let (sidx, local) = split(a, idx);
    let path = a.chunk_path(&sidx);
    let at = linear(&local, &per_shard(a));
    let mut bytes = Vec::new();
    let Some((index, _)) =
        read_partial(a, &sidx, &path, |i| i[at].into_iter().collect(), &mut bytes)?
    else {
        return Ok(None);
    };
    if index[at].is_none() {
        return Ok(None);
    }
    let mut scratch = Vec::new();
    let view = decode_inner(a, &bytes, &mut scratch, &path, &local)?;
    let layout = view.layout;
    let nbytes = layout.shape.iter().product::<usize>() * a.elem();
    let mut data = view.bytes.to_vec();
    swap_bytes(&mut data, view.swap);
    to_c_order(data, &layout, nbytes, a.elem()).map(Some)
}

pub fn write_chunk(a: &Array, idx: &[u64], data: &[u8]) -> Result<()> {
    let s = sharding(a);
    let need = s.inner.iter().product::<u64>() as usize * a.elem();
    if data.len() != need {
        return Err(Error::invalid(format!(
            "chunk data has {} bytes, inner chunk {:?} needs {need}",
            data.len(),
            s.inner
        )));
    }
    let (sidx, target) = split(a, idx);
    rewrite_shard(
        a,
        &sidx,
        true,
        1,
        &|_, local, _| {
            if local == target.as_slice() {
                Ok(Inner::Set(Some(
                    s.inner_pipeline.encode(data, &s.inner, false)?.into(),
                )))
            } else {
                Ok(Inner::Keep)
            }
        },
        &Sink::Inline(&*a.store),
    )
}

pub fn chunk_exists(a: &Array, idx: &[u64]) -> Result<bool> {
    let (sidx, local) = split(a, idx);
    Ok(match open_shard(a, &sidx)? {
        Some((index, _)) => index[linear(&local, &per_shard(a))].is_some(),
        None => false,
    })
}

pub fn existing_chunks(a: &Array) -> Result<Vec<Vec<u64>>> {
    let per = per_shard(a);
    let locals = ChunkGrid {
        shape: per.clone(),
        chunk: vec![1; per.len()],
    }
    .chunks_in_region(&vec![0; per.len()], &per);
    let mut out = Vec::new();
    for sidx in a.existing_storage_keys()? {
        if let Some((index, _)) = open_shard(a, &sidx)? {
            for (local, e) in locals.iter().zip(&index) {
                if e.is_some() {
                    out.push(
                        sidx.iter()
                            .zip(local)
                            .zip(&per)
                            .map(|((s, l), n)| s * n + l)
                            .collect(),
                    );
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::array::Array;
    use crate::dtype::DataType;
    use crate::metadata::{ArraySpec, Format};

    fn spec(_at_start: bool) -> ((), Array) {
        let store = std::sync::Arc::new(crate::store::MemoryStore::new());
        let a = Array::create(
            store,
            "arr",
            &ArraySpec {
                shards: Some(vec![4, 6]),
                ..ArraySpec::new(Format::ZarrV3, vec![10, 7], vec![2, 3], DataType::UInt16)
            },
        )
        .unwrap();
        ((), a)
    }

    #[test]
    fn index_layout_and_round_trip() {
        let (_d, a) = spec(false);
        let data: Vec<u8> = (0u16..70).flat_map(|v| (v + 1).to_ne_bytes()).collect();
        a.write_region(&[0, 0], &[10, 7], &data, 2).unwrap();
        let mut out = vec![0u8; data.len()];
        a.read_region(&[0, 0], &[10, 7], &mut out, 2).unwrap();
        assert_eq!(out, data);
        // Shard (0, 0) holds 2x2 inner chunks of 2x3 u16 raw = 12 bytes each, index 4*16+4.
        let bytes = a.store.get(&a.chunk_key(&[0, 0])).unwrap().unwrap();
        assert_eq!(bytes.len(), 4 * 12 + 4 * 16 + 4);
        let index = &bytes[48..];
        let crc = u32::from_le_bytes(index[64..].try_into().unwrap());
        assert_eq!(crc, crc32c::crc32c(&index[..64]));
        let first = u64::from_le_bytes(index[..8].try_into().unwrap());
        let n = u64::from_le_bytes(index[8..16].try_into().unwrap());
        assert_eq!((first, n), (0, 12));
        // Corrupting the index checksum is detected and names the shard.
        let mut bad = bytes.clone();
        *bad.last_mut().unwrap() ^= 1;
        a.store.put(&a.chunk_key(&[0, 0]), &bad).unwrap();
        let err = a
            .read_region(&[0, 0], &[2, 2], &mut [0u8; 8], 1)
            .unwrap_err();
        assert!(err.to_string().contains("c/0/0"), "{err}");
    }

    #[test]
    fn partial_writes_and_empty_shards() {
        let (_d, a) = spec(true);
        a.write_region(&[3, 5], &[2, 2], &[1, 0, 2, 0, 3, 0, 4, 0], 1)
            .unwrap();
        let mut out = vec![0u8; 10 * 7 * 2];
        a.read_region(&[0, 0], &[10, 7], &mut out, 1).unwrap();
        let at = |r: usize, c: usize| out[(r * 7 + c) * 2];
        assert_eq!(
            (at(3, 5), at(3, 6), at(4, 5), at(4, 6), at(0, 0)),
            (1, 2, 3, 4, 0)
        );
        assert_eq!(
            a.existing_chunks().unwrap(),
            vec![vec![1, 1], vec![1, 2], vec![2, 1], vec![2, 2]]
        );
        // Writing fill over everything removes the shards.
        a.write_region(&[0, 0], &[10, 7], &[0u8; 140], 2).unwrap();
        assert!(a.existing_chunks().unwrap().is_empty());
        assert!(a.store.list_prefix("arr/c").unwrap().is_empty());
    }
}
