//! Strided, fancy and point selections: only the chunks that hold selected elements are
//! read (or written), each through the array's own region I/O on the bounding box of the
//! selected elements there, straight from (or into) the caller's buffer.
//!
//! A read goes chunk by chunk (inner chunk, in a sharded array), so that a shard's partial
//! read fetches just the inner chunks holding selected elements. A write goes by stored
//! value (shard, in a sharded array: a chunk otherwise): one `modify_region` per shard on
//! the box bounding its selected elements, so each shard is rewritten once, not once per
//! inner chunk; the inner chunks of the box that hold no selected element keep their
//! stored bytes (`Sets::Where`: each chunk's part of the box is asked what the selection
//! sets of it, before anything is read).
//!
//! Memory: the output (or data) buffer plus one chunk-sized box per thread for a read,
//! one shard's rewrite per thread for a write. The interface toward the array is
//! `read_region` / `modify_region` (and their object counterparts) only, so plain and
//! sharded arrays (and any store) are served alike, and a write changes its elements
//! inside each chunk's (shard's) locked read-modify-write: threads and processes writing
//! other elements of the same chunks lose nothing.
//!
//! Two kinds of selection:
//! - orthogonal: a list of indices per axis (numpy's `np.ix_`); the buffer has the shape
//!   `(len(list_0), len(list_1), ...)` in C order;
//! - points: `n` coordinates of `ndim` entries each; the buffer holds `n` elements.
//!
//! Indices may come in any order and repeat; a write with repeated indices keeps the last
//! value (as numpy's assignment does).

use crate::access::{Sets, Touch};
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

/// Receives rows of selected elements: `emit(offset, buffer offset, row)`, the row holding
/// (buffer, element) offsets from there. Offsets are bytes for fixed-size data, item
/// indices for variable-length items.
type Emit<'e> = dyn FnMut(usize, usize, &[(usize, usize)]) -> Result<()> + 'e;

/// A selection's share of one task (a chunk for a read, a stored value for a write): its
/// selected elements inside the box (`start`, `shape`) bounding them, asked about parts of
/// the box (each chunk's, when the box spans several), given in box coordinates as the
/// part at `lo` of `ext`.
trait InBox: Sync {
    /// What the selection sets of the part.
    fn touch(&self, lo: &[usize], ext: &[usize]) -> Touch;

