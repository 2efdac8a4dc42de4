//! Strided, fancy and point selections: only the chunks that hold selected elements are
//! read (or written), each through the array's own region I/O on the bounding box of the
//! selected elements inside that chunk, straight from (or into) the caller's buffer.
//!
//! Memory: the output (or data) buffer plus one chunk-sized box per thread. The interface
//! toward the array is `read_region` / `modify_region` / `chunk_shape` only, so plain and
//! sharded arrays (and any store) are served alike, and a write changes its elements
//! inside each chunk's locked read-modify-write: threads and processes writing other
//! elements of the same chunks lose nothing.
//!
//! Two kinds of selection:
//! - orthogonal: a list of indices per axis (numpy's `np.ix_`); the buffer has the shape
//!   `(len(list_0), len(list_1), ...)` in C order;
//! - points: `n` coordinates of `ndim` entries each; the buffer holds `n` elements.
//!
//! Indices may come in any order and repeat; a write with repeated indices keeps the last
//! value (as numpy's assignment does).

use crate::array::Array;
use crate::chunk::copy::OutputBuffer;
use crate::error::{Error, Result};
use crate::objects::Objects;
use crate::threads;
use std::sync::Mutex;

/// The items of one chunk that a selection read of variable-length items picks.
pub struct ObjectPicks {
    /// The picked items, in the order of `positions` (None: the chunk is not stored, they
    /// read as the fill item).
    pub items: Option<Objects>,
    /// Where each picked item goes in the selection (C order of its shape).
    pub positions: Vec<usize>,
}

