//! Mutation fuzzing of everything that parses bytes from disk: every codec decoder, the N5
//! block header, the chunk pipeline, metadata JSON and shard indexes. Inputs are valid
//! encodings with random bit flips, truncations, splices and length-field edits; every one
//! must give Ok or an error, never a panic, a hang or an unbounded allocation.
//!
//! `Z5PY_FUZZ_ITERS` sets the mutations per target (default 300, enough for CI); the long
//! runs recorded in the README use 200000.

use std::path::{Path, PathBuf};
use z5py::array::Array;
use z5py::chunk::n5_header::N5Header;
use z5py::codec::Compressor;
use z5py::dtype::{DataType, Endian};
use z5py::metadata::{self, ArraySpec, Format};
use z5py::pipeline::Pipeline;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn iters() -> usize {
    std::env::var("Z5PY_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

/// One random mutation of `input`.
fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.truncate(rng.below(v.len() + 1)),
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = [0, 0xff, 0x7f, 0x80][rng.below(4)];
            }
            3 => {
                let i = rng.below(v.len() + 1);
                let extra: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                v.splice(i..i, extra);
            }
            4 if v.len() >= 4 => {
                // Overwrite a 32-bit field with a huge length claim.
                let i = rng.below(v.len() - 3);
                v[i..i + 4].copy_from_slice(&[0x7f, 0xff, 0xff, 0xf0]);
            }
            5 if v.len() > 1 => {
                let i = rng.below(v.len());
                let j = rng.below(v.len());
                v.swap(i, j);
            }
            _ => v = (0..rng.below(256)).map(|_| rng.next() as u8).collect(),
        }
    }
    v
}

fn sample(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| ((i / 5) % 200) as u8 ^ (i % 3) as u8)
        .collect()
}

#[test]
fn codec_decoders_survive_mutations() {
    let data = sample(20_000);
    let mut rng = Rng(0x5eed_0001);
    for c in z5py::codec::samples() {
        let enc = c.encode(&data).unwrap();
        let mut out = vec![0u8; data.len()];
        for _ in 0..iters() {
            let m = mutate(&mut rng, &enc);
            if c.decode_into(&m, &mut out).is_ok() {
                assert_eq!(out.len(), data.len());
            }
            if let Ok(v) = c.decode_bounded(&m, data.len() * 2) {
                assert!(v.len() <= data.len() * 2, "{c:?} exceeded its bound");
            }
        }
    }
}

#[test]
fn n5_headers_and_pipelines_survive_mutations() {
    let mut rng = Rng(0x5eed_0002);
    for c in [
        Compressor::Raw,
        Compressor::Gzip {
            level: 1,
            zlib: false,
        },
        Compressor::Zstd {
            level: 1,
            checksum: false,
        },
    ] {
        let p = Pipeline {
            dtype: DataType::UInt16,
            permutation: None,
            endian: Endian::Big,
            compressors: vec![c],
            n5_header: true,
        };
        let shape = [7u64, 9, 11];
        let data = sample(7 * 9 * 11 * 2);
        let enc = p.encode(&data, &shape, false).unwrap();
        let mut scratch = Vec::new();
        for _ in 0..iters() {
            let m = mutate(&mut rng, &enc);
            let _ = N5Header::decode(&m);
            if let Ok(d) = p.decode(&m, &[5, 9, 11], &shape, &mut scratch) {
                assert!(d.nbytes <= data.len());
            }
        }
    }
}

