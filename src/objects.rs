//! Object arrays: variable-length items (Zarr v2 `|O` with `vlen-utf8`, `vlen-bytes` or
//! `json2`; Zarr v3 `string` and `variable_length_bytes`). Chunks are fetched, decompressed
//! and their items decoded in parallel; the items of a region travel as one buffer of
//! bytes and offsets (or JSON values), which the binding turns into Python objects.
//!
//! These arrays never go through the fixed-size region paths of `array.rs`, which refuse
//! them.

use crate::array::Array;
use crate::chunk::copy::Layout;
use crate::chunk::grid::overlap;
use crate::codec::json2;
use crate::codec::vlen::{self, Items};
use crate::dtype::{DataType, ObjectCodec};
use crate::error::{Error, Result};
use crate::store::{PooledBuf, Update};
use crate::threads;
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

impl Array {
    /// The object codec of an object array; an error for other arrays and for sharded
    /// object arrays, which this library does not read or write.
    pub fn object_codec(&self) -> Result<ObjectCodec> {
        let DataType::Object(codec) = self.meta.dtype else {
            return Err(Error::invalid(format!(
                "{} holds {}, not variable-length items",
                self.meta.meta_path,
                self.meta.dtype.name()
            )));
        };
        if self.meta.sharding.is_some() {
            return Err(Error::unsupported(format!(
                "variable-length data in a sharded array ({})",
                self.meta.meta_path
            )));
        }
        Ok(codec)
    }

    /// Where item (i0, i1, ...) of a chunk is in its stored order: vlen items follow the
    /// chunk's memory order (Zarr v2 `order`), json2 nests them in C order.
    fn item_layout(&self, codec: ObjectCodec) -> Layout {
        let shape: Vec<usize> = self.meta.grid.chunk.iter().map(|&c| c as usize).collect();
        match (&self.meta.pipeline.permutation, codec) {
            (Some(p), ObjectCodec::VlenUtf8 | ObjectCodec::VlenBytes) => {
                Layout::permuted(&shape, p, 1)
            }
            _ => Layout::c_order(&shape, 1),
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

    /// Decode the stored bytes of chunk `idx` into its items.
    pub fn decode_objects(&self, idx: &[u64], stored: &[u8]) -> Result<Objects> {
        let codec = self.object_codec()?;
        let n = self.meta.grid.chunk_elems();
        let shape: Vec<usize> = self.meta.grid.chunk.iter().map(|&c| c as usize).collect();
        let decode = || -> Result<Objects> {
            let raw = self.meta.pipeline.decode_bytes(stored)?;
            Ok(match codec {
                ObjectCodec::VlenUtf8 => Objects::Vlen(vlen::decode("vlen-utf8", &raw, n, true)?),
                ObjectCodec::VlenBytes => {
                    Objects::Vlen(vlen::decode("vlen-bytes", &raw, n, false)?)
                }
                ObjectCodec::Json2 => Objects::Json(json2::decode(&raw, &shape)?),
            })
        };
        decode().map_err(|e| e.in_chunk(self.chunk_path(idx)))
    }

    /// Read the chunks the region at `start` of `shape` touches, decoded, on `n_threads`.
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
        let layout = self.item_layout(codec);
        let chunks = self.meta.grid.chunks_in_region(start, shape);
        threads::map(n_threads, &chunks, |buf, idx| {
            let origin = self.meta.grid.origin(idx);
            let (in_chunk, in_region, extent) =
                overlap(&origin, &self.meta.grid.chunk, start, shape);
            let items = match self.store.get_into(&self.chunk_key(idx), buf)? {
                true => Some(self.decode_objects(idx, buf)?),
                false => None,
            };
            Ok(ObjectPart {
                items,
                chunk_strides: layout.strides.clone(),
                chunk_start: layout.offset(&in_chunk),
                in_region,
                extent,
            })
        })
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
        let codec = self.object_codec()?;
        self.meta.grid.check_region(start, shape)?;
        let count = shape.iter().product::<u64>() as usize;
        if data.len() != count {
            return Err(Error::invalid(format!(
                "{} items given, region {shape:?} holds {count}",
                data.len()
            )));
        }
        if count == 0 {
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
        let layout = self.item_layout(codec);
        let region_shape: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
        let fill = self.object_fill()?;
        let chunks = self.meta.grid.chunks_in_region(start, shape);
        threads::for_each(n_threads, &chunks, |_: &mut (), idx| {
            let origin = self.meta.grid.origin(idx);
            let inside = self.meta.grid.clipped(idx);
            let (in_chunk, in_region, extent) = overlap(&origin, &inside, start, shape);
            let covers = extent.iter().zip(&inside).all(|(e, i)| *e as u64 == *i);
            let part = ObjectPart {
                items: None,
                chunk_strides: layout.strides.clone(),
                chunk_start: layout.offset(&in_chunk),
                in_region,
                extent,
            };
            let build = |old: Option<&[u8]>| -> Result<Option<Vec<u8>>> {
                let old = old.map(|b| self.decode_objects(idx, b)).transpose()?;
                self.merge_chunk(codec, old.as_ref(), &fill, data, &part, &region_shape)
            };
            let key = self.chunk_key(idx);
            if covers {
                return match build(None)? {
                    Some(bytes) => self.store.put(&key, &bytes),
                    None => self.store.delete(&key),
                };
            }
            self.store.update(&key, &mut |old| {
                Ok(match build(old)? {
                    Some(bytes) => Update::Put(vec![PooledBuf::from(bytes)]),
                    None if old.is_none() => Update::Keep,
                    None => Update::Delete,
                })
            })
        })
    }

    /// The stored bytes of a chunk: its old items (or the fill value) with the part of
    /// `data` that `part` places in it; None when it holds only the fill value.
    fn merge_chunk(
        &self,
        codec: ObjectCodec,
        old: Option<&Objects>,
        fill: &Objects,
        data: &Objects,
        part: &ObjectPart,
        region_shape: &[usize],
    ) -> Result<Option<Vec<u8>>> {
        let n = self.meta.grid.chunk_elems();
        let raw = match (data, fill) {
            (Objects::Vlen(new), Objects::Vlen(fill)) => {
                let fill = fill.get(0);
                let mut refs: Vec<&[u8]> = match old {
                    Some(Objects::Vlen(items)) => items.iter().collect(),
                    _ => vec![fill; n],
                };
                part.for_each(region_shape, |c, r| refs[c] = new.get(r));
                if !self.write_empty_chunks && refs.iter().all(|r| *r == fill) {
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
                part.for_each(region_shape, |c, r| refs[c] = &new[r]);
                if !self.write_empty_chunks && refs.iter().all(|r| *r == fill) {
                    return Ok(None);
                }
                let shape: Vec<usize> = self.meta.grid.chunk.iter().map(|&c| c as usize).collect();
                json2::encode(&refs, &shape)?
            }
            _ => {
                return Err(Error::invalid(format!(
                    "items do not fit a {} array",
                    codec.id()
                )))
            }
        };
        self.meta.pipeline.encode_bytes(raw).map(Some)
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
        for (format, codec, comp) in cases {
            let store = Arc::new(MemoryStore::new());
            let a = Array::create(store.clone(), "a", &spec(format, codec, comp)).unwrap();
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
}
