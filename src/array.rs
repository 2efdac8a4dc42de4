//! An open array: region and chunk I/O over a store, one chunk per task.

use crate::chunk::copy::{fill_all, ChunkView, Layout, OutputBuffer};
use crate::chunk::grid::overlap;
use crate::error::{Error, Result};
use crate::metadata::{self, fill, ArrayMeta, ArraySpec, Format, Loc};
use crate::prefault::Prefault;
use crate::store::{ByteRange, Store, Update};
use crate::{shard, store, threads};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Array {
    /// Where the array lives: a store and the array's key prefix in it.
    pub store: Arc<dyn Store>,
    pub prefix: String,
    pub meta: ArrayMeta,
    /// Store chunks that hold only the fill value (zarr-python's `write_empty_chunks`);
    /// by default they are removed instead.
    pub write_empty_chunks: bool,
    /// Shard indexes read from an object store, by shard key (see `shard::IndexCache`);
    /// clones of the array share them.
    pub(crate) shard_indexes: Arc<crate::shard::IndexCache>,
}

/// Per-thread buffers reused across chunks: the stored bytes and the decoded chunk.
#[derive(Default)]
pub(crate) struct Scratch {
    pub data: Vec<u8>,
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

/// A chunk decoded to C order and native byte order.
pub struct ChunkData {
    pub shape: Vec<u64>,
    pub data: Vec<u8>,
    pub varlen: bool,
}

/// One chunk's part of a region being changed (see [`Array::modify_region`]): the chunk's
/// contents, decoded to C order, and where the part lies in the chunk (`in_chunk`) and in
/// the region (`in_region`), of `extent`.
pub struct Piece<'a, 'b> {
    pub chunk: &'a mut OutputBuffer<'b>,
    pub in_chunk: &'a [usize],
    pub in_region: &'a [usize],
    pub extent: &'a [usize],
}

/// Changes one chunk's part of a region (see [`Array::modify_region`]).
pub type Modify<'a> = dyn Fn(Piece) -> Result<()> + Sync + 'a;

/// A decoded chunk in `scratch` with `layout`, as a C-order `ChunkData`.
pub(crate) fn to_c_order(
    mut scratch: Vec<u8>,
    layout: &Layout,
    nbytes: usize,
    elem: usize,
) -> Result<ChunkData> {
    let shape: Vec<u64> = layout.shape.iter().map(|&s| s as u64).collect();
    let c = Layout::c_order(&layout.shape, elem);
    if c.strides == layout.strides {
        scratch.truncate(nbytes);
        return Ok(ChunkData {
            shape,
            data: scratch,
            varlen: false,
        });
    }
    let mut data = vec![0u8; nbytes];
    let zero = vec![0; shape.len()];
    OutputBuffer::new(&mut data, c, elem)?
        .region_mut(&zero, &layout.shape)?
        .copy_from(&scratch, layout, &zero)?;
    Ok(ChunkData {
        shape,
        data,
        varlen: false,
    })
}

/// Memory the extra tasks of a call on a remote store may hold at once (see `Array::tasks`).
const TASK_MEMORY: usize = 256 << 20;

impl Array {
    /// Open the array at `prefix` of `store`.
    pub fn open(store: Arc<dyn Store>, prefix: &str) -> Result<Array> {
        let meta = metadata::open(&Loc::new(&*store, prefix))?;
        Ok(Array {
            store,
            prefix: prefix.to_string(),
            meta,
            write_empty_chunks: false,
            shard_indexes: Default::default(),
        })
    }

    /// Write the metadata of a new array at `prefix` of `store` and open it.
    pub fn create(store: Arc<dyn Store>, prefix: &str, spec: &ArraySpec) -> Result<Array> {
        let meta = metadata::create(&Loc::new(&*store, prefix), spec)?;
        Ok(Array {
            store,
            prefix: prefix.to_string(),
            meta,
            write_empty_chunks: false,
            shard_indexes: Default::default(),
        })
    }

    /// How many chunk tasks a call asked to run on `n_threads` runs at once: more on
    /// stores that serve many requests at once (object stores, where each task mostly
    /// waits on the link), so that the requests in flight, not the cores, set the pace.
    /// The buffers of the tasks in flight (a stored chunk and its decoded copy each) stay
    /// within [`TASK_MEMORY`].
    pub fn tasks(&self, n_threads: usize) -> usize {
        let per_task = 2 * self.meta.grid.chunk_bytes(self.elem()).max(1);
        let fit = (TASK_MEMORY / per_task).max(1);
        n_threads.max(self.store.concurrency().min(fit))
    }

    pub fn elem(&self) -> usize {
        self.meta.dtype.size()
    }

    /// The user-visible chunk shape (inner chunks of a sharded array).
    pub fn chunk_shape(&self) -> &[u64] {
        match &self.meta.sharding {
            Some(s) => &s.inner,
            None => &self.meta.grid.chunk,
        }
    }

    /// Store key of the stored object (chunk or shard) at a storage-grid index.
    pub fn chunk_key(&self, idx: &[u64]) -> String {
        store::join(&self.prefix, &self.meta.keys.key(idx))
    }

