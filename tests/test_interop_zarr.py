"""Interop with zarr-python 3.1 (Zarr v2 and v3), in both directions.

"ours -> zarr" tests write with z5py and read with ``zarr.open_array`` / ``zarr.open_group``;
"zarr -> ours" tests write with ``zarr.create_array`` and read with z5py.  Every test compares
the data with numpy and checks the metadata or the files on disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numcodecs
import numpy as np
import pytest
import zarr
from interop_helpers import (
    ATTRS,
    BIG_ENDIAN_DTYPES,
    BLOSC_CNAMES_NUMCODECS,
    BLOSC_SHUFFLES,
    CHUNKS,
    CODEC_SWEEP_DTYPES,
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
    expected_with_fill,
    fill_id,
    fill_json_ok,
    make_data,
    read_json,
    z5_attrs,
    z5_create,
    z5_open,
    z5_read,
    z5_write,
)
from zarr.codecs import (
    BloscCodec,
    BytesCodec,
    Crc32cCodec,
    GzipCodec,
    ShardingCodec,
    TransposeCodec,
    ZstdCodec,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

V2_KEYS = {
    "zarr_format",
    "shape",
    "chunks",
    "dtype",
    "compressor",
    "fill_value",
    "order",
    "filters",
}


def _v2_typestr(dtype) -> str:
    return np.dtype(dtype).newbyteorder("<").str


def _check_zarray(meta, dtype, shape=SHAPE, chunks=CHUNKS):
    assert V2_KEYS <= set(meta), sorted(meta)
    assert set(meta) <= V2_KEYS | {"dimension_separator"}, sorted(meta)
    assert meta["zarr_format"] == 2
    assert meta["shape"] == list(shape)
    assert meta["chunks"] == list(chunks)
    assert meta["dtype"] == _v2_typestr(dtype)
    assert meta["order"] == "C"
    assert meta["filters"] in (None, [])


def _fill_equal(a, b) -> bool:
    if isinstance(b, complex) or np.iscomplexobj(a):
        return _fill_equal(complex(a).real, b.real) and _fill_equal(complex(a).imag, b.imag)
    if isinstance(b, float) and math.isnan(b):
        return math.isnan(float(a))
    return a == b


# ============================================================================================
# Zarr v2 codecs
# ============================================================================================


@dataclass(frozen=True)
class V2Codec:
    id: str
    numcodec: object  # what zarr-python writes with (None: no compressor)
    compression: str | None  # our compression name; None: we cannot write it
    opts: dict = field(default_factory=dict)
    json: dict | None = None  # expected subset of our .zarray "compressor"


def _v2_codecs():
    out = [V2Codec("raw", None, "raw", {}, None)]
    for cname in BLOSC_CNAMES_NUMCODECS:
        for shuffle in BLOSC_SHUFFLES:
            out.append(
                V2Codec(
                    f"blosc-{cname}-{shuffle}",
                    numcodecs.Blosc(cname=cname, clevel=4, shuffle=shuffle),
                    "blosc",
                    {"codec": cname, "clevel": 4, "shuffle": shuffle},
                    {"id": "blosc", "cname": cname, "clevel": 4, "shuffle": shuffle},
                )
            )
    out += [
        V2Codec("zlib", numcodecs.Zlib(level=3), "zlib", {"level": 3}, {"id": "zlib", "level": 3}),
        V2Codec("gzip", numcodecs.GZip(level=4), "gzip", {"level": 4}, {"id": "gzip", "level": 4}),
        V2Codec("bz2", numcodecs.BZ2(level=2), "bzip2", {"level": 2}, {"id": "bz2", "level": 2}),
        V2Codec(
            "lzma", numcodecs.LZMA(preset=1), "lzma", {"level": 1}, {"id": "lzma", "preset": 1}
        ),
        V2Codec("zstd", numcodecs.Zstd(level=5), "zstd", {"level": 5}, {"id": "zstd", "level": 5}),
        V2Codec("lz4", numcodecs.LZ4(acceleration=1), "lz4", {}, {"id": "lz4"}),
        # only zarr-python writes these
        V2Codec("zstd-checksum", numcodecs.Zstd(level=2, checksum=True), None),
        V2Codec("zstd-level-negative", numcodecs.Zstd(level=-3), None),
        V2Codec("lzma-default", numcodecs.LZMA(), None),
        V2Codec("lz4-accel-5", numcodecs.LZ4(acceleration=5), None),
    ]
    return out


V2_CODECS = {c.id: c for c in _v2_codecs()}
#: codecs we can write
V2_CODECS_OURS = [c for c in V2_CODECS.values() if c.compression is not None]
#: codecs for the full dtype sweep
V2_DTYPE_SWEEP_CODECS = ["raw", "blosc-lz4-1", "zstd"]


def _pairs(codecs):
    pairs = {(c.id, d) for c in codecs for d in CODEC_SWEEP_DTYPES}
    pairs |= {(c, d) for c in V2_DTYPE_SWEEP_CODECS for d in ZARR_DTYPES}
    return [pytest.param(c, d, id=f"{c}-{d}") for c, d in sorted(pairs)]


def _zarr2_group(root):
    return zarr.open_group(str(root), mode="w", zarr_format=2)


# --------------------------------------------------------------------------------------------
# Zarr v2: ours -> zarr-python
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec_id,dtype", _pairs(V2_CODECS_OURS))
def test_zarr2_ours_read_by_zarr_python(tmp_path, codec_id, dtype):
    codec = V2_CODECS[codec_id]
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    z5_write(root, "zarr2", "d", data, compression=codec.compression, opts=codec.opts)

    meta = read_json(root / "d" / ".zarray")
    _check_zarray(meta, dtype)
    if codec.json is None:
        assert meta["compressor"] is None
    else:
        for key, value in codec.json.items():
            assert meta["compressor"].get(key) == value, (key, meta["compressor"])
    assert read_json(root / ".zgroup") == {"zarr_format": 2}
    # every chunk holds data, so every chunk file exists under its '.' key
    for idx in all_chunk_indices(SHAPE, CHUNKS):
        assert (root / "d" / ".".join(map(str, idx))).is_file(), idx

    a = zarr.open_array(str(root / "d"), mode="r", zarr_format=2)
    assert a.shape == SHAPE and a.chunks == CHUNKS
    assert_same_array(a[...], data)
    assert_same_array(a[READ_WINDOW], data[READ_WINDOW])


# --------------------------------------------------------------------------------------------
# Zarr v2: zarr-python -> ours
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec_id,dtype", _pairs(V2_CODECS.values()))
def test_zarr2_zarr_python_read_by_ours(tmp_path, codec_id, dtype):
    codec = V2_CODECS[codec_id]
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    a = _zarr2_group(root).create_array(
        "d", shape=SHAPE, chunks=CHUNKS, dtype=dtype, compressors=codec.numcodec, fill_value=0
    )
    a[...] = data

    whole, part, ds = z5_read(root, "d", READ_WINDOW)
    assert tuple(ds.shape) == SHAPE
    assert tuple(ds.chunks) == CHUNKS
    assert_same_array(whole, data)
    assert_same_array(part, data[READ_WINDOW])


@pytest.mark.parametrize("dtype", BIG_ENDIAN_DTYPES)
@pytest.mark.parametrize("codec_id", ["raw", "blosc-lz4-1", "blosc-zstd-2", "zlib"])
def test_zarr2_big_endian_from_zarr_python(tmp_path, dtype, codec_id):
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    a = _zarr2_group(root).create_array(
        "d",
        shape=SHAPE,
        chunks=CHUNKS,
        dtype=dtype,
        compressors=V2_CODECS[codec_id].numcodec,
        fill_value=0,
    )
    a[...] = data
    assert read_json(root / "d" / ".zarray")["dtype"] == dtype  # really stored big-endian

    whole, part, ds = z5_read(root, "d", READ_WINDOW)
    assert np.dtype(ds.dtype).newbyteorder("=") == np.dtype(dtype).newbyteorder("=")
    assert_same_array(whole, data)
    assert_same_array(part, data[READ_WINDOW])


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float64", "complex64", "bool", ">i4", ">f8"])
@pytest.mark.parametrize("codec_id", ["raw", "blosc-lz4-1"])
def test_zarr2_order_F_from_zarr_python(tmp_path, dtype, codec_id):
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    g = _zarr2_group(root)
    a = g.create_array(
        "d",
        shape=SHAPE,
        chunks=CHUNKS,
        dtype=dtype,
        compressors=V2_CODECS[codec_id].numcodec,
        fill_value=0,
        order="F",
    )
    a[...] = data
    assert read_json(root / "d" / ".zarray")["order"] == "F"
    if codec_id == "raw":
        # the chunk really is Fortran-ordered on disk
        raw = (root / "d" / "0.0.0").read_bytes()
        chunk = np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(CHUNKS, order="F")
        np.testing.assert_array_equal(chunk, data[:5, :4, :3])

    assert_z5_reads(root, "d", data)


# --------------------------------------------------------------------------------------------
# Zarr v2: dimension separator, edge chunks, fill values
# --------------------------------------------------------------------------------------------


def _v2_key(idx, sep):
    return sep.join(map(str, idx))


@pytest.mark.parametrize("sep", [".", "/"])
def test_zarr2_dimension_separator_ours_read_by_zarr_python(tmp_path, sep):
    data = make_data("uint16")
    root = tmp_path / "c.zarr"
    z5_write(root, "zarr2", "d", data, compression="blosc", dimension_separator=sep)
    meta = read_json(root / "d" / ".zarray")
    assert meta.get("dimension_separator", ".") == sep
    for idx in all_chunk_indices(SHAPE, CHUNKS):
        assert (root / "d" / _v2_key(idx, sep)).is_file(), idx
    other = "/" if sep == "." else "."
    assert not (root / "d" / _v2_key((0, 0, 0), other)).exists()

    a = zarr.open_array(str(root / "d"), mode="r", zarr_format=2)
    assert_same_array(a[...], data)


@pytest.mark.parametrize("sep", [".", "/"])
def test_zarr2_dimension_separator_zarr_python_read_by_ours(tmp_path, sep):
    data = make_data("float32")
    root = tmp_path / "c.zarr"
    a = _zarr2_group(root).create_array(
        "d",
        shape=SHAPE,
        chunks=CHUNKS,
        dtype="float32",
        compressors=numcodecs.Zlib(level=1),
        chunk_key_encoding={"name": "v2", "separator": sep},
    )
    a[...] = data
    assert (root / "d" / _v2_key((2, 2, 2), sep)).is_file()

    assert_z5_reads(root, "d", data)


@pytest.mark.parametrize("codec_id", ["raw", "blosc-zstd-1"])
def test_zarr2_edge_chunks_ours_read_by_zarr_python(tmp_path, codec_id):
    codec = V2_CODECS[codec_id]
    data = make_data("uint16", EDGE_SHAPE)
    root = tmp_path / "c.zarr"
    z5_write(
        root,
        "zarr2",
        "d",
        data,
        chunks=EDGE_CHUNKS,
        compression=codec.compression,
        opts=codec.opts,
    )
    if codec_id == "raw":
        # Zarr pads edge chunks to the full chunk shape
        itemsize = 2
        full = int(np.prod(EDGE_CHUNKS)) * itemsize
        for idx in all_chunk_indices(EDGE_SHAPE, EDGE_CHUNKS):
            raw = (root / "d" / _v2_key(idx, ".")).read_bytes()
            assert len(raw) == full, (idx, len(raw))
        # the valid part of the last chunk holds the data (C order)
        raw = (root / "d" / "2.3.1").read_bytes()
        chunk = np.frombuffer(raw, "<u2").reshape(EDGE_CHUNKS)
        np.testing.assert_array_equal(chunk[:5, :5, :13], data[32:, 48:, 16:])
    a = zarr.open_array(str(root / "d"), mode="r", zarr_format=2)
    assert_same_array(a[...], data)
    assert_same_array(a[30:37, 40:53, 20:29], data[30:37, 40:53, 20:29])


@pytest.mark.parametrize("codec_id", ["raw", "blosc-lz4-2", "gzip"])
def test_zarr2_edge_chunks_zarr_python_read_by_ours(tmp_path, codec_id):
    data = make_data("uint16", EDGE_SHAPE)
    root = tmp_path / "c.zarr"
    a = _zarr2_group(root).create_array(
        "d",
        shape=EDGE_SHAPE,
        chunks=EDGE_CHUNKS,
        dtype="uint16",
        compressors=V2_CODECS[codec_id].numcodec,
        fill_value=0,
    )
    a[...] = data
    assert_z5_reads(root, "d", data, EDGE_WINDOW)


@pytest.mark.parametrize("case", FILL_PARAMS)
def test_zarr2_fill_value_ours_read_by_zarr_python(tmp_path, case):
    dtype, fill = case
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    z5_write(root, "zarr2", "d", data, region=REGION, compression="zlib", fillvalue=fill)
    meta = read_json(root / "d" / ".zarray")
    assert fill_json_ok(meta["fill_value"], fill, dtype), meta["fill_value"]
    assert not (root / "d" / _v2_key(MISSING_CHUNK, ".")).exists()

    a = zarr.open_array(str(root / "d"), mode="r", zarr_format=2)
    assert _fill_equal(a.fill_value, fill), (a.fill_value, fill)
    assert_same_array(a[...], expected_with_fill(data, REGION, fill))


@pytest.mark.parametrize("case", FILL_PARAMS)
def test_zarr2_fill_value_zarr_python_read_by_ours(tmp_path, case):
    dtype, fill = case
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    a = _zarr2_group(root).create_array(
        "d", shape=SHAPE, chunks=CHUNKS, dtype=dtype, compressors=None, fill_value=fill
    )
    a[REGION] = data[REGION]
    assert not (root / "d" / _v2_key(MISSING_CHUNK, ".")).exists()

    assert_z5_reads(root, "d", expected_with_fill(data, REGION, fill))


# ============================================================================================
# attributes and groups (v2 and v3)
# ============================================================================================

FORMATS = ["zarr2", "zarr3"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_attrs_ours_read_by_zarr_python(tmp_path, fmt):
    root = tmp_path / "c.zarr"
    f = z5_open(root, fmt, "a")
    for k, v in ATTRS.items():
        f.attrs[k] = v
    g = f.create_group("g")
    g.attrs["group"] = {"x": [1, 2]}
    ds = z5_create(root, fmt, "g/d", "int32")
    ds.attrs["unit"] = "nm"
    ds.attrs["scale"] = [1.0, 0.5, 0.25]

    zf = 2 if fmt == "zarr2" else 3
    zroot = zarr.open_group(str(root), mode="r", zarr_format=zf)
    assert zroot.attrs.asdict() == ATTRS
    assert zroot["g"].attrs.asdict() == {"group": {"x": [1, 2]}}
    assert zroot["g/d"].attrs.asdict() == {"unit": "nm", "scale": [1.0, 0.5, 0.25]}
    if fmt == "zarr2":
        assert read_json(root / ".zattrs") == ATTRS
        assert read_json(root / "g" / "d" / ".zattrs") == {"unit": "nm", "scale": [1.0, 0.5, 0.25]}
        assert not (root / "zarr.json").exists()
    else:
        assert read_json(root / "zarr.json")["attributes"] == ATTRS
        assert read_json(root / "g" / "d" / "zarr.json")["attributes"]["unit"] == "nm"
        assert not (root / ".zattrs").exists()
        assert not (root / "g" / "d" / ".zattrs").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_attrs_zarr_python_read_by_ours(tmp_path, fmt):
    root = tmp_path / "c.zarr"
    zf = 2 if fmt == "zarr2" else 3
    zroot = zarr.open_group(str(root), mode="w", zarr_format=zf)
    zroot.attrs.update(ATTRS)
    g = zroot.create_group("g")
    g.attrs["group"] = {"x": [1, 2]}
    a = g.create_array("d", shape=(4, 4), chunks=(2, 2), dtype="int32")
    a.attrs.update({"unit": "nm", "scale": [1.0, 0.5]})

    f = z5_open(root, None, "r")
    assert z5_attrs(f) == ATTRS
    assert z5_attrs(f["g"]) == {"group": {"x": [1, 2]}}
    assert z5_attrs(f["g/d"]) == {"unit": "nm", "scale": [1.0, 0.5]}
    assert f["g/d"].attrs["unit"] == "nm"


def _expected_tree():
    return {"x", "x/y", "x/y/d", "g1", "g1/g2", "g1/g2/g3", "top"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_groups_ours_listed_by_zarr_python(tmp_path, fmt):
    root = tmp_path / "c.zarr"
    data = make_data("int16", (6, 5))
    f = z5_open(root, fmt, "a")
    f.create_group("g1/g2/g3")
    ds = z5_create(root, fmt, "x/y/d", "int16", shape=(6, 5), chunks=(4, 4))
    ds[...] = data
    z5_create(root, fmt, "top", "uint8", shape=(3,), chunks=(2,))

    zf = 2 if fmt == "zarr2" else 3
    meta_name = ".zgroup" if fmt == "zarr2" else "zarr.json"
    for grp in ["", "x", "x/y", "g1", "g1/g2", "g1/g2/g3"]:
        meta = read_json(root / grp / meta_name)
        assert meta["zarr_format"] == zf
        if zf == 3:
            assert meta["node_type"] == "group"

    zroot = zarr.open_group(str(root), mode="r", zarr_format=zf)
    assert sorted(zroot.group_keys()) == ["g1", "x"]
    assert sorted(zroot.array_keys()) == ["top"]
    assert sorted(zroot["x"].group_keys()) == ["y"]
    assert sorted(zroot["g1/g2"].group_keys()) == ["g3"]
    assert isinstance(zroot["x/y/d"], zarr.Array)
    assert_same_array(zroot["x/y/d"][...], data)
    members = {name for name, _ in zroot.members(max_depth=None)}
    assert members == _expected_tree()


@pytest.mark.parametrize("fmt", FORMATS)
def test_groups_zarr_python_listed_by_ours(tmp_path, fmt):
    root = tmp_path / "c.zarr"
    data = make_data("int16", (6, 5))
    zf = 2 if fmt == "zarr2" else 3
    zroot = zarr.open_group(str(root), mode="w", zarr_format=zf)
    zroot.create_group("g1").create_group("g2").create_group("g3")
    a = (
        zroot.create_group("x")
        .create_group("y")
        .create_array("d", shape=(6, 5), chunks=(4, 4), dtype="int16")
    )
    a[...] = data
    zroot.create_array("top", shape=(3,), chunks=(2,), dtype="uint8")

    import z5py

    f = z5_open(root, None, "r")
    assert sorted(f.keys()) == ["g1", "top", "x"]
    assert "x/y" in f and "x/y/d" in f and "g1/g2/g3" in f
    assert "nope" not in f
    assert isinstance(f["x"], z5py.Group)
    assert isinstance(f["x/y/d"], z5py.Dataset)
    assert isinstance(f["top"], z5py.Dataset)
    assert sorted(f["g1"].keys()) == ["g2"]
    assert_same_array(f["x/y/d"][...], data)
    assert_same_array(f["x"]["y"]["d"][...], data)
    seen = set()
    f.visititems(lambda name, obj: seen.add(name.strip("/")))
    assert seen == _expected_tree()


# ============================================================================================
# Zarr v3
# ============================================================================================

SHUFFLE_V3 = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle"}


@dataclass(frozen=True)
class V3Ours:
    id: str
    compression: str
    opts: dict
    codec: dict | None  # expected bytes->bytes codec (name + configuration subset)


V3_OURS = {
    c.id: c
    for c in [
        V3Ours("raw", "raw", {}, None),
        V3Ours("gzip", "gzip", {"level": 5}, {"name": "gzip", "configuration": {"level": 5}}),
        V3Ours("zstd", "zstd", {"level": 3}, {"name": "zstd", "configuration": {"level": 3}}),
        V3Ours(
            "zstd-checksum",
            "zstd",
            {"level": 4, "checksum": True},
            {"name": "zstd", "configuration": {"level": 4, "checksum": True}},
        ),
        V3Ours(
            "blosc-lz4-1",
            "blosc",
            {"codec": "lz4", "clevel": 5, "shuffle": 1},
            {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"}},
        ),
        V3Ours(
            "blosc-zstd-2",
            "blosc",
            {"codec": "zstd", "clevel": 3, "shuffle": 2},
            {
                "name": "blosc",
                "configuration": {"cname": "zstd", "clevel": 3, "shuffle": "bitshuffle"},
            },
        ),
        V3Ours(
            "blosc-blosclz-0",
            "blosc",
            {"codec": "blosclz", "clevel": 7, "shuffle": 0},
            {
                "name": "blosc",
                "configuration": {"cname": "blosclz", "clevel": 7, "shuffle": "noshuffle"},
            },
        ),
    ]
}

CKE = {
    "/": ({"name": "default", "separator": "/"}, lambda idx: "c/" + "/".join(map(str, idx))),
    ".": ({"name": "default", "separator": "."}, lambda idx: "c." + ".".join(map(str, idx))),
    "v2": ({"name": "v2", "separator": "."}, lambda idx: ".".join(map(str, idx))),
}


def _v3_ours_params():
    out = set()
    for c in V3_OURS:
        for sharded in (False, True):
            for d in CODEC_SWEEP_DTYPES:
                out.add((c, sharded, "/", d))
    for cke in CKE:
        for sharded in (False, True):
            out.add(("raw", sharded, cke, "uint16"))
            out.add(("blosc-lz4-1", sharded, cke, "float32"))
    for d in ZARR_DTYPES:
        for sharded in (False, True):
            out.add(("zstd", sharded, "/", d))
    return [
        pytest.param(c, s, k, d, id=f"{c}-{'sharded' if s else 'plain'}-cke{k}-{d}")
        for c, s, k, d in sorted(out)
    ]


def _check_v3_codec_list(codecs, dtype, expect):
    """One array->bytes ``bytes`` codec (little endian for multi-byte), then ``expect``."""
    names = [c["name"] for c in codecs]
    assert names[0] == "bytes", names
    if np.dtype(dtype).itemsize > 1:
        assert codecs[0]["configuration"]["endian"] == "little"
    rest = [c for c in codecs[1:] if c["name"] != "crc32c"]
    if expect is None:
        assert rest == [], names
        return
    assert len(rest) == 1 and rest[0]["name"] == expect["name"], names
    cfg = rest[0].get("configuration", {})
    for key, value in expect["configuration"].items():
        assert cfg.get(key) == value, (key, cfg)
    if expect["name"] == "blosc" and cfg["shuffle"] != "noshuffle":
        assert cfg["typesize"] == np.dtype(dtype).itemsize


@pytest.mark.parametrize("codec_id,sharded,cke,dtype", _v3_ours_params())
def test_zarr3_ours_read_by_zarr_python(tmp_path, codec_id, sharded, cke, dtype):
    codec = V3_OURS[codec_id]
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    z5_write(
        root,
        "zarr3",
        "d",
        data,
        compression=codec.compression,
        opts=codec.opts,
        shards=SHARDS if sharded else None,
        chunk_key_encoding=cke,
    )
    meta = read_json(root / "d" / "zarr.json")
    assert meta["zarr_format"] == 3 and meta["node_type"] == "array"
    assert meta["shape"] == list(SHAPE)
    assert meta["data_type"] == np.dtype(dtype).name
    grid = meta["chunk_grid"]
    assert grid["name"] == "regular"
    assert grid["configuration"]["chunk_shape"] == list(SHARDS if sharded else CHUNKS)
    enc, key = CKE[cke]
    assert meta["chunk_key_encoding"]["name"] == enc["name"]
    assert (
        meta["chunk_key_encoding"]
        .get("configuration", {})
        .get("separator", "/" if enc["name"] == "default" else ".")
        == enc["separator"]
    )
    if sharded:
        assert len(meta["codecs"]) == 1 and meta["codecs"][0]["name"] == "sharding_indexed"
        cfg = meta["codecs"][0]["configuration"]
        assert cfg["chunk_shape"] == list(CHUNKS)
        _check_v3_codec_list(cfg["codecs"], dtype, codec.codec)
        assert cfg.get("index_location", "end") in ("start", "end")
        grid_index = all_chunk_indices(SHAPE, SHARDS)
    else:
        _check_v3_codec_list(meta["codecs"], dtype, codec.codec)
        grid_index = all_chunk_indices(SHAPE, CHUNKS)
    for idx in grid_index:
        assert (root / "d" / key(idx)).is_file(), key(idx)
    assert read_json(root / "zarr.json")["node_type"] == "group"

    a = zarr.open_array(str(root / "d"), mode="r", zarr_format=3)
    assert a.shape == SHAPE and a.chunks == CHUNKS
    if sharded:
        assert a.shards == SHARDS
    assert_same_array(a[...], data)
    assert_same_array(a[READ_WINDOW], data[READ_WINDOW])


# ----------------------------------------------------------------- zarr-python -> ours (v3)


def _v3_chains():
    """id -> (array->array filters, serializer, bytes->bytes compressors)."""
    chains = {
        "bytes-le": ([], BytesCodec(endian="little"), []),
        "bytes-be": ([], BytesCodec(endian="big"), []),
        "transpose": ([TransposeCodec(order=(2, 0, 1))], BytesCodec(endian="little"), []),
        "transpose-be-gzip": (
            [TransposeCodec(order=(1, 2, 0))],
            BytesCodec(endian="big"),
            [GzipCodec(level=6)],
        ),
        "gzip": ([], BytesCodec(), [GzipCodec(level=5)]),
        "zstd": ([], BytesCodec(), [ZstdCodec(level=3, checksum=False)]),
        "zstd-checksum": ([], BytesCodec(), [ZstdCodec(level=1, checksum=True)]),
        "crc32c": ([], BytesCodec(), [Crc32cCodec()]),
        "zstd-crc32c-be": ([], BytesCodec(endian="big"), [ZstdCodec(level=2), Crc32cCodec()]),
    }
    for cname in BLOSC_CNAMES_NUMCODECS:
        for shuffle, sname in SHUFFLE_V3.items():
            chains[f"blosc-{cname}-{shuffle}"] = (
                [],
                BytesCodec(),
                [BloscCodec(cname=cname, clevel=5, shuffle=sname)],
            )
    return chains


V3_CHAINS = _v3_chains()
SHARDING_MODES = ["plain", "end", "start"]


def _v3_peer_params():
    out = set()
    for chain in V3_CHAINS:
        if chain.startswith("blosc"):
            for d in CODEC_SWEEP_DTYPES:
                out.add((chain, "plain", d))
            out.add((chain, "end", "int16"))
        else:
            for mode in SHARDING_MODES:
                for d in ("int16", "float64"):
                    out.add((chain, mode, d))
    for d in ZARR_DTYPES:
        for mode in SHARDING_MODES:
            out.add(("zstd", mode, d))
        out.add(("bytes-be", "plain", d))
    return [pytest.param(c, m, d, id=f"{c}-{m}-{d}") for c, m, d in sorted(out)]


def _zarr3_create(
    root, name, dtype, chain, mode, fill_value=0, chunk_key_encoding=None, index_codecs=None
):
    filters, serializer, compressors = V3_CHAINS[chain]
    zroot = zarr.open_group(str(root), mode="a", zarr_format=3)
    kwargs = {}
    if chunk_key_encoding is not None:
        kwargs["chunk_key_encoding"] = chunk_key_encoding
    if mode == "plain":
        return zroot.create_array(
            name,
            shape=SHAPE,
            chunks=CHUNKS,
            dtype=dtype,
            filters=filters,
            serializer=serializer,
            compressors=compressors,
            fill_value=fill_value,
            **kwargs,
        )
    sharding = ShardingCodec(
        chunk_shape=CHUNKS,
        codecs=[*filters, serializer, *compressors],
        index_codecs=index_codecs or [BytesCodec(endian="little"), Crc32cCodec()],
        index_location=mode,
    )
    return zroot.create_array(
        name,
        shape=SHAPE,
        chunks=SHARDS,
        dtype=dtype,
        serializer=sharding,
        filters=None,
        compressors=None,
        fill_value=fill_value,
        **kwargs,
    )


@pytest.mark.parametrize("chain,mode,dtype", _v3_peer_params())
def test_zarr3_zarr_python_read_by_ours(tmp_path, chain, mode, dtype):
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    a = _zarr3_create(root, "d", dtype, chain, mode)
    a[...] = data
    meta = read_json(root / "d" / "zarr.json")
    if mode != "plain":
        assert meta["codecs"][0]["name"] == "sharding_indexed"
        assert meta["codecs"][0]["configuration"]["index_location"] == mode

    whole, part, ds = z5_read(root, "d", READ_WINDOW)
    assert tuple(ds.shape) == SHAPE
    assert tuple(ds.chunks) == CHUNKS
    assert_same_array(whole, data)
    assert_same_array(part, data[READ_WINDOW])


@pytest.mark.parametrize(
    "index_codecs",
    [
        pytest.param([BytesCodec(endian="big"), Crc32cCodec()], id="index-big-crc32c"),
        pytest.param([BytesCodec(endian="little")], id="index-le-no-crc"),
    ],
)
@pytest.mark.parametrize("mode", ["end", "start"])
def test_zarr3_index_codecs_zarr_python_read_by_ours(tmp_path, index_codecs, mode):
    data = make_data("uint32")
    root = tmp_path / "c.zarr"
    a = _zarr3_create(root, "d", "uint32", "gzip", mode, index_codecs=index_codecs)
    a[...] = data
    assert_z5_reads(root, "d", data)


@pytest.mark.parametrize(
    "cke",
    [
        pytest.param({"name": "default", "separator": "/"}, id="default-slash"),
        pytest.param({"name": "default", "separator": "."}, id="default-dot"),
        pytest.param({"name": "v2", "separator": "."}, id="v2-dot"),
        pytest.param({"name": "v2", "separator": "/"}, id="v2-slash"),
    ],
)
@pytest.mark.parametrize("mode", ["plain", "end"])
def test_zarr3_chunk_key_encoding_zarr_python_read_by_ours(tmp_path, cke, mode):
    data = make_data("int64")
    root = tmp_path / "c.zarr"
    a = _zarr3_create(root, "d", "int64", "zstd", mode, chunk_key_encoding=cke)
    a[...] = data
    sep = cke["separator"]
    prefix = "c" + sep if cke["name"] == "default" else ""
    assert (root / "d" / (prefix + sep.join(["1", "1", "1"]))).is_file()

    assert_z5_reads(root, "d", data)


# ----------------------------------------------------------------- v3 edge cases, fill values


@pytest.mark.parametrize("sharded", [False, True], ids=["plain", "sharded"])
def test_zarr3_edge_ours_read_by_zarr_python(tmp_path, sharded):
    data = make_data("uint16", EDGE_SHAPE)
    root = tmp_path / "c.zarr"
    z5_write(
        root,
        "zarr3",
        "d",
        data,
        chunks=(8, 8, 8) if sharded else EDGE_CHUNKS,
        shards=EDGE_CHUNKS if sharded else None,
        compression="zstd",
    )
    a = zarr.open_array(str(root / "d"), mode="r", zarr_format=3)
    assert_same_array(a[...], data)
    assert_same_array(a[30:37, 40:53, 20:29], data[30:37, 40:53, 20:29])


@pytest.mark.parametrize("sharded", [False, True], ids=["plain", "sharded"])
def test_zarr3_edge_zarr_python_read_by_ours(tmp_path, sharded):
    data = make_data("uint16", EDGE_SHAPE)
    root = tmp_path / "c.zarr"
    zroot = zarr.open_group(str(root), mode="w", zarr_format=3)
    a = zroot.create_array(
        "d",
        shape=EDGE_SHAPE,
        chunks=(8, 8, 8) if sharded else EDGE_CHUNKS,
        shards=EDGE_CHUNKS if sharded else None,
        dtype="uint16",
        compressors=[ZstdCodec(level=1)],
        fill_value=0,
    )
    a[...] = data
    assert_z5_reads(root, "d", data, EDGE_WINDOW)


_V3FILL_PARAMS = [
    pytest.param(c, s, id=f"{fill_id(c)}-{'sharded' if s else 'plain'}")
    for c in FILL_CASES + FILL_CASES_ZARR_ONLY
    for s in (False, True)
    if not s or c[0] in ("uint64", "float32", "int64", "complex64")
]


def _v3_fill_json_ok(json_value, fill, dtype):
    return fill_json_ok(json_value, fill, dtype)


@pytest.mark.parametrize("case,sharded", _V3FILL_PARAMS)
def test_zarr3_fill_value_ours_read_by_zarr_python(tmp_path, case, sharded):
    dtype, fill = case
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    z5_write(
        root,
        "zarr3",
        "d",
        data,
        region=REGION,
        compression="gzip",
        fillvalue=fill,
        shards=SHARDS if sharded else None,
    )
    meta = read_json(root / "d" / "zarr.json")
    assert _v3_fill_json_ok(meta["fill_value"], fill, dtype), meta["fill_value"]
    # REGION only touches the first shard / chunk row along axis 0
    missing = (1, 0, 0) if sharded else MISSING_CHUNK
    assert not (root / "d" / ("c/" + "/".join(map(str, missing)))).exists()

    a = zarr.open_array(str(root / "d"), mode="r", zarr_format=3)
    assert _fill_equal(a.fill_value, fill), (a.fill_value, fill)
    assert_same_array(a[...], expected_with_fill(data, REGION, fill))


@pytest.mark.parametrize("case,sharded", _V3FILL_PARAMS)
def test_zarr3_fill_value_zarr_python_read_by_ours(tmp_path, case, sharded):
    dtype, fill = case
    data = make_data(dtype)
    root = tmp_path / "c.zarr"
    a = _zarr3_create(root, "d", dtype, "gzip", "end" if sharded else "plain", fill_value=fill)
    a[REGION] = data[REGION]
    missing = (1, 0, 0) if sharded else MISSING_CHUNK
    assert not (root / "d" / ("c/" + "/".join(map(str, missing)))).exists()

    assert_z5_reads(root, "d", expected_with_fill(data, REGION, fill))


def test_zarr3_partial_shard_ours_read_by_zarr_python(tmp_path):
    """Several writes into the same shard (read-modify-write), then zarr-python reads it."""
    data = make_data("int32")
    root = tmp_path / "c.zarr"
    ds = z5_create(root, "zarr3", "d", "int32", compression="zstd", shards=SHARDS, fillvalue=-1)
    ds[0:3, 0:4, 0:3] = data[0:3, 0:4, 0:3]
    ds[3:10, 2:8, 1:6] = data[3:10, 2:8, 1:6]
    ds[11:13, 9:11, 6:7] = data[11:13, 9:11, 6:7]
    expected = np.full(SHAPE, -1, dtype="int32")
    expected[0:3, 0:4, 0:3] = data[0:3, 0:4, 0:3]
    expected[3:10, 2:8, 1:6] = data[3:10, 2:8, 1:6]
    expected[11:13, 9:11, 6:7] = data[11:13, 9:11, 6:7]
    a = zarr.open_array(str(root / "d"), mode="r", zarr_format=3)
    assert_same_array(a[...], expected)
    # shard (0, 1, 1) got no data: it must not exist
    assert not (root / "d" / "c" / "0" / "1" / "1").exists()
