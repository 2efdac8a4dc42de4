//! Faulting in a read's destination ahead of the decoder. A fresh numpy array is untouched
//! memory: the first write to each page traps into the kernel, which zeroes it. On one
//! worker that is a third of a raw read's time, so the I/O thread, which reads files ahead
//! anyway, makes the next pages present first (`MADV_POPULATE_WRITE`, Linux 5.14). It
//! changes no byte, so it may run while the decoder writes; the total work is the same.

use crate::chunk::copy::OutputBuffer;
use crate::chunk::grid::{overlap, ChunkGrid};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The destination of a region read (`layout`, C order) and how much of it, from its
/// start, has been made present.
pub struct Prefault<'a> {
    dst: &'a OutputBuffer<'a>,
    done: AtomicUsize,
    grid: &'a ChunkGrid,
    start: &'a [u64],
    shape: &'a [u64],
    elem: usize,
}

impl<'a> Prefault<'a> {
    pub fn new(
        dst: &'a OutputBuffer<'a>,
        grid: &'a ChunkGrid,
        start: &'a [u64],
        shape: &'a [u64],
        elem: usize,
    ) -> Prefault<'a> {
        Prefault {
            dst,
            done: AtomicUsize::new(0),
            grid,
            start,
            shape,
            elem,
        }
    }

    /// One step of work ahead of a decoder about to get these grid cells (in C order): the
    /// next pages past both the mark and the cells' boxes (pages the decoder is about to
    /// write it faults in itself). False when the buffer is done.
    pub fn step_after(&self, cells: &[Vec<u64>]) -> bool {
        let boxes_end = cells.iter().map(|idx| self.box_end(idx)).max();
        let from = self
            .done
            .fetch_max(boxes_end.unwrap_or(0), Ordering::Relaxed);
        let from = from.max(boxes_end.unwrap_or(0));
        self.up_to(from.saturating_add(STEP))
    }

    /// Offset past the last byte of a grid cell's box in the destination.
    fn box_end(&self, idx: &[u64]) -> usize {
        let origin = self.grid.origin(idx);
        let (_, in_region, extent) = overlap(&origin, &self.grid.chunk, self.start, self.shape);
        let layout = self.dst.layout();
        layout.offset(&in_region) + layout.span(&extent, self.elem)
    }

    /// Make the whole pages of `dst[mark..end]` present and writable, without changing
    /// them, and move the mark to `end`. Best effort: an old kernel or a failure leaves the
    /// faults to the writer. False when there was nothing left to do.
    fn up_to(&self, end: usize) -> bool {
        let (ptr, len) = self.dst.raw();
        let end = end.min(len);
        let start = self.done.fetch_max(end, Ordering::Relaxed);
        if start >= end {
            return false;
        }
        // Only pages wholly inside the buffer: the bytes around it are not ours to touch.
        let page = page_size();
        let lo = (ptr as usize + start).next_multiple_of(page);
        let hi = (ptr as usize + end) / page * page;
        if lo < hi {
            populate_write(lo, hi - lo);
        }
        true
    }
}

/// Bytes made present per step: one transparent huge page, about 0.1 ms of the kernel
/// zeroing memory, so a batch waits at most that long once the queue has room.
const STEP: usize = 2 << 20;

fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    match PAGE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: sysconf has no preconditions.
            let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let p = if p > 0 { p as usize } else { 4096 };
            PAGE.store(p, Ordering::Relaxed);
            p
        }
        p => p,
    }
}

#[cfg(target_os = "linux")]
fn populate_write(addr: usize, len: usize) {
    // Set once the kernel says it does not know the advice.
    static UNSUPPORTED: AtomicBool = AtomicBool::new(false);
    if UNSUPPORTED.load(Ordering::Relaxed) {
        return;
    }
    // SAFETY: [addr, addr + len) is whole pages of a buffer the caller holds mutably;
    // MADV_POPULATE_WRITE faults them in writable and leaves their contents as they are.
    let rc = unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE) };
    if rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        UNSUPPORTED.store(true, Ordering::Relaxed);
    }
}

#[cfg(not(target_os = "linux"))]
fn populate_write(_addr: usize, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::copy::Layout;

    fn whole(len: usize) -> (ChunkGrid, Vec<u64>, Vec<u64>, Layout) {
        let grid = ChunkGrid::new(vec![len as u64], vec![4096]).unwrap();
        (grid, vec![0], vec![len as u64], Layout::c_order(&[len], 1))
    }

    #[test]
    fn populating_keeps_contents_and_stays_inside_the_buffer() {
        let mut buf: Vec<u8> = (0..(1usize << 20) + 123).map(|i| (i % 251) as u8).collect();
        let before = buf.clone();
        // An unaligned window of the buffer; the bytes around it must not change either.
        let (_, rest) = buf.split_at_mut(77);
        let (mid, _) = rest.split_at_mut((1 << 20) - 500);
        let (grid, start, shape, layout) = whole(mid.len());
        let dst = OutputBuffer::new(mid, layout, 1).unwrap();
        let p = Prefault::new(&dst, &grid, &start, &shape, 1);
        assert!(p.up_to(1000));
        assert!(!p.up_to(10)); // behind the mark: nothing to do
        assert!(p.step_after(&[vec![3], vec![1]])); // clipped to the buffer
        assert_eq!(p.done.load(Ordering::Relaxed), (1 << 20) - 500);
        assert!(!p.step_after(&[vec![0]]));
        assert_eq!(buf, before);
    }

    #[test]
    fn steps_start_past_the_cells_handed_over() {
        let mut v: Vec<u8> = vec![0; 16 << 20];
        let (grid, start, shape, layout) = whole(v.len());
        let len = v.len();
        let dst = OutputBuffer::new(&mut v, layout, 1).unwrap();
        let p = Prefault::new(&dst, &grid, &start, &shape, 1);
        assert!(p.step_after(&[vec![0], vec![1]]));
        assert_eq!(p.done.load(Ordering::Relaxed), 2 * 4096 + STEP);
        assert!(p.step_after(&[vec![1]]));
        assert_eq!(p.done.load(Ordering::Relaxed), 2 * 4096 + 2 * STEP);
        assert!(p.step_after(&[vec![2000]]));
        assert_eq!(p.done.load(Ordering::Relaxed), 2001 * 4096 + STEP);
        while p.step_after(&[vec![0]]) {}
        assert_eq!(p.done.load(Ordering::Relaxed), len);
        assert!(v.iter().all(|&b| b == 0));
    }

    #[test]
    fn box_ends_of_a_partial_region() {
        // A 2-d region [1..7, 2..9) of a 10 x 10 grid of 4 x 4 chunks, 2-byte elements.
        let grid = ChunkGrid::new(vec![10, 10], vec![4, 4]).unwrap();
        let (start, shape) = (vec![1, 2], vec![6, 7]);
        let layout = Layout::c_order(&[6, 7], 2);
        let mut out = vec![0u8; 6 * 7 * 2];
        let dst = OutputBuffer::new(&mut out, layout, 2).unwrap();
        let p = Prefault::new(&dst, &grid, &start, &shape, 2);
        // Chunk (0, 0) covers region rows 0..3, columns 0..2: ends at row 2, column 1.
        assert_eq!(p.box_end(&[0, 0]), (2 * 7 + 2) * 2);
        // Chunk (1, 2) ends at the region's last element.
        assert_eq!(p.box_end(&[1, 2]), 6 * 7 * 2);
    }
}
