//! Copies of n-d boxes between strided byte buffers. Chunks decode into scratch memory and
//! are copied into the caller's region buffer; rows that are contiguous in both go by memcpy.

use crate::dtype::swap_bytes_into;
use crate::error::{Error, Result};

/// A strided n-d view description (strides in bytes).
#[derive(Clone, Debug)]
pub struct Layout {
    pub shape: Vec<usize>,
    pub strides: Vec<usize>,
}

impl Layout {
    /// C-order layout of `shape` with `elem`-byte elements.
    pub fn c_order(shape: &[usize], elem: usize) -> Self {
        let mut strides = vec![0; shape.len()];
        let mut acc = elem;
        for d in (0..shape.len()).rev() {
            strides[d] = acc;
            acc *= shape[d];
        }
        Layout {
            shape: shape.to_vec(),
            strides,
        }
    }

    /// Layout of a C-order array of shape `stored` whose axis i holds logical axis `perm[i]`.
    pub fn permuted(logical_shape: &[usize], perm: &[usize], elem: usize) -> Self {
        let stored: Vec<usize> = perm.iter().map(|&p| logical_shape[p]).collect();
        let c = Layout::c_order(&stored, elem);
        let mut strides = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            strides[p] = c.strides[i];
        }
        Layout {
            shape: logical_shape.to_vec(),
            strides,
        }
    }

    pub fn offset(&self, at: &[usize]) -> usize {
        at.iter().zip(&self.strides).map(|(a, s)| a * s).sum()
    }

    /// Bytes from the first to the past-the-end of the last element of a box of `extent`.
    pub fn span(&self, extent: &[usize], elem: usize) -> usize {
        if extent.contains(&0) {
            return 0;
        }
        extent
            .iter()
            .zip(&self.strides)
            .map(|(e, s)| (e - 1) * s)
            .sum::<usize>()
            + elem
    }

    /// Whether the box at `at` of `extent` lies inside a buffer of `len` bytes.
    fn check(&self, at: &[usize], extent: &[usize], elem: usize, len: usize) -> Result<()> {
        let inside = at.len() == self.shape.len()
            && extent.len() == self.shape.len()
            && at
                .iter()
                .zip(extent)
                .zip(&self.shape)
                .all(|((a, e), s)| a + e <= *s);
        let last = if extent.contains(&0) {
            0
        } else {
            self.offset(at) + self.span(extent, elem)
        };
        if !inside || last > len {
            return Err(Error::invalid(format!(
                "box at {at:?} extent {extent:?} does not fit a buffer of shape {:?}",
                self.shape
            )));
        }
        Ok(())
    }
}

/// A raw destination buffer that several threads write disjoint boxes of.
#[derive(Clone, Copy)]
pub struct SharedMut {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: users write only disjoint boxes (one per chunk), checked against `len`.
unsafe impl Send for SharedMut {}
// SAFETY: as for Send: no two users write the same byte.
unsafe impl Sync for SharedMut {}

impl SharedMut {
    pub fn new(buf: &mut [u8]) -> Self {
        SharedMut {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
        }
    }

    /// The buffer's address and length, for advice to the kernel about its pages.
    pub fn raw(&self) -> (*mut u8, usize) {
        (self.ptr, self.len)
    }
}

/// A decoded chunk's bytes in their layout, still in stored byte order when `swap` > 1 (the
/// unit to reverse while copying them out).
pub struct ChunkView<'a> {
    pub layout: Layout,
    pub bytes: &'a [u8],
    pub swap: usize,
}

impl ChunkView<'_> {
    /// Copy the box `extent` at `at` in the chunk to `dst_at` in `dst`, in native order.
    ///
    /// # Safety
    /// No other thread may access the destination box concurrently.
    pub unsafe fn copy_to(
        &self,
        at: &[usize],
        dst: SharedMut,
        dst_layout: &Layout,
        dst_at: &[usize],
        extent: &[usize],
        elem: usize,
    ) -> Result<()> {
        copy_box_swapped(
            self.bytes,
            &self.layout,
            at,
            dst,
            dst_layout,
            dst_at,
            extent,
            elem,
            self.swap,
        )
    }
}

/// Copy the box `extent` at `src_at` in `src` to `dst_at` in `dst`.
///
/// # Safety
/// No other thread may access the destination box concurrently.
#[allow(clippy::too_many_arguments)]
pub unsafe fn copy_box(
    src: &[u8],
    src_layout: &Layout,
    src_at: &[usize],
    dst: SharedMut,
    dst_layout: &Layout,
    dst_at: &[usize],
    extent: &[usize],
    elem: usize,
) -> Result<()> {
    copy_box_swapped(
        src, src_layout, src_at, dst, dst_layout, dst_at, extent, elem, 1,
    )
}

