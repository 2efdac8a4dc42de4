//! Zarr v3 `sharding_indexed` arrays: many inner chunks in one shard file, located by an
//! index of (offset, nbytes) pairs at the end or the start. The user-visible chunks are
//! the inner chunks; this module is the [`ChunkAccess`] layout that maps regions and
//! chunks onto them. Reads fetch only the index and the byte ranges they need (a partial
//! read of one shard is at most two requests); writes rewrite each shard once per call,
//! atomically. The shard format is `format`, reading and rewriting shards in a store is
//! `io`; over a network the indexes read are remembered (`cache`), so a later partial read
//! is one request.

mod cache;
mod format;
mod io;
pub use cache::IndexCache;

use crate::access::{
    to_c_order, ChunkAccess, ChunkData, Ctx, Modify, Sets, UnitName, UnitRead, UnitReadFn,
    UnitWrite, UnitWriteFn,
};
use crate::chunk::copy::OutputBuffer;
use crate::chunk::grid::{overlap, ChunkGrid};
use crate::dtype::swap_bytes;
use crate::error::{Error, Result};
use crate::metadata::{fill, ArrayMeta, Sharding};
use crate::pipeline::Pipeline;
use crate::prefault::Prefault;
use crate::store::PooledBuf;
use crate::threads::Sink;
use crate::{store, threads};
use format::{Index, ShardFormat};
use io::{Inner, Shard, Spans};
use std::sync::Arc;

/// The layout of shards of inner chunks. It remembers the shard indexes it read from an
/// object store (see [`IndexCache`]); clones of an array share them.
#[derive(Debug, Default)]
pub struct Sharded {
    indexes: IndexCache,
}

fn sharding(meta: &ArrayMeta) -> &Sharding {
    meta.sharding.as_ref().expect("a sharded array")
}

fn shard_format<'m>(cx: &Ctx<'m>) -> ShardFormat<'m> {
    ShardFormat::new(&cx.meta.grid.chunk, sharding(cx.meta))
}

/// What a read needs of one shard: its index (None: the shard is not stored), the inner
/// chunks of the region it holds, and their bytes (the first span in the caller's buffer).
struct Fetched {
    path: String,
    index: Option<Arc<Index>>,
    inner: Vec<Vec<u64>>,
    spans: Option<Spans>,
}

impl Fetched {
    /// The stored bytes of inner chunk `local` (None: not stored); `first` holds span 0.
    fn bytes<'s>(&'s self, first: &'s [u8], local: &[u64], fmt: &ShardFormat) -> Option<&'s [u8]> {
        let entry = self.index.as_ref().and_then(|idx| idx[fmt.linear(local)])?;
        Some(self.spans.as_ref()?.get(first, entry))
    }
}

/// One inner chunk of a shard a region write touches, inside the array.
struct InnerWrite<'s> {
    local: &'s [u64],
    unit: UnitWrite<'s>,
    old: Option<&'s [u8]>,
}

/// The new stored bytes of an inner chunk a region write touches (None: not stored).
type InnerWriteFn<'a> = dyn Fn(&mut Vec<u8>, &InnerWrite) -> Result<Option<PooledBuf>> + Sync + 'a;

impl Sharded {
    /// Shard `sidx` of the array in its store.
    fn shard<'a>(&'a self, cx: &Ctx<'a>, format: &'a ShardFormat<'a>, sidx: &[u64]) -> Shard<'a> {
        Shard {
            store: cx.store,
            node: cx.prefix,
            format,
            cache: &self.indexes,
            key: cx.chunk_key(sidx),
            path: cx.chunk_path(sidx),
        }
    }

