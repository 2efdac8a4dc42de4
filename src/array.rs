//! An open array: the public face that checks arguments (regions inside the array, buffer
//! lengths, chunk indices) and hands the work to the array's layout, one stored value per
//! chunk (`crate::plain`) or shards of inner chunks (`crate::shard`), chosen once when the
//! array is opened or created (see `crate::access`).

use crate::access::{ChunkAccess, Ctx, Sets};
use crate::error::{Error, Result};
use crate::metadata::{self, ArrayMeta, ArraySpec, Format, Loc};
use crate::plain::Plain;
use crate::shard::Sharded;
use crate::store::Store;
use std::sync::Arc;

pub use crate::access::{ChunkData, Modify, Piece};

#[derive(Clone, Debug)]
pub struct Array {
    /// Where the array lives: a store and the array's key prefix in it.
    pub store: Arc<dyn Store>,
    pub prefix: String,
    pub meta: ArrayMeta,
    /// Store chunks that hold only the fill value (zarr-python's `write_empty_chunks`);
    /// by default they are removed instead.
    pub write_empty_chunks: bool,
    /// How the chunks are stored, from `meta`; clones of the array share it (and so the
    /// shard indexes a sharded array remembers).
    pub(crate) access: Arc<dyn ChunkAccess>,
}

/// Memory the extra tasks of a call on a remote store may hold at once (see `Array::tasks`).
const TASK_MEMORY: usize = 256 << 20;

impl Array {
    fn new(store: Arc<dyn Store>, prefix: &str, meta: ArrayMeta) -> Array {
        let access: Arc<dyn ChunkAccess> = match meta.sharding {
            Some(_) => Arc::new(Sharded::default()),
            None => Arc::new(Plain),
        };
        Array {
            store,
            prefix: prefix.to_string(),
            meta,
            write_empty_chunks: false,
            access,
        }
    }

    /// Open the array at `prefix` of `store`.
    pub fn open(store: Arc<dyn Store>, prefix: &str) -> Result<Array> {
        let meta = metadata::open(&Loc::new(&*store, prefix))?;
        Ok(Array::new(store, prefix, meta))
    }

    /// Write the metadata of a new array at `prefix` of `store` and open it.
    pub fn create(store: Arc<dyn Store>, prefix: &str, spec: &ArraySpec) -> Result<Array> {
        let meta = metadata::create(&Loc::new(&*store, prefix), spec)?;
        Ok(Array::new(store, prefix, meta))
    }

    /// What the layout works from.
    pub(crate) fn cx(&self) -> Ctx<'_> {
        Ctx {
            store: &*self.store,
            prefix: &self.prefix,
            meta: &self.meta,
            write_empty_chunks: self.write_empty_chunks,
        }
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
        self.cx().elem()
    }

    /// The user-visible chunk shape (inner chunks of a sharded array).
    pub fn chunk_shape(&self) -> &[u64] {
        self.access.chunk_shape(&self.meta)
    }

    /// Store key of the stored object (chunk or shard) at a storage-grid index.
    pub fn chunk_key(&self, idx: &[u64]) -> String {
        self.cx().chunk_key(idx)
    }

    /// Where the stored object at a storage-grid index is (path or URL), for messages.
    pub fn chunk_path(&self, idx: &[u64]) -> String {
        self.cx().chunk_path(idx)
    }

    /// Where the value holding the user-visible chunk `idx` is (its shard when sharded).
    pub fn chunk_file(&self, idx: &[u64]) -> String {
        self.access.chunk_file(&self.cx(), idx)
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
        let cx = self.cx();
        cx.check_len(shape, out.len())?;
        self.access.read_region(&cx, start, shape, out, n_threads)
    }

    /// Write `data` (C order, native byte order) as the region at `start` of `shape`.
    pub fn write_region(
        &self,
        start: &[u64],
        shape: &[u64],
        data: &[u8],
        n_threads: usize,
    ) -> Result<()> {
        self.cx().check_len(shape, data.len())?;
        let ushape: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
        let src_layout = crate::chunk::copy::Layout::c_order(&ushape, self.elem());
        self.modify_region(start, shape, Sets::All, n_threads, &|piece| {
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
    /// nothing; each shard is rewritten once. `sets`: the elements `modify` sets (see
    /// [`Sets::chunk`]); a chunk they fill is neither read nor locked, a chunk holding
    /// none of them is left as it is stored.
    pub fn modify_region(
        &self,
        start: &[u64],
        shape: &[u64],
        sets: Sets,
        n_threads: usize,
        modify: &Modify,
    ) -> Result<()> {
        let n_threads = self.tasks(n_threads);
        self.meta.grid.check_region(start, shape)?;
        let cx = self.cx();
        cx.check_fixed_size()?;
        self.access
            .modify_region(&cx, start, shape, sets, n_threads, modify)
    }

    /// One chunk as stored (N5 edge chunks clipped), decoded to C order; None if missing.
    pub fn read_chunk(&self, idx: &[u64]) -> Result<Option<ChunkData>> {
        self.check_chunk_index(idx)?;
        self.access.read_chunk(&self.cx(), idx)
    }

    /// Store one chunk given in C order; `varlen` writes an N5 varlength block.
    pub fn write_chunk(&self, idx: &[u64], data: &[u8], varlen: bool) -> Result<()> {
        self.check_chunk_index(idx)?;
        self.access.write_chunk(&self.cx(), idx, data, varlen)
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

    /// Chunks per dimension of the user-visible chunk grid.
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
        self.access.chunk_exists(&self.cx(), idx)
    }

    /// Indices of all stored chunks (of stored shards for a sharded array's storage grid).
    pub fn existing_storage_keys(&self) -> Result<Vec<Vec<u64>>> {
        self.cx().existing_storage_keys()
    }

    /// Indices of all chunks that hold data.
    pub fn existing_chunks(&self) -> Result<Vec<Vec<u64>>> {
        self.access.existing_chunks(&self.cx())
    }

    /// The bytes this array stores for `data` of `shape` as one chunk.
    pub fn encode_chunk(&self, data: &[u8], shape: &[u64]) -> Result<Vec<u8>> {
        let cx = self.cx();
        cx.check_len(shape, data.len())?;
        self.access.encode_chunk(&cx, data, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Compressor;
    use crate::dtype::DataType;
    use crate::store::{ListableStore, MemoryStore, ReadableStore, Update};

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
        fn update_under(
            &self,
            node: &str,
            key: &str,
            f: &mut dyn FnMut(Option<&[u8]>) -> Result<Update>,
        ) -> Result<()> {
            self.inner.update_under(node, key, f)
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
