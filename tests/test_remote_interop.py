"""Interop through moto's S3 server, every data type and codec of the filesystem interop
tests at least once: zarr-python 3 (its ObjectStore over obstore) writes Zarr v2 and v3
arrays, plain and sharded, into the bucket and we read them; we write the same and it reads
ours.  tensorstore's sharded Zarr v3 both ways too.  One container per direction keeps the
request count (and the time) small."""

from __future__ import annotations

import numpy as np
import pytest
import z5py
from interop_helpers import ZARR_DTYPES, make_data

pytest.importorskip("moto", reason="moto[server] (the S3 API server) is not installed")
zarr = pytest.importorskip("zarr")
numcodecs = pytest.importorskip("numcodecs")
pytest.importorskip("obstore")

SHAPE, CHUNKS = (10, 9), (5, 4)

#: (name, what zarr-python writes with, our compression arguments)
V2_CODECS = [
    ("raw", None, {"compression": "raw"}),
    ("blosc", numcodecs.Blosc("lz4", 4, 1), {"compression": "blosc", "codec": "lz4", "level": 4}),
    ("zlib", numcodecs.Zlib(3), {"compression": "zlib", "level": 3}),
    ("gzip", numcodecs.GZip(4), {"compression": "gzip", "level": 4}),
    ("bz2", numcodecs.BZ2(2), {"compression": "bzip2", "level": 2}),
    ("lzma", numcodecs.LZMA(preset=1), {"compression": "lzma", "level": 1}),
    ("zstd", numcodecs.Zstd(5), {"compression": "zstd", "level": 5}),
    ("lz4", numcodecs.LZ4(1), {"compression": "lz4"}),
]


def _v3_codecs():
    from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec

    return [
        ("raw", None, {"compression": "raw"}),
        ("blosc", BloscCodec(cname="zstd", clevel=3), {"compression": "blosc", "codec": "zstd"}),
        ("gzip", GzipCodec(level=5), {"compression": "gzip", "level": 5}),
        ("zstd", ZstdCodec(level=3), {"compression": "zstd", "level": 3}),
    ]


#: the bucket of the ``s3`` fixture (conftest.py)
S3_BUCKET = "matrix"


def _cases(zf: int):
    """(array name, dtype, zarr-python's compressors argument, our create arguments)."""
    codecs = V2_CODECS if zf == 2 else _v3_codecs()
    dtypes = ZARR_DTYPES + ([">i4", ">f8"] if zf == 2 else [])
    out = [
        (f"t-{np.dtype(d).name}{'-be' if d.startswith('>') else ''}", d, codecs[1][1], codecs[1][2])
        for d in dtypes
    ]
    out += [(f"c-{name}", "uint16", theirs, ours) for name, theirs, ours in codecs]
    return out


@pytest.mark.parametrize("zf", [2, 3])
def test_zarr_python_writes_every_type_and_codec_we_read(s3, zf):
    so = {"endpoint": s3.endpoint}
    g = zarr.open_group(s3.zarr_store("matrix", f"theirs{zf}.zarr"), mode="w", zarr_format=zf)
    for name, dtype, theirs, _ in _cases(zf):
        a = g.create_array(
            name,
            shape=SHAPE,
            chunks=CHUNKS,
            dtype=dtype,
            compressors=theirs,
        )
        a[:] = make_data(dtype, SHAPE)
    if zf == 3:
        a = g.create_array("sharded", shape=SHAPE, chunks=CHUNKS, shards=(10, 8), dtype="int32")
        a[:] = make_data("int32", SHAPE)
    f = z5py.File(f"s3://matrix/theirs{zf}.zarr", "r", storage_options=so)
    for name, dtype, _, _ in _cases(zf):
        np.testing.assert_array_equal(f[name][:], make_data(dtype, SHAPE), err_msg=name)
        assert f[name].dtype == np.dtype(dtype).newbyteorder("=") or f[name].dtype == dtype
    if zf == 3:
        np.testing.assert_array_equal(f["sharded"][2:9, 1:8], make_data("int32", SHAPE)[2:9, 1:8])


@pytest.mark.parametrize("zf", [2, 3])
def test_we_write_every_type_and_codec_zarr_python_reads(s3, zf):
    so = {"endpoint": s3.endpoint}
    f = z5py.File(f"s3://matrix/ours{zf}.zarr", "w", zarr_format=zf, storage_options=so)
    for name, dtype, _, ours in _cases(zf):
        f.create_dataset(name, data=make_data(dtype, SHAPE), chunks=CHUNKS, **ours)
    if zf == 3:
        f.create_dataset("sharded", data=make_data("int32", SHAPE), chunks=CHUNKS, shards=(10, 8))
    g = zarr.open_group(
        s3.zarr_store("matrix", f"ours{zf}.zarr", read_only=True), mode="r", zarr_format=zf
    )
    for name, dtype, _, _ in _cases(zf):
        np.testing.assert_array_equal(g[name][:], make_data(dtype, SHAPE), err_msg=name)
    if zf == 3:
        np.testing.assert_array_equal(g["sharded"][:], make_data("int32", SHAPE))


def test_tensorstore_sharded_zarr3_both_ways(s3):
    ts = pytest.importorskip("tensorstore")
    so = {"endpoint": s3.endpoint}
    data = make_data("uint16", (40, 50))
    sharding = {
        "name": "sharding_indexed",
        "configuration": {
            "chunk_shape": [8, 10],
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd"}],
            "index_codecs": [
                {"name": "bytes", "configuration": {"endian": "little"}},
                {"name": "crc32c"},
            ],
        },
    }
    spec = {
        "driver": "zarr3",
        "kvstore": s3.tensorstore_kvstore("matrix", "ts/theirs.zarr/s"),
        "metadata": {
            "shape": [40, 50],
            "data_type": "uint16",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [16, 20]}},
            "codecs": [sharding],
        },
        "create": True,
        "delete_existing": True,
    }
    ts.open(spec).result().write(data).result()
    ours = z5py.File("s3://matrix/ts/theirs.zarr", "r", zarr_format=3, storage_options=so)
    assert ours["s"].chunks == (8, 10)
    np.testing.assert_array_equal(ours["s"][3:37, 5:44], data[3:37, 5:44])
    # ours -> tensorstore
    f = z5py.File("s3://matrix/ts/ours.zarr", "w", zarr_format=3, storage_options=so)
    f.create_dataset("s", data=data, chunks=(8, 10), shards=(16, 20), compression="zstd")
    spec = {"driver": "zarr3", "kvstore": s3.tensorstore_kvstore("matrix", "ts/ours.zarr/s")}
    np.testing.assert_array_equal(ts.open(spec).result().read().result(), data)
