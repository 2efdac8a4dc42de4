//! How an array's chunks are reached in its store: the interface the two layouts
//! implement, one stored value per chunk (`crate::plain`) or many inner chunks per shard
//! (`crate::shard`), and what both share. `Array` picks its layout once, when it is opened
//! or created, and hands every region and chunk call to it with a [`Ctx`], so no code
//! above this interface asks whether an array is sharded, and neither layout knows
//! `Array`.

use crate::chunk::copy::{fill_all, ChunkView, Layout, OutputBuffer};
use crate::chunk::grid::{spans_all, ChunkGrid};
use crate::error::{Error, Result};
use crate::metadata::ArrayMeta;
use crate::pipeline::Pipeline;
use crate::store::{self, Store};

/// What a layout works from: the array's store, key prefix and metadata, and whether
/// chunks holding only the fill value are stored (zarr-python's `write_empty_chunks`).
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub store: &'a dyn Store,
    pub prefix: &'a str,
    pub meta: &'a ArrayMeta,
    pub write_empty_chunks: bool,
}

/// A chunk decoded to C order and native byte order.
pub struct ChunkData {
    pub shape: Vec<u64>,
    pub data: Vec<u8>,
    pub varlen: bool,
}

/// One chunk's part of a region being changed (see [`ChunkAccess::modify_region`]): the
/// chunk's contents, decoded to C order, and where the part lies in the chunk
/// (`in_chunk`) and in the region (`in_region`), of `extent`.
pub struct Piece<'a, 'b> {
    pub chunk: &'a mut OutputBuffer<'b>,
    pub in_chunk: &'a [usize],
    pub in_region: &'a [usize],
    pub extent: &'a [usize],
}

/// Changes one chunk's part of a region (see [`ChunkAccess::modify_region`]).
pub type Modify<'a> = dyn Fn(Piece) -> Result<()> + Sync + 'a;

/// How much of a box of a region a change sets (see [`Sets`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touch {
    Nothing,
    Some,
    All,
}

/// Which elements of its region a change sets, which decides what of the stored chunks a
/// write needs: a region write sets them all; a selection (`crate::selection`) writes its
/// elements through the box bounding those of one stored value (a shard's, for a sharded
/// array, so that each shard is rewritten once), most chunks of which it may set in part
/// or not at all.
#[derive(Clone, Copy)]
pub enum Sets<'a> {
    /// Every element of the region.
    All,
    /// What `touch(in_region, extent)` says of the box at `in_region` of `extent` of the
    /// region, asked of each chunk's part (and of each shard's) before its stored bytes
    /// are read.
    Where(&'a (dyn Fn(&[usize], &[usize]) -> Touch + Sync)),
}

impl Sets<'_> {
    /// What the change does to a chunk (or shard) whose part of the region is the box at
    /// `in_region` of `extent`, `inside` being its extent inside the array: None, nothing
    /// (it keeps its stored bytes, neither read nor decoded); Some(true), it sets every
    /// element of it (its old bytes are not needed, and no lock); Some(false), some.
    pub fn chunk(&self, in_region: &[usize], extent: &[usize], inside: &[u64]) -> Option<bool> {
        let touch = match self {
            Sets::All => Touch::All,
            Sets::Where(touch) => touch(in_region, extent),
        };
        match touch {
            Touch::Nothing => None,
            Touch::Some => Some(false),
            Touch::All => Some(spans_all(extent, inside)),
        }
    }
}

/// One unit of an array that decodes its units itself (`crate::objects`), met by a read:
/// its index in the unit grid, its stored bytes (None: not stored), and what names it in
/// errors.
pub struct UnitRead<'s> {
    pub gidx: &'s [u64],
    pub bytes: Option<&'s [u8]>,
    pub name: UnitName<'s>,
}

/// One unit a region write touches, inside the array: where it meets the region (as
/// `overlap` gives it), whether the write sets all of it that lies in the array (`full`:
/// its old bytes are not needed), and what names it in errors.
pub struct UnitWrite<'s> {
    pub in_chunk: Vec<usize>,
    pub in_reg: Vec<usize>,
    pub ext: Vec<usize>,
    pub full: bool,
    pub name: UnitName<'s>,
}

/// What names a unit in errors: the file holding it and, in a shard, its index there.
#[derive(Clone, Copy)]
pub struct UnitName<'s> {
    pub path: &'s str,
    pub inner: Option<&'s [u64]>,
}

impl UnitName<'_> {
    /// An error of decoding the unit, as corrupt data named by its file.
    pub fn error(&self, e: Error) -> Error {
        match self.inner {
            Some(local) => e.in_inner_chunk(self.path, local),
            None => e.in_chunk(self.path),
        }
    }
}

/// Maps a unit a read touches to what the caller keeps of it.
pub type UnitReadFn<'a> = dyn Fn(&mut Vec<u8>, &UnitRead) -> Result<()> + Sync + 'a;

/// The new stored bytes of a unit a write touches (None: not stored), from its old bytes
/// (None: not stored, or not read because the write sets all of it).
pub type UnitWriteFn<'a> =
    dyn Fn(&mut Vec<u8>, &UnitWrite, Option<&[u8]>) -> Result<Option<store::PooledBuf>> + Sync + 'a;