/// The caller's buffer: the destination of a read, shared by tasks that write disjoint
/// elements of it, or the source of a write; for variable-length items (object arrays),
/// the items to write in the selection's order, or the items read, gathered chunk by chunk
/// (the binding makes them Python objects).
enum Buffer<'a> {
    Out(OutputBuffer<'a>),
    In(&'a [u8]),
    Items(&'a Objects),
    Picked(Mutex<Vec<ObjectPicks>>),
}

/// The rows of one chunk's share of a selection: `rows(base, strides, emit)` calls
/// `emit(box offset, buffer offset, row)` with the offsets of the box (its first element at
/// `base`, its axes `strides` apart) and of the buffer, the row holding (buffer, box)
/// offsets from there. Offsets are bytes for fixed-size data, item indices for
/// variable-length items.
type Emit<'e> = dyn FnMut(usize, usize, &[(usize, usize)]) -> Result<()> + 'e;

impl Buffer<'_> {
    /// The number of bytes (items) the buffer holds; None for gathered items.
    fn len(&self) -> Option<usize> {
        match self {
            Buffer::Out(out) => Some(out.raw().1),
            Buffer::In(data) => Some(data.len()),
            Buffer::Items(items) => Some(items.len()),
            Buffer::Picked(_) => None,
        }
    }

    /// The unit of the buffer's offsets: the element size in bytes, or 1 item.
    fn elem(&self, array: &Array) -> usize {
        match self {
            Buffer::Out(_) | Buffer::In(_) => array.elem(),
            Buffer::Items(_) | Buffer::Picked(_) => 1,
        }
    }

    /// Move a row of elements between a chunk's box and the buffer: for each `(pos, at)` of
    /// `row`, the `elem` bytes at `box_at + at` of the box and `buf_at + pos` of the buffer;
    /// into the buffer for a read, out of it for a write.
    ///
    /// # Safety
    /// For a read, no other task moves elements to these buffer positions meanwhile.
    unsafe fn move_row(
        &self,
        boxed: &mut [u8],
        box_at: usize,
        buf_at: usize,
        row: &[(usize, usize)],
        elem: usize,
    ) -> Result<()> {
        match self {
            // SAFETY: the caller's promise.
            Buffer::Out(out) => unsafe { out.scatter(buf_at, boxed, box_at, row, elem) },
            Buffer::In(data) => {
                for &(pos, at) in row {
                    let (b, p) = (box_at + at, buf_at + pos);
                    boxed[b..b + elem].copy_from_slice(&data[p..p + elem]);
                }
                Ok(())
            }
            Buffer::Items(_) | Buffer::Picked(_) => {
                Err(Error::invalid("variable-length items do not move as bytes"))
            }
        }
    }

    /// One chunk's share of a selection, through the box (`start`, `shape`) spanning its
    /// selected elements inside the chunk, whose elements `rows` (see [`Emit`]) pairs with
    /// the buffer's. A read reads the box first; a write moves the elements into the chunk
    /// itself inside the chunk's (shard's) locked read-modify-write
    /// (`Array::modify_region`, `Array::modify_objects` for variable-length items), so
    /// writers of other elements of the chunk lose nothing; `covered` says whether the
    /// elements fill the box (a box that is the whole chunk then needs no read and no lock).
    fn through_box(
        &self,
        array: &Array,
        scratch: &mut Vec<u8>,
        start: &[u64],
        shape: &[u64],
        covered: impl FnOnce() -> bool,
        rows: impl Fn(usize, &[usize], &mut Emit) -> Result<()> + Sync,
    ) -> Result<()> {
        let elem = self.elem(array);
        match self {
            Buffer::Out(_) => {
                let nbytes = shape.iter().product::<u64>() as usize * elem;
                crate::store::resize(scratch, nbytes)?;
                let boxed = &mut scratch[..nbytes];
                array.read_region(start, shape, boxed, 1)?;
                rows(0, &c_strides(shape, elem), &mut |at, pos, row| {
                    // SAFETY: the caller's promise (`rows` of disjoint buffer elements).
                    unsafe { self.move_row(boxed, at, pos, row, elem) }
                })
            }
            Buffer::In(_) => array.modify_region(start, shape, covered(), 1, &|piece| {
                // The box lies inside one chunk: this is its only piece.
                let layout = piece.chunk.layout();
                let (base, strides) = (layout.offset(piece.in_chunk), layout.strides.clone());
                let bytes = piece.chunk.bytes_mut();
                rows(base, &strides, &mut |at, pos, row| {
                    // SAFETY: a write reads the buffer only.
                    unsafe { self.move_row(bytes, at, pos, row, elem) }
                })
            }),
            Buffer::Items(data) => {
                array.modify_objects(start, shape, covered(), data, 1, &|part, set| {
                    // The box lies inside one unit: this is its only part.
                    rows(
                        part.chunk_start,
                        &part.chunk_strides,
                        &mut |at, pos, row| {
                            row.iter().for_each(|&(p, o)| set(at + o, pos + p));
                            Ok(())
                        },
                    )
                })
            }
            Buffer::Picked(out) => {
                for part in array.read_objects(start, shape, 1)? {
                    let mut pairs: Vec<(usize, usize)> = Vec::new();
                    rows(
                        part.chunk_start,
                        &part.chunk_strides,
                        &mut |at, pos, row| {
                            pairs.extend(row.iter().map(|&(p, o)| (pos + p, at + o)));
                            Ok(())
                        },
                    )?;
                    let picks = ObjectPicks {
                        items: part.items.map(|it| it.pick(pairs.iter().map(|p| p.1))),
                        positions: pairs.into_iter().map(|p| p.0).collect(),
                    };
                    out.lock()
                        .map_err(|_| Error::invalid("a selection read failed on another thread"))?
                        .push(picks);
                }
                Ok(())
            }
        }
    }
}

/// One axis of an orthogonal selection, grouped by chunk: for each chunk touched, the
/// (buffer position, offset in the chunk) pairs of the indices falling into it.
struct AxisGroups {
    groups: Vec<(u64, Vec<(usize, usize)>)>,
}

fn group_axis(indices: &[u64], chunk: u64, extent: u64, axis: usize) -> Result<AxisGroups> {
    let mut pairs: Vec<(u64, usize, usize)> = Vec::with_capacity(indices.len());
    for (pos, &i) in indices.iter().enumerate() {
        if i >= extent {
            return Err(Error::invalid(format!(
                "index {i} is out of bounds for axis {axis} with size {extent}"
            )));
        }
        pairs.push((i / chunk, pos, (i % chunk) as usize));
    }
    // stable: repeated indices keep their order, so the last one is written last
    pairs.sort_by_key(|p| p.0);
    let mut groups: Vec<(u64, Vec<(usize, usize)>)> = Vec::new();
    for (k, pos, off) in pairs {
        match groups.last_mut() {
            Some((last, v)) if *last == k => v.push((pos, off)),
            _ => groups.push((k, vec![(pos, off)])),
        }
    }
    Ok(AxisGroups { groups })
}

/// Per axis, the (position in the output, offset in the box) pairs of the selected elements.
type AxisOffsets = Vec<Vec<(usize, usize)>>;

/// The box (start, shape) spanned by the offsets of each axis inside chunk `ks`, and the
/// offsets rebased to it.
fn bounding_box(
    chunk: &[u64],
    ks: &[u64],
    lists: &[&[(usize, usize)]],
) -> (Vec<u64>, Vec<u64>, AxisOffsets) {
    let mut start = Vec::with_capacity(ks.len());
    let mut shape = Vec::with_capacity(ks.len());
    let mut rebased = Vec::with_capacity(ks.len());
    for ((&k, &c), list) in ks.iter().zip(chunk).zip(lists) {
        let lo = list.iter().map(|p| p.1).min().unwrap_or(0);
        let hi = list.iter().map(|p| p.1).max().unwrap_or(0);
        start.push(k * c + lo as u64);
        shape.push((hi - lo + 1) as u64);
        rebased.push(list.iter().map(|&(p, o)| (p, o - lo)).collect());
    }
    (start, shape, rebased)
}

fn c_strides(shape: &[u64], elem: usize) -> Vec<usize> {
    let mut s = vec![elem; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1] as usize;
    }
    s
}

