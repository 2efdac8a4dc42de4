//! Arrays whose chunks are stored one per value (N5, Zarr v2, Zarr v3 without sharding):
//! the [`ChunkAccess`] layout that reads, decodes and writes whole chunks, one chunk per
//! task, and reads only the needed byte range of an uncompressed chunk a region covers in
//! part.

use crate::access::{
    to_c_order, ChunkAccess, ChunkData, Ctx, Modify, Sets, UnitName, UnitRead, UnitReadFn,
    UnitWrite, UnitWriteFn,
};
use crate::chunk::copy::{ChunkView, Layout, OutputBuffer};
use crate::chunk::grid::{overlap, ChunkGrid};
use crate::error::{Error, Result};
use crate::metadata::{fill, ArrayMeta, Format};
use crate::pipeline::Pipeline;
use crate::prefault::Prefault;
use crate::store::{self, ByteRange, Update};
use crate::threads;

/// The layout of one stored value per chunk.
#[derive(Debug)]
pub struct Plain;

/// Per-thread buffers reused across chunks: the decoded chunk.
#[derive(Default)]
struct Scratch {
    data: Vec<u8>,
}

/// What `read_part` found.
enum Part {
    Missing,
    Read,
    /// The value does not start or end as expected; only decoding it whole can say why.
    Unexpected,
}

/// What the read of one chunk's file brought.
enum Fetched {
    Missing,
    Whole,
    /// The byte range of a plain chunk that a partial read needs, and the chunk's strides.
    Part(Vec<usize>),
}

/// Shape a stored chunk has: N5 clips edge chunks, Zarr pads them.
fn stored_shape(cx: &Ctx, idx: &[u64]) -> Vec<u64> {
    match cx.meta.format {
        Format::N5 => cx.meta.grid.clipped(idx),
        _ => cx.meta.grid.chunk.clone(),
    }
}

/// Decode the stored bytes of chunk `idx`, borrowing from `file` or `data`; the data is
/// left in stored byte order for the copy out to swap.
fn decode_stored<'s>(
    cx: &Ctx,
    idx: &[u64],
    file: &'s [u8],
    data: &'s mut Vec<u8>,
) -> Result<ChunkView<'s>> {
    let nominal = stored_shape(cx, idx);
    let path = || cx.chunk_path(idx);
    let (d, out) = cx
        .meta
        .pipeline
        .decode_ref(file, &nominal, &cx.meta.grid.chunk, data)
        .map_err(|e| e.in_chunk(path()))?;
    if let Some(n) = d.varlen {
        if n != d.layout.shape.iter().product::<usize>() as u64 {
            return Err(Error::corrupt(
                path(),
                format!("varlength block of {n} elements cannot be read as an array"),
            ));
        }
    }
    Ok(ChunkView {
        layout: d.layout,
        bytes: out,
        swap: d.swap,
    })
}

/// Read `range` of the payload of the chunk at `key`, expected to be `header` followed by
/// `len` payload bytes, into `buf`.
fn read_part(
    cx: &Ctx,
    key: &str,
    header: &[u8],
    len: u64,
    range: std::ops::Range<u64>,
    buf: &mut Vec<u8>,
) -> Result<Part> {
    let at = header.len() as u64;
    match cx.store.size(key)? {
        None => return Ok(Part::Missing),
        Some(n) if n != at + len => return Ok(Part::Unexpected),
        Some(_) => {}
    }
    if !header.is_empty() {
        let got = cx.store.get_ranges(key, &[ByteRange::Span(0..at)])?;
        match got {
            None => return Ok(Part::Missing),
            Some(h) if h[0] != header => return Ok(Part::Unexpected),
            Some(_) => {}
        }
    }
    let span = ByteRange::Span(at + range.start..at + range.end);
    Ok(match cx.store.get_range_into(key, &span, buf)? {
        true => Part::Read,
        false => Part::Missing,
    })
}

/// Encode one chunk for the store (None, to remove it, when it holds only the fill value).
/// A raw native-order chunk is stored from `buf` itself.
fn chunk_put(cx: &Ctx, idx: &[u64], buf: store::PooledBuf, shape: &[u64]) -> Result<store::Put> {
    let key = cx.chunk_key(idx);
    if !cx.write_empty_chunks && fill::all_fill(&buf, &cx.meta.fill) {
        return Ok(store::Put { key, parts: None });
    }
    let (header, body) = cx.meta.pipeline.encode_owned(buf, shape)?;
    Ok(store::Put {
        key,
        parts: Some(vec![header.into(), body]),
    })
}

