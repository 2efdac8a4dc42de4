"""Interop with tensorstore (drivers ``n5``, ``zarr`` (v2) and ``zarr3``), in both directions.

tensorstore's N5 driver exposes the axes in N5 order (x fastest first), so a numpy array
``data`` of shape (z, y, x) is ``data.T`` in tensorstore.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorstore as ts
from interop_helpers import (
    ATTRS,
    BIG_ENDIAN_DTYPES,
    BLOSC_CNAMES,
    BLOSC_SHUFFLES,
    CHUNKS,
    CODEC_SWEEP_DTYPES,
    COMMON_DTYPES,
    EDGE_CHUNKS,
    EDGE_SHAPE,
    EDGE_WINDOW,
    FILL_CASES,
    FILL_CASES_ZARR_ONLY,
    FILL_PARAMS,
    MISSING_CHUNK,
    READ_WINDOW,
    REGION,
    SHAPE,
    SHARDS,
    ZARR_DTYPES,
    all_chunk_indices,
    assert_same_array,
    assert_z5_reads,
    chunk_clipped_shape,
    expected_with_fill,
    fill_id,
    fill_json_ok,
    make_data,
    n5_chunk_path,
    parse_n5_header,
    read_json,
    z5_attrs,
    z5_create,
    z5_open,
    z5_read,
    z5_write,
)


def _kv(path):
    return {"driver": "file", "path": str(path)}


def _ts_open(spec, **kwargs):
    return ts.open(spec, **kwargs).result()


def _ts_read(path, driver):
    t = _ts_open({"driver": driver, "kvstore": _kv(path)}, open=True)
    return t, t.read().result()


# ============================================================================================
# N5
# ============================================================================================

#: id -> (tensorstore "compression" JSON, our compression, our options, expected subset of
#:        our "compression" JSON); our compression None: tensorstore-only
N5_CODECS = {
    "raw": ({"type": "raw"}, "raw", {}, {"type": "raw"}),
    "gzip": ({"type": "gzip", "level": 5}, "gzip", {"level": 5}, {"type": "gzip", "level": 5}),
    "gzip-zlib": (
        {"type": "gzip", "level": 3, "useZlib": True},
        "zlib",
        {"level": 3},
        {"type": "gzip", "useZlib": True},
    ),
    "gzip-default-level": ({"type": "gzip"}, None, None, None),
    "bzip2": (
        {"type": "bzip2", "blockSize": 4},
        "bzip2",
        {"level": 4},
        {"type": "bzip2", "blockSize": 4},
    ),
    "xz": ({"type": "xz", "preset": 3}, "xz", {"level": 3}, {"type": "xz", "preset": 3}),
    "zstd": ({"type": "zstd", "level": 3}, "zstd", {"level": 3}, {"type": "zstd", "level": 3}),
    "zstd-negative": ({"type": "zstd", "level": -2}, None, None, None),
}
for _cname in BLOSC_CNAMES:
    for _shuffle in BLOSC_SHUFFLES:
        N5_CODECS[f"blosc-{_cname}-{_shuffle}"] = (
            {"type": "blosc", "cname": _cname, "clevel": 4, "shuffle": _shuffle},
            "blosc",
            {"codec": _cname, "clevel": 4, "shuffle": _shuffle},
            {"type": "blosc", "cname": _cname, "clevel": 4, "shuffle": _shuffle},
        )

N5_DTYPE_SWEEP_CODECS = ["raw", "gzip", "blosc-lz4-1"]


def _n5_pairs(ours_only):
    ids = [k for k, v in N5_CODECS.items() if v[1] is not None or not ours_only]
    pairs = {(c, d) for c in ids for d in CODEC_SWEEP_DTYPES}
    pairs |= {(c, d) for c in N5_DTYPE_SWEEP_CODECS for d in COMMON_DTYPES}
    return [pytest.param(c, d, id=f"{c}-{d}") for c, d in sorted(pairs)]


def _ts_n5_create(path, dtype, compression, shape=SHAPE, chunks=CHUNKS, extra=None):
    metadata = {
        "dimensions": list(reversed(shape)),
        "blockSize": list(reversed(chunks)),
        "dataType": np.dtype(dtype).name,
        "compression": compression,
    }
    metadata.update(extra or {})
    return _ts_open({"driver": "n5", "kvstore": _kv(path), "metadata": metadata}, create=True)


def _check_n5_chunks(ds_dir, data, chunks, raw):
    """Every chunk file exists at its reversed path, with a clipped default-mode header."""
    be = data.astype(data.dtype.newbyteorder(">"))
    for idx in all_chunk_indices(data.shape, chunks):
        path = n5_chunk_path(ds_dir, idx)
        assert path.is_file(), idx
        blob = path.read_bytes()
        mode, dims, _, hlen = parse_n5_header(blob)
        clipped = chunk_clipped_shape(data.shape, chunks, idx)
        assert mode == 0
        assert dims == list(reversed(clipped)), (idx, dims, clipped)
        if raw:
            sl = tuple(slice(i * c, i * c + n) for i, c, n in zip(idx, chunks, clipped))
            assert blob[hlen:] == be[sl].tobytes(), idx


@pytest.mark.parametrize("codec_id,dtype", _n5_pairs(ours_only=True))
def test_n5_ours_read_by_tensorstore(tmp_path, codec_id, dtype):
    _, compression, opts, expected_json = N5_CODECS[codec_id]
    data = make_data(dtype)
    root = tmp_path / "c.n5"
    z5_write(root, "n5", "d", data, compression=compression, opts=opts)

    assert "n5" in read_json(root / "attributes.json")
    meta = read_json(root / "d" / "attributes.json")
    assert meta["dimensions"] == list(reversed(SHAPE))
    assert meta["blockSize"] == list(reversed(CHUNKS))
    assert meta["dataType"] == dtype
    for key, value in expected_json.items():
        assert meta["compression"].get(key) == value, (key, meta["compression"])
    _check_n5_chunks(root / "d", data, CHUNKS, raw=compression == "raw")

    t, arr = _ts_read(root / "d", "n5")
    assert tuple(t.shape) == tuple(reversed(SHAPE))
    assert_same_array(arr.T, data)
    window = t[tuple(reversed(READ_WINDOW))].read().result()
    assert_same_array(window.T, data[READ_WINDOW])


@pytest.mark.parametrize("codec_id,dtype", _n5_pairs(ours_only=False))
def test_n5_tensorstore_read_by_ours(tmp_path, codec_id, dtype):
    ts_compression = N5_CODECS[codec_id][0]
    data = make_data(dtype)
    root = tmp_path / "c.n5"
    t = _ts_n5_create(root / "d", dtype, ts_compression)
    t[...] = data.T
    # tensorstore writes no root attributes.json: the root is a plain directory

    whole, part, ds = z5_read(root, "d", READ_WINDOW)
    assert tuple(ds.shape) == SHAPE
    assert tuple(ds.chunks) == CHUNKS
    assert_same_array(whole, data)
    assert_same_array(part, data[READ_WINDOW])


def test_n5_tensorstore_writes_unclipped_edge_blocks(tmp_path):
    """Peer fact: tensorstore pads N5 edge blocks to the full block size (unlike z5), so
    our reader must take the block shape from the header and crop."""
    data = make_data("uint16", EDGE_SHAPE)
    root = tmp_path / "c.n5"
    t = _ts_n5_create(root / "d", "uint16", {"type": "raw"}, EDGE_SHAPE, EDGE_CHUNKS)
    t[...] = data.T
    _, dims, _, _ = parse_n5_header(n5_chunk_path(root / "d", (2, 3, 1)).read_bytes())
    assert dims == [16, 16, 16]
    assert_z5_reads(root, "d", data, EDGE_WINDOW)


@pytest.mark.parametrize("compression", ["raw", "gzip"])
def test_n5_edge_chunks_ours_read_by_tensorstore(tmp_path, compression):
    data = make_data("uint16", EDGE_SHAPE)
    root = tmp_path / "c.n5"
    z5_write(root, "n5", "d", data, chunks=EDGE_CHUNKS, compression=compression)
    _check_n5_chunks(root / "d", data, EDGE_CHUNKS, raw=compression == "raw")
    # the last chunk explicitly: numpy index (2, 3, 1) -> clipped (5, 5, 13) -> header 13 5 5
    blob = n5_chunk_path(root / "d", (2, 3, 1)).read_bytes()
    assert blob[:16] == bytes.fromhex("0000 0003 0000000d 00000005 00000005".replace(" ", ""))
    if compression == "raw":
        assert len(blob) == 16 + 5 * 5 * 13 * 2

    _, arr = _ts_read(root / "d", "n5")
    assert_same_array(arr.T, data)


def test_n5_missing_chunks_ours_read_by_tensorstore(tmp_path):
    data = make_data("int32")
    root = tmp_path / "c.n5"
    z5_write(root, "n5", "d", data, region=REGION, compression="gzip")
    assert not n5_chunk_path(root / "d", MISSING_CHUNK).exists()
    _, arr = _ts_read(root / "d", "n5")
    assert_same_array(arr.T, expected_with_fill(data, REGION, 0))


def test_n5_missing_chunks_tensorstore_read_by_ours(tmp_path):
    data = make_data("float64")
    root = tmp_path / "c.n5"
    t = _ts_n5_create(root / "d", "float64", {"type": "zstd", "level": 1})
    t[tuple(reversed(REGION))] = data[REGION].T
    assert not n5_chunk_path(root / "d", MISSING_CHUNK).exists()
    assert_z5_reads(root, "d", expected_with_fill(data, REGION, 0))


def test_n5_attrs_ours_read_by_tensorstore(tmp_path):
    root = tmp_path / "c.n5"
    ds = z5_create(root, "n5", "d", "uint8", compression="raw")
    for k, v in ATTRS.items():
        ds.attrs[k] = v
    ds[...] = make_data("uint8")
    t, arr = _ts_read(root / "d", "n5")
    meta = t.spec().to_json()["metadata"]
    for k, v in ATTRS.items():
        assert meta[k] == v, k
    assert_same_array(arr.T, make_data("uint8"))
    # and the dataset keys are still intact next to the attributes
    on_disk = read_json(root / "d" / "attributes.json")
    assert on_disk["dimensions"] == list(reversed(SHAPE))
    assert {k: on_disk[k] for k in ATTRS} == ATTRS


def test_n5_attrs_tensorstore_read_by_ours(tmp_path):
    root = tmp_path / "c.n5"
    t = _ts_n5_create(root / "d", "uint8", {"type": "raw"}, extra=ATTRS)
    t[...] = make_data("uint8").T
    f = z5_open(root, None, "r")
    # user attributes only: the dataset keys (dimensions, blockSize, ...) are not attributes
    assert z5_attrs(f["d"]) == ATTRS


def test_n5_groups_tensorstore_listed_by_ours(tmp_path):
    root = tmp_path / "c.n5"
    data = make_data("uint16", (6, 5))
    for name in ["a/b/d", "a/c/e", "top"]:
        t = _ts_n5_create(root / name, "uint16", {"type": "raw"}, shape=(6, 5), chunks=(4, 4))
        t[...] = data.T

    import z5py

    f = z5_open(root, None, "r")
    assert sorted(f.keys()) == ["a", "top"]
    assert sorted(f["a"].keys()) == ["b", "c"]
    assert isinstance(f["a/b"], z5py.Group)
    assert isinstance(f["a/b/d"], z5py.Dataset)
    assert "a/c/e" in f
    for name in ["a/b/d", "a/c/e", "top"]:
        assert_same_array(f[name][...], data)


def test_n5_groups_ours_read_by_tensorstore(tmp_path):
    root = tmp_path / "c.n5"
    data = make_data("int64", (6, 5))
    f = z5_open(root, "n5", "a")
    f.create_group("g1/g2")
    z5_write(root, "n5", "x/y/d", data, chunks=(4, 4), compression="gzip")
    assert (root / "g1" / "g2").is_dir()
    _, arr = _ts_read(root / "x" / "y" / "d", "n5")
    assert_same_array(arr.T, data)


# ============================================================================================
# Zarr v2 (driver "zarr")
# ============================================================================================

#: id -> (tensorstore compressor JSON, our compression, our options)
Z2_CODECS = {
    "raw": (None, "raw", {}),
    "zlib": ({"id": "zlib", "level": 2}, "zlib", {"level": 2}),
    "gzip": ({"id": "gzip", "level": 6}, "gzip", {"level": 6}),
    "bz2": ({"id": "bz2", "level": 3}, "bzip2", {"level": 3}),
    "zstd": ({"id": "zstd", "level": 4}, "zstd", {"level": 4}),
}
for _cname in BLOSC_CNAMES:  # tensorstore's blosc has snappy, numcodecs' has not
    for _shuffle in BLOSC_SHUFFLES:
        Z2_CODECS[f"blosc-{_cname}-{_shuffle}"] = (
            {"id": "blosc", "cname": _cname, "clevel": 3, "shuffle": _shuffle},
            "blosc",
            {"codec": _cname, "clevel": 3, "shuffle": _shuffle},
        )
Z2_DTYPE_SWEEP_CODECS = ["raw", "blosc-snappy-1", "zlib"]


def _z2_pairs():
    blosc_dtypes = ["uint8", "float64"]
    pairs = set()
    for c in Z2_CODECS:
        for d in blosc_dtypes if c.startswith("blosc") else CODEC_SWEEP_DTYPES:
            pairs.add((c, d))
    pairs |= {(c, d) for c in Z2_DTYPE_SWEEP_CODECS for d in ZARR_DTYPES}
    return [pytest.param(c, d, id=f"{c}-{d}") for c, d in sorted(pairs)]


def _ts_zarr2_create(
    path, dtype, compressor, fill_value=0, order="C", sep=".", shape=SHAPE, chunks=CHUNKS
):
    metadata = {
        "shape": list(shape),
        "chunks": list(chunks),
        "dtype": np.dtype(dtype).str,
        "compressor": compressor,
        "fill_value": _ts_fill_json(fill_value, dtype, 2),
        "order": order,
        "dimension_separator": sep,
    }
    return _ts_open({"driver": "zarr", "kvstore": _kv(path), "metadata": metadata}, create=True)


def _ts_fill_json(fill, dtype, zarr_format):
    if np.dtype(dtype).kind == "c":
        return [
            _ts_fill_json(fill.real, "f8", zarr_format),
            _ts_fill_json(fill.imag, "f8", zarr_format),
        ]
    if isinstance(fill, float) and math.isnan(fill):
        return "NaN"
    if isinstance(fill, float) and math.isinf(fill):
        return "Infinity" if fill > 0 else "-Infinity"
    if np.dtype(dtype).kind == "b":
        return bool(fill)
    return fill


def _our_zarr_root(root, fmt):
    """The container (root group metadata) comes from us; tensorstore writes arrays only."""
    z5_open(root, fmt, "a")


@pytest.mark.parametrize("codec_id,dtype", _z2_pairs())
def test_zarr2_ours_read_by_tensorstore(tmp_path, codec_id, dtype):
    ts_compressor, compression, opts = Z2_CODECS[codec_id]
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    z5_write(root, "zarr2", "d", data, compression=compression, opts=opts)
    meta = read_json(root / "d" / ".zarray")
    if ts_compressor is None:
        assert meta["compressor"] is None
    else:
        for key, value in ts_compressor.items():
            assert meta["compressor"].get(key) == value, (key, meta["compressor"])

    t, arr = _ts_read(root / "d", "zarr")
    assert tuple(t.shape) == SHAPE
    assert_same_array(arr, data)
    assert_same_array(t[READ_WINDOW].read().result(), data[READ_WINDOW])


@pytest.mark.parametrize("codec_id,dtype", _z2_pairs())
def test_zarr2_tensorstore_read_by_ours(tmp_path, codec_id, dtype):
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    _our_zarr_root(root, "zarr2")
    t = _ts_zarr2_create(root / "d", dtype, Z2_CODECS[codec_id][0])
    t[...] = data
    assert_z5_reads(root, "d", data)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", BIG_ENDIAN_DTYPES + [">i2"])
def test_zarr2_big_endian_tensorstore_read_by_ours(tmp_path, dtype, order):
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    _our_zarr_root(root, "zarr2")
    t = _ts_zarr2_create(root / "d", dtype, {"id": "zstd", "level": 1}, order=order)
    t[...] = data
    meta = read_json(root / "d" / ".zarray")
    assert meta["dtype"] == np.dtype(dtype).str and meta["order"] == order
    assert_z5_reads(root, "d", data)


@pytest.mark.parametrize("sep", [".", "/"])
def test_zarr2_separator_tensorstore_read_by_ours(tmp_path, sep):
    data = make_data("int32")
    root = tmp_path / "c.zarr"
    _our_zarr_root(root, "zarr2")
    t = _ts_zarr2_create(root / "d", "int32", {"id": "gzip", "level": 1}, sep=sep)
    t[...] = data
    assert (root / "d" / sep.join(["2", "2", "2"])).is_file()
    whole, _, _ = z5_read(root, "d")
    assert_same_array(whole, data)


@pytest.mark.parametrize("sep", [".", "/"])
def test_zarr2_separator_ours_read_by_tensorstore(tmp_path, sep):
    data = make_data("int32")
    root = tmp_path / "c.zarr"
    z5_write(root, "zarr2", "d", data, compression="gzip", dimension_separator=sep)
    assert (root / "d" / sep.join(["2", "2", "2"])).is_file()
    _, arr = _ts_read(root / "d", "zarr")
    assert_same_array(arr, data)


def test_zarr2_edge_chunks_both_ways(tmp_path):
    data = make_data("float32", EDGE_SHAPE)
    ours = tmp_path / "ours.zarr"
    z5_write(ours, "zarr2", "d", data, chunks=EDGE_CHUNKS, compression="blosc")
    _, arr = _ts_read(ours / "d", "zarr")
    assert_same_array(arr, data)

    theirs = tmp_path / "theirs.zarr"
    _our_zarr_root(theirs, "zarr2")
    t = _ts_zarr2_create(
        theirs / "d",
        "float32",
        {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1},
        shape=EDGE_SHAPE,
        chunks=EDGE_CHUNKS,
    )
    t[...] = data
    assert_z5_reads(theirs, "d", data, EDGE_WINDOW)


@pytest.mark.parametrize("case", FILL_PARAMS)
def test_zarr2_fill_value_ours_read_by_tensorstore(tmp_path, case):
    dtype, fill = case
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    z5_write(root, "zarr2", "d", data, region=REGION, compression="raw", fillvalue=fill)
    assert fill_json_ok(read_json(root / "d" / ".zarray")["fill_value"], fill, dtype)
    assert not (root / "d" / ".".join(map(str, MISSING_CHUNK))).exists()
    _, arr = _ts_read(root / "d", "zarr")
    assert_same_array(arr, expected_with_fill(data, REGION, fill))


@pytest.mark.parametrize("case", FILL_PARAMS)
def test_zarr2_fill_value_tensorstore_read_by_ours(tmp_path, case):
    dtype, fill = case
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    _our_zarr_root(root, "zarr2")
    t = _ts_zarr2_create(root / "d", dtype, None, fill_value=fill)
    t[REGION] = data[REGION]
    assert not (root / "d" / ".".join(map(str, MISSING_CHUNK))).exists()
    assert_z5_reads(root, "d", expected_with_fill(data, REGION, fill))


# ============================================================================================
# Zarr v3 (driver "zarr3")
# ============================================================================================


def _bytes(endian="little"):
    return {"name": "bytes", "configuration": {"endian": endian}}


#: id -> list of codecs (inside the shard when sharded)
TS_V3_CHAINS = {
    "bytes-le": [_bytes()],
    "bytes-be": [_bytes("big")],
    "transpose": [{"name": "transpose", "configuration": {"order": [1, 2, 0]}}, _bytes()],
    "transpose-be-zstd": [
        {"name": "transpose", "configuration": {"order": [2, 1, 0]}},
        _bytes("big"),
        {"name": "zstd", "configuration": {"level": 2, "checksum": False}},
    ],
    "gzip": [_bytes(), {"name": "gzip", "configuration": {"level": 5}}],
    "zstd": [_bytes(), {"name": "zstd", "configuration": {"level": 3, "checksum": False}}],
    "zstd-checksum": [_bytes(), {"name": "zstd", "configuration": {"level": 3, "checksum": True}}],
    "crc32c": [_bytes(), {"name": "crc32c"}],
    "gzip-crc32c": [
        _bytes("big"),
        {"name": "gzip", "configuration": {"level": 1}},
        {"name": "crc32c"},
    ],
}
for _cname in BLOSC_CNAMES:
    for _shuffle in ["noshuffle", "shuffle", "bitshuffle"]:
        TS_V3_CHAINS[f"blosc-{_cname}-{_shuffle}"] = [
            _bytes(),
            {"name": "blosc", "configuration": {"cname": _cname, "clevel": 4, "shuffle": _shuffle}},
        ]


def _ts_zarr3_create(
    path,
    dtype,
    chain,
    mode,
    fill_value=0,
    cke=None,
    shape=SHAPE,
    chunks=CHUNKS,
    shards=SHARDS,
    index_codecs=None,
    attributes=None,
):
    codecs = TS_V3_CHAINS[chain]
    if np.dtype(dtype).itemsize == 1:  # tensorstore refuses an endian for 1-byte types
        codecs = [{"name": "bytes"} if c["name"] == "bytes" else c for c in codecs]
    if mode == "plain":
        grid = chunks
    else:
        grid = shards
        codecs = [
            {
                "name": "sharding_indexed",
                "configuration": {
                    "chunk_shape": list(chunks),
                    "codecs": codecs,
                    "index_codecs": index_codecs or [_bytes(), {"name": "crc32c"}],
                    "index_location": mode,
                },
            }
        ]
    metadata = {
        "shape": list(shape),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(grid)}},
        "data_type": np.dtype(dtype).name,
        "fill_value": _ts_fill_json(fill_value, dtype, 3),
        "codecs": codecs,
    }
    if cke is not None:
        metadata["chunk_key_encoding"] = cke
    if attributes is not None:
        metadata["attributes"] = attributes
    return _ts_open({"driver": "zarr3", "kvstore": _kv(path), "metadata": metadata}, create=True)


def _ts_v3_params():
    out = set()
    for chain in TS_V3_CHAINS:
        if chain.startswith("blosc"):
            out.add((chain, "plain", "int16"))
            if chain.endswith("-shuffle"):
                out.add((chain, "end", "float64"))
        else:
            for mode in ("plain", "end", "start"):
                out.add((chain, mode, "uint16"))
                out.add((chain, mode, "float32"))
    for d in ZARR_DTYPES:
        out.add(("zstd", "end", d))
        out.add(("bytes-be", "plain", d))
    return [pytest.param(c, m, d, id=f"{c}-{m}-{d}") for c, m, d in sorted(out)]


@pytest.mark.parametrize("chain,mode,dtype", _ts_v3_params())
def test_zarr3_tensorstore_read_by_ours(tmp_path, chain, mode, dtype):
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    _our_zarr_root(root, "zarr3")
    t = _ts_zarr3_create(root / "d", dtype, chain, mode)
    t[...] = data
    whole, part, ds = z5_read(root, "d", READ_WINDOW)
    assert tuple(ds.shape) == SHAPE and tuple(ds.chunks) == CHUNKS
    assert_same_array(whole, data)
    assert_same_array(part, data[READ_WINDOW])


@pytest.mark.parametrize(
    "cke,key",
    [
        pytest.param(None, "c/1/1/1", id="default-implicit"),
        pytest.param(
            {"name": "default", "configuration": {"separator": "/"}}, "c/1/1/1", id="default-slash"
        ),
        pytest.param(
            {"name": "default", "configuration": {"separator": "."}}, "c.1.1.1", id="default-dot"
        ),
        pytest.param({"name": "v2", "configuration": {"separator": "."}}, "1.1.1", id="v2-dot"),
        pytest.param({"name": "v2", "configuration": {"separator": "/"}}, "1/1/1", id="v2-slash"),
    ],
)
@pytest.mark.parametrize("mode", ["plain", "start"])
def test_zarr3_chunk_key_encoding_tensorstore_read_by_ours(tmp_path, cke, key, mode):
    data = make_data("uint32")
    root = tmp_path / "c.zarr"
    _our_zarr_root(root, "zarr3")
    t = _ts_zarr3_create(root / "d", "uint32", "gzip", mode, cke=cke)
    t[...] = data
    assert (root / "d" / key).is_file()
    assert_z5_reads(root, "d", data)


@pytest.mark.parametrize(
    "index_codecs",
    [
        pytest.param([_bytes("big"), {"name": "crc32c"}], id="index-be-crc32c"),
        pytest.param([_bytes()], id="index-le"),
    ],
)
def test_zarr3_index_codecs_tensorstore_read_by_ours(tmp_path, index_codecs):
    data = make_data("int8")
    root = tmp_path / "c.zarr"
    _our_zarr_root(root, "zarr3")
    t = _ts_zarr3_create(root / "d", "int8", "zstd", "end", index_codecs=index_codecs)
    t[...] = data
    whole, _, _ = z5_read(root, "d")
    assert_same_array(whole, data)


#: (our compression, options)
OURS_V3 = {
    "raw": ("raw", {}),
    "gzip": ("gzip", {"level": 4}),
    "zstd": ("zstd", {"level": 2}),
    "blosc-lz4-1": ("blosc", {"codec": "lz4", "clevel": 5, "shuffle": 1}),
    "blosc-zstd-2": ("blosc", {"codec": "zstd", "clevel": 2, "shuffle": 2}),
    "blosc-snappy-0": ("blosc", {"codec": "snappy", "clevel": 5, "shuffle": 0}),
}


def _ours_v3_params():
    out = set()
    for c in OURS_V3:
        for sharded in (False, True):
            out.add((c, sharded, "/", "int16"))
            out.add((c, sharded, "/", "float64"))
    for cke in ("/", ".", "v2"):
        for sharded in (False, True):
            out.add(("gzip", sharded, cke, "uint8"))
    for d in ZARR_DTYPES:
        out.add(("zstd", True, "/", d))
    return [
        pytest.param(c, s, k, d, id=f"{c}-{'sharded' if s else 'plain'}-cke{k}-{d}")
        for c, s, k, d in sorted(out)
    ]


@pytest.mark.parametrize("codec_id,sharded,cke,dtype", _ours_v3_params())
def test_zarr3_ours_read_by_tensorstore(tmp_path, codec_id, sharded, cke, dtype):
    compression, opts = OURS_V3[codec_id]
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    z5_write(
        root,
        "zarr3",
        "d",
        data,
        compression=compression,
        opts=opts,
        shards=SHARDS if sharded else None,
        chunk_key_encoding=cke,
    )
    t, arr = _ts_read(root / "d", "zarr3")
    assert tuple(t.shape) == SHAPE
    layout = t.chunk_layout
    assert tuple(layout.read_chunk.shape) == CHUNKS
    assert tuple(layout.write_chunk.shape) == (SHARDS if sharded else CHUNKS)
    key = {"/": "c/1/1/1", ".": "c.1.1.1", "v2": "1.1.1"}[cke]
    assert (root / "d" / key).is_file()
    assert_same_array(arr, data)
    assert_same_array(t[READ_WINDOW].read().result(), data[READ_WINDOW])


def test_zarr3_edge_shards_both_ways(tmp_path):
    data = make_data("uint16", EDGE_SHAPE)
    ours = tmp_path / "ours.zarr"
    z5_write(ours, "zarr3", "d", data, chunks=(8, 8, 8), shards=EDGE_CHUNKS, compression="blosc")
    _, arr = _ts_read(ours / "d", "zarr3")
    assert_same_array(arr, data)

    theirs = tmp_path / "theirs.zarr"
    _our_zarr_root(theirs, "zarr3")
    t = _ts_zarr3_create(
        theirs / "d",
        "uint16",
        "zstd",
        "start",
        shape=EDGE_SHAPE,
        chunks=(8, 8, 8),
        shards=EDGE_CHUNKS,
    )
    t[...] = data
    assert_z5_reads(theirs, "d", data, EDGE_WINDOW)


_V3FILL_PARAMS = [
    pytest.param(c, id=fill_id(c))
    for c in FILL_CASES + FILL_CASES_ZARR_ONLY
    if c[0] in ("uint8", "uint64", "int64", "float32", "float64", "bool", "complex128")
]


@pytest.mark.parametrize("case", _V3FILL_PARAMS)
def test_zarr3_fill_value_ours_read_by_tensorstore(tmp_path, case):
    dtype, fill = case
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    z5_write(
        root, "zarr3", "d", data, region=REGION, compression="zstd", fillvalue=fill, shards=SHARDS
    )
    assert fill_json_ok(read_json(root / "d" / "zarr.json")["fill_value"], fill, dtype)
    assert not (root / "d" / "c" / "1" / "0" / "0").exists()
    _, arr = _ts_read(root / "d", "zarr3")
    assert_same_array(arr, expected_with_fill(data, REGION, fill))


@pytest.mark.parametrize("case", _V3FILL_PARAMS)
def test_zarr3_fill_value_tensorstore_read_by_ours(tmp_path, case):
    dtype, fill = case
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    _our_zarr_root(root, "zarr3")
    t = _ts_zarr3_create(root / "d", dtype, "gzip", "end", fill_value=fill)
    t[REGION] = data[REGION]
    assert not (root / "d" / "c" / "1" / "0" / "0").exists()
    assert_z5_reads(root, "d", expected_with_fill(data, REGION, fill))


def test_zarr3_attrs_both_ways(tmp_path):
    ours = tmp_path / "ours.zarr"
    ds = z5_create(ours, "zarr3", "d", "float32", compression="gzip")
    for k, v in ATTRS.items():
        ds.attrs[k] = v
    ds[...] = make_data("float32")
    t, arr = _ts_read(ours / "d", "zarr3")
    assert t.spec().to_json()["metadata"]["attributes"] == ATTRS
    assert_same_array(arr, make_data("float32"))

    theirs = tmp_path / "theirs.zarr"
    _our_zarr_root(theirs, "zarr3")
    t = _ts_zarr3_create(theirs / "d", "float32", "gzip", "plain", attributes=ATTRS)
    t[...] = make_data("float32")
    f = z5_open(theirs, None, "r")
    assert z5_attrs(f["d"]) == ATTRS
