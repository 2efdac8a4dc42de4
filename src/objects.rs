//! Object arrays: variable-length items (Zarr v2 `|O` with `vlen-utf8`, `vlen-bytes` or
//! `json2`; Zarr v3 `string` and `variable_length_bytes`). Chunks are fetched, decompressed
//! and their items decoded in parallel; the items of a region travel as one buffer of
//! bytes and offsets (or JSON values), which the binding turns into Python objects.
//!
//! The units are the array's chunks, or in a sharded Zarr v3 array the inner chunks,
//! encoded by the inner codec chain; the array's layout (`crate::access::ChunkAccess`:
//! `crate::plain`, `crate::shard`) reads and rewrites the stored values (for shards: index,
//! byte ranges, atomic rewrite) and hands each unit's bytes here.
//!
//! These arrays never go through the fixed-size region paths of `array.rs`, which refuse
//! them.

use crate::access::{Sets, UnitWrite};
use crate::array::Array;
use crate::chunk::copy::Layout;
use crate::chunk::grid::{overlap, ChunkGrid};
use crate::codec::json2;
use crate::codec::vlen::{self, Items};
use crate::dtype::{DataType, ObjectCodec};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::store::PooledBuf;
use serde_json::Value;

/// Decoded items, of a chunk (in its stored order) or of a region (C order).
#[derive(Clone, Debug, PartialEq)]
pub enum Objects {
    /// `vlen-utf8` (valid UTF-8, checked) and `vlen-bytes` items.
    Vlen(Items),
    /// `json2` items.
    Json(Vec<Value>),
}

impl Objects {
    pub fn len(&self) -> usize {
        match self {
            Objects::Vlen(items) => items.len(),
            Objects::Json(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The items at the indices `which`, in that order.
    pub fn pick(&self, which: impl Iterator<Item = usize>) -> Objects {
        match self {
            Objects::Vlen(items) => {
                let mut out = Items::new();
                which.for_each(|i| out.push(items.get(i)));
                Objects::Vlen(out)
            }
            Objects::Json(values) => Objects::Json(which.map(|i| values[i].clone()).collect()),
        }
    }
}

/// One chunk's share of a region read: the items of the chunk (None: not stored, read as
/// the fill value) and where the box they contribute lies in the chunk and the region.
pub struct ObjectPart {
    pub items: Option<Objects>,
    /// Item-index steps of the chunk per axis, and the index of the box's first item.
    pub chunk_strides: Vec<usize>,
    pub chunk_start: usize,
    /// The box's offset in the region and its extent.
    pub in_region: Vec<usize>,
    pub extent: Vec<usize>,
}

impl ObjectPart {
    /// Call `f(item index in the chunk, C-order index in the region)` for every element of
    /// the box, in the region's order.
    pub fn for_each(&self, region_shape: &[usize], mut f: impl FnMut(usize, usize)) {
        let region = Layout::c_order(region_shape, 1);
        walk(
            &self.extent,
            (&self.chunk_strides, self.chunk_start),
            (&region.strides, region.offset(&self.in_region)),
            &mut f,
        );
    }
}

/// Visit every element of a box of `extent` in two strided index spaces (C order).
fn walk(
    extent: &[usize],
    a: (&[usize], usize),
    b: (&[usize], usize),
    f: &mut impl FnMut(usize, usize),
) {
    if extent.contains(&0) {
        return;
    }
    let nd = extent.len();
    if nd == 0 {
        f(a.1, b.1);
        return;
    }
    let (sa, sb) = (a.0[nd - 1], b.0[nd - 1]);
    let mut pos = vec![0usize; nd];
    loop {
        let base_a = a.1 + pos.iter().zip(a.0).map(|(p, s)| p * s).sum::<usize>();
        let base_b = b.1 + pos.iter().zip(b.0).map(|(p, s)| p * s).sum::<usize>();
        for i in 0..extent[nd - 1] {
            f(base_a + i * sa, base_b + i * sb);
        }
        // next row
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            pos[d] += 1;
            if pos[d] < extent[d] {
                break;
            }
            pos[d] = 0;
        }
    }
}

/// Where the items of a write go in one unit: `place(part, set)` calls `set(item index in
/// the unit, index in the items written)` for the items it sets in the unit's `part` (see
/// [`Array::modify_objects`]); an index beyond either is an error.
pub type Place<'a> = dyn Fn(&ObjectPart, &mut dyn FnMut(usize, usize)) -> Result<()> + Sync + 'a;

/// The units the items of an object array are encoded in: its chunks, or the inner chunks
/// of its shards, with their codec chain and where item (i0, i1, ...) is in a unit.
struct Units<'a> {
    codec: ObjectCodec,
    /// Whether a unit left holding only the fill item is removed (not when chunks never
    /// written read as something else, see `Array::object_missing`).
    drop_fill: bool,
    grid: ChunkGrid,
    pipeline: &'a Pipeline,
    layout: Layout,
}

impl Units<'_> {
    fn items(&self) -> usize {
        self.grid.chunk_elems()
    }