/// Like `copy_box`, reversing the bytes of every `swap`-byte unit on the way (1: a plain
/// copy), so chunks stored in the other byte order need no separate pass.
///
/// # Safety
/// No other thread may access the destination box concurrently.
#[allow(clippy::too_many_arguments)]
unsafe fn copy_box_swapped(
    src: &[u8],
    src_layout: &Layout,
    src_at: &[usize],
    dst: SharedMut,
    dst_layout: &Layout,
    dst_at: &[usize],
    extent: &[usize],
    elem: usize,
    swap: usize,
) -> Result<()> {
    src_layout.check(src_at, extent, elem, src.len())?;
    dst_layout.check(dst_at, extent, elem, dst.len)?;
    if extent.contains(&0) {
        return Ok(());
    }
    let so = src_layout.offset(src_at);
    let d0 = dst_layout.offset(dst_at);
    let (src_strides, dst_strides) = (&src_layout.strides, &dst_layout.strides);
    if swap > 1 {
        walk(extent, src_strides, dst_strides, elem, so, d0, |s, d, n| {
            swap_bytes_into(
                std::slice::from_raw_parts(src.as_ptr().add(s), n),
                std::slice::from_raw_parts_mut(dst.ptr.add(d), n),
                swap,
            )
        });
    } else {
        walk(extent, src_strides, dst_strides, elem, so, d0, |s, d, n| {
            copy_run(src.as_ptr().add(s), dst.ptr.add(d), n)
        });
    }
    Ok(())
}

/// Fill the box `extent` at `dst_at` with repetitions of the element `value`.
///
/// # Safety
/// No other thread may access the destination box concurrently.
pub unsafe fn fill_box(
    dst: SharedMut,
    dst_layout: &Layout,
    dst_at: &[usize],
    extent: &[usize],
    value: &[u8],
) -> Result<()> {
    let elem = value.len();
    dst_layout.check(dst_at, extent, elem, dst.len)?;
    if extent.contains(&0) {
        return Ok(());
    }
    let zero = value.iter().all(|&b| b == 0);
    let d0 = dst_layout.offset(dst_at);
    let strides = dst_layout.strides.clone();
    walk(
        extent,
        &strides,
        &dst_layout.strides,
        elem,
        0,
        d0,
        |_, d, n| {
            let p = dst.ptr.add(d);
            if zero {
                std::ptr::write_bytes(p, 0, n);
            } else {
                for k in (0..n).step_by(elem) {
                    std::ptr::copy_nonoverlapping(value.as_ptr(), p.add(k), elem);
                }
            }
        },
    );
    Ok(())
}

/// Safe fill of a whole buffer with an element value.
pub fn fill_all(buf: &mut [u8], value: &[u8]) {
    if value.iter().all(|&b| b == 0) {
        buf.fill(0);
    } else {
        for c in buf.chunks_exact_mut(value.len()) {
            c.copy_from_slice(value);
        }
    }
}

/// Copy `n` bytes between non-overlapping locations. Rows of small chunks are short (16 to
/// 64 bytes), where a libc `memcpy` call per row costs more than the copy itself.
///
/// # Safety
/// Both ranges must be valid and must not overlap.
#[inline(always)]
unsafe fn copy_run(src: *const u8, dst: *mut u8, n: usize) {
    if n <= 64 && n % 8 == 0 {
        for k in (0..n).step_by(8) {
            let v = std::ptr::read_unaligned(src.add(k) as *const u64);
            std::ptr::write_unaligned(dst.add(k) as *mut u64, v);
        }
    } else {
        std::ptr::copy_nonoverlapping(src, dst, n);
    }
}