    /// The store side of reading the region at `start` of `shape` from shard `sidx`: its
    /// index (one request), the inner chunks the region touches, and their bytes (one more
    /// request, close ranges merged).
    fn fetch(
        &self,
        cx: &Ctx,
        fmt: &ShardFormat,
        sidx: &[u64],
        (start, shape): (&[u64], &[u64]),
        span: &mut Vec<u8>,
    ) -> Result<Fetched> {
        let sh = self.shard(cx, fmt, sidx);
        let grid = &cx.meta.grid;
        let (_, in_region, extent) = overlap(&grid.origin(sidx), &grid.chunk, start, shape);
        let sub_start: Vec<u64> = start
            .iter()
            .zip(&in_region)
            .map(|(s, r)| s + *r as u64)
            .collect();
        let sub_shape: Vec<u64> = extent.iter().map(|&e| e as u64).collect();
        let inner = fmt
            .inner_grid(&grid.shape)
            .chunks_in_region(&sub_start, &sub_shape);
        // Over a network a request costs more than the few bytes a whole shard holds
        // beyond what a read of all of it needs: one request, the index from its own bytes.
        if cx.store.concurrency() > 1 && sub_shape == grid.clipped(sidx) {
            let index = sh.read_whole(span)?.map(Arc::new);
            let spans = index.as_ref().map(|_| Spans::whole());
            return Ok(Fetched {
                path: sh.path,
                index,
                inner,
                spans,
            });
        }
        let entries_of = |index: &Index| {
            inner
                .iter()
                .filter_map(|g| index[fmt.linear(&fmt.local(g))])
                .collect()
        };
        let (index, spans) = match sh.read_partial(entries_of, span)? {
            Some((index, spans)) => (Some(index), Some(spans)),
            None => (None, None),
        };
        Ok(Fetched {
            path: sh.path,
            index,
            inner,
            spans,
        })
    }

    /// Write the region at `start` of `shape`: each shard it touches is rewritten once
    /// (atomically; a read-modify-write under the store's `update` unless the write sets
    /// all of it, see [`Sets::chunk`]), `f` giving the new bytes of every inner chunk
    /// holding elements `sets` sets; the others keep their stored bytes, not decoded.
    /// `shard_bytes` is a shard's decoded size, for batching the I/O.
    fn write_inner(
        &self,
        cx: &Ctx,
        (start, shape): (&[u64], &[u64]),
        sets: Sets,
        n_threads: usize,
        shard_bytes: usize,
        f: &InnerWriteFn,
    ) -> Result<()> {
        let fmt = shard_format(cx);
        let grid = fmt.inner_grid(&cx.meta.grid.shape);
        let shards = cx.meta.grid.chunks_in_region(start, shape);
        threads::for_each_put(
            cx.store,
            n_threads,
            &shards,
            shard_bytes,
            |_: &mut (), sidx, sink| {
                let sh = self.shard(cx, &fmt, sidx);
                let inside = cx.meta.grid.clipped(sidx);
                let (_, in_reg, ext) = overlap(&cx.meta.grid.origin(sidx), &inside, start, shape);
                let Some(covers) = sets.chunk(&in_reg, &ext, &inside) else {
                    return Ok(()); // nothing of it changes
                };
                // Several shards already keep the threads busy; one shard parallelises its
                // chunks.
                let inner_threads = if shards.len() == 1 { n_threads } else { 1 };
                sh.rewrite(
                    !covers,
                    inner_threads,
                    &|scratch, local, old| {
                        let gidx = fmt.global(sidx, local);
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
                        let Some(full) = sets.chunk(&in_reg, &ext, &in_bounds) else {
                            return Ok(Inner::Keep);
                        };
                        let inner = InnerWrite {
                            local,
                            unit: UnitWrite {
                                in_chunk,
                                in_reg,
                                ext,
                                full,
                                name: UnitName {
                                    path: &sh.path,
                                    inner: Some(local),
                                },
                            },
                            old: old.filter(|_| !full),
                        };
                        Ok(Inner::Set(f(scratch, &inner)?))
                    },
                    sink,
                )
            },
        )
    }
}

/// Encode an inner chunk buffer, or None when it holds only the fill value. A raw inner
/// chunk is stored from `buf` itself.
fn encode_inner(cx: &Ctx, s: &Sharding, buf: PooledBuf) -> Result<Option<PooledBuf>> {
    if !cx.write_empty_chunks && fill::all_fill(&buf, &cx.meta.fill) {
        return Ok(None);
    }
    let (_, body) = s.inner_pipeline.encode_owned(buf, &s.inner)?;
    Ok(Some(body))
}

