//! Zarr v3 `sharding_indexed`: many inner chunks in one shard file, located by an index of
//! (offset, nbytes) pairs at the end or the start. Reads fetch only the index and the byte
//! ranges they need; writes rewrite each shard once per call, atomically.

use crate::array::{to_c_order, Array, ChunkData};
use crate::chunk::copy::{copy_box, fill_all, fill_box, ChunkView, Layout, SharedMut};
use crate::chunk::grid::{overlap, ChunkGrid};
use crate::codec::Compressor;
use crate::dtype::swap_bytes;
use crate::error::{Error, Result};
use crate::metadata::{fill, Sharding};
use crate::prefault::Prefault;
use crate::store::PooledBuf;
use crate::threads::Sink;
use crate::{store, threads};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

const EMPTY: u64 = u64::MAX;

type Index = Vec<Option<(u64, u64)>>;

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

fn decode_index(a: &Array, bytes: &[u8], file_len: u64, path: &Path) -> Result<Index> {
    let s = sharding(a);
    let shape = index_shape(a);
    let mut scratch = Vec::new();
    s.index_pipeline
        .decode(bytes, &shape, &shape, &mut scratch)
        .map_err(|e| Error::corrupt(path, format!("shard index: {}", e.in_chunk(path))))?;
    let ilen = index_len(a) as u64;
    let (lo, hi) = if s.index_at_start {
        (ilen, file_len)
    } else {
        (0, file_len - ilen)
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
                _ => Err(Error::corrupt(path, format!("shard index entry ({off}, {n}) points outside the shard's {file_len} bytes"))),
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

/// Open a shard and read its index; None when the shard does not exist.
fn open_shard(a: &Array, sidx: &[u64]) -> Result<Option<(File, Index)>> {
    let path = a.chunk_path(sidx);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
    let ilen = index_len(a);
    if len < ilen as u64 {
        return Err(Error::corrupt(
            &path,
            format!("shard of {len} bytes is shorter than its {ilen}-byte index"),
        ));
    }
    let at = if sharding(a).index_at_start {
        0
    } else {
        len - ilen as u64
    };
    let mut buf = vec![0u8; ilen];
    file.read_exact_at(&mut buf, at)
        .map_err(|e| Error::io(&path, e))?;
    let index = decode_index(a, &buf, len, &path)?;
    Ok(Some((file, index)))
}

fn read_range(file: &File, (off, n): (u64, u64), path: &Path) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n as usize];
    file.read_exact_at(&mut buf, off)
        .map_err(|e| Error::io(path, e))?;
    Ok(buf)
}

/// When the inner chunks a read needs lie close together in the shard (as they do in shards
/// written here), read their whole byte span with one call into `buf` and return where it
/// starts; None when they are scattered (each is then read on its own).
fn dense_span(
    a: &Array,
    opened: &Option<(File, Index)>,
    inner: &[Vec<u64>],
    path: &Path,
    buf: &mut Vec<u8>,
) -> Result<Option<u64>> {
    let Some((file, index)) = opened else {
        return Ok(None);
    };
    let per = per_shard(a);
    let ranges: Vec<(u64, u64)> = inner
        .iter()
        .filter_map(|g| {
            let local: Vec<u64> = g.iter().zip(&per).map(|(g, n)| g % n).collect();
            index[linear(&local, &per)]
        })
        .collect();
    let (Some(lo), Some(hi)) = (
        ranges.iter().map(|r| r.0).min(),
        ranges.iter().map(|r| r.0 + r.1).max(),
    ) else {
        return Ok(None);
    };
    let needed: u64 = ranges.iter().map(|r| r.1).sum();
    if ranges.len() < 2 || hi - lo > 2 * needed + (64 << 10) {
        return Ok(None);
    }
    store::set_len(buf, (hi - lo) as usize)?;
    file.read_exact_at(buf, lo)
        .map_err(|e| Error::io(path, e))?;
    Ok(Some(lo))
}

/// Decode one inner chunk: `bytes` themselves when they need no decoding, else `scratch`.
fn decode_inner<'b>(
    a: &Array,
    bytes: &'b [u8],
    scratch: &'b mut Vec<u8>,
    path: &Path,
    local: &[u64],
) -> Result<ChunkView<'b>> {
    let s = sharding(a);
    let (d, data) = s
        .inner_pipeline
        .decode_ref(bytes, &s.inner, &s.inner, scratch)
        .map_err(|e| {
            Error::corrupt(path, format!("inner chunk {local:?}: {}", e.in_chunk(path)))
        })?;
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

