//! Strided, fancy and point selections: only the chunks that hold selected elements are
//! read (or written), each through the array's own region I/O on the bounding box of the
//! selected elements inside that chunk, straight from (or into) the caller's buffer.
//!
//! Memory: the output (or data) buffer plus one chunk-sized box per thread. The interface
//! toward the array is `read_region` / `write_region` / `chunk_shape` only, so plain and
//! sharded arrays (and any store) are served alike.
//!
//! Two kinds of selection:
//! - orthogonal: a list of indices per axis (numpy's `np.ix_`); the buffer has the shape
//!   `(len(list_0), len(list_1), ...)` in C order;
//! - points: `n` coordinates of `ndim` entries each; the buffer holds `n` elements.
//!
//! Indices may come in any order and repeat; a write with repeated indices keeps the last
//! value (as numpy's assignment does).

use crate::array::Array;
use crate::error::{Error, Result};
use crate::threads;

/// The caller's buffer, shared between tasks that touch disjoint elements of it.
#[derive(Clone, Copy)]
struct Shared {
    ptr: *mut u8,
    len: usize,
}
// SAFETY: tasks write disjoint elements (see the callers); the buffer outlives the call.
unsafe impl Send for Shared {}
// SAFETY: as for Send: no two tasks touch the same element.
unsafe impl Sync for Shared {}

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

/// Copy every combination of the per-axis (buffer position, box offset) pairs between the
/// box and the buffer: `to_buf` reads the box into the buffer, else the other way.
///
/// # Safety
/// `buf` must be valid for the positions given, and no other thread may touch them.
#[allow(clippy::too_many_arguments)]
unsafe fn transfer(
    lists: &[Vec<(usize, usize)>],
    boxed: *mut u8,
    box_strides: &[usize],
    buf: *mut u8,
    buf_strides: &[usize],
    elem: usize,
    to_buf: bool,
) {
    fn rec(
        d: usize,
        lists: &[Vec<(usize, usize)>],
        boxed: *mut u8,
        box_strides: &[usize],
        buf: *mut u8,
        buf_strides: &[usize],
        elem: usize,
        to_buf: bool,
    ) {
        let last = d + 1 == lists.len();
        for &(pos, off) in &lists[d] {
            // SAFETY: offsets are inside the box and positions inside the buffer (callers).
            unsafe {
                let b = boxed.add(off * box_strides[d]);
                let o = buf.add(pos * buf_strides[d]);
                if last {
                    if to_buf {
                        std::ptr::copy_nonoverlapping(b, o, elem);
                    } else {
                        std::ptr::copy_nonoverlapping(o, b, elem);
                    }
                } else {
                    rec(d + 1, lists, b, box_strides, o, buf_strides, elem, to_buf);
                }
            }
        }
    }
    if lists.is_empty() {
        // 0-d: the single element
        if to_buf {
            std::ptr::copy_nonoverlapping(boxed, buf, elem);
        } else {
            std::ptr::copy_nonoverlapping(buf, boxed, elem);
        }
        return;
    }
    rec(0, lists, boxed, box_strides, buf, buf_strides, elem, to_buf);
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

fn check_buf(n: usize, elem: usize, len: usize) -> Result<()> {
    if n * elem != len {
        return Err(Error::invalid(format!(
            "buffer has {len} bytes, the selection needs {}",
            n * elem
        )));
    }
    Ok(())
}

/// Run `f(start, shape, lists)` for each chunk-box of an orthogonal selection.
fn for_each_box(
    array: &Array,
    indices: &[Vec<u64>],
    buf_len: usize,
    n_threads: usize,
    f: impl Fn(&mut Vec<u8>, &[u64], &[u64], &[Vec<(usize, usize)>]) -> Result<()> + Sync + Send,
) -> Result<()> {
    let n: usize = indices.iter().map(Vec::len).product();
    check_buf(n, array.elem(), buf_len)?;
    if n == 0 {
        return Ok(());
    }
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
            f(scratch, &start, &shape, &rebased)
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
    let elem = array.elem();
    let counts: Vec<u64> = indices.iter().map(|v| v.len() as u64).collect();
    let buf_strides = c_strides(&counts, elem);
    let dst = Shared {
        ptr: out.as_mut_ptr(),
        len: out.len(),
    };
    for_each_box(
        array,
        indices,
        out.len(),
        n_threads,
        |scratch, start, shape, lists| {
            let nbytes = shape.iter().product::<u64>() as usize * elem;
            crate::store::resize(scratch, nbytes)?;
            array.read_region(start, shape, &mut scratch[..nbytes], 1)?;
            let box_strides = c_strides(shape, elem);
            #[allow(clippy::redundant_locals)] // capture all of `dst` (Sync), not its pointer field
            let dst = dst;
            debug_assert!(dst.len > 0);
            // SAFETY: every buffer position belongs to exactly one chunk per axis, so tasks
            // write disjoint elements of `out`, which outlives this call.
            unsafe {
                transfer(
                    lists,
                    scratch.as_mut_ptr(),
                    &box_strides,
                    dst.ptr,
                    &buf_strides,
                    elem,
                    true,
                )
            };
            Ok(())
        },
    )
}

/// Write `data` (C order, of the selection's shape) to the orthogonal selection `indices`.
/// Only chunks holding selected elements are touched; inside a chunk, the bounding box of
/// the selected elements is read (unless they fill it), changed and written back.
pub fn write_orthogonal(
    array: &Array,
    indices: &[Vec<u64>],
    data: &[u8],
    n_threads: usize,
) -> Result<()> {
    let elem = array.elem();
    let counts: Vec<u64> = indices.iter().map(|v| v.len() as u64).collect();
    let buf_strides = c_strides(&counts, elem);
    let src = Shared {
        ptr: data.as_ptr() as *mut u8,
        len: data.len(),
    };
    for_each_box(
        array,
        indices,
        data.len(),
        n_threads,
        |scratch, start, shape, lists| {
            let nbytes = shape.iter().product::<u64>() as usize * elem;
            crate::store::resize(scratch, nbytes)?;
            if !covers_box(lists, shape) {
                array.read_region(start, shape, &mut scratch[..nbytes], 1)?;
            }
            let box_strides = c_strides(shape, elem);
            #[allow(clippy::redundant_locals)] // capture all of `src` (Sync), not its pointer field
            let src = src;
            debug_assert!(src.len > 0);
            // SAFETY: `data` is only read; `scratch` is this task's own.
            unsafe {
                transfer(
                    lists,
                    scratch.as_mut_ptr(),
                    &box_strides,
                    src.ptr,
                    &buf_strides,
                    elem,
                    false,
                )
            };
            array.write_region(start, shape, &scratch[..nbytes], 1)
        },
    )
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

fn for_each_point_box(
    array: &Array,
    coords: &[u64],
    buf_len: usize,
    n_threads: usize,
    f: impl Fn(&mut Vec<u8>, &[u64], &[u64], &[(usize, usize)]) -> Result<()> + Sync + Send,
) -> Result<()> {
    let ndim = array.meta.grid.shape.len();
    let n = coords.len() / ndim.max(1);
    check_buf(n, array.elem(), buf_len)?;
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
            let strides = c_strides(&shape, 1);
            // (buffer position, element offset in the box)
            let offsets: Vec<(usize, usize)> = points
                .iter()
                .map(|&p| {
                    let off = (0..ndim)
                        .map(|d| (coords[p * ndim + d] - lo[d]) as usize * strides[d])
                        .sum();
                    (p, off)
                })
                .collect();
            f(scratch, &lo, &shape, &offsets)
        },
    )
}