    /// The selected elements of the part, in rows (see [`Emit`]), their offsets in a space
    /// where the part's first element is at `base` and its axes are `strides` apart; of a
    /// repeated element, the one given last comes last.
    fn rows(
        &self,
        lo: &[usize],
        ext: &[usize],
        base: usize,
        strides: &[usize],
        emit: &mut Emit,
    ) -> Result<()>;
}

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

    /// The grid a selection is split by into tasks: for a read, the chunks (inner chunks),
    /// which are read in part; for a write, the stored values (shards), which are
    /// rewritten whole.
    fn task_grid<'a>(&self, array: &'a Array) -> &'a [u64] {
        match self {
            Buffer::Out(_) | Buffer::Picked(_) => array.chunk_shape(),
            Buffer::In(_) | Buffer::Items(_) => &array.meta.grid.chunk,
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

    /// One task's share of a selection, through the box (`start`, `shape`) bounding its
    /// selected elements `sel`. A read reads the box first (one chunk's); a write moves the
    /// elements into the chunks themselves inside their shard's (chunk's) locked
    /// read-modify-write (`Array::modify_region`, `Array::modify_objects` for
    /// variable-length items), so writers of other elements lose nothing; what `sel` sets
    /// of each chunk decides whether it is read (a chunk it fills is not), or left alone.
    fn through_box(
        &self,
        array: &Array,
        scratch: &mut Vec<u8>,
        start: &[u64],
        shape: &[u64],
        sel: &dyn InBox,
    ) -> Result<()> {
        let elem = self.elem(array);
        let touch = |lo: &[usize], ext: &[usize]| sel.touch(lo, ext);
        match self {
            Buffer::Out(_) => {
                let nbytes = shape.iter().product::<u64>() as usize * elem;
                crate::store::resize(scratch, nbytes)?;
                let boxed = &mut scratch[..nbytes];
                array.read_region(start, shape, boxed, 1)?;
                let whole: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
                let zero = vec![0; whole.len()];
                let strides = c_strides(shape, elem);
                sel.rows(&zero, &whole, 0, &strides, &mut |at, pos, row| {
                    // SAFETY: the caller's promise (tasks hold disjoint buffer elements).
                    unsafe { self.move_row(boxed, at, pos, row, elem) }
                })
            }
            Buffer::In(_) => {
                array.modify_region(start, shape, Sets::Where(&touch), 1, &|piece| {
                    let layout = piece.chunk.layout();
                    let base = layout.offset(piece.in_chunk);
                    let strides = layout.strides.clone();
                    let bytes = piece.chunk.bytes_mut();
                    let (lo, ext) = (piece.in_region, piece.extent);
                    sel.rows(lo, ext, base, &strides, &mut |at, pos, row| {
                        // SAFETY: a write reads the buffer only.
                        unsafe { self.move_row(bytes, at, pos, row, elem) }
                    })
                })
            }
            Buffer::Items(data) => {
                let sets = Sets::Where(&touch);
                array.modify_objects(start, shape, sets, data, 1, &|part, set| {
                    let (base, strides) = (part.chunk_start, &part.chunk_strides);
                    sel.rows(
                        &part.in_region,
                        &part.extent,
                        base,
                        strides,
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
                    let (base, strides) = (part.chunk_start, &part.chunk_strides);
                    sel.rows(
                        &part.in_region,
                        &part.extent,
                        base,
                        strides,
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

/// One axis of an orthogonal selection, grouped by task: for each task's index along the
/// axis, the (buffer position, offset in the task's chunk) pairs of the indices falling
/// into it, sorted by offset (repeated indices in their given order).
struct AxisGroups {
    groups: Vec<(u64, Vec<(usize, usize)>)>,
}

fn group_axis(indices: &[u64], chunk: u64, extent: u64, axis: usize) -> Result<AxisGroups> {
    let mut pairs: Vec<(u64, usize)> = Vec::with_capacity(indices.len());
    for (pos, &i) in indices.iter().enumerate() {
        if i >= extent {
            return Err(Error::invalid(format!(
                "index {i} is out of bounds for axis {axis} with size {extent}"
            )));
        }
        pairs.push((i, pos));
    }
    // stable: repeated indices keep their order, so the last one is written last
    pairs.sort_by_key(|p| p.0);
    let mut groups: Vec<(u64, Vec<(usize, usize)>)> = Vec::new();
    for (i, pos) in pairs {
        let (k, off) = (i / chunk, (i % chunk) as usize);
        match groups.last_mut() {
            Some((last, v)) if *last == k => v.push((pos, off)),
            _ => groups.push((k, vec![(pos, off)])),
        }
    }
    Ok(AxisGroups { groups })
}

fn c_strides(shape: &[u64], elem: usize) -> Vec<usize> {
    let mut s = vec![elem; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1] as usize;
    }
    s
}

/// The rows of an orthogonal selection inside a box: `f(box offset, buffer offset, row)`
/// for every combination of the outer axes' (buffer position, box offset) pairs, the row
/// holding the last axis' pairs as offsets (buffer, box) from there.
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

/// An orthogonal selection's share of one task: per axis, the (buffer position, offset in
/// the task's chunk) pairs sorted by offset, the box starting at offsets `lo`.
struct OrthogonalBox<'a> {
    lists: Vec<&'a [(usize, usize)]>,
    lo: Vec<usize>,
    buf_strides: &'a [usize],
}

impl OrthogonalBox<'_> {
    /// Per axis, the pairs inside the part at `lo` of `ext` (box coordinates).
    fn inside(&self, lo: &[usize], ext: &[usize]) -> Vec<&[(usize, usize)]> {
        self.lists
            .iter()
            .enumerate()
            .map(|(d, l)| {
                let (a, b) = (self.lo[d] + lo[d], self.lo[d] + lo[d] + ext[d]);
                &l[l.partition_point(|p| p.1 < a)..l.partition_point(|p| p.1 < b)]
            })
            .collect()
    }
}

impl InBox for OrthogonalBox<'_> {
    fn touch(&self, lo: &[usize], ext: &[usize]) -> Touch {
        let mut all = true;
        for (l, &e) in self.inside(lo, ext).iter().zip(ext) {
            if l.is_empty() {
                return Touch::Nothing;
            }
            // sorted: the distinct offsets are where they change
            let distinct = 1 + l.windows(2).filter(|w| w[0].1 != w[1].1).count();
            all &= distinct == e;
        }
        if all {
            Touch::All
        } else {
            Touch::Some
        }
    }

    fn rows(
        &self,
        lo: &[usize],
        ext: &[usize],
        base: usize,
        strides: &[usize],
        emit: &mut Emit,
    ) -> Result<()> {
        let rebased: Vec<Vec<(usize, usize)>> = (self.inside(lo, ext).iter().enumerate())
            .map(|(d, l)| {
                l.iter()
                    .map(|&(p, o)| (p, o - self.lo[d] - lo[d]))
                    .collect()
            })
            .collect();
        if rebased.iter().any(Vec::is_empty) {
            return Ok(());
        }
        each_row(&rebased, strides, self.buf_strides, &mut |at, pos, row| {
            emit(base + at, pos, row)
        })
    }
}

/// The tasks of an orthogonal selection: one per chunk of `grid` holding selected
/// elements.
fn orthogonal_tasks(
    array: &Array,
    grid: &[u64],
    indices: &[Vec<u64>],
) -> Result<(Vec<AxisGroups>, Vec<Vec<usize>>)> {
    let shape = &array.meta.grid.shape;
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
        .map(|(d, ix)| group_axis(ix, grid[d], shape[d], d))
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
/// selection's shape: one task per chunk (stored value, for a write) holding selected
/// elements.
fn orthogonal(array: &Array, indices: &[Vec<u64>], buf: &Buffer, n_threads: usize) -> Result<()> {
    let elem = buf.elem(array);
    let n: usize = indices.iter().map(Vec::len).product();
    check_buf(n, elem, buf.len())?;
    if n == 0 {
        return Ok(());
    }
    let counts: Vec<u64> = indices.iter().map(|v| v.len() as u64).collect();
    let buf_strides = c_strides(&counts, elem);
    let grid = buf.task_grid(array);
    let (axes, tasks) = orthogonal_tasks(array, grid, indices)?;
    threads::for_each(
        array.tasks(n_threads),
        &tasks,
        |scratch: &mut Vec<u8>, t: &Vec<usize>| {
            let groups: Vec<&(u64, Vec<(usize, usize)>)> =
                t.iter().zip(&axes).map(|(&g, a)| &a.groups[g]).collect();
            // sorted by offset: the box runs from the first to the last
            let lo: Vec<usize> = groups.iter().map(|g| g.1[0].1).collect();
            let hi: Vec<usize> = groups.iter().map(|g| g.1[g.1.len() - 1].1).collect();
            let start: Vec<u64> = (groups.iter().zip(grid).zip(&lo))
                .map(|((g, &c), &l)| g.0 * c + l as u64)
                .collect();
            let shape: Vec<u64> = lo
                .iter()
                .zip(&hi)
                .map(|(l, h)| (h - l + 1) as u64)
                .collect();
            let sel = OrthogonalBox {
                lists: groups.iter().map(|g| g.1.as_slice()).collect(),
                lo,
                buf_strides: &buf_strides,
            };
            // every buffer position belongs to exactly one task per axis, so tasks move
            // disjoint elements of the buffer
            buf.through_box(array, scratch, &start, &shape, &sel)
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
/// Only chunks holding selected elements are touched, each stored value (shard) by one
/// locked read-modify-write (none when the elements fill it whole).
pub fn write_orthogonal(
    array: &Array,
    indices: &[Vec<u64>],
    data: &[u8],
    n_threads: usize,
) -> Result<()> {
    orthogonal(array, indices, &Buffer::In(data), n_threads)
}

/// One task's points, by the chunk (inner chunk) holding them: (chunk index, point
/// numbers in their given order).
type PointChunks = Vec<(Vec<u64>, Vec<usize>)>;

/// Points grouped by the task chunk of `grid` holding them, and inside a task by the
/// array's chunk (inner chunk): (task chunk index, its points by chunk).
fn group_points(array: &Array, grid: &[u64], coords: &[u64]) -> Result<Vec<PointChunks>> {
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
    // per point, its task chunk's index and its chunk's, side by side in one vector
    let mut keys: Vec<u64> = Vec::with_capacity(n * 2 * ndim);
    for p in 0..n {
        let c = &coords[p * ndim..(p + 1) * ndim];
        for (d, (&i, &s)) in c.iter().zip(shape).enumerate() {
            if i >= s {
                return Err(Error::invalid(format!(
                    "index {i} is out of bounds for axis {d} with size {s}"
                )));
            }
        }
        keys.extend(c.iter().zip(grid).map(|(i, g)| i / g));
        keys.extend(c.iter().zip(chunk).map(|(i, g)| i / g));
    }
    let key = |p: usize| &keys[p * 2 * ndim..(p + 1) * 2 * ndim];
    let mut order: Vec<usize> = (0..n).collect();
    // stable: a repeated point keeps its order, so the last one is written last
    order.sort_by(|&a, &b| key(a).cmp(key(b)));
    let mut groups: Vec<(&[u64], PointChunks)> = Vec::new();
    for p in order {
        let (t, k) = key(p).split_at(ndim);
        match groups.last_mut() {
            Some((last, chunks)) if *last == t => match chunks.last_mut() {
                Some((lk, v)) if lk == k => v.push(p),
                _ => chunks.push((k.to_vec(), vec![p])),
            },
            _ => groups.push((t, vec![(k.to_vec(), vec![p])])),
        }
    }
    Ok(groups.into_iter().map(|g| g.1).collect())
}

/// A point selection's share of one task: its points by chunk, the box starting at `lo`.
struct PointBox<'a> {
    coords: &'a [u64],
    chunks: &'a PointChunks,
    chunk: &'a [u64],
    lo: Vec<u64>,
    elem: usize,
}

impl PointBox<'_> {
    /// Call `f(point number, its offsets in the part)` for the points inside the part at
    /// `lo` of `ext` (box coordinates): those of the chunks the part meets.
    fn each(&self, lo: &[usize], ext: &[usize], mut f: impl FnMut(usize, &[usize])) {
        let ndim = self.lo.len();
        let from: Vec<u64> = self.lo.iter().zip(lo).map(|(a, b)| a + *b as u64).collect();
        let mut off = vec![0usize; ndim];
        for (k, points) in self.chunks {
            let meets = (0..ndim).all(|d| {
                let (c0, c1) = (k[d] * self.chunk[d], (k[d] + 1) * self.chunk[d]);
                c0 < from[d] + ext[d] as u64 && from[d] < c1
            });
            if !meets {
                continue;
            }
            for &p in points {
                let c = &self.coords[p * ndim..(p + 1) * ndim];
                let inside = (0..ndim).all(|d| {
                    let o = c[d].wrapping_sub(from[d]);
                    off[d] = o as usize;
                    o < ext[d] as u64
                });
                if inside {
                    f(p, &off);
                }
            }
        }
    }
}

/// The offset of `off` with axes `strides` apart.
fn offset_of(off: &[usize], strides: &[usize]) -> usize {
    off.iter().zip(strides).map(|(o, s)| o * s).sum()
}

impl InBox for PointBox<'_> {
    fn touch(&self, lo: &[usize], ext: &[usize]) -> Touch {
        let strides = c_strides(&ext.iter().map(|&e| e as u64).collect::<Vec<_>>(), 1);
        let mut at = Vec::new();
        self.each(lo, ext, |_, off| at.push(offset_of(off, &strides)));
        if at.is_empty() {
            return Touch::Nothing;
        }
        let volume: usize = ext.iter().product();
        if at.len() >= volume {
            at.sort_unstable();
            at.dedup();
            if at.len() == volume {
                return Touch::All;
            }
        }
        Touch::Some
    }

    fn rows(
        &self,
        lo: &[usize],
        ext: &[usize],
        base: usize,
        strides: &[usize],
        emit: &mut Emit,
    ) -> Result<()> {
        let mut row = Vec::new();
        self.each(lo, ext, |p, off| {
            row.push((p * self.elem, offset_of(off, strides)))
        });
        if row.is_empty() {
            return Ok(());
        }
        emit(base, 0, &row)
    }
}

/// Read or write the points `coords` (`n * ndim` coordinates), the buffer holding `n`
/// elements: one task per chunk (stored value, for a write) holding points. Points are in
/// input order inside their chunk, so of a repeated point the value given last is written
/// last.
fn points(array: &Array, coords: &[u64], buf: &Buffer, n_threads: usize) -> Result<()> {
    let elem = buf.elem(array);
    let ndim = array.meta.grid.shape.len();
    let n = coords.len() / ndim.max(1);
    check_buf(n, elem, buf.len())?;
    if n == 0 {
        return Ok(());
    }
    let grid = buf.task_grid(array);
    let groups = group_points(array, grid, coords)?;
    threads::for_each(
        array.tasks(n_threads),
        &groups,
        |scratch: &mut Vec<u8>, chunks: &PointChunks| {
            let mut lo = vec![u64::MAX; ndim];
            let mut hi = vec![0u64; ndim];
            for &p in chunks.iter().flat_map(|c| &c.1) {
                for d in 0..ndim {
                    lo[d] = lo[d].min(coords[p * ndim + d]);
                    hi[d] = hi[d].max(coords[p * ndim + d]);
                }
            }
            let shape: Vec<u64> = lo.iter().zip(&hi).map(|(l, h)| h - l + 1).collect();
            let sel = PointBox {
                coords,
                chunks,
                chunk: array.chunk_shape(),
                lo: lo.clone(),
                elem,
            };
            // each point belongs to one task: tasks move disjoint elements of the buffer
            buf.through_box(array, scratch, &lo, &shape, &sel)
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
/// elements is changed, setting just those items, inside one locked read-modify-write of
/// its chunk (shard) (`Array::modify_objects`); other chunks are not touched.
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
    fn parts_of_a_box_say_what_the_selection_sets() {
        // rows 0 and 1, columns 0 and 2 of a box at (0, 0)
        let (rows, cols) = ([(0, 0), (1, 1)], [(0, 0), (1, 2)]);
        let sel = OrthogonalBox {
            lists: vec![&rows, &cols],
            lo: vec![0, 0],
            buf_strides: &[2, 1],
        };
        assert_eq!(sel.touch(&[0, 0], &[2, 3]), Touch::Some);
        assert_eq!(sel.touch(&[0, 0], &[2, 1]), Touch::All);
        assert_eq!(sel.touch(&[0, 1], &[2, 1]), Touch::Nothing);
        assert_eq!(sel.touch(&[1, 2], &[1, 1]), Touch::All);
        // the points (1, 1), (1, 2), (1, 2) again and (3, 3) in chunks of 2 x 2, their box
        // at (1, 1)
        let coords = [1, 1, 1, 2, 1, 2, 3, 3];
        let chunks = vec![
            (vec![0, 0], vec![0]),
            (vec![0, 1], vec![1, 2]),
            (vec![1, 1], vec![3]),
        ];
        let sel = PointBox {
            coords: &coords,
            chunks: &chunks,
            chunk: &[2, 2],
            lo: vec![1, 1],
            elem: 1,
        };
        assert_eq!(sel.touch(&[0, 0], &[3, 3]), Touch::Some);
        assert_eq!(sel.touch(&[0, 0], &[1, 2]), Touch::All); // the repeat counts once
        assert_eq!(sel.touch(&[1, 0], &[1, 2]), Touch::Nothing);
        let mut rows = vec![];
        sel.rows(&[0, 1], &[1, 2], 100, &[10, 1], &mut |at, pos, row| {
            rows.push((at, pos, row.to_vec()));
            Ok(())
        })
        .unwrap();
        // (1, 2) twice, in the given order, then nothing of (3, 3)
        assert_eq!(rows, vec![(100, 0, vec![(1, 0), (2, 0)])]);
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