    fn shape(&self) -> Vec<usize> {
        self.grid.chunk.iter().map(|&c| c as usize).collect()
    }

    /// A unit's share of a region, from where they overlap (as `overlap` gives it: the
    /// box's start in the unit and in the region, and its extent).
    fn part(
        &self,
        (in_chunk, in_region, extent): (Vec<usize>, Vec<usize>, Vec<usize>),
    ) -> ObjectPart {
        ObjectPart {
            items: None,
            chunk_strides: self.layout.strides.clone(),
            chunk_start: self.layout.offset(&in_chunk),
            in_region,
            extent,
        }
    }

    /// Decode the stored bytes of one unit into its items (errors unnamed: the caller
    /// names the chunk or shard).
    fn decode(&self, stored: &[u8]) -> Result<Objects> {
        let n = self.items();
        let raw = self.pipeline.decode_bytes(stored)?;
        Ok(match self.codec {
            ObjectCodec::VlenUtf8 => Objects::Vlen(vlen::decode("vlen-utf8", &raw, n, true)?),
            ObjectCodec::VlenBytes => Objects::Vlen(vlen::decode("vlen-bytes", &raw, n, false)?),
            ObjectCodec::Json2 => Objects::Json(json2::decode(&raw, &self.shape())?),
        })
    }
}

impl Array {
    /// The object codec of an object array; an error for other arrays.
    pub fn object_codec(&self) -> Result<ObjectCodec> {
        let DataType::Object(codec) = self.meta.dtype else {
            return Err(Error::invalid(format!(
                "{} holds {}, not variable-length items",
                self.meta.meta_path,
                self.meta.dtype.name()
            )));
        };
        Ok(codec)
    }

