//! Parsing the metadata documents other writers produce (zarr-python, tensorstore, the
//! Java N5 library), refusing malformed ones with the right error, and node listing.

use super::*;
use crate::codec::Compressor;
use crate::store::{MemoryStore, WritableStore};
use serde_json::json;

/// An in-memory store holding one metadata document `file` of the node "a".
fn with(file: &str, doc: &Value) -> MemoryStore {
    let s = MemoryStore::new();
    s.put(&format!("a/{file}"), doc.to_string().as_bytes())
        .unwrap();
    s
}

fn at(store: &MemoryStore) -> Loc<'_> {
    Loc::new(store, "a")
}

fn is_metadata_error(r: Result<ArrayMeta>) -> bool {
    matches!(r, Err(Error::Metadata { .. }))
}

#[test]
fn zarr_v2_array_as_zarr_python_writes_it() {
    let d = with(
        ZARRAY,
        &json!({
            "zarr_format": 2, "shape": [100, 50], "chunks": [10, 20], "dtype": ">i2",
            "compressor": {"id": "zlib", "level": 3}, "fill_value": -1, "order": "F",
            "filters": null, "dimension_separator": "/"
        }),
    );
    let m = open(&at(&d)).unwrap();
    assert_eq!(m.format, Format::ZarrV2);
    assert_eq!(m.grid.shape, vec![100, 50]);
    assert_eq!(m.grid.chunk, vec![10, 20]);
    assert_eq!(m.dtype, DataType::Int16);
    assert_eq!(m.endian, Endian::Big);
    assert_eq!(m.fill, (-1i16).to_ne_bytes().to_vec());
    assert_eq!(
        m.compressor,
        Compressor::Gzip {
            level: 3,
            zlib: true
        }
    );
    // order "F": stored axis 0 holds logical axis 1
    assert_eq!(m.pipeline.permutation, Some(vec![1, 0]));
    assert_eq!(m.keys, KeyEncoding::V2 { separator: '/' });
    assert!(m.sharding.is_none());
    assert_eq!(
        node_info(&at(&d)).unwrap(),
        (NodeKind::Array, Some(Format::ZarrV2))
    );
}

#[test]
fn zarr_v3_sharded_array_as_tensorstore_writes_it() {
    let d = with(
        ZARR_JSON,
        &json!({
            "zarr_format": 3, "node_type": "array", "shape": [64, 64], "data_type": "float32",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [32, 32]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": "NaN",
            "codecs": [{"name": "sharding_indexed", "configuration": {
                "chunk_shape": [8, 8],
                "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                           {"name": "zstd", "configuration": {"level": 1, "checksum": false}}],
                "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                                 {"name": "crc32c"}],
                "index_location": "end"}}],
            "attributes": {"a": 1}
        }),
    );
    let m = open(&at(&d)).unwrap();
    assert_eq!(m.format, Format::ZarrV3);
    assert_eq!(m.dtype, DataType::Float32);
    assert!(f32::from_ne_bytes(m.fill.clone().try_into().unwrap()).is_nan());
    assert_eq!(m.grid.chunk, vec![32, 32]);
    let s = m.sharding.as_ref().expect("sharded");
    assert_eq!(s.inner, vec![8, 8]);
    assert!(!s.index_at_start);
    assert_eq!(
        s.inner_pipeline.compressors,
        vec![Compressor::Zstd {
            level: 1,
            checksum: false
        }]
    );
    assert_eq!(s.index_pipeline.compressors, vec![Compressor::Crc32c]);
    assert_eq!(m.keys, KeyEncoding::V3Default { separator: '/' });
}

#[test]
fn n5_dataset_as_the_java_library_writes_it() {
    let d = with(
        N5_ATTRS,
        &json!({
            "dimensions": [30, 20, 10], "blockSize": [16, 16, 8], "dataType": "uint64",
            "compression": {"type": "gzip", "level": 6}, "extra": "kept"
        }),
    );
    let m = open(&at(&d)).unwrap();
    assert_eq!(m.format, Format::N5);
    // N5 lists dimensions fastest first; the engine works in C order
    assert_eq!(m.grid.shape, vec![10, 20, 30]);
    assert_eq!(m.grid.chunk, vec![8, 16, 16]);
    assert_eq!(m.dtype, DataType::UInt64);
    assert_eq!(m.endian, Endian::Big);
    assert!(m.pipeline.n5_header);
    assert_eq!(m.fill, vec![0; 8]);
    assert_eq!(
        m.compressor,
        Compressor::Gzip {
            level: 6,
            zlib: false
        }
    );
    assert_eq!(m.keys, KeyEncoding::N5);
}