/// The rows of an orthogonal selection inside a chunk's box: `f(box offset, buffer offset,
/// row)` for every combination of the outer axes' (buffer position, box offset) pairs, the
/// row holding the last axis' pairs as byte offsets (buffer, box) from there.
fn each_row(
    lists: &[Vec<(usize, usize)>],
    box_strides: &[usize],
    buf_strides: &[usize],
    f: &mut impl FnMut(usize, usize, &[(usize, usize)]) -> Result<()>,
) -> Result<()> {
    fn rec(
        d: usize,
        outer: &[Vec<(usize, usize)>],
        strides: (&[usize], &[usize]),
        at: usize,
        pos: usize,
        row: &[(usize, usize)],
        f: &mut impl FnMut(usize, usize, &[(usize, usize)]) -> Result<()>,
    ) -> Result<()> {
        if d == outer.len() {
            return f(at, pos, row);
        }
        let (bs, os) = (strides.0[d], strides.1[d]);
        for &(p, o) in &outer[d] {
            rec(d + 1, outer, strides, at + o * bs, pos + p * os, row, f)?;
        }
        Ok(())
    }
    let Some((last, outer)) = lists.split_last() else {
        // 0-d: the single element
        return f(0, 0, &[(0, 0)]);
    };
    let (bs, os) = (box_strides[outer.len()], buf_strides[outer.len()]);
    let row: Vec<(usize, usize)> = last.iter().map(|&(p, o)| (p * os, o * bs)).collect();
    rec(0, outer, (box_strides, buf_strides), 0, 0, &row, f)
}

/// Whether the offsets of every axis cover their box without a gap (so a write needs no
/// read of the box first).
fn covers_box(lists: &[Vec<(usize, usize)>], shape: &[u64]) -> bool {
    lists.iter().zip(shape).all(|(l, &n)| {
        let mut seen = vec![false; n as usize];
        for &(_, o) in l {
            seen[o] = true;
        }
        seen.iter().all(|&s| s)
    })
}

/// The tasks of an orthogonal selection: one per chunk holding selected elements.
fn orthogonal_tasks(
    array: &Array,
    indices: &[Vec<u64>],
) -> Result<(Vec<AxisGroups>, Vec<Vec<usize>>)> {
    let shape = &array.meta.grid.shape;
    let chunk = array.chunk_shape();
    if indices.len() != shape.len() {
        return Err(Error::invalid(format!(
            "selection has {} axes, the array {}",
            indices.len(),
            shape.len()
        )));
    }
    let axes: Vec<AxisGroups> = indices
        .iter()
        .enumerate()
        .map(|(d, ix)| group_axis(ix, chunk[d], shape[d], d))
        .collect::<Result<_>>()?;
    // every combination of per-axis groups
    let mut tasks: Vec<Vec<usize>> = vec![vec![]];
    for a in &axes {
        if a.groups.is_empty() {
            return Ok((axes, vec![]));
        }
        tasks = tasks
            .into_iter()
            .flat_map(|t| {
                (0..a.groups.len()).map(move |g| {
                    let mut t = t.clone();
                    t.push(g);
                    t
                })
            })
            .collect();
    }
    Ok((axes, tasks))
}