    /// The units of an object array. Vlen items follow a unit's memory order (Zarr v2
    /// `order`, Zarr v3 `transpose`), json2 nests them in C order.
    fn units(&self, codec: ObjectCodec) -> Units<'_> {
        let (grid, pipeline) = self.access.units(&self.meta);
        let shape: Vec<usize> = grid.chunk.iter().map(|&c| c as usize).collect();
        let layout = match (&pipeline.permutation, codec) {
            (Some(p), ObjectCodec::VlenUtf8 | ObjectCodec::VlenBytes) => {
                Layout::permuted(&shape, p, 1)
            }
            _ => Layout::c_order(&shape, 1),
        };
        Units {
            codec,
            drop_fill: !self.write_empty_chunks && self.object_missing().is_none(),
            grid,
            pipeline,
            layout,
        }
    }

    /// The fill item as `Objects` of one element.
    pub fn object_fill(&self) -> Result<Objects> {
        let codec = self.object_codec()?;
        let fill = &self.meta.fill;
        Ok(match codec {
            ObjectCodec::Json2 => {
                Objects::Json(vec![serde_json::from_slice(fill).unwrap_or(Value::Null)])
            }
            _ => {
                let mut items = Items::new();
                items.push(fill);
                Objects::Vlen(items)
            }
        })
    }

    /// What items of chunks never written read as, when it is not the fill item: the
    /// metadata's fill value, for a vlen array whose fill value is not a string (zarr-python
    /// 2 writes `0` by default, or `null`). zarr-python 2 reads such items as that value
    /// itself (an int 0, None); the chunks it writes hold the empty item where nothing was
    /// written, as numcodecs encodes 0 and None (zarr-python 3 reads them as `str(0)`,
    /// which its issue #2792 counts as a bug).
    pub fn object_missing(&self) -> Option<Value> {
        match self.meta.dtype {
            DataType::Object(ObjectCodec::VlenUtf8 | ObjectCodec::VlenBytes) => {
                match self.meta.doc.get("fill_value") {
                    Some(Value::String(_)) | None => None,
                    Some(v) => Some(v.clone()),
                }
            }
            _ => None,
        }
    }

    /// Decode the stored bytes of chunk `idx` of an unsharded array into its items.
    pub fn decode_objects(&self, idx: &[u64], stored: &[u8]) -> Result<Objects> {
        let units = self.units(self.object_codec()?);
        units
            .decode(stored)
            .map_err(|e| e.in_chunk(self.chunk_path(idx)))
    }

    /// Read the units the region at `start` of `shape` touches, decoded, on `n_threads`.
    pub fn read_objects(
        &self,
        start: &[u64],
        shape: &[u64],
        n_threads: usize,
    ) -> Result<Vec<ObjectPart>> {
        let codec = self.object_codec()?;
        self.meta.grid.check_region(start, shape)?;
        if shape.contains(&0) {
            return Ok(vec![]);
        }
        let units = self.units(codec);
        let parts = std::sync::Mutex::new(Vec::new());
        self.access
            .read_units(&self.cx(), start, shape, n_threads, &|_, u| {
                let items = u.bytes.map(|b| units.decode(b)).transpose();
                let part = ObjectPart {
                    items: items.map_err(|e| u.name.error(e))?,
                    ..units.part(overlap(
                        &units.grid.origin(u.gidx),
                        &units.grid.chunk,
                        start,
                        shape,
                    ))
                };
                parts.lock().unwrap_or_else(|p| p.into_inner()).push(part);
                Ok(())
            })?;
        Ok(parts.into_inner().unwrap_or_else(|p| p.into_inner()))
    }

    /// Write `data` (the region's items in C order) as the region at `start` of `shape`.
    /// Chunks the region covers in part are read, merged and rewritten under the store's
    /// per-chunk update; a chunk left holding only the fill value is removed.
    pub fn write_objects(
        &self,
        start: &[u64],
        shape: &[u64],
        data: &Objects,
        n_threads: usize,
    ) -> Result<()> {
        let count = shape.iter().product::<u64>() as usize;
        if data.len() != count {
            return Err(Error::invalid(format!(
                "{} items given, region {shape:?} holds {count}",
                data.len()
            )));
        }
        let region_shape: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
        self.modify_objects(start, shape, Sets::All, data, n_threads, &|part, set| {
            part.for_each(&region_shape, &mut *set);
            Ok(())
        })
    }

    /// Set items of the region at `start` of `shape` to items of `data`: `place` is called
    /// once for each unit (chunk, or inner chunk of a shard) the region touches, with the
    /// unit's part of the region, and calls `set(item index in the unit, index in data)`
    /// for the items it sets (the last call for an item wins). Each unit is changed inside
    /// its chunk's (shard's) read-modify-write under the store's `update`, which holds the
    /// chunk's lock from the read to the write, so writers of other items of the unit lose
    /// nothing; each shard is rewritten once. `sets`: the items `place` sets (see
    /// [`Sets::chunk`]); a unit they fill is neither read nor locked, a unit holding none
    /// of them keeps its stored bytes. A unit left holding only the fill item is removed.
    pub fn modify_objects(
        &self,
        start: &[u64],
        shape: &[u64],
        sets: Sets,
        data: &Objects,
        n_threads: usize,
        place: &Place,
    ) -> Result<()> {
        let codec = self.object_codec()?;
        self.meta.grid.check_region(start, shape)?;
        if shape.contains(&0) {
            return Ok(());
        }
        let matches = matches!(
            (codec, data),
            (ObjectCodec::Json2, Objects::Json(_))
                | (
                    ObjectCodec::VlenUtf8 | ObjectCodec::VlenBytes,
                    Objects::Vlen(_)
                )
        );
        if !matches {
            return Err(Error::invalid(format!(
                "items of the wrong kind for a {} array",
                codec.id()
            )));
        }
        let units = self.units(codec);
        let fill = self.object_fill()?;
        let merge = |old: Option<Objects>, part: &ObjectPart| {
            self.merge_chunk(&units, old.as_ref(), &fill, data, part, place)
        };
        let each = |_: &mut Vec<u8>, u: &UnitWrite, old: Option<&[u8]>| {
            let old = old.map(|b| units.decode(b).map_err(|e| u.name.error(e)));
            let part = units.part((u.in_chunk.clone(), u.in_reg.clone(), u.ext.clone()));
            Ok(merge(old.transpose()?, &part)?.map(PooledBuf::from))
        };
        self.access
            .write_units(&self.cx(), start, shape, sets, n_threads, &each)
    }

    /// The stored bytes of a chunk: its old items (or the fill value) with the items of
    /// `data` that `place` sets in its `part`; None when it holds only the fill value.
    fn merge_chunk(
        &self,
        units: &Units,
        old: Option<&Objects>,
        fill: &Objects,
        data: &Objects,
        part: &ObjectPart,
        place: &Place,
    ) -> Result<Option<Vec<u8>>> {
        let n = units.items();
        let raw = match (data, fill) {
            (Objects::Vlen(new), Objects::Vlen(fill)) => {
                let fill = fill.get(0);
                let mut refs: Vec<&[u8]> = match old {
                    Some(Objects::Vlen(items)) => items.iter().collect(),
                    _ => vec![fill; n],
                };
                let mut outside = false;
                place(part, &mut |c, r| match refs.get_mut(c) {
                    Some(slot) if r < new.len() => *slot = new.get(r),
                    _ => outside = true,
                })?;
                if outside {
                    return Err(Error::invalid(
                        "an item placed outside its chunk or the items",
                    ));
                }
                if units.drop_fill && refs.iter().all(|r| *r == fill) {
                    return Ok(None);
                }
                let bytes = refs.iter().map(|r| r.len()).sum();
                vlen::encode(n, bytes, refs.into_iter())?
            }
            (Objects::Json(new), Objects::Json(fill)) => {
                let fill = &fill[0];
                let mut refs: Vec<&Value> = match old {
                    Some(Objects::Json(values)) => values.iter().collect(),
                    _ => vec![fill; n],
                };
                let mut outside = false;
                place(part, &mut |c, r| match (refs.get_mut(c), new.get(r)) {
                    (Some(slot), Some(v)) => *slot = v,
                    _ => outside = true,
                })?;
                if outside {
                    return Err(Error::invalid(
                        "an item placed outside its chunk or the items",
                    ));
                }
                if units.drop_fill && refs.iter().all(|r| *r == fill) {
                    return Ok(None);
                }
                json2::encode(&refs, &units.shape())?
            }
            _ => {
                return Err(Error::invalid(format!(
                    "items do not fit a {} array",
                    units.codec.id()
                )))
            }
        };
        units.pipeline.encode_bytes(raw).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Compressor;
    use crate::dtype::Endian;
    use crate::metadata::{ArraySpec, Format};
    use crate::store::{MemoryStore, Store};
    use std::sync::Arc;

    fn spec(format: Format, codec: ObjectCodec, compressor: Compressor) -> ArraySpec {
        ArraySpec {
            format,
            shape: vec![7, 5],
            chunks: vec![3, 2],
            dtype: DataType::Object(codec),
            endian: Endian::Little,
            compressor,
            fill: if codec == ObjectCodec::Json2 {
                b"null".to_vec()
            } else {
                b"-".to_vec()
            },
            separator: None,
            shards: None,
            key_encoding: None,
            record: None,
            filters: vec![],
        }
    }

    fn region(a: &Array, start: &[u64], shape: &[u64]) -> Vec<Vec<u8>> {
        let parts = a.read_objects(start, shape, 2).unwrap();
        let n: u64 = shape.iter().product();
        let mut out = vec![b"?".to_vec(); n as usize];
        let rs: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
        let fill = match a.object_fill().unwrap() {
            Objects::Vlen(i) => i.get(0).to_vec(),
            Objects::Json(v) => v[0].to_string().into_bytes(),
        };
        for p in &parts {
            p.for_each(&rs, |c, r| {
                out[r] = match &p.items {
                    None => fill.clone(),
                    Some(Objects::Vlen(i)) => i.get(c).to_vec(),
                    Some(Objects::Json(v)) => v[c].to_string().into_bytes(),
                }
            });
        }
        out
    }

    /// Random regions written and read back equal a model, for both vlen codecs on Zarr
    /// v2 and v3 (with and without a compressor) and json2 on Zarr v2.
    #[test]
    fn regions_match_a_model() {
        let gzip = Compressor::Gzip {
            level: 1,
            zlib: false,
        };
        let cases = [
            (Format::ZarrV2, ObjectCodec::VlenUtf8, Compressor::Raw),
            (Format::ZarrV2, ObjectCodec::VlenBytes, gzip.clone()),
            (Format::ZarrV2, ObjectCodec::Json2, gzip.clone()),
            (Format::ZarrV3, ObjectCodec::VlenUtf8, gzip.clone()),
            (Format::ZarrV3, ObjectCodec::VlenBytes, Compressor::Raw),
        ];
        // and sharded Zarr v3: shards of 2x2 inner chunks, edge shards partly beyond
        let sharded = [
            (Format::ZarrV3, ObjectCodec::VlenUtf8, gzip.clone()),
            (Format::ZarrV3, ObjectCodec::VlenBytes, Compressor::Raw),
        ];
        let cases = cases
            .into_iter()
            .map(|c| (c, None))
            .chain(sharded.into_iter().map(|c| (c, Some(vec![6, 4]))));
        for ((format, codec, comp), shards) in cases {
            let store = Arc::new(MemoryStore::new());
            let s = ArraySpec {
                shards,
                ..spec(format, codec, comp)
            };
            let a = Array::create(store.clone(), "a", &s).unwrap();
            let json = codec == ObjectCodec::Json2;
            let fill = if json {
                b"null".to_vec()
            } else {
                b"-".to_vec()
            };
            let mut model = vec![fill.clone(); 35];
            assert_eq!(region(&a, &[0, 0], &[7, 5]), model);
            let mut seed = 7u64;
            let mut next = |n: u64| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed % n
            };
            for round in 0..25 {
                let start = [next(7), next(5)];
                let shape = [1 + next(7 - start[0]), 1 + next(5 - start[1])];
                let n = (shape[0] * shape[1]) as usize;
                let vals: Vec<Vec<u8>> = (0..n)
                    .map(|i| {
                        if json {
                            format!("\"r{round}\u{e9}{i}\"").into_bytes()
                        } else if i % 5 == 0 {
                            fill.clone()
                        } else {
                            format!("r{round}-{}", "x".repeat(i)).into_bytes()
                        }
                    })
                    .collect();
                let data = if json {
                    Objects::Json(
                        vals.iter()
                            .map(|v| serde_json::from_slice(v).unwrap())
                            .collect(),
                    )
                } else {
                    let mut items = Items::new();
                    vals.iter().for_each(|v| items.push(v));
                    Objects::Vlen(items)
                };
                a.write_objects(&start, &shape, &data, 1 + round % 2)
                    .unwrap();
                for (i, v) in vals.into_iter().enumerate() {
                    let (y, x) = (i / shape[1] as usize, i % shape[1] as usize);
                    model[(start[0] as usize + y) * 5 + start[1] as usize + x] = v;
                }
                assert_eq!(region(&a, &[0, 0], &[7, 5]), model, "{format:?} {codec:?}");
                let got = region(&a, &[2, 1], &[4, 3]);
                let want: Vec<Vec<u8>> = (2..6)
                    .flat_map(|y| (1..4).map(move |x| (y, x)))
                    .map(|(y, x)| model[y * 5 + x].clone())
                    .collect();
                assert_eq!(got, want);
            }
            let b = Array::open(store.clone() as Arc<dyn Store>, "a").unwrap();
            assert_eq!(region(&b, &[0, 0], &[7, 5]), model);
            // all-fill chunks are not stored
            let every = vec![fill.clone(); 35];
            let data = if json {
                Objects::Json(vec![Value::Null; 35])
            } else {
                let mut items = Items::new();
                every.iter().for_each(|v| items.push(v));
                Objects::Vlen(items)
            };
            b.write_objects(&[0, 0], &[7, 5], &data, 2).unwrap();
            assert!(b.existing_chunks().unwrap().is_empty());
        }
    }

    #[test]
    fn fixed_size_paths_refuse_object_arrays() {
        let store = Arc::new(MemoryStore::new());
        let s = spec(Format::ZarrV2, ObjectCodec::VlenUtf8, Compressor::Raw);
        let a = Array::create(store, "a", &s).unwrap();
        let mut out = vec![0u8; 8];
        assert!(a.read_region(&[0, 0], &[1, 1], &mut out, 1).is_err());
        assert!(a.write_region(&[0, 0], &[1, 1], &out, 1).is_err());
        let n5 = spec(Format::N5, ObjectCodec::VlenUtf8, Compressor::Raw);
        let err = Array::create(Arc::new(MemoryStore::new()), "ds", &n5).unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("ds"), "{err}");
    }

    #[test]
    fn a_chunk_claiming_more_than_it_holds_is_corrupt() {
        let store = Arc::new(MemoryStore::new());
        let s = spec(Format::ZarrV2, ObjectCodec::VlenUtf8, Compressor::Raw);
        let a = Array::create(store.clone(), "a", &s).unwrap();
        use crate::store::WritableStore;
        let mut bad = 6u32.to_le_bytes().to_vec();
        bad.extend(u32::MAX.to_le_bytes());
        bad.extend(b"abc");
        store.put("a/0.0", &bad).unwrap();
        let err = a.read_objects(&[0, 0], &[1, 1], 1).err().unwrap();
        assert!(matches!(err, Error::CorruptChunk { .. }), "{err}");
        assert!(err.to_string().contains("0.0"), "{err}");
    }

    /// A sharded array: a damaged inner chunk or a shard shorter than its index is corrupt
    /// data naming the shard; the other shards still read.
    #[test]
    fn a_damaged_shard_is_corrupt_naming_it() {
        let store = Arc::new(MemoryStore::new());
        let s = ArraySpec {
            shards: Some(vec![6, 4]),
            ..spec(Format::ZarrV3, ObjectCodec::VlenUtf8, Compressor::Raw)
        };
        let a = Array::create(store.clone(), "a", &s).unwrap();
        let mut items = Items::new();
        (0..35).for_each(|i| items.push(format!("v{i}").as_bytes()));
        a.write_objects(&[0, 0], &[7, 5], &Objects::Vlen(items), 2)
            .unwrap();
        use crate::store::{ReadableStore, WritableStore};
        let key = a.chunk_key(&[0, 0]);
        let good = store.get(&key).unwrap().unwrap();
        // the first inner chunk's item count claims more items than it holds
        let mut bad = good.clone();
        bad[0] = 0xff;
        store.put(&key, &bad).unwrap();
        let err = a.read_objects(&[0, 0], &[7, 5], 2).err().unwrap();
        assert!(matches!(err, Error::CorruptChunk { .. }), "{err}");
        assert!(
            err.to_string().contains("c/0/0") && err.to_string().contains("inner chunk [0, 0]"),
            "{err}"
        );
        assert!(a.read_objects(&[6, 4], &[1, 1], 1).is_ok());
        // cut short: its index is gone
        store.put(&key, &good[..10]).unwrap();
        let err = a.read_objects(&[0, 0], &[2, 2], 1).err().unwrap();
        assert!(matches!(err, Error::CorruptChunk { .. }), "{err}");
        assert!(err.to_string().contains("c/0/0"), "{err}");
        // a partial write over it refuses too, and leaves it as it was
        let mut one = Items::new();
        one.push(b"x");
        let err = a
            .write_objects(&[0, 0], &[1, 1], &Objects::Vlen(one), 1)
            .unwrap_err();
        assert!(err.to_string().contains("c/0/0"), "{err}");
        assert_eq!(store.get(&key).unwrap().unwrap(), &good[..10]);
    }
}