/// Read the points `coords` (`n * ndim` coordinates) into `out` (`n` elements).
pub fn read_points(array: &Array, coords: &[u64], out: &mut [u8], n_threads: usize) -> Result<()> {
    let elem = array.elem();
    let dst = Shared {
        ptr: out.as_mut_ptr(),
        len: out.len(),
    };
    for_each_point_box(
        array,
        coords,
        out.len(),
        n_threads,
        |scratch, start, shape, offs| {
            let nbytes = shape.iter().product::<u64>() as usize * elem;
            crate::store::resize(scratch, nbytes)?;
            array.read_region(start, shape, &mut scratch[..nbytes], 1)?;
            #[allow(clippy::redundant_locals)] // capture all of `dst` (Sync), not its pointer field
            let dst = dst;
            for &(p, off) in offs {
                debug_assert!((p + 1) * elem <= dst.len);
                // SAFETY: each point belongs to one chunk group: tasks write disjoint elements.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        scratch.as_ptr().add(off * elem),
                        dst.ptr.add(p * elem),
                        elem,
                    )
                };
            }
            Ok(())
        },
    )
}

/// Write `data` (`n` elements) to the points `coords`; a repeated point keeps the value
/// given last.
pub fn write_points(array: &Array, coords: &[u64], data: &[u8], n_threads: usize) -> Result<()> {
    let elem = array.elem();
    for_each_point_box(
        array,
        coords,
        data.len(),
        n_threads,
        |scratch, start, shape, offs| {
            let nbytes = shape.iter().product::<u64>() as usize * elem;
            crate::store::resize(scratch, nbytes)?;
            let mut seen = vec![false; nbytes / elem];
            for &(_, off) in offs {
                seen[off] = true;
            }
            if !seen.iter().all(|&s| s) {
                array.read_region(start, shape, &mut scratch[..nbytes], 1)?;
            }
            // points are in input order inside their group: the last repeat wins
            for &(p, off) in offs {
                scratch[off * elem..(off + 1) * elem]
                    .copy_from_slice(&data[p * elem..(p + 1) * elem]);
            }
            array.write_region(start, shape, &scratch[..nbytes], 1)
        },
    )
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
