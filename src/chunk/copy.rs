//! Copies of n-d boxes between strided byte buffers. Chunks decode into scratch memory and
//! are copied into the caller's region buffer; rows that are contiguous in both go by memcpy.

use crate::dtype::swap_bytes_into;
use crate::error::{Error, Result};
use std::marker::PhantomData;

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

/// The destination of region copies: a byte buffer holding an n-d box in `layout`, into
/// which several threads may copy at once, each into its own box ([`OutputBuffer::region`]).
///
/// It borrows the buffer mutably for its whole life, so nothing else reads or writes the
/// buffer meanwhile, and it checks when built that the layout lies inside the buffer and
/// when a region is taken that the region lies inside the layout; the copies themselves
/// then need no further checks on the destination. Modeled on zarrs'
/// `ArrayBytesFixedDisjointView`.
pub struct OutputBuffer<'a> {
    ptr: *mut u8,
    len: usize,
    layout: Layout,
    elem: usize,
    _buf: PhantomData<&'a mut [u8]>,
}

// SAFETY: the buffer is borrowed mutably for 'a, so only this view reaches it; threads write
// through regions, which `region`'s contract keeps disjoint.
unsafe impl Send for OutputBuffer<'_> {}
// SAFETY: as for Send: shared use only hands out regions, disjoint by `region`'s contract.
unsafe impl Sync for OutputBuffer<'_> {}

impl<'a> OutputBuffer<'a> {
    /// A view of `buf` holding `elem`-byte elements in `layout`.
    ///
    /// # Errors
    /// `InvalidArgument` when the layout does not fit in `buf`.
    pub fn new(buf: &'a mut [u8], layout: Layout, elem: usize) -> Result<Self> {
        let origin = vec![0; layout.shape.len()];
        layout.check(&origin, &layout.shape, elem, buf.len())?;
        Ok(OutputBuffer {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
            layout,
            elem,
            _buf: PhantomData,
        })
    }

    /// A C-order view of all of `buf`, an array of `shape`.
    ///
    /// # Errors
    /// `InvalidArgument` when `buf` is smaller than the array.
    pub fn c_order(buf: &'a mut [u8], shape: &[usize], elem: usize) -> Result<Self> {
        Self::new(buf, Layout::c_order(shape, elem), elem)
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The buffer's address and length, for advice to the kernel about its pages (which
    /// changes no byte).
    pub fn raw(&self) -> (*mut u8, usize) {
        (self.ptr, self.len)
    }

    /// The box `extent` at `at`, to copy into; any number of threads may hold regions.
    ///
    /// # Safety
    /// Regions in use at the same time (on any thread) must not overlap: no element of the
    /// buffer may belong to two of them. Where one caller owns the buffer,
    /// [`OutputBuffer::region_mut`] needs no such promise.
    ///
    /// # Errors
    /// `InvalidArgument` when the box does not lie inside the layout.
    pub unsafe fn region<'r>(
        &'r self,
        at: &[usize],
        extent: &'r [usize],
    ) -> Result<OutputRegion<'r>> {
        self.layout.check(at, extent, self.elem, self.len)?;
        Ok(OutputRegion {
            ptr: self.ptr,
            offset: self.layout.offset(at),
            strides: &self.layout.strides,
            extent,
            elem: self.elem,
            _buf: PhantomData,
        })
    }

    /// Copy scattered elements of `src` into the buffer: for each `(d, s)` of `pairs`, the
    /// `elem` bytes at `src_at + s` of `src` go to byte `at + d` of the buffer. For fancy and
    /// point selections, which regions do not describe; the bounds of all the pairs are
    /// checked once, before any byte is copied.
    ///
    /// # Safety
    /// No region or other `scatter` in use at the same time (on any thread) may cover the
    /// elements written.
    ///
    /// # Errors
    /// `InvalidArgument` when an element lies outside the buffer or outside `src`.
    pub unsafe fn scatter(
        &self,
        at: usize,
        src: &[u8],
        src_at: usize,
        pairs: &[(usize, usize)],
        elem: usize,
    ) -> Result<()> {
        let Some(&first) = pairs.first() else {
            return Ok(());
        };
        let (d_max, s_max) = pairs
            .iter()
            .fold(first, |(d, s), &(pd, ps)| (d.max(pd), s.max(ps)));
        let fits = |base: usize, max: usize, len: usize| {
            base.checked_add(max)
                .and_then(|e| e.checked_add(elem))
                .is_some_and(|end| end <= len)
        };
        if !fits(at, d_max, self.len) || !fits(src_at, s_max, src.len()) {
            return Err(Error::invalid(format!(
                "scattered {elem}-byte elements up to offset {} of a buffer of {} bytes and \
                 {} of a source of {} bytes do not fit",
                at.saturating_add(d_max),
                self.len,
                src_at.saturating_add(s_max),
                src.len()
            )));
        }
        let (dst, src) = (self.ptr.wrapping_add(at), src.as_ptr().wrapping_add(src_at));
        for &(d, s) in pairs {
            // SAFETY: every element lies inside the buffer and inside `src` (checked above),
            // no other writer covers it (the caller's promise), and `src` cannot overlap the
            // buffer, which this view borrows mutably.
            unsafe { copy_elem(src.add(s), dst.add(d), elem) };
        }
        Ok(())
    }

    /// The whole buffer as bytes, for the one caller that has it to itself.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: the buffer was borrowed mutably for 'a with this length, and `&mut self`
        // is exclusive, so no region is in use.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    /// Like [`OutputBuffer::region`], for the one caller that has the buffer to itself.
    ///
    /// # Errors
    /// `InvalidArgument` when the box does not lie inside the layout.
    pub fn region_mut<'r>(
        &'r mut self,
        at: &[usize],
        extent: &'r [usize],
    ) -> Result<OutputRegion<'r>> {
        // SAFETY: `&mut self` is exclusive, so no other region is in use.
        unsafe { self.region(at, extent) }
    }
}