    /// Where the stored object at a storage-grid index is (path or URL), for messages.
    pub fn chunk_path(&self, idx: &[u64]) -> String {
        self.store.location(&self.chunk_key(idx))
    }

    /// Where the value holding the user-visible chunk `idx` is (its shard when sharded).
    pub fn chunk_file(&self, idx: &[u64]) -> String {
        match &self.meta.sharding {
            Some(s) => {
                let shard: Vec<u64> = idx
                    .iter()
                    .zip(&s.inner)
                    .zip(&self.meta.grid.chunk)
                    .map(|((i, c), o)| i / (o / c))
                    .collect();
                self.chunk_path(&shard)
            }
            None => self.chunk_path(idx),
        }
    }

    /// Shape a stored chunk has: N5 clips edge chunks, Zarr pads them.
    fn stored_shape(&self, idx: &[u64]) -> Vec<u64> {
        match self.meta.format {
            Format::N5 => self.meta.grid.clipped(idx),
            _ => self.meta.grid.chunk.clone(),
        }
    }

    fn check_fixed_size(&self) -> Result<()> {
        if self.meta.dtype.is_object() {
            // Variable-length items go through `crate::objects`, never as fixed-size bytes.
            return Err(Error::invalid(format!(
                "{} holds variable-length items; read and write them as objects",
                self.meta.meta_path
            )));
        }
        Ok(())
    }

    fn check_len(&self, shape: &[u64], len: usize) -> Result<()> {
        self.check_fixed_size()?;
        let need = shape.iter().product::<u64>() as usize * self.elem();
        if need != len {
            return Err(Error::invalid(format!(
                "buffer has {len} bytes, region {shape:?} needs {need}"
            )));
        }
        Ok(())
    }

    /// Decode the stored bytes of chunk `idx`, borrowing from `file` or `data`; the data
    /// is left in stored byte order for the copy out to swap.
    fn decode_stored<'s>(
        &self,
        idx: &[u64],
        file: &'s [u8],
        data: &'s mut Vec<u8>,
    ) -> Result<ChunkView<'s>> {
        let nominal = self.stored_shape(idx);
        let path = || self.chunk_path(idx);
        let (d, out) = self
            .meta
            .pipeline
            .decode_ref(file, &nominal, &self.meta.grid.chunk, data)
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

    /// Read `range` of the payload of the chunk at `key`, expected to be `header` followed
    /// by `len` payload bytes, into `buf`.
    fn read_part(
        &self,
        key: &str,
        header: &[u8],
        len: u64,
        range: std::ops::Range<u64>,
        buf: &mut Vec<u8>,
    ) -> Result<Part> {
        let at = header.len() as u64;
        match self.store.size(key)? {
            None => return Ok(Part::Missing),
            Some(n) if n != at + len => return Ok(Part::Unexpected),
            Some(_) => {}
        }
        if !header.is_empty() {
            let got = self.store.get_ranges(key, &[ByteRange::Span(0..at)])?;
            match got {
                None => return Ok(Part::Missing),
                Some(h) if h[0] != header => return Ok(Part::Unexpected),
                Some(_) => {}
            }
        }
        let span = ByteRange::Span(at + range.start..at + range.end);
        Ok(match self.store.get_range_into(key, &span, buf)? {
            true => Part::Read,
            false => Part::Missing,
        })
    }