pub fn read_region(
    a: &Array,
    start: &[u64],
    shape: &[u64],
    out: &mut [u8],
    n_threads: usize,
) -> Result<()> {
    let elem = a.elem();
    let ushape: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
    let out_layout = Layout::c_order(&ushape, elem);
    let dst = SharedMut::new(out);
    let grid = inner_grid(a);
    let per = per_shard(a);
    let shards = a.meta.grid.chunks_in_region(start, shape);
    // The file side of one shard: opened with its index, the inner chunks the region
    // touches, and the span of their bytes when dense.
    let fetch = |sidx: &Vec<u64>, span: &mut Vec<u8>| -> Result<_> {
        let path = a.chunk_path(sidx);
        let opened = open_shard(a, sidx)?;
        let origin = a.meta.grid.origin(sidx);
        let (_, in_region, extent) = overlap(&origin, &a.meta.grid.chunk, start, shape);
        let sub_start: Vec<u64> = start
            .iter()
            .zip(&in_region)
            .map(|(s, r)| s + *r as u64)
            .collect();
        let sub_shape: Vec<u64> = extent.iter().map(|&e| e as u64).collect();
        let inner = grid.chunks_in_region(&sub_start, &sub_shape);
        let lo = dense_span(a, &opened, &inner, &path, span)?;
        Ok((path, opened, inner, lo))
    };
    let shard_bytes = a.meta.grid.chunk_bytes(elem);
    let prefault = Prefault::new(dst, &a.meta.grid, start, shape, &out_layout, elem);
    threads::for_each_fetched(
        n_threads,
        &shards,
        shard_bytes,
        fetch,
        |group| prefault.step_after(group),
        |_: &mut (), _, fetched, span| {
            let (path, opened, inner, lo) = fetched;
            threads::for_each(n_threads, &inner, |scratch: &mut store::PooledBuf, gidx| {
                let local: Vec<u64> = gidx.iter().zip(&per).map(|(g, n)| g % n).collect();
                let (in_chunk, in_reg, ext) =
                    overlap(&grid.origin(gidx), &grid.chunk, start, shape);
                let entry = opened
                    .as_ref()
                    .and_then(|(_, idx)| idx[linear(&local, &per)]);
                // SAFETY: inner chunks are disjoint boxes of the output.
                unsafe {
                    match (entry, &opened) {
                        (Some((off, n)), Some((file, _))) => {
                            let bytes = match lo {
                                Some(lo) => {
                                    let at = (off - lo) as usize;
                                    std::borrow::Cow::Borrowed(&span[at..at + n as usize])
                                }
                                None => std::borrow::Cow::Owned(read_range(file, (off, n), &path)?),
                            };
                            decode_inner(a, &bytes, scratch, &path, &local)?.copy_to(
                                &in_chunk,
                                dst,
                                &out_layout,
                                &in_reg,
                                &ext,
                                elem,
                            )
                        }
                        _ => fill_box(dst, &out_layout, &in_reg, &ext, &a.meta.fill),
                    }
                }
            })
        },
    )
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
    let path = a.chunk_path(sidx);
    // A read-modify-write holds the shard's lock throughout and so must not wait on the
    // thread pool (a pool worker may be blocked on the same lock): its inner chunks are
    // encoded on this thread. A whole-shard overwrite encodes in parallel first and takes
    // the lock only to write.
    let early_guard = read_old.then(|| store::lock(&path));
    let n_threads = if read_old { 1 } else { n_threads };
    let old: Option<(Vec<u8>, Index)> = if read_old {
        match store::read_opt(&path)? {
            None => None,
            Some(bytes) => {
                let ilen = index_len(a);
                if bytes.len() < ilen {
                    return Err(Error::corrupt(&path, "shard is shorter than its index"));
                }
                let ib = if sharding(a).index_at_start {
                    &bytes[..ilen]
                } else {
                    &bytes[bytes.len() - ilen..]
                };
                let index = decode_index(a, ib, bytes.len() as u64, &path)?;
                Some((bytes, index))
            }
        }
    } else {
        None
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
    let put = if parts.iter().all(Option::is_none) {
        store::Put { path, parts: None }
    } else {
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
        // The parts go to the file as they are (writev), without one more copy into a shard
        // buffer.
        let mut out: Vec<PooledBuf> = Vec::with_capacity(parts.len() + 1);
        let at_start = sharding(a).index_at_start;
        let mut index_bytes = Some(PooledBuf::from(index_bytes));
        if at_start {
            out.extend(index_bytes.take());
        }
        out.extend(parts.into_iter().flatten());
        out.extend(index_bytes);
        store::Put {
            path,
            parts: Some(out),
        }
    };
    match early_guard {
        Some(_guard) => put.apply(),
        None => sink.put(put),
    }
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

pub fn write_region(
    a: &Array,
    start: &[u64],
    shape: &[u64],
    data: &[u8],
    n_threads: usize,
) -> Result<()> {
    let elem = a.elem();
    let ushape: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
    let src_layout = Layout::c_order(&ushape, elem);
    let grid = inner_grid(a);
    let per = per_shard(a);
    let inner_u: Vec<usize> = sharding(a).inner.iter().map(|&s| s as usize).collect();
    let inner_layout = Layout::c_order(&inner_u, elem);
    let inner_bytes = inner_u.iter().product::<usize>() * elem;
    let shards = a.meta.grid.chunks_in_region(start, shape);
    let shard_bytes = a.meta.grid.chunk_bytes(elem);
    threads::for_each_put(n_threads, &shards, shard_bytes, |_: &mut (), sidx, sink| {
        let path = a.chunk_path(sidx);
        let inside = a.meta.grid.clipped(sidx);
        let (_, _, ext) = overlap(&a.meta.grid.origin(sidx), &inside, start, shape);
        let covers = ext.iter().zip(&inside).all(|(e, i)| *e as u64 == *i);
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
                let full = ext.iter().zip(&in_bounds).all(|(e, i)| *e as u64 == *i);
                let interior = in_bounds == sharding(a).inner;
                // `buf` holds stale bytes: what neither the old chunk nor the data cover (the
                // padding of edge chunks included) gets the fill value.
                let mut buf = PooledBuf::with_len(inner_bytes)?;
                let zero = vec![0; inner_u.len()];
                // SAFETY: `buf` is local to this task.
                unsafe {
                    match old.filter(|_| !full) {
                        Some(bytes) => {
                            decode_inner(a, bytes, scratch, &path, local)?.copy_to(
                                &zero,
                                SharedMut::new(&mut buf),
                                &inner_layout,
                                &zero,
                                &inner_u,
                                elem,
                            )?;
                        }
                        None if full && interior => {}
                        None => fill_all(&mut buf, &a.meta.fill),
                    }
                    copy_box(
                        data,
                        &src_layout,
                        &in_reg,
                        SharedMut::new(&mut buf),
                        &inner_layout,
                        &in_chunk,
                        &ext,
                        elem,
                    )?;
                }
                Ok(Inner::Set(encode_inner(a, buf)?))
            },
            sink,
        )
    })
}