fn check_buf(n: usize, elem: usize, len: Option<usize>) -> Result<()> {
    let Some(len) = len else {
        return Ok(());
    };
    if n * elem != len {
        return Err(Error::invalid(format!(
            "buffer has {len} bytes, the selection needs {}",
            n * elem
        )));
    }
    Ok(())
}

/// Read or write the orthogonal selection `indices`, the buffer in C order of the
/// selection's shape: one task per chunk holding selected elements.
fn orthogonal(array: &Array, indices: &[Vec<u64>], buf: &Buffer, n_threads: usize) -> Result<()> {
    let elem = buf.elem(array);
    let n: usize = indices.iter().map(Vec::len).product();
    check_buf(n, elem, buf.len())?;
    if n == 0 {
        return Ok(());
    }
    let counts: Vec<u64> = indices.iter().map(|v| v.len() as u64).collect();
    let buf_strides = c_strides(&counts, elem);
    let (axes, tasks) = orthogonal_tasks(array, indices)?;
    let chunk = array.chunk_shape().to_vec();
    threads::for_each(
        array.tasks(n_threads),
        &tasks,
        |scratch: &mut Vec<u8>, t: &Vec<usize>| {
            let ks: Vec<u64> = t.iter().zip(&axes).map(|(&g, a)| a.groups[g].0).collect();
            let lists: Vec<&[(usize, usize)]> = t
                .iter()
                .zip(&axes)
                .map(|(&g, a)| a.groups[g].1.as_slice())
                .collect();
            let (start, shape, rebased) = bounding_box(&chunk, &ks, &lists);
            buf.through_box(
                array,
                scratch,
                &start,
                &shape,
                || covers_box(&rebased, &shape),
                // every buffer position belongs to exactly one chunk per axis, so tasks
                // move disjoint elements of the buffer
                |base, strides, emit| {
                    each_row(&rebased, strides, &buf_strides, &mut |at, pos, row| {
                        emit(base + at, pos, row)
                    })
                },
            )
        },
    )
}

/// Read the orthogonal selection `indices` into `out` (C order, native byte order).
pub fn read_orthogonal(
    array: &Array,
    indices: &[Vec<u64>],
    out: &mut [u8],
    n_threads: usize,
) -> Result<()> {
    let len = out.len();
    let out = OutputBuffer::c_order(out, &[len], 1)?;
    orthogonal(array, indices, &Buffer::Out(out), n_threads)
}

/// Write `data` (C order, of the selection's shape) to the orthogonal selection `indices`.
/// Only chunks holding selected elements are touched, each by one locked read-modify-write
/// (none when the elements fill the whole chunk).
pub fn write_orthogonal(
    array: &Array,
    indices: &[Vec<u64>],
    data: &[u8],
    n_threads: usize,
) -> Result<()> {
    orthogonal(array, indices, &Buffer::In(data), n_threads)
}