impl ChunkAccess for Sharded {
    fn chunk_shape<'m>(&self, meta: &'m ArrayMeta) -> &'m [u64] {
        &sharding(meta).inner
    }

    fn chunk_file(&self, cx: &Ctx, idx: &[u64]) -> String {
        cx.chunk_path(&shard_format(cx).split(idx).0)
    }

    fn read_region(
        &self,
        cx: &Ctx,
        start: &[u64],
        shape: &[u64],
        out: &mut [u8],
        n_threads: usize,
    ) -> Result<()> {
        let elem = cx.elem();
        let ushape: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
        let dst = OutputBuffer::c_order(out, &ushape, elem)?;
        let fmt = shard_format(cx);
        let grid = fmt.inner_grid(&cx.meta.grid.shape);
        let shards = cx.meta.grid.chunks_in_region(start, shape);
        let shard_bytes = cx.meta.grid.chunk_bytes(elem);
        let prefault = Prefault::new(&dst, &cx.meta.grid, start, shape, elem);
        threads::for_each_fetched(
            n_threads,
            &shards,
            shard_bytes,
            |sidx, span| self.fetch(cx, &fmt, sidx, (start, shape), span),
            |group| prefault.step_after(group),
            |_: &mut (), _, fetched, span| {
                threads::for_each(
                    n_threads,
                    &fetched.inner,
                    |scratch: &mut store::PooledBuf, gidx| {
                        let local = fmt.local(gidx);
                        let (in_chunk, in_reg, ext) =
                            overlap(&grid.origin(gidx), &grid.chunk, start, shape);
                        // SAFETY: inner chunks are disjoint boxes of the output.
                        let mut region = unsafe { dst.region(&in_reg, &ext) }?;
                        match fetched.bytes(span, &local, &fmt) {
                            Some(bytes) => fmt
                                .decode_inner(bytes, scratch, &fetched.path, &local)?
                                .copy_to(&in_chunk, &mut region),
                            None => region.fill(&cx.meta.fill),
                        }
                    },
                )
            },
        )
    }

    /// Each inner chunk the region touches is merged by [`Ctx::merge_piece`] inside its
    /// shard's rewrite.
    fn modify_region(
        &self,
        cx: &Ctx,
        start: &[u64],
        shape: &[u64],
        sets: Sets,
        n_threads: usize,
        modify: &Modify,
    ) -> Result<()> {
        let fmt = shard_format(cx);
        let s = fmt.sharding;
        let inner_u: Vec<usize> = s.inner.iter().map(|&s| s as usize).collect();
        let shard_bytes = cx.meta.grid.chunk_bytes(cx.elem());
        let each = |scratch: &mut Vec<u8>, c: &InnerWrite| {
            let old = match c.old {
                Some(bytes) => Some(fmt.decode_inner(bytes, scratch, c.unit.name.path, c.local)?),
                None => None,
            };
            let u = &c.unit;
            let at = (&u.in_chunk[..], &u.in_reg[..], &u.ext[..]);
            encode_inner(cx, s, cx.merge_piece(&inner_u, old, u.full, at, modify)?)
        };
        let region = (start, shape);
        self.write_inner(cx, region, sets, n_threads, shard_bytes, &each)
    }

    fn read_chunk(&self, cx: &Ctx, idx: &[u64]) -> Result<Option<ChunkData>> {
        let fmt = shard_format(cx);
        let (sidx, local) = fmt.split(idx);
        let sh = self.shard(cx, &fmt, &sidx);
        let at = fmt.linear(&local);
        let mut bytes = Vec::new();
        let Some((index, _)) = sh.read_partial(|i| i[at].into_iter().collect(), &mut bytes)? else {
            return Ok(None);
        };
        if index[at].is_none() {
            return Ok(None);
        }
        let mut scratch = Vec::new();
        let view = fmt.decode_inner(&bytes, &mut scratch, &sh.path, &local)?;
        let layout = view.layout;
        let nbytes = layout.shape.iter().product::<usize>() * cx.elem();
        let mut data = view.bytes.to_vec();
        swap_bytes(&mut data, view.swap);
        to_c_order(data, &layout, nbytes, cx.elem()).map(Some)
    }

    fn write_chunk(&self, cx: &Ctx, idx: &[u64], data: &[u8], varlen: bool) -> Result<()> {
        if varlen {
            return Err(Error::invalid("varlength chunks exist only in N5"));
        }
        let fmt = shard_format(cx);
        let s = fmt.sharding;
        let need = s.inner.iter().product::<u64>() as usize * cx.elem();
        if data.len() != need {
            return Err(Error::invalid(format!(
                "chunk data has {} bytes, inner chunk {:?} needs {need}",
                data.len(),
                s.inner
            )));
        }
        let (sidx, target) = fmt.split(idx);
        self.shard(cx, &fmt, &sidx).rewrite(
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
            &Sink::Inline(cx.store),
        )
    }

    fn chunk_exists(&self, cx: &Ctx, idx: &[u64]) -> Result<bool> {
        let fmt = shard_format(cx);
        let (sidx, local) = fmt.split(idx);
        Ok(match self.shard(cx, &fmt, &sidx).open()? {
            Some((index, _)) => index[fmt.linear(&local)].is_some(),
            None => false,
        })
    }

    fn existing_chunks(&self, cx: &Ctx) -> Result<Vec<Vec<u64>>> {
        let fmt = shard_format(cx);
        let locals = fmt.locals();
        let mut out = Vec::new();
        for sidx in cx.existing_storage_keys()? {
            if let Some((index, _)) = self.shard(cx, &fmt, &sidx).open()? {
                for (local, e) in locals.iter().zip(&index) {
                    if e.is_some() {
                        out.push(fmt.global(&sidx, local));
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn encode_chunk(&self, cx: &Ctx, data: &[u8], shape: &[u64]) -> Result<Vec<u8>> {
        sharding(cx.meta).inner_pipeline.encode(data, shape, false)
    }

    fn units<'m>(&self, meta: &'m ArrayMeta) -> (ChunkGrid, &'m Pipeline) {
        let s = sharding(meta);
        let grid = ChunkGrid {
            shape: meta.grid.shape.clone(),
            chunk: s.inner.clone(),
        };
        (grid, &s.inner_pipeline)
    }

    /// Shards in parallel, each shard's inner chunks in parallel.
    fn read_units(
        &self,
        cx: &Ctx,
        start: &[u64],
        shape: &[u64],
        n_threads: usize,
        f: &UnitReadFn,
    ) -> Result<()> {
        let fmt = shard_format(cx);
        let shards = cx.meta.grid.chunks_in_region(start, shape);
        threads::for_each(n_threads, &shards, |span: &mut Vec<u8>, sidx| {
            let fetched = self.fetch(cx, &fmt, sidx, (start, shape), span)?;
            threads::for_each(n_threads, &fetched.inner, |scratch: &mut Vec<u8>, gidx| {
                let local = fmt.local(gidx);
                let unit = UnitRead {
                    gidx,
                    bytes: fetched.bytes(span, &local, &fmt),
                    name: UnitName {
                        path: &fetched.path,
                        inner: Some(&local),
                    },
                };
                f(scratch, &unit)
            })
        })
    }

    fn write_units(
        &self,
        cx: &Ctx,
        start: &[u64],
        shape: &[u64],
        sets: Sets,
        n_threads: usize,
        f: &UnitWriteFn,
    ) -> Result<()> {
        // a shard's decoded size, for batching its I/O: some bytes per item
        let shard_bytes = cx.meta.grid.chunk_elems() * 16;
        let each = |scratch: &mut Vec<u8>, c: &InnerWrite| f(scratch, &c.unit, c.old);
        self.write_inner(cx, (start, shape), sets, n_threads, shard_bytes, &each)
    }
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