pub fn read_chunk(a: &Array, idx: &[u64]) -> Result<Option<ChunkData>> {
    let (sidx, local) = split(a, idx);
    let path = a.chunk_path(&sidx);
    let Some((file, index)) = open_shard(a, &sidx)? else {
        return Ok(None);
    };
    let Some(range) = index[linear(&local, &per_shard(a))] else {
        return Ok(None);
    };
    let bytes = read_range(&file, range, &path)?;
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
        &Sink::Inline,
    )
}

pub fn chunk_exists(a: &Array, idx: &[u64]) -> Result<bool> {
    let (sidx, local) = split(a, idx);
    Ok(match open_shard(a, &sidx)? {
        Some((_, index)) => index[linear(&local, &per_shard(a))].is_some(),
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
        if let Some((_, index)) = open_shard(a, &sidx)? {
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
    use crate::codec::Compressor;
    use crate::dtype::{DataType, Endian};
    use crate::metadata::{ArraySpec, Format};

    fn spec(at_start: bool) -> (tempdir::Dir, Array) {
        let dir = tempdir::Dir::new(if at_start { "start" } else { "end" });
        let a = Array::create(
            &dir.0,
            &ArraySpec {
                format: Format::ZarrV3,
                shape: vec![10, 7],
                chunks: vec![2, 3],
                dtype: DataType::UInt16,
                endian: Endian::Little,
                compressor: Compressor::Raw,
                fill: vec![0, 0],
                separator: None,
                shards: Some(vec![4, 6]),
                key_encoding: None,
            },
        )
        .unwrap();
        (dir, a)
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new(tag: &str) -> Dir {
                let p =
                    std::env::temp_dir().join(format!("z5py-shard-{tag}-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&p);
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
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
        let bytes = std::fs::read(a.chunk_path(&[0, 0])).unwrap();
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
        std::fs::write(a.chunk_path(&[0, 0]), &bad).unwrap();
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
        assert!(!a.chunk_path(&[0, 0]).exists());
    }
}
