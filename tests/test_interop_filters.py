"""numcodecs filters and checksums, Zarr v2 `filters`/`compressor` and Zarr v3 `numcodecs.*`,
with zarr-python 3.1 in both directions.

zarr-python writes, we read what it reads; we write (``filters=[...]`` given as numcodecs
objects or their JSON), zarr-python reads what we read, and for the lossy filters the values
equal what zarr-python itself stores for the same data.  A damaged checksum is a
``CorruptChunkError``; a codec we do not know stays an ``UnsupportedError`` naming it.
"""

from __future__ import annotations

import json

import numcodecs
import numpy as np
import pytest
import z5py
import zarr
import zarr.codecs.numcodecs as nc
from interop_helpers import assert_same_array, read_json, z5_open

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

SHAPE = (37, 11)
CHUNKS = (10, 4)


def _data(dtype, seed=0):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    n = int(np.prod(SHAPE))
    if dt.kind == "b":
        flat = rng.random(n) < 0.3
    elif dt.kind == "U":
        flat = rng.choice(np.array(["cell", "axon", "glia", "", "soma"], dtype=dt), n)
    elif dt.kind == "f":
        flat = (rng.normal(size=n) * 50 + 200).astype(dt)
    else:  # segmentation-like labels: long runs of slowly growing ids
        flat = np.repeat(np.cumsum(rng.integers(0, 3, n // 7 + 1)), 7)[:n].astype(dt)
        flat[::13] = np.iinfo(dt).max  # wrap-around in the differences
    return flat.reshape(SHAPE)


#: (id, dtype, numcodecs filters, lossless)
FILTER_CASES = [
    ("delta-u8", "<u8", lambda: [numcodecs.Delta("<u8")], True),
    ("delta-i4-i8", "<i4", lambda: [numcodecs.Delta("<i4", astype="<i8")], True),
    ("delta-f4", "<f4", lambda: [numcodecs.Delta("<f4")], False),
    ("shuffle", "<u4", lambda: [numcodecs.Shuffle(elementsize=4)], True),
    (
        "fixedscaleoffset",
        "<f8",
        lambda: [numcodecs.FixedScaleOffset(offset=200, scale=10, dtype="<f8", astype="<i4")],
        False,
    ),
    ("quantize", "<f4", lambda: [numcodecs.Quantize(digits=2, dtype="<f4")], False),
    ("bitround", "<f4", lambda: [numcodecs.BitRound(keepbits=6)], False),
    (
        "astype",
        "<f8",
        lambda: [numcodecs.AsType(encode_dtype="<f4", decode_dtype="<f8")],
        False,
    ),
    ("packbits", "|b1", lambda: [numcodecs.PackBits()], True),
    (
        "delta+shuffle",
        "<u8",
        lambda: [numcodecs.Delta("<u8"), numcodecs.Shuffle(elementsize=8)],
        True,
    ),
    (
        "categorize",
        "<U4",
        lambda: [numcodecs.Categorize(["cell", "axon", "glia"], dtype="<U4", astype="|u1")],
        False,  # labels outside the list read back empty
    ),
]

CHECKSUMS = {
    "adler32": numcodecs.Adler32,
    "crc32": numcodecs.CRC32,
    "crc32c": numcodecs.CRC32C,
    "fletcher32": numcodecs.Fletcher32,
}


def _v2_zarr_python(root, dtype, filters, compressor):
    g = zarr.open_group(str(root), mode="w", zarr_format=2)
    return g.create_array(
        "d", shape=SHAPE, chunks=CHUNKS, dtype=dtype, filters=filters, compressors=compressor
    )


@pytest.mark.parametrize("case", FILTER_CASES, ids=lambda c: c[0])
def test_zarr2_filters_zarr_python_read_by_ours(tmp_path, case):
    _, dtype, filters, lossless = case
    data = _data(dtype)
    a = _v2_zarr_python(tmp_path / "a.zarr", dtype, filters(), numcodecs.Zlib(level=1))
    a[...] = data
    expected = a[...]
    if lossless:
        assert_same_array(expected, data)
    with z5_open(tmp_path / "a.zarr", mode="r") as f:
        ds = f["d"]
        assert_same_array(ds[...], expected)
        assert_same_array(ds[3:29, 2:9], expected[3:29, 2:9])
        assert ds.filters == read_json(tmp_path / "a.zarr/d/.zarray")["filters"] or all(
            set(mine.items()) >= set(theirs.items())
            for mine, theirs in zip(ds.filters, read_json(tmp_path / "a.zarr/d/.zarray")["filters"])
        )


@pytest.mark.parametrize("as_json", [False, True], ids=["objects", "json"])
@pytest.mark.parametrize("case", FILTER_CASES, ids=lambda c: c[0])
def test_zarr2_filters_ours_read_by_zarr_python(tmp_path, case, as_json):
    _, dtype, filters, lossless = case
    data = _data(dtype)
    given = [f.get_config() for f in filters()] if as_json else filters()
    with z5_open(tmp_path / "c.zarr", "zarr2") as f:
        ds = f.create_dataset(
            "d", shape=SHAPE, chunks=CHUNKS, dtype=dtype, compression="zlib", filters=given
        )
        ds[...] = data
        ours = ds[...]
        assert [c["id"] for c in ds.compression_options["filters"]] == [
            c.codec_id for c in filters()
        ]
    theirs = zarr.open_array(str(tmp_path / "c.zarr/d"), mode="r")
    assert_same_array(theirs[...], ours)
    # what zarr-python stores for the same data reads back the same (lossy filters too)
    ref = _v2_zarr_python(tmp_path / "ref.zarr", dtype, filters(), numcodecs.Zlib(level=1))
    ref[...] = data
    assert_same_array(ours, ref[...])
    if lossless:
        assert_same_array(ours, data)
    meta = read_json(tmp_path / "c.zarr/d/.zarray")
    assert [c["id"] for c in meta["filters"]] == [c.codec_id for c in filters()]


@pytest.mark.parametrize("name", sorted(CHECKSUMS))
def test_zarr2_checksums_both_ways(tmp_path, name):
    data = _data("<u2")
    a = _v2_zarr_python(tmp_path / "a.zarr", "<u2", None, CHECKSUMS[name]())
    a[...] = data
    with z5_open(tmp_path / "a.zarr", mode="r") as f:
        assert_same_array(f["d"][...], data)
        assert f["d"].compression == name
    with z5_open(tmp_path / "c.zarr", "zarr2") as f:
        f.create_dataset("d", data=data, chunks=CHUNKS, compression=name)
    assert read_json(tmp_path / "c.zarr/d/.zarray")["compressor"] == {"id": name}
    assert_same_array(zarr.open_array(str(tmp_path / "c.zarr/d"), mode="r")[...], data)


@pytest.mark.parametrize("name", sorted(CHECKSUMS))
def test_checksum_mismatch_is_corrupt_chunk(tmp_path, name):
    data = _data("<u2")
    with z5_open(tmp_path / "c.zarr", "zarr2") as f:
        f.create_dataset("d", data=data, chunks=CHUNKS, compression=name)
    chunk = tmp_path / "c.zarr/d/1.2"
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    chunk.write_bytes(bytes(raw))
    with z5_open(tmp_path / "c.zarr", mode="r") as f:
        ds = f["d"]
        assert_same_array(ds[:10, :4], data[:10, :4])  # other chunks keep working
        with pytest.raises(z5py.errors.CorruptChunkError, match=r"1\.2") as info:
            ds[...]
        assert name in str(info.value)


def test_unknown_filter_is_unsupported_naming_codec_and_file(tmp_path):
    a = _v2_zarr_python(tmp_path / "a.zarr", "<u4", [numcodecs.JenkinsLookup3()], None)
    a[...] = _data("<u4")
    with (
        z5_open(tmp_path / "a.zarr", mode="r") as f,
        pytest.raises(z5py.errors.UnsupportedError, match=r"jenkins_lookup3.*\.zarray"),
    ):
        f["d"]
    with z5_open(tmp_path / "c.zarr", "zarr2") as f, pytest.raises(ValueError, match="id"):
        f.create_dataset("x", shape=(4,), dtype="u1", filters=[{"level": 3}])


# --------------------------------------------------------------------------------------------
# Zarr v3: numcodecs.* codecs as zarr-python 3 writes them
# --------------------------------------------------------------------------------------------

#: (id, dtype, array-to-array filters, bytes-to-bytes codecs)
V3_CASES = [
    ("delta-zlib-adler32", "<u8", [nc.Delta(dtype="<u8")], [nc.Zlib(level=3), nc.Adler32()]),
    (
        "bitround-shuffle-bz2",
        "<f4",
        [nc.BitRound(keepbits=5)],
        [nc.Shuffle(elementsize=4), nc.BZ2(level=2)],
    ),
    (
        "fso-lzma",
        "<f8",
        [nc.FixedScaleOffset(offset=200, scale=10, dtype="<f8", astype="<i4")],
        [nc.LZMA()],
    ),
    ("quantize-lz4", "<f4", [nc.Quantize(digits=2, dtype="<f4")], [nc.LZ4()]),
    (
        "astype-blosc",
        "<f8",
        [nc.AsType(encode_dtype="<f4", decode_dtype="<f8")],
        [nc.Blosc(cname="zstd")],
    ),
    ("packbits-zstd-crc32", "|b1", [nc.PackBits()], [nc.Zstd(level=3), nc.CRC32()]),
    ("gzip-fletcher32", "<i2", [], [nc.GZip(level=4), nc.Fletcher32()]),
    ("delta-i2-crc32c", "<i2", [nc.Delta(dtype="<i2")], [nc.CRC32C()]),
]


def _v3_zarr_python(root, dtype, filters, compressors, shards=None):
    g = zarr.open_group(str(root), mode="w", zarr_format=3)
    return g.create_array(
        "d",
        shape=SHAPE,
        chunks=CHUNKS,
        shards=shards,
        dtype=dtype,
        filters=filters,
        compressors=compressors,
    )


@pytest.mark.parametrize("sharded", [False, True], ids=["chunks", "shards"])
@pytest.mark.parametrize("case", V3_CASES, ids=lambda c: c[0])
def test_zarr3_numcodecs_zarr_python_read_by_ours(tmp_path, case, sharded):
    _, dtype, filters, compressors = case
    data = _data(dtype)
    a = _v3_zarr_python(
        tmp_path / "a.zarr", dtype, filters, compressors, shards=(20, 8) if sharded else None
    )
    a[...] = data
    expected = a[...]
    with z5_open(tmp_path / "a.zarr", mode="r") as f:
        ds = f["d"]
        assert_same_array(ds[...], expected)
        assert_same_array(ds[3:29, 2:9], expected[3:29, 2:9])


@pytest.mark.parametrize("case", V3_CASES, ids=lambda c: c[0])
def test_zarr3_numcodecs_ours_read_by_zarr_python(tmp_path, case):
    _, dtype, filters, compressors = case
    data = _data(dtype)
    # every codec through filters= (numcodecs JSON): array-to-array ones go before
    # `bytes`, the others after it, in order
    configs = [c.codec_config for c in filters + compressors]
    with z5_open(tmp_path / "c.zarr", "zarr3") as f:
        ds = f.create_dataset(
            "d", shape=SHAPE, chunks=CHUNKS, dtype=dtype, compression="raw", filters=configs
        )
        ds[...] = data
        ours = ds[...]
    theirs = zarr.open_array(str(tmp_path / "c.zarr/d"), mode="r")
    assert_same_array(theirs[...], ours)
    ref = _v3_zarr_python(tmp_path / "ref.zarr", dtype, filters, compressors)
    ref[...] = data
    assert_same_array(ours, ref[...])
    codecs = [c["name"] for c in read_json(tmp_path / "c.zarr/d/zarr.json")["codecs"]]
    assert codecs.index("bytes") == len(filters)
    assert all(c.startswith("numcodecs.") for c in codecs[: len(filters)])


def test_zarr3_filter_after_bytes_is_unsupported(tmp_path):
    a = _v3_zarr_python(tmp_path / "a.zarr", "<u8", [nc.Delta(dtype="<u8")], [nc.Zlib()])
    a[...] = _data("<u8")
    meta_path = tmp_path / "a.zarr/d/zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["codecs"] = [meta["codecs"][1], meta["codecs"][0], meta["codecs"][2]]
    meta_path.write_text(json.dumps(meta))
    with (
        z5_open(tmp_path / "a.zarr", mode="r") as f,
        pytest.raises(z5py.errors.UnsupportedError, match=r"numcodecs.delta.*zarr.json"),
    ):
        f["d"]