/// Visit the runs of an n-d box. Trailing dimensions that are contiguous in both source and
/// destination are merged, so a C-order copy is one call per outer row (or one call total).
fn walk(
    extent: &[usize],
    src_strides: &[usize],
    dst_strides: &[usize],
    elem: usize,
    src0: usize,
    dst0: usize,
    mut f: impl FnMut(usize, usize, usize),
) {
    let nd = extent.len();
    if nd == 0 {
        f(src0, dst0, elem);
        return;
    }
    // Merge contiguous trailing dims into one run.
    let mut run = elem;
    let mut outer = nd;
    while outer > 0 && src_strides[outer - 1] == run && dst_strides[outer - 1] == run {
        run *= extent[outer - 1];
        outer -= 1;
    }
    if outer == nd {
        // Innermost dim is strided: element-wise.
        run = elem;
    }
    let dims = if outer == nd { nd } else { outer };
    if dims == 0 {
        f(src0, dst0, run);
        return;
    }
    // The last remaining dimension is walked in a tight loop; an odometer runs the rest.
    let last = dims - 1;
    let (n_last, ss, ds) = (extent[last], src_strides[last], dst_strides[last]);
    let mut idx = vec![0usize; last];
    let (mut s_base, mut d_base) = (src0, dst0);
    loop {
        let (mut s, mut d) = (s_base, d_base);
        for _ in 0..n_last {
            f(s, d, run);
            s += ss;
            d += ds;
        }
        let mut k = last;
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            idx[k] += 1;
            s_base += src_strides[k];
            d_base += dst_strides[k];
            if idx[k] < extent[k] {
                break;
            }
            s_base -= idx[k] * src_strides[k];
            d_base -= idx[k] * dst_strides[k];
            idx[k] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_sub_box_and_transposed() {
        // 3x4 source, C order, u16
        let src: Vec<u8> = (0..24u8).collect();
        let sl = Layout::c_order(&[3, 4], 2);
        let mut dst = vec![0u8; 2 * 2 * 2];
        let dl = Layout::c_order(&[2, 2], 2);
        // SAFETY: local buffers; the boxes lie inside their layouts.
        unsafe {
            copy_box(
                &src,
                &sl,
                &[1, 1],
                SharedMut::new(&mut dst),
                &dl,
                &[0, 0],
                &[2, 2],
                2,
            )
            .unwrap()
        };
        assert_eq!(dst, vec![10, 11, 12, 13, 18, 19, 20, 21]);
        // Fortran-order source holding the same logical 3x4 array.
        let fl = Layout::permuted(&[3, 4], &[1, 0], 1);
        let fsrc: Vec<u8> = (0..12u8).collect(); // logical (i,j) = j*3+i
        let mut out = vec![0u8; 12];
        let cl = Layout::c_order(&[3, 4], 1);
        // SAFETY: local buffers; the boxes lie inside their layouts.
        unsafe {
            copy_box(
                &fsrc,
                &fl,
                &[0, 0],
                SharedMut::new(&mut out),
                &cl,
                &[0, 0],
                &[3, 4],
                1,
            )
            .unwrap()
        };
        assert_eq!(out, vec![0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
    }

    #[test]
    fn matches_an_element_wise_copy() {
        let mut seed = 0x1234_5678_u64;
        let mut rnd = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..300 {
            let nd = 1 + rnd(4);
            let elem = [1, 2, 4, 8][rnd(4)];
            let shape: Vec<usize> = (0..nd).map(|_| 1 + rnd(9)).collect();
            let extent: Vec<usize> = shape.iter().map(|&s| 1 + rnd(s)).collect();
            let src_at: Vec<usize> = shape
                .iter()
                .zip(&extent)
                .map(|(s, e)| rnd(s - e + 1))
                .collect();
            let dshape: Vec<usize> = extent.iter().map(|&e| e + rnd(3)).collect();
            let dst_at: Vec<usize> = dshape
                .iter()
                .zip(&extent)
                .map(|(s, e)| rnd(s - e + 1))
                .collect();
            let mut perm: Vec<usize> = (0..nd).collect();
            if rnd(2) == 1 {
                perm.reverse();
            }
            let sl = Layout::permuted(&shape, &perm, elem);
            let dl = Layout::c_order(&dshape, elem);
            let src: Vec<u8> = (0..shape.iter().product::<usize>() * elem)
                .map(|i| (i * 7 % 251) as u8)
                .collect();
            let mut got = vec![0u8; dshape.iter().product::<usize>() * elem];
            // SAFETY: local buffers; the boxes lie inside their layouts.
            unsafe {
                copy_box(
                    &src,
                    &sl,
                    &src_at,
                    SharedMut::new(&mut got),
                    &dl,
                    &dst_at,
                    &extent,
                    elem,
                )
                .unwrap()
            };
            let mut want = vec![0u8; got.len()];
            let total: usize = extent.iter().product();
            for lin in 0..total {
                let mut rem = lin;
                let mut at = vec![0; nd];
                for d in (0..nd).rev() {
                    at[d] = rem % extent[d];
                    rem /= extent[d];
                }
                let s: Vec<usize> = at.iter().zip(&src_at).map(|(a, b)| a + b).collect();
                let d: Vec<usize> = at.iter().zip(&dst_at).map(|(a, b)| a + b).collect();
                let (so, dof) = (sl.offset(&s), dl.offset(&d));
                want[dof..dof + elem].copy_from_slice(&src[so..so + elem]);
            }
            assert_eq!(
                got, want,
                "shape {shape:?} extent {extent:?} perm {perm:?} elem {elem}"
            );
        }
    }

    #[test]
    fn out_of_bounds_box_is_refused() {
        let src = vec![0u8; 4];
        let l = Layout::c_order(&[2, 2], 1);
        let mut dst = vec![0u8; 4];
        // SAFETY: local buffers; the boxes lie inside their layouts.
        let r = unsafe {
            copy_box(
                &src,
                &l,
                &[1, 1],
                SharedMut::new(&mut dst),
                &l,
                &[0, 0],
                &[2, 2],
                1,
            )
        };
        assert!(r.is_err());
    }

    #[test]
    fn fill() {
        let mut dst = vec![0u8; 12];
        let l = Layout::c_order(&[3, 2], 2);
        // SAFETY: a local buffer; the box lies inside its layout.
        unsafe { fill_box(SharedMut::new(&mut dst), &l, &[1, 1], &[2, 1], &[7, 8]).unwrap() };
        assert_eq!(dst, vec![0, 0, 0, 0, 0, 0, 7, 8, 0, 0, 7, 8]);
    }
}