#[test]
fn malformed_documents_are_metadata_errors_naming_the_file() {
    let cases = [
        (
            ZARRAY,
            json!({"zarr_format": 2, "shape": [10], "dtype": "<u1"}),
        ),
        (
            ZARRAY,
            json!({"zarr_format": 2, "shape": [10], "chunks": [0], "dtype": "<u1",
                   "compressor": null, "fill_value": 0, "order": "C", "filters": null}),
        ),
        (
            ZARRAY,
            json!({"zarr_format": 2, "shape": [-1], "chunks": [1], "dtype": "<u1",
                   "compressor": null, "fill_value": 0, "order": "C", "filters": null}),
        ),
        (
            N5_ATTRS,
            json!({"dimensions": [4], "blockSize": [2, 2], "dataType": "uint8"}),
        ),
        (
            ZARR_JSON,
            json!({"zarr_format": 3, "node_type": "array", "shape": [4],
                   "data_type": "uint8", "fill_value": 0,
                   "chunk_key_encoding": {"name": "default"}, "codecs": []}),
        ),
    ];
    for (k, (file, doc)) in cases.iter().enumerate() {
        let d = with(file, doc);
        let r = open(&at(&d));
        let shown = format!("{:?}", r.as_ref().err());
        assert!(is_metadata_error(r), "case {k}: {shown}");
        assert!(shown.contains(file), "case {k} names the file: {shown}");
    }
    // not JSON at all
    let d = MemoryStore::new();
    d.put("a/.zarray", b"{ nope").unwrap();
    assert!(is_metadata_error(open(&at(&d))));
}

#[test]
fn unknown_codecs_and_types_are_unsupported() {
    let codec = with(
        ZARRAY,
        &json!({"zarr_format": 2, "shape": [4], "chunks": [2], "dtype": "<u1",
                "compressor": {"id": "no-such-codec"}, "fill_value": 0, "order": "C",
                "filters": null}),
    );
    assert!(matches!(
        open(&at(&codec)),
        Err(Error::Unsupported { .. } | Error::Metadata { .. })
    ));
    let dtype = with(
        N5_ATTRS,
        &json!({"dimensions": [4], "blockSize": [2], "dataType": "uint128"}),
    );
    assert!(matches!(
        open(&at(&dtype)),
        Err(Error::Unsupported { .. } | Error::Metadata { .. })
    ));
}

#[test]
fn node_listing_tells_arrays_groups_and_plain_directories_apart() {
    let g2 = with(ZGROUP, &json!({"zarr_format": 2}));
    assert_eq!(
        node_info(&at(&g2)).unwrap(),
        (NodeKind::Group, Some(Format::ZarrV2))
    );
    let g3 = with(
        ZARR_JSON,
        &json!({"zarr_format": 3, "node_type": "group", "attributes": {}}),
    );
    assert_eq!(
        node_info(&at(&g3)).unwrap(),
        (NodeKind::Group, Some(Format::ZarrV3))
    );
    let n5 = with(N5_ATTRS, &json!({"n5": "4.0.0"}));
    assert_eq!(
        node_info(&at(&n5)).unwrap(),
        (NodeKind::Group, Some(Format::N5))
    );
    let bad = with(ZARR_JSON, &json!({"zarr_format": 3, "node_type": "x"}));
    assert!(matches!(node_info(&at(&bad)), Err(Error::Metadata { .. })));
    // keys below but no metadata: a plain directory (an N5 group needs no metadata)
    let plain = MemoryStore::new();
    plain.put("a/b/0", b"x").unwrap();
    assert_eq!(node_info(&at(&plain)).unwrap(), (NodeKind::Dir, None));
    let gone = Loc::new(&plain, "missing");
    assert_eq!(node_info(&gone).unwrap(), (NodeKind::Missing, None));
    // opening a group or nothing as an array says what is wrong
    assert!(is_metadata_error(open(&at(&g2))));
    assert!(matches!(open(&gone), Err(Error::Io { .. })));
}

#[test]
fn every_format_reads_back_what_it_writes() {
    for format in [Format::N5, Format::ZarrV2, Format::ZarrV3] {
        let d = MemoryStore::new();
        // N5 has no fill value: only 0
        let fill: i32 = if format == Format::N5 { 0 } else { 5 };
        let spec = ArraySpec {
            fill: fill.to_ne_bytes().to_vec(),
            ..ArraySpec::new(format, vec![7, 9], vec![4, 4], DataType::Int32)
        };
        let m = create(&at(&d), &spec).unwrap();
        let again = open(&at(&d)).unwrap();
        for got in [&m, &again] {
            assert_eq!(got.format, format);
            assert_eq!(got.grid.shape, vec![7, 9]);
            assert_eq!(got.grid.chunk, vec![4, 4]);
            assert_eq!(got.dtype, DataType::Int32);
            assert_eq!(got.compressor, Compressor::Raw);
        }
        assert_eq!(again.fill, fill.to_ne_bytes().to_vec());
    }
}