/// A box of an [`OutputBuffer`], checked to lie inside it: the target of one copy or fill.
pub struct OutputRegion<'r> {
    ptr: *mut u8,
    offset: usize,
    strides: &'r [usize],
    extent: &'r [usize],
    elem: usize,
    _buf: PhantomData<&'r mut [u8]>,
}

impl OutputRegion<'_> {
    pub fn extent(&self) -> &[usize] {
        self.extent
    }

    /// Copy the box of the region's extent at `src_at` in `src` (laid out as `src_layout`)
    /// into the region.
    ///
    /// # Errors
    /// `InvalidArgument` when that box does not lie inside `src`.
    pub fn copy_from(&mut self, src: &[u8], src_layout: &Layout, src_at: &[usize]) -> Result<()> {
        self.copy_from_swapped(src, src_layout, src_at, 1)
    }

    /// Like [`OutputRegion::copy_from`], reversing the bytes of every `swap`-byte unit on the
    /// way (1: a plain copy), so data stored in the other byte order needs no second pass.
    ///
    /// # Errors
    /// `InvalidArgument` when the source box does not lie inside `src`.
    pub fn copy_from_swapped(
        &mut self,
        src: &[u8],
        src_layout: &Layout,
        src_at: &[usize],
        swap: usize,
    ) -> Result<()> {
        let (extent, elem) = (self.extent, self.elem);
        src_layout.check(src_at, extent, elem, src.len())?;
        if extent.contains(&0) {
            return Ok(());
        }
        let so = src_layout.offset(src_at);
        let dst = self.ptr;
        let strides = (&src_layout.strides[..], self.strides);
        // `walk` visits runs inside the box, which `check` found inside `src` and `region`
        // inside the destination buffer; the region is the only writer of its bytes, and
        // source and destination do not overlap (the destination is mutably borrowed by the
        // OutputBuffer, `src` shared).
        if swap > 1 {
            walk(
                extent,
                strides.0,
                strides.1,
                elem,
                so,
                self.offset,
                |s, d, n| {
                    // SAFETY: see above: both runs lie inside their buffers, which do not overlap.
                    let (from, to) = unsafe {
                        (
                            std::slice::from_raw_parts(src.as_ptr().add(s), n),
                            std::slice::from_raw_parts_mut(dst.add(d), n),
                        )
                    };
                    swap_bytes_into(from, to, swap)
                },
            );
        } else {
            walk(
                extent,
                strides.0,
                strides.1,
                elem,
                so,
                self.offset,
                |s, d, n| {
                    // SAFETY: see above: both runs lie inside their buffers, which do not overlap.
                    unsafe { copy_run(src.as_ptr().add(s), dst.add(d), n) }
                },
            );
        }
        Ok(())
    }

    /// Fill the region with repetitions of the element `value`.
    ///
    /// # Errors
    /// `InvalidArgument` when `value` is not one element long.
    pub fn fill(&mut self, value: &[u8]) -> Result<()> {
        let elem = self.elem;
        if value.len() != elem {
            return Err(Error::invalid(format!(
                "fill value of {} bytes for {elem}-byte elements",
                value.len()
            )));
        }
        if self.extent.contains(&0) {
            return Ok(());
        }
        let zero = value.iter().all(|&b| b == 0);
        let dst = self.ptr;
        let strides = self.strides;
        walk(
            self.extent,
            strides,
            strides,
            elem,
            0,
            self.offset,
            |_, d, n| {
                // SAFETY: `walk` visits runs inside the region, which `region` found inside the
                // buffer; the region is the only writer of its bytes.
                unsafe {
                    let p = dst.add(d);
                    if zero {
                        std::ptr::write_bytes(p, 0, n);
                    } else {
                        for k in (0..n).step_by(elem) {
                            std::ptr::copy_nonoverlapping(value.as_ptr(), p.add(k), elem);
                        }
                    }
                }
            },
        );
        Ok(())
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
    /// Copy the box of `dst`'s extent at `at` in the chunk into `dst`, in native order.
    ///
    /// # Errors
    /// `InvalidArgument` when that box does not lie inside the chunk.
    pub fn copy_to(&self, at: &[usize], dst: &mut OutputRegion<'_>) -> Result<()> {
        dst.copy_from_swapped(self.bytes, &self.layout, at, self.swap)
    }
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

/// Copy one element of `n` bytes, without a `memcpy` call for the common sizes.
///
/// # Safety
/// Both ranges must be valid and must not overlap.
#[inline(always)]
unsafe fn copy_elem(src: *const u8, dst: *mut u8, n: usize) {
    match n {
        1 => *dst = *src,
        2 => {
            std::ptr::write_unaligned(dst as *mut u16, std::ptr::read_unaligned(src as *const u16))
        }
        4 => {
            std::ptr::write_unaligned(dst as *mut u32, std::ptr::read_unaligned(src as *const u32))
        }
        8 => {
            std::ptr::write_unaligned(dst as *mut u64, std::ptr::read_unaligned(src as *const u64))
        }
        _ => std::ptr::copy_nonoverlapping(src, dst, n),
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
        let mut out = OutputBuffer::new(&mut dst, dl, 2).unwrap();
        let mut region = out.region_mut(&[0, 0], &[2, 2]).unwrap();
        region.copy_from(&src, &sl, &[1, 1]).unwrap();
        assert_eq!(dst, vec![10, 11, 12, 13, 18, 19, 20, 21]);
        // Fortran-order source holding the same logical 3x4 array.
        let fl = Layout::permuted(&[3, 4], &[1, 0], 1);
        let fsrc: Vec<u8> = (0..12u8).collect(); // logical (i,j) = j*3+i
        let mut out = vec![0u8; 12];
        let cl = Layout::c_order(&[3, 4], 1);
        let mut view = OutputBuffer::new(&mut out, cl, 1).unwrap();
        view.region_mut(&[0, 0], &[3, 4])
            .unwrap()
            .copy_from(&fsrc, &fl, &[0, 0])
            .unwrap();
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
            let mut out = OutputBuffer::new(&mut got, dl.clone(), elem).unwrap();
            out.region_mut(&dst_at, &extent)
                .unwrap()
                .copy_from(&src, &sl, &src_at)
                .unwrap();
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
        let mut out = OutputBuffer::new(&mut dst, l.clone(), 1).unwrap();
        // the source box sticks out of the source
        let mut region = out.region_mut(&[0, 0], &[2, 2]).unwrap();
        assert!(region.copy_from(&src, &l, &[1, 1]).is_err());
        // the destination box sticks out of the destination
        assert!(out.region_mut(&[1, 0], &[2, 2]).is_err());
        assert!(out.region_mut(&[0], &[1]).is_err());
        // a layout larger than its buffer is refused when the view is built
        let mut small = vec![0u8; 3];
        assert!(OutputBuffer::new(&mut small, l, 1).is_err());
    }

    #[test]
    fn fill() {
        let mut dst = vec![0u8; 12];
        let l = Layout::c_order(&[3, 2], 2);
        let mut out = OutputBuffer::new(&mut dst, l, 2).unwrap();
        out.region_mut(&[1, 1], &[2, 1])
            .unwrap()
            .fill(&[7, 8])
            .unwrap();
        assert!(out
            .region_mut(&[0, 0], &[1, 1])
            .unwrap()
            .fill(&[7])
            .is_err());
        assert_eq!(dst, vec![0, 0, 0, 0, 0, 0, 7, 8, 0, 0, 7, 8]);
    }

    #[test]
    fn scattered_elements_are_bounds_checked_before_copying() {
        let src: Vec<u8> = (10..20).collect();
        let mut buf = vec![0u8; 6];
        let out = OutputBuffer::c_order(&mut buf, &[6], 1).unwrap();
        // SAFETY: one thread, no region in use.
        unsafe {
            out.scatter(2, &src, 4, &[(0, 2), (2, 0)], 2).unwrap();
            // one pair out of either buffer: refused, and nothing is written
            assert!(out.scatter(0, &src, 0, &[(0, 0), (5, 0)], 2).is_err());
            assert!(out.scatter(0, &src, 0, &[(0, 0), (0, 9)], 2).is_err());
            assert!(out.scatter(usize::MAX, &src, 0, &[(0, 0)], 1).is_err());
            out.scatter(0, &src, 0, &[], 2).unwrap();
        }
        assert_eq!(buf, [0, 0, 16, 17, 14, 15]);
    }

    #[test]
    fn threads_fill_disjoint_regions() {
        let mut buf = vec![0u8; 8 * 8];
        let out = OutputBuffer::c_order(&mut buf, &[8, 8], 1).unwrap();
        let quarters = [[0, 0], [0, 4], [4, 0], [4, 4]];
        std::thread::scope(|s| {
            for (k, at) in quarters.iter().enumerate() {
                let out = &out;
                s.spawn(move || {
                    // SAFETY: the four quarters do not overlap.
                    let mut region = unsafe { out.region(at, &[4, 4]) }.unwrap();
                    region.fill(&[k as u8 + 1]).unwrap();
                });
            }
        });
        for (i, row) in buf.chunks(8).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                assert_eq!(v as usize, 1 + 2 * (i / 4) + j / 4);
            }
        }
    }
}