/// The chunk operations whose work depends on how chunks are stored. Arguments are
/// checked by `Array` before they get here (regions inside the array, buffer lengths,
/// chunk indices in the grid of user-visible chunks).
pub trait ChunkAccess: std::fmt::Debug + Send + Sync {
    /// The user-visible chunk shape (inner chunks of a sharded array).
    fn chunk_shape<'m>(&self, meta: &'m ArrayMeta) -> &'m [u64];

    /// Where the value holding user-visible chunk `idx` is (path or URL), for messages.
    fn chunk_file(&self, cx: &Ctx, idx: &[u64]) -> String;

    /// Read the region at `start` of `shape` into `out` (C order, native byte order).
    fn read_region(
        &self,
        cx: &Ctx,
        start: &[u64],
        shape: &[u64],
        out: &mut [u8],
        n_threads: usize,
    ) -> Result<()>;

    /// Change the region at `start` of `shape` in place: `modify` is called once for each
    /// chunk the region touches with the chunk's part of it ([`Piece`]), inside the
    /// chunk's (shard's) read-modify-write, which holds its lock from the read to the
    /// write (see `WritableStore::update`); each shard is rewritten once. `sets`: the
    /// elements `modify` sets (see [`Sets::chunk`]); a chunk they fill is neither read nor
    /// locked, a chunk holding none of them is left as it is stored.
    fn modify_region(
        &self,
        cx: &Ctx,
        start: &[u64],
        shape: &[u64],
        sets: Sets,
        n_threads: usize,
        modify: &Modify,
    ) -> Result<()>;

    /// One chunk, decoded to C order; None if missing.
    fn read_chunk(&self, cx: &Ctx, idx: &[u64]) -> Result<Option<ChunkData>>;

    /// Store one chunk given in C order; `varlen` writes an N5 varlength block.
    fn write_chunk(&self, cx: &Ctx, idx: &[u64], data: &[u8], varlen: bool) -> Result<()>;

    fn chunk_exists(&self, cx: &Ctx, idx: &[u64]) -> Result<bool>;

    /// Indices of all chunks that hold data.
    fn existing_chunks(&self, cx: &Ctx) -> Result<Vec<Vec<u64>>>;

    /// The bytes this array stores for `data` of `shape` as one chunk.
    fn encode_chunk(&self, cx: &Ctx, data: &[u8], shape: &[u64]) -> Result<Vec<u8>>;

    /// The grid of units an array of variable-length items encodes its items in, and
    /// their codec chain: its chunks, or the inner chunks of its shards.
    fn units<'m>(&self, meta: &'m ArrayMeta) -> (ChunkGrid, &'m Pipeline);

    /// Call `f` on every unit the region at `start` of `shape` touches, in parallel, with
    /// its stored bytes.
    fn read_units(
        &self,
        cx: &Ctx,
        start: &[u64],
        shape: &[u64],
        n_threads: usize,
        f: &UnitReadFn,
    ) -> Result<()>;

    /// Write the region at `start` of `shape`: `f` gives the new bytes of every unit it
    /// touches that holds elements `sets` sets (see [`Sets::chunk`]), each under its
    /// value's read-modify-write unless the write sets all of the value; the other units
    /// keep their bytes.
    fn write_units(
        &self,
        cx: &Ctx,
        start: &[u64],
        shape: &[u64],
        sets: Sets,
        n_threads: usize,
        f: &UnitWriteFn,
    ) -> Result<()>;
}

impl Ctx<'_> {
    pub fn elem(&self) -> usize {
        self.meta.dtype.size()
    }

    /// An error for an array of variable-length items, which the fixed-size paths refuse.
    pub fn check_fixed_size(&self) -> Result<()> {
        if self.meta.dtype.is_object() {
            // Variable-length items go through `crate::objects`, never as fixed-size bytes.
            return Err(Error::invalid(format!(
                "{} holds variable-length items; read and write them as objects",
                self.meta.meta_path
            )));
        }
        Ok(())
    }

    /// An error unless `len` bytes are the elements of a region of `shape`.
    pub fn check_len(&self, shape: &[u64], len: usize) -> Result<()> {
        self.check_fixed_size()?;
        let need = shape.iter().product::<u64>() as usize * self.elem();
        if need != len {
            return Err(Error::invalid(format!(
                "buffer has {len} bytes, region {shape:?} needs {need}"
            )));
        }
        Ok(())
    }

    /// Store key of the stored value (chunk or shard) at a storage-grid index.
    pub fn chunk_key(&self, idx: &[u64]) -> String {
        store::join(self.prefix, &self.meta.keys.key(idx))
    }

    /// Read-modify-write of the stored value (chunk or shard) at `key`, locked under the
    /// array's node (see [`store::WritableStore::update_under`]).
    pub fn update_stored(
        &self,
        key: &str,
        f: &mut dyn FnMut(Option<&[u8]>) -> Result<store::Update>,
    ) -> Result<()> {
        self.store.update_under(self.prefix, key, f)
    }

    /// Where the stored value at a storage-grid index is (path or URL), for messages.
    pub fn chunk_path(&self, idx: &[u64]) -> String {
        self.store.location(&self.chunk_key(idx))
    }

    /// Indices of all stored values (chunks, or shards of a sharded array) in the storage
    /// grid, listed from the store.
    pub fn existing_storage_keys(&self) -> Result<Vec<Vec<u64>>> {
        let ndim = self.meta.grid.ndim();
        let keys = &self.meta.keys;
        let depth = keys.depth(ndim);
        let skip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        let listed = self.store.list_prefix(self.prefix)?;
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

    /// The new contents of one chunk (C order of its decoded `shape`, plain or inner): the
    /// `old` chunk's where it has them, else the fill value, then `modify` on the piece
    /// (`in_chunk`, `in_region`, `extent`) of the region. `covers`: the piece spans every
    /// element of the chunk inside the array and `modify` sets them all, so `old` is not
    /// needed (callers pass None).
    pub fn merge_piece(
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
}

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