/// Points grouped by the chunk holding them: (chunk index, point numbers).
fn group_points(array: &Array, coords: &[u64]) -> Result<Vec<(Vec<u64>, Vec<usize>)>> {
    let shape = &array.meta.grid.shape;
    let chunk = array.chunk_shape();
    let ndim = shape.len();
    if ndim == 0 || coords.len() % ndim != 0 {
        return Err(Error::invalid(format!(
            "{} coordinates are not a whole number of {ndim}-d points",
            coords.len()
        )));
    }
    let n = coords.len() / ndim;
    let mut keyed: Vec<(Vec<u64>, usize)> = Vec::with_capacity(n);
    for p in 0..n {
        let c = &coords[p * ndim..(p + 1) * ndim];
        for (d, (&i, &s)) in c.iter().zip(shape).enumerate() {
            if i >= s {
                return Err(Error::invalid(format!(
                    "index {i} is out of bounds for axis {d} with size {s}"
                )));
            }
        }
        keyed.push((c.iter().zip(chunk).map(|(i, c)| i / c).collect(), p));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut groups: Vec<(Vec<u64>, Vec<usize>)> = Vec::new();
    for (k, p) in keyed {
        match groups.last_mut() {
            Some((last, v)) if *last == k => v.push(p),
            _ => groups.push((k, vec![p])),
        }
    }
    Ok(groups)
}

/// Read or write the points `coords` (`n * ndim` coordinates), the buffer holding `n`
/// elements: one task per chunk holding points. Points are in input order inside their
/// group, so of a repeated point the value given last is written last.
fn points(array: &Array, coords: &[u64], buf: &Buffer, n_threads: usize) -> Result<()> {
    let elem = buf.elem(array);
    let ndim = array.meta.grid.shape.len();
    let n = coords.len() / ndim.max(1);
    check_buf(n, elem, buf.len())?;
    if n == 0 {
        return Ok(());
    }
    let groups = group_points(array, coords)?;
    threads::for_each(
        array.tasks(n_threads),
        &groups,
        |scratch: &mut Vec<u8>, (_, points)| {
            let mut lo = vec![u64::MAX; ndim];
            let mut hi = vec![0u64; ndim];
            for &p in points {
                for d in 0..ndim {
                    lo[d] = lo[d].min(coords[p * ndim + d]);
                    hi[d] = hi[d].max(coords[p * ndim + d]);
                }
            }
            let shape: Vec<u64> = lo.iter().zip(&hi).map(|(l, h)| h - l + 1).collect();
            // (byte offset in the buffer, byte offset in a box with these strides)
            let offsets = |strides: &[usize]| -> Vec<(usize, usize)> {
                points
                    .iter()
                    .map(|&p| {
                        let at = (0..ndim)
                            .map(|d| (coords[p * ndim + d] - lo[d]) as usize * strides[d])
                            .sum();
                        (p * elem, at)
                    })
                    .collect()
            };
            let covered = || {
                let mut seen = vec![false; shape.iter().product::<u64>() as usize];
                for (_, at) in offsets(&c_strides(&shape, 1)) {
                    seen[at] = true;
                }
                seen.iter().all(|&s| s)
            };
            buf.through_box(
                array,
                scratch,
                &lo,
                &shape,
                covered,
                // each point belongs to one chunk group: tasks move disjoint elements of
                // the buffer
                |base, strides, emit| emit(base, 0, &offsets(strides)),
            )
        },
    )
}

/// Read the points `coords` (`n * ndim` coordinates) into `out` (`n` elements).
pub fn read_points(array: &Array, coords: &[u64], out: &mut [u8], n_threads: usize) -> Result<()> {
    let len = out.len();
    let out = OutputBuffer::c_order(out, &[len], 1)?;
    points(array, coords, &Buffer::Out(out), n_threads)
}

/// Write `data` (`n` elements) to the points `coords`; a repeated point keeps the value
/// given last.
pub fn write_points(array: &Array, coords: &[u64], data: &[u8], n_threads: usize) -> Result<()> {
    points(array, coords, &Buffer::In(data), n_threads)
}

/// Write `items` (variable-length, C order of the selection's shape) to the orthogonal
/// selection `indices` of an object array: each chunk (inner chunk) holding selected
/// elements is changed by one locked read-modify-write setting just those items
/// (`Array::modify_objects`); other chunks are not touched.
pub fn write_orthogonal_objects(
    array: &Array,
    indices: &[Vec<u64>],
    items: &Objects,
    n_threads: usize,
) -> Result<()> {
    orthogonal(array, indices, &Buffer::Items(items), n_threads)
}

/// Write `items` (`n` variable-length items) to the points `coords` of an object array, as
/// [`write_orthogonal_objects`] does; a repeated point keeps the item given last.
pub fn write_points_objects(
    array: &Array,
    coords: &[u64],
    items: &Objects,
    n_threads: usize,
) -> Result<()> {
    points(array, coords, &Buffer::Items(items), n_threads)
}

/// Read the orthogonal selection `indices` of an object array: the picked items of each
/// chunk holding selected elements (only those chunks are read).
pub fn read_orthogonal_objects(
    array: &Array,
    indices: &[Vec<u64>],
    n_threads: usize,
) -> Result<Vec<ObjectPicks>> {
    let buf = Buffer::Picked(Mutex::new(Vec::new()));
    orthogonal(array, indices, &buf, n_threads)?;
    picked(buf)
}

/// Read the points `coords` of an object array, as [`read_orthogonal_objects`] does.
pub fn read_points_objects(
    array: &Array,
    coords: &[u64],
    n_threads: usize,
) -> Result<Vec<ObjectPicks>> {
    let buf = Buffer::Picked(Mutex::new(Vec::new()));
    points(array, coords, &buf, n_threads)?;
    picked(buf)
}

fn picked(buf: Buffer) -> Result<Vec<ObjectPicks>> {
    match buf {
        Buffer::Picked(m) => m
            .into_inner()
            .map_err(|_| Error::invalid("a selection read failed on another thread")),
        _ => Ok(vec![]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_group_by_chunk_keeping_order() {
        let g = group_axis(&[7, 1, 8, 1, 3], 4, 10, 0).unwrap();
        assert_eq!(
            g.groups,
            vec![
                (0, vec![(1, 1), (3, 1), (4, 3)]),
                (1, vec![(0, 3)]),
                (2, vec![(2, 0)])
            ]
        );
        assert!(group_axis(&[10], 4, 10, 0).is_err());
    }

    #[test]
    fn boxes_cover_only_when_gapless() {
        assert!(covers_box(&[vec![(0, 0), (1, 1)]], &[2]));
        assert!(!covers_box(&[vec![(0, 0), (1, 2)]], &[3]));
    }
}

#[cfg(test)]
mod concurrency_tests {
    use super::*;
    use crate::dtype::DataType;
    use crate::metadata::{ArraySpec, Format};
    use crate::store::{FsStore, MemoryStore, Store};
    use std::sync::Arc;

    /// Threads writing interleaved strided columns and scattered points of shared chunks
    /// lose nothing, on plain and sharded arrays, in memory and on the filesystem (where
    /// each chunk's update also holds the inter-process lock).
    #[test]
    fn threads_writing_interleaved_selections_of_shared_chunks_lose_nothing() {
        let dir = std::env::temp_dir().join(format!("z5py-selection-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let stores: Vec<Arc<dyn Store>> =
            vec![Arc::new(MemoryStore::new()), Arc::new(FsStore::new(&dir))];
        // Thread t writes row by row the columns t, t + n, ... (a strided selection whose
        // box in each chunk has the other threads' columns in its gaps), then, two at a
        // time, the points (r, t) and (r, t + 2n) with another value.
        let (rows, cols, n) = (24u64, 24u64, 4u64);
        for (s, store) in stores.iter().enumerate() {
            for (f, shards) in [
                (Format::N5, None),
                (Format::ZarrV2, None),
                (Format::ZarrV3, Some(vec![8, 24])),
            ] {
                let spec = ArraySpec {
                    shards: shards.clone(),
                    ..ArraySpec::new(f, vec![rows, cols], vec![4, 12], DataType::UInt16)
                };
                let name = format!("a{s}{f:?}{}", shards.is_some());
                let a = Array::create(store.clone(), &name, &spec).unwrap();
                let barrier = std::sync::Barrier::new(n as usize);
                std::thread::scope(|sc| {
                    for t in 0..n {
                        let (a, barrier) = (&a, &barrier);
                        sc.spawn(move || {
                            let mine: Vec<u64> = (t..cols).step_by(n as usize).collect();
                            let vals: Vec<u8> = mine
                                .iter()
                                .flat_map(|_| (t as u16 + 1).to_ne_bytes())
                                .collect();
                            for r in 0..rows {
                                write_orthogonal(a, &[vec![r], mine.clone()], &vals, 1).unwrap();
                            }
                            barrier.wait();
                            let pts = [(t as u16 + 100).to_ne_bytes(); 2].concat();
                            for r in 0..rows {
                                write_points(a, &[r, t, r, t + 2 * n], &pts, 1).unwrap();
                            }
                        });
                    }
                });
                let mut out = vec![0u8; (rows * cols * 2) as usize];
                a.read_region(&[0, 0], &[rows, cols], &mut out, 1).unwrap();
                let mut lost = 0;
                for r in 0..rows {
                    for c in 0..cols {
                        let i = ((r * cols + c) * 2) as usize;
                        let got = u16::from_ne_bytes([out[i], out[i + 1]]) as u64;
                        let t = c % n;
                        let want = if c == t || c == t + 2 * n {
                            t + 100
                        } else {
                            t + 1
                        };
                        lost += usize::from(got != want);
                    }
                }
                assert_eq!(lost, 0, "store {s} {f:?} {shards:?}: {lost} elements lost");
            }
        }
        // no lock file is left
        let left: Vec<_> = walk(&dir)
            .into_iter()
            .filter(|p| p.contains(".z5lock"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The same for variable-length strings (Zarr v2, v3 sharded, on the filesystem):
    /// threads writing interleaved strided columns and points of shared chunks through
    /// `write_orthogonal_objects` / `write_points_objects` lose nothing, and the selection
    /// reads give the items back in selection order.
    #[test]
    fn threads_writing_interleaved_object_selections_lose_nothing() {
        use crate::codec::vlen::Items;
        use crate::dtype::ObjectCodec;
        let dir = std::env::temp_dir().join(format!("z5py-objsel-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store: Arc<dyn Store> = Arc::new(FsStore::new(&dir));
        let (rows, cols, n) = (12u64, 24u64, 4u64);
        let items = |vals: &[String]| {
            let mut it = Items::new();
            vals.iter().for_each(|v| it.push(v.as_bytes()));
            Objects::Vlen(it)
        };
        for (f, shards) in [(Format::ZarrV2, None), (Format::ZarrV3, Some(vec![8, 24]))] {
            let spec = ArraySpec {
                shards: shards.clone(),
                fill: b"-".to_vec(),
                ..ArraySpec::new(
                    f,
                    vec![rows, cols],
                    vec![4, 12],
                    DataType::Object(ObjectCodec::VlenUtf8),
                )
            };
            let name = format!("o{f:?}{}", shards.is_some());
            let a = Array::create(store.clone(), &name, &spec).unwrap();
            std::thread::scope(|sc| {
                for t in 0..n {
                    let a = &a;
                    sc.spawn(move || {
                        let mine: Vec<u64> = (t..cols).step_by(n as usize).collect();
                        for r in 0..rows {
                            let vals: Vec<String> =
                                mine.iter().map(|c| format!("{r}.{c}")).collect();
                            write_orthogonal_objects(a, &[vec![r], mine.clone()], &items(&vals), 1)
                                .unwrap();
                        }
                        let pts = items(&["p".repeat(t as usize + 1), "q".into()]);
                        write_points_objects(a, &[0, t, rows - 1, t + 2 * n], &pts, 1).unwrap();
                    });
                }
            });
            let want = |r: u64, c: u64| -> String {
                let t = c % n;
                match (r, c) {
                    (0, c) if c == t => "p".repeat(t as usize + 1),
                    (r, c) if r == rows - 1 && c == t + 2 * n => "q".into(),
                    _ => format!("{r}.{c}"),
                }
            };
            // every element, read back through a point selection in a scrambled order
            let mut coords = vec![];
            let mut expected = vec![];
            for k in 0..rows * cols {
                let (r, c) = ((k * 7) % rows, (k * 5 + k / rows) % cols);
                coords.extend([r, c]);
                expected.push(want(r, c));
            }
            let mut got = vec![String::new(); expected.len()];
            for p in read_points_objects(&a, &coords, 2).unwrap() {
                let Some(Objects::Vlen(it)) = &p.items else {
                    panic!("a chunk is missing")
                };
                for (i, &pos) in p.positions.iter().enumerate() {
                    got[pos] = String::from_utf8(it.get(i).to_vec()).unwrap();
                }
            }
            let lost = got.iter().zip(&expected).filter(|(g, w)| g != w).count();
            assert_eq!(lost, 0, "{f:?} {shards:?}: {lost} elements lost");
            // an orthogonal read: rows 11 and 0 (in that order), every 5th column
            let (rs, cs) = (vec![rows - 1, 0], (0..cols).step_by(5).collect::<Vec<_>>());
            let mut got = vec![String::new(); rs.len() * cs.len()];
            for p in read_orthogonal_objects(&a, &[rs.clone(), cs.clone()], 2).unwrap() {
                let Some(Objects::Vlen(it)) = &p.items else {
                    panic!("a chunk is missing")
                };
                for (i, &pos) in p.positions.iter().enumerate() {
                    got[pos] = String::from_utf8(it.get(i).to_vec()).unwrap();
                }
            }
            let expected: Vec<String> = rs
                .iter()
                .flat_map(|&r| cs.iter().map(move |&c| (r, c)))
                .map(|(r, c)| want(r, c))
                .collect();
            assert_eq!(got, expected);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn walk(dir: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p.display().to_string());
        }
        out
    }
}