impl ChunkAccess for Plain {
    fn chunk_shape<'m>(&self, meta: &'m ArrayMeta) -> &'m [u64] {
        &meta.grid.chunk
    }

    fn chunk_file(&self, cx: &Ctx, idx: &[u64]) -> String {
        cx.chunk_path(idx)
    }

    fn read_region(
        &self,
        cx: &Ctx,
        start: &[u64],
        shape: &[u64],
        out: &mut [u8],
        n_threads: usize,
    ) -> Result<()> {
        let ushape: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
        let elem = cx.elem();
        let dst = OutputBuffer::c_order(out, &ushape, elem)?;
        let grid = &cx.meta.grid;
        let chunks = grid.chunks_in_region(start, shape);
        // Uncompressed chunks the region covers in part are read in part: the byte range
        // from the first to the last element it needs.
        let fetch = |idx: &Vec<u64>, buf: &mut Vec<u8>| -> Result<Fetched> {
            let key = cx.chunk_key(idx);
            let stored = stored_shape(cx, idx);
            if let Some((layout, header)) = cx.meta.pipeline.plain(&stored) {
                let origin = grid.origin(idx);
                let (in_chunk, _, extent) = overlap(&origin, &stored, start, shape);
                let lo = layout.offset(&in_chunk);
                let hi = lo + layout.span(&extent, elem);
                let len = stored.iter().product::<u64>() * elem as u64;
                if ((hi - lo) as u64) < len {
                    let range = lo as u64..hi as u64;
                    match read_part(cx, &key, &header, len, range, buf)? {
                        Part::Missing => return Ok(Fetched::Missing),
                        Part::Read => return Ok(Fetched::Part(layout.strides)),
                        Part::Unexpected => {}
                    }
                }
            }
            Ok(match cx.store.get_into(&key, buf)? {
                true => Fetched::Whole,
                false => Fetched::Missing,
            })
        };
        let prefault = Prefault::new(&dst, grid, start, shape, elem);
        threads::for_each_fetched(
            n_threads,
            &chunks,
            grid.chunk_bytes(elem),
            fetch,
            |group| prefault.step_after(group),
            |data: &mut store::PooledBuf, idx, fetched, file| {
                let origin = grid.origin(idx);
                let (in_chunk, in_region, extent) = overlap(&origin, &grid.chunk, start, shape);
                match fetched {
                    Fetched::Missing => {
                        // SAFETY: chunks are disjoint, so every task writes its own box of `out`.
                        unsafe { dst.region(&in_region, &extent) }?.fill(&cx.meta.fill)
                    }
                    Fetched::Part(strides) => {
                        // `file` starts at the box's first element.
                        let part = Layout {
                            shape: extent.clone(),
                            strides,
                        };
                        let zero = vec![0; extent.len()];
                        // SAFETY: chunks are disjoint, so every task writes its own box of `out`.
                        unsafe { dst.region(&in_region, &extent) }?.copy_from(file, &part, &zero)
                    }
                    Fetched::Whole => {
                        let view = decode_stored(cx, idx, file, data)?;
                        // An N5 block smaller than the grid's (stored at an old clipped
                        // edge shape before the dataset grew) holds part of the box;
                        // the rest is the fill value (0).
                        let inside: Vec<usize> = extent
                            .iter()
                            .zip(&in_chunk)
                            .zip(&view.layout.shape)
                            .map(|((e, c), s)| (*e).min(s.saturating_sub(*c)))
                            .collect();
                        if inside != extent {
                            // SAFETY: chunks are disjoint, so every task writes its own box.
                            unsafe { dst.region(&in_region, &extent) }?.fill(&cx.meta.fill)?;
                        }
                        if inside.iter().all(|&n| n > 0) {
                            // SAFETY: chunks are disjoint, so every task writes its own box.
                            let mut region = unsafe { dst.region(&in_region, &inside) }?;
                            view.copy_to(&in_chunk, &mut region)?;
                        }
                        Ok(())
                    }
                }
            },
        )
    }

    fn modify_region(
        &self,
        cx: &Ctx,
        start: &[u64],
        shape: &[u64],
        sets: Sets,
        n_threads: usize,
        modify: &Modify,
    ) -> Result<()> {
        let grid = &cx.meta.grid;
        let chunks = grid.chunks_in_region(start, shape);
        threads::for_each_put(
            cx.store,
            n_threads,
            &chunks,
            grid.chunk_bytes(cx.elem()),
            |scratch: &mut Scratch, idx, sink| {
                let origin = grid.origin(idx);
                let inside = grid.clipped(idx);
                let (in_chunk, in_region, extent) = overlap(&origin, &inside, start, shape);
                let Some(covers) = sets.chunk(&in_region, &extent, &inside) else {
                    return Ok(()); // nothing of it changes
                };
                let stored = stored_shape(cx, idx);
                let ustored: Vec<usize> = stored.iter().map(|&s| s as usize).collect();
                let at = (&in_chunk[..], &in_region[..], &extent[..]);
                // The new chunk from the old one's bytes (None: missing, or not needed).
                let merge = |old: Option<&[u8]>, scratch: &mut Scratch| -> Result<store::Put> {
                    let old = match old {
                        Some(bytes) => Some(decode_stored(cx, idx, bytes, &mut scratch.data)?),
                        None => None,
                    };
                    let buf = cx.merge_piece(&ustored, old, covers, at, modify)?;
                    chunk_put(cx, idx, buf, &stored)
                };
                if covers {
                    // Nothing of the old chunk survives: no read, no lock.
                    return sink.put(merge(None, scratch)?);
                }
                // A read-modify-write, with no lost update (see `WritableStore::update`).
                cx.update_stored(&cx.chunk_key(idx), &mut |old| {
                    Ok(Update::replacing(merge(old, scratch)?.parts, old.is_some()))
                })
            },
        )
    }

    fn read_chunk(&self, cx: &Ctx, idx: &[u64]) -> Result<Option<ChunkData>> {
        let Some(bytes) = cx.store.get(&cx.chunk_key(idx))? else {
            return Ok(None);
        };
        let path = cx.chunk_path(idx);
        let mut scratch = Vec::new();
        let nominal = stored_shape(cx, idx);
        let d = cx
            .meta
            .pipeline
            .decode(&bytes, &nominal, &cx.meta.grid.chunk, &mut scratch)
            .map_err(|e| e.in_chunk(&path))?;
        if let Some(n) = d.varlen {
            scratch.truncate(d.nbytes);
            return Ok(Some(ChunkData {
                shape: vec![n],
                data: scratch,
                varlen: true,
            }));
        }
        to_c_order(scratch, &d.layout, d.nbytes, cx.elem()).map(Some)
    }

    fn write_chunk(&self, cx: &Ctx, idx: &[u64], data: &[u8], varlen: bool) -> Result<()> {
        let shape = if varlen {
            if cx.meta.format != Format::N5 {
                return Err(Error::invalid("varlength chunks exist only in N5"));
            }
            if data.len() % cx.elem() != 0 {
                return Err(Error::invalid(
                    "varlength data is not a whole number of elements",
                ));
            }
            stored_shape(cx, idx)
        } else {
            let s = stored_shape(cx, idx);
            cx.check_len(&s, data.len())?;
            s
        };
        let bytes = cx.meta.pipeline.encode(data, &shape, varlen)?;
        cx.store.put(&cx.chunk_key(idx), &bytes)
    }

    fn chunk_exists(&self, cx: &Ctx, idx: &[u64]) -> Result<bool> {
        Ok(cx.store.size(&cx.chunk_key(idx))?.is_some())
    }

    fn existing_chunks(&self, cx: &Ctx) -> Result<Vec<Vec<u64>>> {
        cx.existing_storage_keys()
    }

    fn encode_chunk(&self, cx: &Ctx, data: &[u8], shape: &[u64]) -> Result<Vec<u8>> {
        cx.meta.pipeline.encode(data, shape, false)
    }

    fn units<'m>(&self, meta: &'m ArrayMeta) -> (ChunkGrid, &'m Pipeline) {
        (meta.grid.clone(), &meta.pipeline)
    }

    fn read_units(
        &self,
        cx: &Ctx,
        start: &[u64],
        shape: &[u64],
        n_threads: usize,
        f: &UnitReadFn,
    ) -> Result<()> {
        let chunks = cx.meta.grid.chunks_in_region(start, shape);
        threads::for_each(n_threads, &chunks, |buf: &mut Vec<u8>, idx| {
            let found = cx.store.get_into(&cx.chunk_key(idx), buf)?;
            let path = cx.chunk_path(idx);
            let unit = UnitRead {
                gidx: idx,
                bytes: found.then_some(&buf[..]),
                name: UnitName {
                    path: &path,
                    inner: None,
                },
            };
            f(&mut Vec::new(), &unit)
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
        let grid = &cx.meta.grid;
        let chunks = grid.chunks_in_region(start, shape);
        let scope = store::LockScope::new(); // one lock file open per directory and call
        threads::for_each(n_threads, &chunks, |scratch: &mut Vec<u8>, idx| {
            let _in = scope.enter();
            let inside = grid.clipped(idx);
            let (in_chunk, in_reg, ext) = overlap(&grid.origin(idx), &inside, start, shape);
            let Some(full) = sets.chunk(&in_reg, &ext, &inside) else {
                return Ok(()); // nothing of it changes
            };
            let path = cx.chunk_path(idx);
            let unit = UnitWrite {
                in_chunk,
                in_reg,
                ext,
                full,
                name: UnitName {
                    path: &path,
                    inner: None,
                },
            };
            let key = cx.chunk_key(idx);
            if full {
                let parts = f(scratch, &unit, None)?.map(|b| vec![b]);
                return store::Put { key, parts }.apply(cx.store);
            }
            cx.update_stored(&key, &mut |old| {
                let parts = f(scratch, &unit, old)?.map(|b| vec![b]);
                Ok(Update::replacing(parts, old.is_some()))
            })
        })
    }
}