/// Zarr v2 filter chains (numcodecs filters, then a compressor or checksum) as the
/// metadata spells them: every mutated chunk decodes or errors, within the chunk size.
#[test]
fn filter_chains_survive_mutations() {
    use serde_json::json;
    let mut rng = Rng(0x5eed_0005);
    let chains = [
        (
            "<u8",
            json!([{"id": "delta", "dtype": "<u8"}, {"id": "shuffle", "elementsize": 8}]),
            json!({"id": "zlib", "level": 1}),
        ),
        (
            "<i4",
            json!([{"id": "delta", "dtype": "<i4", "astype": "<i8"}]),
            json!({"id": "adler32"}),
        ),
        (
            "<f8",
            json!([{"id": "fixedscaleoffset", "scale": 10, "offset": 3, "dtype": "<f8", "astype": "|u1"}]),
            json!({"id": "crc32"}),
        ),
        (
            "<f4",
            json!([{"id": "quantize", "digits": 2, "dtype": "<f4"}, {"id": "bitround", "keepbits": 4}]),
            json!({"id": "fletcher32"}),
        ),
        (
            "<f8",
            json!([{"id": "astype", "encode_dtype": "<f2", "decode_dtype": "<f8"}]),
            json!({"id": "crc32c"}),
        ),
        ("|b1", json!([{"id": "packbits"}]), serde_json::Value::Null),
        (
            "<U3",
            json!([{"id": "categorize", "labels": ["a", "bé"], "dtype": "<U3", "astype": "|u1"}]),
            json!({"id": "zstd", "level": 1}),
        ),
    ];
    for (typestr, filters, compressor) in chains {
        let (dtype, endian) = DataType::from_typestr(typestr).unwrap();
        let file = "fuzz/.zarray";
        let (mut codecs, current) = metadata::zarr_v2::filters_from_json(
            filters.as_array().unwrap(),
            (dtype, endian),
            file,
        )
        .unwrap();
        if !compressor.is_null() {
            codecs.push(
                metadata::zarr_v2::filters_from_json(&[compressor], current, file)
                    .unwrap()
                    .0
                    .remove(0),
            );
        }
        let p = Pipeline {
            dtype,
            permutation: None,
            endian,
            compressors: codecs,
            n5_header: false,
        };
        let shape = [9u64, 13];
        let n = (9 * 13) * dtype.size();
        let data = if dtype == DataType::Bool {
            sample(n).iter().map(|b| b & 1).collect()
        } else if dtype.is_float() {
            (0..9 * 13)
                .flat_map(|i| {
                    let x = i as f64 * 0.37;
                    if dtype.size() == 4 {
                        (x as f32).to_le_bytes().to_vec()
                    } else {
                        x.to_le_bytes().to_vec()
                    }
                })
                .collect()
        } else {
            sample(n)
        };
        let enc = p.encode(&data, &shape, false).unwrap();
        let mut scratch = Vec::new();
        p.decode(&enc, &shape, &shape, &mut scratch).unwrap();
        for _ in 0..iters() {
            let m = mutate(&mut rng, &enc);
            if let Ok(d) = p.decode(&m, &shape, &shape, &mut scratch) {
                assert_eq!(d.nbytes, n, "{typestr} {filters}");
            }
        }
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("z5py-fuzz-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn spec(format: Format, shards: Option<Vec<u64>>) -> ArraySpec {
    ArraySpec {
        format,
        shape: vec![20, 30],
        chunks: vec![8, 8],
        dtype: DataType::Int32,
        endian: Endian::Little,
        compressor: Compressor::Gzip {
            level: 1,
            zlib: false,
        },
        fill: vec![0; 4],
        separator: None,
        shards,
        key_encoding: None,
        record: None,
        filters: vec![],
    }
}

fn fs(dir: &Path) -> std::sync::Arc<dyn z5py::store::Store> {
    std::sync::Arc::new(z5py::store::FsStore::new(dir))
}

fn read_all(dir: &Path) {
    if let Ok(a) = Array::open(fs(dir), "") {
        let n: u64 = a.meta.grid.shape.iter().product();
        if n <= 1 << 20 {
            let mut out = vec![0u8; n as usize * a.elem()];
            let _ = a.read_region(
                &vec![0; a.meta.grid.ndim()],
                &a.meta.grid.shape.clone(),
                &mut out,
                2,
            );
        }
    }
}

#[test]
fn metadata_documents_survive_mutations() {
    let mut rng = Rng(0x5eed_0003);
    for (format, file) in [
        (Format::N5, "attributes.json"),
        (Format::ZarrV2, ".zarray"),
        (Format::ZarrV3, "zarr.json"),
    ] {
        for shards in [None, Some(vec![16, 16])] {
            if shards.is_some() && format != Format::ZarrV3 {
                continue;
            }
            let dir = TempDir::new(&format!("meta-{}", format.name()));
            let a = Array::create(fs(&dir.0), "", &spec(format, shards.clone())).unwrap();
            let data: Vec<u8> = (0..600i32).flat_map(|v| v.to_ne_bytes()).collect();
            a.write_region(&[0, 0], &[20, 30], &data, 1).unwrap();
            let original = std::fs::read(dir.0.join(file)).unwrap();
            for _ in 0..iters() / 2 {
                std::fs::write(dir.0.join(file), mutate(&mut rng, &original)).unwrap();
                let store = z5py::store::FsStore::new(&dir.0);
                let _ = metadata::node_info(&metadata::Loc::new(&store, ""));
                read_all(&dir.0);
            }
        }
    }
}

#[test]
fn chunk_and_shard_files_survive_mutations() {
    let mut rng = Rng(0x5eed_0004);
    for (format, shards) in [
        (Format::N5, None),
        (Format::ZarrV2, None),
        (Format::ZarrV3, Some(vec![16, 16])),
    ] {
        let dir = TempDir::new(&format!("chunk-{}", format.name()));
        let a = Array::create(fs(&dir.0), "", &spec(format, shards)).unwrap();
        let data: Vec<u8> = (0..600i32).flat_map(|v| (v * 7).to_ne_bytes()).collect();
        a.write_region(&[0, 0], &[20, 30], &data, 1).unwrap();
        let path = a.chunk_path(&[0, 0]);
        let original = std::fs::read(&path).unwrap();
        for _ in 0..iters() {
            std::fs::write(&path, mutate(&mut rng, &original)).unwrap();
            read_all(&dir.0);
            let _ = a.read_chunk(&[0, 0]);
            let _ = a.existing_chunks();
            let _ = a.write_region(&[3, 3], &[2, 2], &[1; 16], 1);
        }
    }
}

/// The variable-length decoders (`vlen-utf8`, `vlen-bytes`, `json2`), alone and behind a
/// compressor in a stored object-array chunk: a mutated item count or length is refused
/// before anything of its claimed size is allocated (the allocation is bounded by the
/// chunk's own bytes), never a panic.
#[test]
fn variable_length_decoders_survive_mutations() {
    use z5py::codec::{json2, vlen};
    use z5py::dtype::ObjectCodec;
    use z5py::objects::Objects;
    let mut rng = Rng(0x5eed_71e4);
    let words: Vec<Vec<u8>> = (0..12).map(|i| "é✓ab".repeat(i % 4).into_bytes()).collect();
    let enc = vlen::encode(12, 64, words.iter().map(|w| w.as_slice())).unwrap();
    let values: Vec<serde_json::Value> = (0..12)
        .map(|i| serde_json::json!({"k": [i, "ü", null]}))
        .collect();
    let refs: Vec<&serde_json::Value> = values.iter().collect();
    let jenc = json2::encode(&refs, &[3, 4]).unwrap();
    for _ in 0..iters() {
        let m = mutate(&mut rng, &enc);
        for utf8 in [true, false] {
            if let Ok(items) = vlen::decode("vlen", &m, 12, utf8) {
                assert_eq!(items.len(), 12);
                assert!(items.data.len() <= m.len());
            }
        }
        if let Ok(items) = json2::decode(&mutate(&mut rng, &jenc), &[3, 4]) {
            assert_eq!(items.len(), 12);
        }
    }
    // whole chunks of a stored array, compressed
    let store: std::sync::Arc<dyn z5py::store::Store> =
        std::sync::Arc::new(z5py::store::MemoryStore::new());
    for codec in [ObjectCodec::VlenUtf8, ObjectCodec::Json2] {
        let prefix = codec.id();
        let mut s = spec(Format::ZarrV2, None);
        s.dtype = DataType::Object(codec);
        s.fill = if codec == ObjectCodec::Json2 {
            b"null".to_vec()
        } else {
            Vec::new()
        };
        s.compressor = Compressor::Zstd {
            level: 1,
            checksum: false,
        };
        let a = Array::create(store.clone(), prefix, &s).unwrap();
        let n: u64 = s.shape.iter().product();
        let data = if codec == ObjectCodec::Json2 {
            Objects::Json((0..n).map(|i| serde_json::json!([i])).collect())
        } else {
            let mut items = vlen::Items::new();
            (0..n).for_each(|i| items.push(format!("w{i}").as_bytes()));
            Objects::Vlen(items)
        };
        a.write_objects(&vec![0; s.shape.len()], &s.shape, &data, 1)
            .unwrap();
        let key = format!("{prefix}/{}", a.meta.keys.key(&vec![0; s.shape.len()]));
        let good = store.get(&key).unwrap().unwrap();
        for _ in 0..iters() / 4 {
            let bad = mutate(&mut rng, &good);
            store.put(&key, &bad).unwrap();
            let _ = a.read_objects(&vec![0; s.shape.len()], &s.shape, 1);
            let raw = zstd::bulk::decompress(&good, 1 << 20).unwrap();
            let m = mutate(&mut rng, &raw);
            let _ = a.decode_objects(
                &vec![0; s.shape.len()],
                &zstd::bulk::compress(&m, 1).unwrap(),
            );
        }
    }
    // a sharded Zarr v3 string array: mutated shards (index and inner chunks) read and
    // are rewritten in part without a panic
    let mut s = spec(Format::ZarrV3, Some(vec![16, 16]));
    s.dtype = DataType::Object(ObjectCodec::VlenUtf8);
    s.fill = Vec::new();
    let a = Array::create(store.clone(), "sharded", &s).unwrap();
    let n: u64 = s.shape.iter().product();
    let mut items = vlen::Items::new();
    (0..n).for_each(|i| items.push(format!("w{i}").as_bytes()));
    a.write_objects(&[0, 0], &s.shape, &Objects::Vlen(items), 1)
        .unwrap();
    let key = format!("sharded/{}", a.meta.keys.key(&[0, 0]));
    let good = store.get(&key).unwrap().unwrap();
    for _ in 0..iters() / 4 {
        store.put(&key, &mutate(&mut rng, &good)).unwrap();
        let _ = a.read_objects(&[0, 0], &s.shape, 2);
        let mut one = vlen::Items::new();
        one.push(b"x");
        let _ = a.write_objects(&[3, 3], &[1, 1], &Objects::Vlen(one), 1);
    }
}