    /// Read the region at `start` of `shape` into `out` (C order, native byte order).
    pub fn read_region(
        &self,
        start: &[u64],
        shape: &[u64],
        out: &mut [u8],
        n_threads: usize,
    ) -> Result<()> {
        let n_threads = self.tasks(n_threads);
        self.meta.grid.check_region(start, shape)?;
        self.check_len(shape, out.len())?;
        if self.meta.sharding.is_some() {
            return shard::read_region(self, start, shape, out, n_threads);
        }
        let ushape: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
        let dst = OutputBuffer::c_order(out, &ushape, self.elem())?;
        let chunks = self.meta.grid.chunks_in_region(start, shape);
        let elem = self.elem();
        // Uncompressed chunks the region covers in part are read in part: the byte range
        // from the first to the last element it needs.
        let fetch = |idx: &Vec<u64>, buf: &mut Vec<u8>| -> Result<Fetched> {
            let key = self.chunk_key(idx);
            let stored = self.stored_shape(idx);
            if let Some((layout, header)) = self.meta.pipeline.plain(&stored) {
                let origin = self.meta.grid.origin(idx);
                let (in_chunk, _, extent) = overlap(&origin, &stored, start, shape);
                let lo = layout.offset(&in_chunk);
                let hi = lo + layout.span(&extent, elem);
                let len = stored.iter().product::<u64>() * elem as u64;
                if ((hi - lo) as u64) < len {
                    let range = lo as u64..hi as u64;
                    match self.read_part(&key, &header, len, range, buf)? {
                        Part::Missing => return Ok(Fetched::Missing),
                        Part::Read => return Ok(Fetched::Part(layout.strides)),
                        Part::Unexpected => {}
                    }
                }
            }
            Ok(match self.store.get_into(&key, buf)? {
                true => Fetched::Whole,
                false => Fetched::Missing,
            })
        };
        let prefault = Prefault::new(&dst, &self.meta.grid, start, shape, elem);
        threads::for_each_fetched(
            n_threads,
            &chunks,
            self.meta.grid.chunk_bytes(elem),
            fetch,
            |group| prefault.step_after(group),
            |data: &mut store::PooledBuf, idx, fetched, file| {
                let origin = self.meta.grid.origin(idx);
                let (in_chunk, in_region, extent) =
                    overlap(&origin, &self.meta.grid.chunk, start, shape);
                match fetched {
                    Fetched::Missing => {
                        // SAFETY: chunks are disjoint, so every task writes its own box of `out`.
                        unsafe { dst.region(&in_region, &extent) }?.fill(&self.meta.fill)
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
                        let view = self.decode_stored(idx, file, data)?;
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
                            unsafe { dst.region(&in_region, &extent) }?.fill(&self.meta.fill)?;
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

    /// Write `data` (C order, native byte order) as the region at `start` of `shape`.
    pub fn write_region(
        &self,
        start: &[u64],
        shape: &[u64],
        data: &[u8],
        n_threads: usize,
    ) -> Result<()> {
        self.check_len(shape, data.len())?;
        let ushape: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
        let src_layout = Layout::c_order(&ushape, self.elem());
        self.modify_region(start, shape, true, n_threads, &|piece| {
            piece
                .chunk
                .region_mut(piece.in_chunk, piece.extent)?
                .copy_from(data, &src_layout, piece.in_region)
        })
    }

    /// Change the region at `start` of `shape` in place: `modify` is called once for each
    /// chunk the region touches with the chunk's part of it ([`Piece`]), inside the chunk's
    /// (shard's) read-modify-write, which holds the chunk's lock from the read to the write
    /// (see `WritableStore::update`), so writers of other elements of the chunk lose
    /// nothing. `sets_all`: `modify` sets every element of its piece; a chunk the region
    /// then covers whole is neither read nor locked.
    pub fn modify_region(
        &self,
        start: &[u64],
        shape: &[u64],
        sets_all: bool,
        n_threads: usize,
        modify: &Modify,
    ) -> Result<()> {
        let n_threads = self.tasks(n_threads);
        self.meta.grid.check_region(start, shape)?;
        self.check_fixed_size()?;
        if self.meta.sharding.is_some() {
            return shard::modify_region(self, start, shape, sets_all, n_threads, modify);
        }
        let chunks = self.meta.grid.chunks_in_region(start, shape);
        let chunk_bytes = self.meta.grid.chunk_bytes(self.elem());
        threads::for_each_put(
            &*self.store,
            n_threads,
            &chunks,
            chunk_bytes,
            |scratch: &mut Scratch, idx, sink| {
                let origin = self.meta.grid.origin(idx);
                let inside = self.meta.grid.clipped(idx);
                let (in_chunk, in_region, extent) = overlap(&origin, &inside, start, shape);
                let covers = sets_all && extent.iter().zip(&inside).all(|(e, i)| *e as u64 == *i);
                let stored = self.stored_shape(idx);
                let ustored: Vec<usize> = stored.iter().map(|&s| s as usize).collect();
                let at = (&in_chunk[..], &in_region[..], &extent[..]);
                // The new chunk from the old one's bytes (None: missing, or not needed).
                let merge = |old: Option<&[u8]>, scratch: &mut Scratch| -> Result<store::Put> {
                    let old = match old {
                        Some(bytes) => Some(self.decode_stored(idx, bytes, &mut scratch.data)?),
                        None => None,
                    };
                    let buf = self.merge_piece(&ustored, old, covers, at, modify)?;
                    self.chunk_put(idx, buf, &stored)
                };
                if covers {
                    // Nothing of the old chunk survives: no read, no lock.
                    return sink.put(merge(None, scratch)?);
                }
                // A read-modify-write, with no lost update (see `WritableStore::update`).
                self.store.update(&self.chunk_key(idx), &mut |old| {
                    Ok(match merge(old, scratch)?.parts {
                        Some(parts) => Update::Put(parts),
                        None if old.is_none() => Update::Keep,
                        None => Update::Delete,
                    })
                })
            },
        )
    }

    /// The new contents of one chunk (C order of its decoded `shape`, plain or inner): the
    /// `old` chunk's where it has them, else the fill value, then `modify` on the piece
    /// (`in_chunk`, `in_region`, `extent`) of the region. `covers`: the piece spans every
    /// element of the chunk inside the array and `modify` sets them all, so `old` is not
    /// needed (callers pass None).
    pub(crate) fn merge_piece(
        &self,
        shape: &[usize],
        old: Option<ChunkView>,
        covers: bool,
        (in_chunk, in_region, extent): (&[usize], &[usize], &[usize]),
        modify: &Modify,
    ) -> Result<store::PooledBuf> {
        let elem = self.elem();
        let layout = Layout::c_order(shape, elem);
        let mut buf = store::PooledBuf::with_len(shape.iter().product::<usize>() * elem)?;
        let zero = vec![0; shape.len()];
        match old {
            Some(old) => {
                // An N5 block stored at an old clipped edge shape holds part of the chunk.
                let common: Vec<usize> = old
                    .layout
                    .shape
                    .iter()
                    .zip(shape)
                    .map(|(a, b)| *a.min(b))
                    .collect();
                if common != shape {
                    fill_all(&mut buf, &self.meta.fill);
                }
                let mut whole = OutputBuffer::new(&mut buf, layout.clone(), elem)?;
                old.copy_to(&zero, &mut whole.region_mut(&zero, &common)?)?;
            }
            // `buf` holds stale bytes: padding (Zarr edge chunks) and whatever `modify`
            // leaves get the fill value, unless it sets the whole buffer.
            None if !(covers && extent == shape) => fill_all(&mut buf, &self.meta.fill),
            None => {}
        }
        modify(Piece {
            chunk: &mut OutputBuffer::new(&mut buf, layout, elem)?,
            in_chunk,
            in_region,
            extent,
        })?;
        Ok(buf)
    }

    /// Encode one chunk for the store (None, to remove it, when it holds only the fill
    /// value). A raw native-order chunk is stored from `buf` itself.
    fn chunk_put(&self, idx: &[u64], buf: store::PooledBuf, shape: &[u64]) -> Result<store::Put> {
        let key = self.chunk_key(idx);
        if !self.write_empty_chunks && fill::all_fill(&buf, &self.meta.fill) {
            return Ok(store::Put { key, parts: None });
        }
        let (header, body) = self.meta.pipeline.encode_owned(buf, shape)?;
        Ok(store::Put {
            key,
            parts: Some(vec![header.into(), body]),
        })
    }

    /// One chunk as stored (N5 edge chunks clipped), decoded to C order; None if missing.
    pub fn read_chunk(&self, idx: &[u64]) -> Result<Option<ChunkData>> {
        self.check_chunk_index(idx)?;
        if self.meta.sharding.is_some() {
            return shard::read_chunk(self, idx);
        }
        let Some(bytes) = self.store.get(&self.chunk_key(idx))? else {
            return Ok(None);
        };
        let path = self.chunk_path(idx);
        let mut scratch = Vec::new();
        let nominal = self.stored_shape(idx);
        let d = self
            .meta
            .pipeline
            .decode(&bytes, &nominal, &self.meta.grid.chunk, &mut scratch)
            .map_err(|e| e.in_chunk(&path))?;
        if let Some(n) = d.varlen {
            scratch.truncate(d.nbytes);
            return Ok(Some(ChunkData {
                shape: vec![n],
                data: scratch,
                varlen: true,
            }));
        }
        to_c_order(scratch, &d.layout, d.nbytes, self.elem()).map(Some)
    }

    /// Store one chunk given in C order; `varlen` writes an N5 varlength block.
    pub fn write_chunk(&self, idx: &[u64], data: &[u8], varlen: bool) -> Result<()> {
        self.check_chunk_index(idx)?;
        if self.meta.sharding.is_some() {
            if varlen {
                return Err(Error::invalid("varlength chunks exist only in N5"));
            }
            return shard::write_chunk(self, idx, data);
        }
        let shape = if varlen {
            if self.meta.format != Format::N5 {
                return Err(Error::invalid("varlength chunks exist only in N5"));
            }
            if data.len() % self.elem() != 0 {
                return Err(Error::invalid(
                    "varlength data is not a whole number of elements",
                ));
            }
            self.stored_shape(idx)
        } else {
            let s = self.stored_shape(idx);
            self.check_len(&s, data.len())?;
            s
        };
        let bytes = self.meta.pipeline.encode(data, &shape, varlen)?;
        self.store.put(&self.chunk_key(idx), &bytes)
    }

    fn check_chunk_index(&self, idx: &[u64]) -> Result<()> {
        let per = self.chunks_per_dimension();
        if idx.len() != per.len() || idx.iter().zip(&per).any(|(i, n)| i >= n) {
            return Err(Error::invalid(format!(
                "chunk index {idx:?} is out of range for a grid of {per:?} chunks"
            )));
        }
        Ok(())
    }

    /// Chunks per dimension of the user-visible chunk grid.
    /// The shape an N5 chunk declares in its header (C order), or `None` when it is not
    /// stored; an error for other formats, which have no chunk header.
    pub fn chunk_header_shape(&self, idx: &[u64]) -> Result<Option<Vec<u64>>> {
        self.check_chunk_index(idx)?;
        if self.meta.format != Format::N5 {
            return Err(Error::invalid("only N5 chunks have a header"));
        }
        let Some(bytes) = self.store.get(&self.chunk_key(idx))? else {
            return Ok(None);
        };
        let (header, _) = crate::chunk::n5_header::N5Header::decode(&bytes)
            .map_err(|e| e.in_chunk(self.chunk_path(idx)))?;
        Ok(Some(header.shape))
    }

    pub fn chunks_per_dimension(&self) -> Vec<u64> {
        let chunk = self.chunk_shape();
        self.meta
            .grid
            .shape
            .iter()
            .zip(chunk)
            .map(|(s, c)| s.div_ceil(*c))
            .collect()
    }

    pub fn chunk_exists(&self, idx: &[u64]) -> Result<bool> {
        self.check_chunk_index(idx)?;
        if self.meta.sharding.is_some() {
            return shard::chunk_exists(self, idx);
        }
        Ok(self.store.size(&self.chunk_key(idx))?.is_some())
    }

    /// Indices of all stored chunks (of stored shards for a sharded array's storage grid).
    pub fn existing_storage_keys(&self) -> Result<Vec<Vec<u64>>> {
        let ndim = self.meta.grid.ndim();
        let keys = &self.meta.keys;
        let depth = keys.depth(ndim);
        let skip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        let listed = self.store.list_prefix(&self.prefix)?;
        let per = self.meta.grid.chunks_per_dim();
        let sep = keys.separator().to_string();
        let mut out: Vec<Vec<u64>> = listed
            .iter()
            .map(|k| &k[skip..])
            .filter(|rel| rel.split('/').count() == depth)
            .filter_map(|rel| keys.parse(&rel.replace('/', &sep), ndim))
            .filter(|idx| idx.iter().zip(&per).all(|(i, n)| i < n))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Indices of all chunks that hold data.
    pub fn existing_chunks(&self) -> Result<Vec<Vec<u64>>> {
        if self.meta.sharding.is_some() {
            return shard::existing_chunks(self);
        }
        self.existing_storage_keys()
    }

    /// The bytes this array stores for `data` of `shape` as one chunk.
    pub fn encode_chunk(&self, data: &[u8], shape: &[u64]) -> Result<Vec<u8>> {
        self.check_len(shape, data.len())?;
        match &self.meta.sharding {
            Some(s) => s.inner_pipeline.encode(data, shape, false),
            None => self.meta.pipeline.encode(data, shape, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Compressor;
    use crate::dtype::DataType;
    use crate::store::{ListableStore, MemoryStore, ReadableStore};

    /// Every layout: (format, shards, compressor), u16 data.
    fn layouts() -> Vec<(Format, Option<Vec<u64>>, Compressor)> {
        let gzip = Compressor::Gzip {
            level: 1,
            zlib: false,
        };
        vec![
            (Format::N5, None, Compressor::Raw),
            (Format::N5, None, gzip.clone()),
            (Format::ZarrV2, None, Compressor::Raw),
            (Format::ZarrV2, None, gzip.clone()),
            (Format::ZarrV3, None, Compressor::Raw),
            (Format::ZarrV3, Some(vec![6, 8, 4]), Compressor::Raw),
            (Format::ZarrV3, Some(vec![6, 8, 4]), gzip),
        ]
    }

    fn create(
        store: &Arc<MemoryStore>,
        prefix: &str,
        layout: &(Format, Option<Vec<u64>>, Compressor),
    ) -> Array {
        let spec = ArraySpec {
            compressor: layout.2.clone(),
            shards: layout.1.clone(),
            ..ArraySpec::new(layout.0, vec![13, 17, 9], vec![3, 4, 2], DataType::UInt16)
        };
        Array::create(store.clone(), prefix, &spec).unwrap()
    }

    /// A small deterministic generator (xorshift).
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Random regions written and read back on every layout equal a model array, with one
    /// and two threads; the array reopens from the store alike.
    #[test]
    fn regions_match_a_model_on_every_layout() {
        let shape = [13usize, 17, 9];
        for (n, layout) in layouts().into_iter().enumerate() {
            let store = Arc::new(MemoryStore::new());
            let a = create(&store, "g/arr", &layout);
            let mut model = vec![0u16; shape.iter().product()];
            let mut rng = Rng(0x9e37_79b9 + n as u64);
            for round in 0..30 {
                let start: Vec<u64> = shape.iter().map(|&s| rng.below(s as u64)).collect();
                let size: Vec<u64> = start
                    .iter()
                    .zip(&shape)
                    .map(|(&b, &s)| 1 + rng.below(s as u64 - b))
                    .collect();
                let count: usize = size.iter().product::<u64>() as usize;
                let vals: Vec<u16> = (0..count).map(|i| (round * 1000 + i + 1) as u16).collect();
                let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_ne_bytes()).collect();
                a.write_region(&start, &size, &bytes, 1 + round % 2)
                    .unwrap();
                let mut i = 0;
                for x in 0..size[0] as usize {
                    for y in 0..size[1] as usize {
                        for z in 0..size[2] as usize {
                            let (gx, gy, gz) = (
                                start[0] as usize + x,
                                start[1] as usize + y,
                                start[2] as usize + z,
                            );
                            model[(gx * shape[1] + gy) * shape[2] + gz] = vals[i];
                            i += 1;
                        }
                    }
                }
                // read back a random region
                let rs: Vec<u64> = shape.iter().map(|&s| rng.below(s as u64)).collect();
                let rz: Vec<u64> = rs
                    .iter()
                    .zip(&shape)
                    .map(|(&b, &s)| 1 + rng.below(s as u64 - b))
                    .collect();
                let mut out = vec![0u8; rz.iter().product::<u64>() as usize * 2];
                a.read_region(&rs, &rz, &mut out, 1 + round % 2).unwrap();
                let mut j = 0;
                for x in 0..rz[0] as usize {
                    for y in 0..rz[1] as usize {
                        for z in 0..rz[2] as usize {
                            let g = ((rs[0] as usize + x) * shape[1] + rs[1] as usize + y)
                                * shape[2]
                                + rs[2] as usize
                                + z;
                            let got = u16::from_ne_bytes([out[2 * j], out[2 * j + 1]]);
                            assert_eq!(got, model[g], "{layout:?} round {round}");
                            j += 1;
                        }
                    }
                }
            }
            let b = Array::open(store.clone() as Arc<dyn Store>, "g/arr").unwrap();
            let mut all = vec![0u8; model.len() * 2];
            b.read_region(&[0, 0, 0], &[13, 17, 9], &mut all, 2)
                .unwrap();
            let want: Vec<u8> = model.iter().flat_map(|v| v.to_ne_bytes()).collect();
            assert_eq!(all, want, "{layout:?}");
            // Chunks are listed from the store; nothing but the array lives under its prefix.
            assert!(!b.existing_chunks().unwrap().is_empty());
            assert!(store
                .list_prefix("g")
                .unwrap()
                .iter()
                .all(|k| k.starts_with("g/arr/")));
        }
    }

    /// Threads writing overlapping unaligned regions of shared chunks (disjoint elements)
    /// lose nothing: each partial chunk is a read-modify-write through `update`.
    #[test]
    fn threads_writing_parts_of_shared_chunks_lose_nothing() {
        for layout in layouts() {
            let store = Arc::new(MemoryStore::new());
            let a = create(&store, "", &layout);
            // Thread t writes the planes z == t (every chunk is shared by two threads).
            std::thread::scope(|s| {
                for t in 0..9u64 {
                    let a = &a;
                    s.spawn(move || {
                        let bytes: Vec<u8> = (0..13 * 17)
                            .flat_map(|_| (t as u16 + 1).to_ne_bytes())
                            .collect();
                        a.write_region(&[0, 0, t], &[13, 17, 1], &bytes, 1).unwrap();
                    });
                }
            });
            let mut out = vec![0u8; 13 * 17 * 9 * 2];
            a.read_region(&[0, 0, 0], &[13, 17, 9], &mut out, 1)
                .unwrap();
            for (i, v) in out.chunks(2).enumerate() {
                assert_eq!(
                    u16::from_ne_bytes([v[0], v[1]]) as usize,
                    i % 9 + 1,
                    "{layout:?}"
                );
            }
        }
    }

    /// Groups, arrays and attributes are found from keys alone (no directories).
    #[test]
    fn nodes_and_attributes_from_keys() {
        use crate::metadata::{node_info, NodeKind};
        use crate::node;
        for (format, layout) in [
            (Format::N5, layouts()[0].clone()),
            (Format::ZarrV2, layouts()[2].clone()),
            (Format::ZarrV3, layouts()[5].clone()),
        ] {
            let store = Arc::new(MemoryStore::new());
            let root = Loc::new(&*store, "");
            node::create_group(&root, format, true).unwrap();
            node::create_group(&Loc::new(&*store, "g"), format, false).unwrap();
            create(&store, "g/arr", &layout);
            let kind = |k: &str| node_info(&Loc::new(&*store, k)).unwrap().0;
            assert_eq!(kind("g/arr"), NodeKind::Array);
            assert_eq!(kind("nothing"), NodeKind::Missing);
            // (an N5 group created where empty directories do not exist gets an empty
            // attributes.json, so it is a group even before anything is stored below it)
            assert_eq!(kind("g"), NodeKind::Group);
            assert_eq!(store.list_dir("g").unwrap().prefixes, ["g/arr"]);
            // attribute updates from many threads keep every key
            let arr = Loc::new(&*store, "g/arr");
            std::thread::scope(|s| {
                for t in 0..8 {
                    let arr = &arr;
                    s.spawn(move || {
                        for i in 0..5 {
                            let mut set = serde_json::Map::new();
                            set.insert(format!("k{t}_{i}"), serde_json::json!(i));
                            node::update_attrs(arr, format, set, &[], false).unwrap();
                        }
                    });
                }
            });
            let attrs = node::read_attrs(&arr, format, false).unwrap();
            assert_eq!(attrs.len(), 40, "{format:?}");
            // the array still opens (its metadata kept) and user keys can be removed
            node::update_attrs(&arr, format, Default::default(), &["k0_0".into()], false).unwrap();
            assert_eq!(node::read_attrs(&arr, format, false).unwrap().len(), 39);
            Array::open(store.clone() as Arc<dyn Store>, "g/arr").unwrap();
            assert!(store.location("g/arr").starts_with("memory://"));
        }
    }

    /// A memory store that counts requests, and the most in flight at once; it reports
    /// `concurrency` and makes each read wait `delay`, like a store on a slow link.
    #[derive(Debug, Default)]
    struct ProbeOf<S> {
        inner: S,
        concurrency: usize,
        delay: std::time::Duration,
        requests: AtomicUsize,
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
    }
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    type Probe = ProbeOf<MemoryStore>;
    impl<S> ProbeOf<S> {
        fn request<R>(&self, f: impl FnOnce() -> R) -> R {
            self.requests.fetch_add(1, SeqCst);
            let now = self.in_flight.fetch_add(1, SeqCst) + 1;
            self.max_in_flight.fetch_max(now, SeqCst);
            std::thread::sleep(self.delay);
            let r = f();
            self.in_flight.fetch_sub(1, SeqCst);
            r
        }
    }
    impl<S: crate::store::Store> ReadableStore for ProbeOf<S> {
        fn location(&self, key: &str) -> String {
            self.inner.location(key)
        }
        fn get_into(&self, key: &str, buf: &mut Vec<u8>) -> Result<bool> {
            self.request(|| self.inner.get_into(key, buf))
        }
        fn get_ranges(
            &self,
            key: &str,
            ranges: &[crate::store::ByteRange],
        ) -> Result<Option<Vec<Vec<u8>>>> {
            self.request(|| self.inner.get_ranges(key, ranges))
        }
        fn get_ranges_versioned(
            &self,
            key: &str,
            ranges: &[crate::store::ByteRange],
            if_version: Option<&str>,
        ) -> Result<crate::store::Versioned> {
            self.request(|| self.inner.get_ranges_versioned(key, ranges, if_version))
        }
        fn size(&self, key: &str) -> Result<Option<u64>> {
            self.request(|| self.inner.size(key))
        }
        fn concurrency(&self) -> usize {
            self.concurrency.max(1)
        }
    }
    impl<S: crate::store::Store> crate::store::WritableStore for ProbeOf<S> {
        fn put_parts(&self, key: &str, parts: &[&[u8]]) -> Result<()> {
            self.inner.put_parts(key, parts)
        }
        fn delete(&self, key: &str) -> Result<()> {
            self.inner.delete(key)
        }
        fn delete_prefix(&self, prefix: &str) -> Result<()> {
            self.inner.delete_prefix(prefix)
        }
        fn update(
            &self,
            key: &str,
            f: &mut dyn FnMut(Option<&[u8]>) -> Result<Update>,
        ) -> Result<()> {
            self.inner.update(key, f)
        }
    }
    impl<S: crate::store::Store> ListableStore for ProbeOf<S> {
        fn list_dir(&self, prefix: &str) -> Result<crate::store::Listing> {
            self.inner.list_dir(prefix)
        }
        fn list_prefix(&self, prefix: &str) -> Result<Vec<String>> {
            self.inner.list_prefix(prefix)
        }
    }

    /// On a store that serves many requests at once, a read keeps that many in flight even
    /// when the caller asked for one thread; on local storage it keeps the caller's count.
    #[test]
    fn reads_keep_the_stores_concurrency_in_flight() {
        for (concurrency, want) in [(16, 8..=16), (1, 1..=1)] {
            let store = Arc::new(Probe {
                concurrency,
                delay: std::time::Duration::from_millis(5),
                ..Default::default()
            });
            let spec = ArraySpec::new(Format::ZarrV2, vec![64, 64], vec![8, 8], DataType::UInt8);
            let a = Array::create(store.clone(), "a", &spec).unwrap();
            let data: Vec<u8> = (0..64 * 64).map(|i| (i % 251) as u8).collect();
            a.write_region(&[0, 0], &[64, 64], &data, 1).unwrap();
            store.max_in_flight.store(0, SeqCst);
            let mut out = vec![0u8; 64 * 64];
            a.read_region(&[0, 0], &[64, 64], &mut out, 1).unwrap();
            assert_eq!(out, data);
            let most = store.max_in_flight.load(SeqCst);
            assert!(
                want.contains(&most),
                "concurrency {concurrency}: {most} in flight"
            );
            // selections fan out the same way
            store.max_in_flight.store(0, SeqCst);
            let rows: Vec<u64> = (0..64).step_by(3).collect();
            let cols: Vec<u64> = (0..64).step_by(5).collect();
            let mut sel = vec![0u8; rows.len() * cols.len()];
            crate::selection::read_orthogonal(&a, &[rows.clone(), cols.clone()], &mut sel, 1)
                .unwrap();
            assert_eq!(sel[1], data[5]);
            let most = store.max_in_flight.load(SeqCst);
            assert!(
                want.contains(&most),
                "selection, concurrency {concurrency}: {most}"
            );
        }
    }

    /// Over a network, a read of whole shards costs one request per shard (the index
    /// comes from the shard's own bytes); a shard shorter than its index is corrupt.
    #[test]
    fn whole_shards_over_a_network_are_one_request_each() {
        let store = Arc::new(Probe {
            concurrency: 4,
            ..Default::default()
        });
        let spec = ArraySpec {
            shards: Some(vec![8, 8]),
            ..ArraySpec::new(Format::ZarrV3, vec![16, 12], vec![4, 4], DataType::UInt16)
        };
        let a = Array::create(store.clone(), "s", &spec).unwrap();
        let data: Vec<u8> = (0..16 * 12 * 2).map(|i| (i % 253) as u8).collect();
        a.write_region(&[0, 0], &[16, 12], &data, 1).unwrap();
        store.requests.store(0, SeqCst);
        let mut out = vec![0u8; data.len()];
        a.read_region(&[0, 0], &[16, 12], &mut out, 1).unwrap();
        assert_eq!(out, data);
        assert_eq!(store.requests.load(SeqCst), 4); // 2 x 2 shards, the edge ones clipped
                                                    // a partial read of a shard still fetches only the ranges it needs
        store.requests.store(0, SeqCst);
        let mut part = vec![0u8; 3 * 3 * 2];
        a.read_region(&[1, 1], &[3, 3], &mut part, 1).unwrap();
        assert_eq!(store.requests.load(SeqCst), 2);
        assert_eq!(part[..2], data[(12 + 1) * 2..(12 + 2) * 2]);
        // a truncated shard is named as corrupt
        crate::store::WritableStore::put_parts(&store.inner, "s/c/1/1", &[b"short"]).unwrap();
        let err = a.read_region(&[0, 0], &[16, 12], &mut out, 1).unwrap_err();
        assert!(matches!(err, Error::CorruptChunk { .. }), "{err}");
        assert!(err.to_string().contains("s/c/1/1"), "{err}");
    }

    /// A 16 x 16 uint8 array "s" of one shard of 4 x 4 inner chunks on `store`, holding
    /// 0..=255 (returned), written.
    fn one_shard_of_16_chunks(store: Arc<dyn crate::store::Store>) -> (Array, Vec<u8>) {
        let spec = ArraySpec {
            shards: Some(vec![16, 16]),
            ..ArraySpec::new(Format::ZarrV3, vec![16, 16], vec![4, 4], DataType::UInt8)
        };
        let a = Array::create(store, "s", &spec).unwrap();
        let data: Vec<u8> = (0..=255).collect();
        a.write_region(&[0, 0], &[16, 16], &data, 1).unwrap();
        (a, data)
    }

    /// A partial read of one shard costs at most two store requests.
    #[test]
    fn a_partial_shard_read_is_two_requests() {
        let store = Arc::new(Probe::default());
        let (a, _) = one_shard_of_16_chunks(store.clone());
        store.requests.store(0, SeqCst);
        let mut out = vec![0u8; 7 * 9];
        a.read_region(&[3, 2], &[7, 9], &mut out, 1).unwrap();
        assert_eq!(store.requests.load(SeqCst), 2);
        assert_eq!(out[0], 3 * 16 + 2);
        assert_eq!(out[7 * 9 - 1], 9 * 16 + 10);
    }

    /// On an object store (versioned values), a shard's index is remembered: a repeated
    /// partial read is one conditional request; a shard another writer replaced answers
    /// "changed" and is read afresh, never through the stale index.
    #[test]
    fn remembered_shard_indexes_make_partial_reads_one_request() {
        let store = Arc::new(ProbeOf {
            inner: crate::store::object::ObjectStoreBackend::from_store(
                Arc::new(object_store::memory::InMemory::new()),
                "r",
                "mem://b/r",
                crate::store::object::Service::S3,
                8,
            ),
            concurrency: 8,
            delay: Default::default(),
            requests: Default::default(),
            in_flight: Default::default(),
            max_in_flight: Default::default(),
        });
        let (a, data) = one_shard_of_16_chunks(store.clone());
        let read = |a: &Array| {
            let mut out = vec![0u8; 7 * 9];
            a.read_region(&[3, 2], &[7, 9], &mut out, 1).unwrap();
            out
        };
        let want = read(&a);
        assert_eq!(want[0], 3 * 16 + 2);
        for (round, requests) in [(0, 1), (1, 1)] {
            store.requests.store(0, SeqCst);
            assert_eq!(read(&a), want, "round {round}");
            assert_eq!(store.requests.load(SeqCst), requests, "round {round}");
        }
        // Another writer (another Array on the same store) replaces the shard: the read
        // sees the new data, at the price of one refused request.
        let other = Array::open(store.clone(), "s").unwrap();
        let twice: Vec<u8> = data.iter().map(|v| v.wrapping_mul(2)).collect();
        other.write_region(&[0, 0], &[16, 16], &twice, 1).unwrap();
        store.requests.store(0, SeqCst);
        let got = read(&a);
        assert_eq!(got[0], (3 * 16 + 2) * 2);
        assert_eq!(store.requests.load(SeqCst), 3); // refused, index, chunks
        store.requests.store(0, SeqCst);
        assert_eq!(read(&a), got);
        assert_eq!(store.requests.load(SeqCst), 1);
        // A shard deleted meanwhile reads as the fill value; single chunks take the same path.
        crate::store::WritableStore::delete(&*store, "s/c/0/0").unwrap();
        assert_eq!(read(&a), vec![0u8; 7 * 9]);
        assert!(a.read_chunk(&[1, 1]).unwrap().is_none());
        // This array's own writes forget what they replace.
        a.write_region(&[0, 0], &[16, 16], &data, 1).unwrap();
        store.requests.store(0, SeqCst);
        assert_eq!(read(&a), want);
        assert_eq!(store.requests.load(SeqCst), 2);
        assert_eq!(a.read_chunk(&[0, 0]).unwrap().unwrap().data[5], 16 + 1);
    }
}
