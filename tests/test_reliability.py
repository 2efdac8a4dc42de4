"""Reliability against bad input and misuse: corrupt chunks and metadata, hostile headers
and compressed streams, hostile member names, and the file modes.

Every failure must surface as a z5py exception that is also the matching builtin and that
names the offending file; afterwards the rest of the container must still work.  Header
and stream "bombs" are read in a subprocess whose peak RSS is measured.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import z5py
from z5py import errors

FORMATS = ["n5", "zarr2", "zarr3"]
COMPRESSORS = {
    "n5": z5py.Dataset.compressors_n5,
    "zarr2": z5py.Dataset.compressors_zarr,
    "zarr3": z5py.Dataset.compressors_zarr_v3,
}
FMT_CODECS = [(fmt, c) for fmt in FORMATS for c in COMPRESSORS[fmt]]
META_FILE = {"n5": "attributes.json", "zarr2": ".zarray", "zarr3": "zarr.json"}


def open_container(root: Path, fmt: str, mode: str = "a", name: str = "c") -> z5py.File:
    path = root / (f"{name}.n5" if fmt == "n5" else f"{name}.zarr")
    return z5py.File(path, mode=mode, zarr_format=None if fmt == "n5" else int(fmt[-1]))


def ramp(shape, dtype="u2") -> np.ndarray:
    return (np.arange(int(np.prod(shape))) % 6007).astype(dtype).reshape(shape)


def make_filled(f: z5py.File, name: str, compression: str, shape=(12, 12), chunks=(4, 4), **kw):
    data = ramp(shape)
    ds = f.create_dataset(
        name, shape=shape, chunks=chunks, dtype="u2", compression=compression, **kw
    )
    ds[...] = data
    return ds, data


def shard_path(ds: z5py.Dataset, chunk_index) -> str:
    """Path of the shard file holding the inner chunk ``chunk_index`` (default key encoding)."""
    per = [s // c for s, c in zip(ds.shards, ds.chunks)]
    return os.path.join(ds.path, "c", *(str(i // n) for i, n in zip(chunk_index, per)))


def snapshot(root: Path) -> dict[str, str]:
    """Every file and directory below ``root`` with a digest of its content."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for name in filenames:
            p = os.path.join(dirpath, name)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha1(fh.read()).hexdigest()
    return out


def assert_raises_named(cls, builtin, path, fn):
    """``fn()`` raises ``cls`` (also a ``builtin``) whose message names ``path``."""
    with pytest.raises(cls) as info:
        fn()
    assert isinstance(info.value, builtin), type(info.value).__mro__
    assert isinstance(info.value, errors.Z5Error)
    assert str(path) in str(info.value), str(info.value)
    return info.value


# ------------------------------------------------------------------------------------------
# corrupt chunks


def _corruptions(good: bytes) -> dict[str, bytes]:
    rng = np.random.default_rng(len(good))
    return {
        "truncated": good[: len(good) // 2],
        "garbage": rng.integers(0, 256, len(good) + 13, dtype=np.uint8).tobytes(),
        "empty": b"",
        "cut_one_byte": good[:-1],
    }


@pytest.mark.parametrize(("fmt", "compression"), FMT_CODECS)
def test_corrupt_chunk_is_reported_and_the_rest_still_works(tmp_path, fmt, compression):
    f = open_container(tmp_path, fmt)
    ds, data = make_filled(f, "bad", compression)
    other, other_data = make_filled(f, "good", compression)
    path = ds.chunk_path((1, 1))
    good = Path(path).read_bytes()
    for kind, content in _corruptions(good).items():
        Path(path).write_bytes(content)
        ds = f["bad"]
        reads = (lambda d=ds: d[...], lambda d=ds: d[5:7, 5:7], lambda d=ds: d.read_chunk((1, 1)))
        for read in reads:
            assert_raises_named(errors.CorruptChunkError, ValueError, path, read)
        # a multi-threaded read over the corrupt chunk fails as a whole, it does not hang
        ds.n_threads = 2
        assert_raises_named(errors.CorruptChunkError, ValueError, path, lambda d=ds: d[...])
        # a partial write must not paper over the corrupt chunk with fill values
        with pytest.raises(errors.CorruptChunkError):
            ds[4, 4] = 1
        assert Path(path).read_bytes() == content, kind
        # every other chunk of the dataset and every other dataset still read fine
        np.testing.assert_array_equal(ds[:4, :], data[:4, :])
        np.testing.assert_array_equal(ds[8:, 8:], data[8:, 8:])
        np.testing.assert_array_equal(ds.read_chunk((2, 2)), data[8:, 8:])
        np.testing.assert_array_equal(other[...], other_data)
        # overwriting the whole chunk repairs it without decoding the old bytes
        ds[4:8, 4:8] = data[4:8, 4:8]
        np.testing.assert_array_equal(ds[...], data)


def test_corrupt_inner_chunk_and_shard_index_in_sharded_zarr3(tmp_path):
    f = open_container(tmp_path, "zarr3")
    ds = f.create_dataset(
        "s", shape=(20, 20), chunks=(5, 5), shards=(10, 10), dtype="u2", compression="gzip"
    )
    data = ramp((20, 20))
    ds[...] = data
    path = shard_path(ds, (2, 2))
    good = Path(path).read_bytes()
    n_inner = 4
    index_len = 16 * n_inner + 4  # (offset, nbytes) pairs plus the crc32c of the index
    index = np.frombuffer(good[-index_len:-4], dtype="<u8").reshape(n_inner, 2)
    offset, nbytes = (int(v) for v in index[0])
    garbled_inner = bytearray(good)
    garbled_inner[offset : offset + nbytes] = bytes(range(nbytes % 256, nbytes % 256 + nbytes))[
        :nbytes
    ]
    bad_crc = bytearray(good)
    bad_crc[-1] ^= 0xFF
    outside = index.copy()
    outside[0] = (2**40, nbytes)
    overflow = index.copy()
    overflow[0] = (2**64 - 8, 16)
    cases = {
        "truncated": good[: len(good) // 2],
        "shorter_than_index": good[-10:],
        "empty": b"",
        "garbage_inner_chunk": bytes(garbled_inner),
        "index_crc_mismatch": bytes(bad_crc),
        "index_points_outside": _with_index(good, outside),
        "index_offset_overflows": _with_index(good, overflow),
    }
    for kind, content in cases.items():
        Path(path).write_bytes(content)
        assert_raises_named(errors.CorruptChunkError, ValueError, path, lambda: ds[10:, 10:])
        assert_raises_named(
            errors.CorruptChunkError, ValueError, path, lambda: ds.read_chunk((2, 2))
        )
        # other shards are unaffected
        np.testing.assert_array_equal(ds[:10, :], data[:10, :])
        np.testing.assert_array_equal(ds.read_chunk((0, 3)), data[:5, 15:])
        Path(path).write_bytes(good)
        np.testing.assert_array_equal(ds[...], data, err_msg=kind)


def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _with_index(shard: bytes, index: np.ndarray) -> bytes:
    raw = index.astype("<u8").tobytes()
    return shard[: -len(raw) - 4] + raw + struct.pack("<I", _crc32c(raw))


def test_crc32c_helper_matches_a_valid_shard_index(tmp_path):
    """The hand-written crc32c above reproduces the engine's (so the cases above are real)."""
    f = open_container(tmp_path, "zarr3")
    ds = f.create_dataset("s", shape=(8,), chunks=(2,), shards=(4,), dtype="u1")
    ds[...] = 3
    good = Path(shard_path(ds, (0,))).read_bytes()
    raw = good[-36:-4]
    assert struct.unpack("<I", good[-4:])[0] == _crc32c(raw)


# ------------------------------------------------------------------------------------------
# N5 headers


def _n5_header(shape, mode=0, varlen=None, ndim=None) -> bytes:
    dims = list(shape)[::-1]
    head = struct.pack(">HH", mode, len(dims) if ndim is None else ndim)
    head += b"".join(struct.pack(">I", d) for d in dims)
    if varlen is not None:
        head += struct.pack(">I", varlen)
    return head


@pytest.mark.parametrize("compression", ["raw", "gzip"])
def test_n5_header_disagreeing_with_metadata(tmp_path, compression):
    f = open_container(tmp_path, "n5")
    ds, data = make_filled(f, "x", compression, shape=(10, 10), chunks=(4, 4))
    good = ds.array_to_format(data[:4, :4]).tobytes()
    payload = good[_n5_header((4, 4)).__len__() :]
    assert good == _n5_header((4, 4)) + payload
    bad = {
        "three_dims": _n5_header((1, 4, 4)) + payload,
        "one_dim": _n5_header((16,)) + payload,
        "smaller": _n5_header((2, 4)) + payload,
        "larger_than_block": _n5_header((8, 4)) + payload,
        "huge_dims": _n5_header((2**31, 2**31)) + payload,
        "zero_dims": _n5_header((0, 0)) + payload,
        "unknown_mode": _n5_header((4, 4), mode=7) + payload,
        "varlen_too_many": _n5_header((4, 4), mode=1, varlen=2**32 - 1) + payload,
        "varlen_wrong_count": _n5_header((4, 4), mode=1, varlen=15) + payload,
        "ndim_beyond_data": _n5_header((4, 4), ndim=2000) + payload,
        "header_only": _n5_header((4, 4)),
        "short_header": good[:6],
    }
    path = ds.chunk_path((0, 0))
    for kind, content in bad.items():
        Path(path).write_bytes(content)
        assert_raises_named(errors.CorruptChunkError, ValueError, path, lambda: ds[...])
        if kind != "varlen_wrong_count":  # a varlength chunk is readable through read_chunk
            assert_raises_named(
                errors.CorruptChunkError, ValueError, path, lambda: ds.read_chunk((0, 0))
            )
        np.testing.assert_array_equal(ds[4:, :], data[4:, :])
    Path(path).write_bytes(good)
    np.testing.assert_array_equal(ds[...], data)


@pytest.mark.parametrize("fmt", FORMATS)
def test_wrong_size_and_undecodable_chunks_raise_distinct_classes(tmp_path, fmt):
    """The engine tells a chunk of the wrong size from one that does not decode by class
    (``z5py verify`` relies on it), never by message text."""
    f = open_container(tmp_path, fmt)
    ds, _ = make_filled(f, "raw", "raw")
    path = Path(ds.chunk_path((1, 1)))
    good = path.read_bytes()
    path.write_bytes(good[:-1])
    with pytest.raises(errors.ChunkSizeError) as info:
        ds.read_chunk((1, 1))
    assert isinstance(info.value, errors.CorruptChunkError)
    assert isinstance(info.value, ValueError)
    zipped, _ = make_filled(f, "gzip", "gzip")
    path = Path(zipped.chunk_path((1, 1)))
    path.write_bytes(b"\xff" * len(path.read_bytes()))
    with pytest.raises(errors.CorruptChunkError) as info:
        zipped.read_chunk((1, 1))
    assert not isinstance(info.value, errors.ChunkSizeError)


def test_storage_error_classes_are_the_builtin_ones():
    """What the remote stores raise: each class is its builtin's subclass and a Z5OSError."""
    pairs = [
        (errors.Z5FileNotFoundError, FileNotFoundError),
        (errors.Z5FileExistsError, FileExistsError),
        (errors.Z5PermissionError, PermissionError),
        (errors.Z5TimeoutError, TimeoutError),
        (errors.Z5ConnectionError, ConnectionError),
    ]
    for cls, builtin in pairs:
        assert issubclass(cls, builtin)
        assert issubclass(cls, errors.Z5OSError)
    assert issubclass(errors.ResourceExhaustedError, MemoryError)
    assert issubclass(errors.InternalError, RuntimeError)


def test_n5_edge_chunk_with_unclipped_header_is_read_clipped(tmp_path):
    """Some writers store full-size edge blocks; those are valid and read clipped."""
    f = open_container(tmp_path, "n5")
    ds, data = make_filled(f, "x", "raw", shape=(10, 10), chunks=(4, 4))
    block = np.full((4, 4), 77, dtype="u2")
    Path(ds.chunk_path((2, 2))).write_bytes(_n5_header((4, 4)) + block.astype(">u2").tobytes())
    expected = data.copy()
    expected[8:, 8:] = 77
    np.testing.assert_array_equal(ds[...], expected)


# ------------------------------------------------------------------------------------------
# decompressed size mismatch


@pytest.mark.parametrize(("fmt", "compression"), FMT_CODECS)
@pytest.mark.parametrize("other_chunks", [(4, 5), (4, 3)], ids=["bigger", "smaller"])
def test_decompressed_size_mismatch(tmp_path, fmt, compression, other_chunks):
    """A valid stream of the wrong size (taken from a dataset with other chunks) is refused."""
    f = open_container(tmp_path, fmt)
    ds, data = make_filled(f, "x", compression, shape=(8, 8), chunks=(4, 4))
    donor, _ = make_filled(f, "donor", compression, shape=(8, 8), chunks=other_chunks)
    stream = Path(donor.chunk_path((0, 0))).read_bytes()
    if fmt == "n5":  # keep the header consistent, only the payload has the wrong size
        ndim_head = len(_n5_header((4, 4)))
        stream = _n5_header((4, 4)) + stream[ndim_head:]
    path = ds.chunk_path((0, 0))
    Path(path).write_bytes(stream)
    assert_raises_named(errors.CorruptChunkError, ValueError, path, lambda: ds[...])
    assert_raises_named(errors.CorruptChunkError, ValueError, path, lambda: ds.read_chunk((0, 0)))
    np.testing.assert_array_equal(ds[4:, :], data[4:, :])


# ------------------------------------------------------------------------------------------
# corrupt and unsupported metadata


def _dataset_with_sibling(tmp_path, fmt):
    f = open_container(tmp_path, fmt)
    ds, _ = make_filled(f, "x", "raw")
    sibling, sibling_data = make_filled(f, "y", "raw")
    sibling.attrs["k"] = "v"
    meta = Path(ds.path) / META_FILE[fmt]
    return f, meta, json.loads(meta.read_text()), sibling_data


def _edit(doc: dict, fmt: str, what: str) -> dict:
    doc = dict(doc)
    key = {
        "shape": {"n5": "dimensions", "zarr2": "shape", "zarr3": "shape"}[fmt],
        "dtype": {"n5": "dataType", "zarr2": "dtype", "zarr3": "data_type"}[fmt],
    }
    if what == "unknown_codec":
        if fmt == "n5":
            doc["compression"] = {"type": "snappy-9000"}
        elif fmt == "zarr2":
            doc["compressor"] = {"id": "snappy-9000"}
        else:
            doc["codecs"] = doc["codecs"] + [{"name": "snappy-9000"}]
    elif what == "unknown_dtype":
        doc[key["dtype"]] = {"n5": "float128", "zarr2": "<f16", "zarr3": "float128"}[fmt]
    elif what == "negative_shape":
        doc[key["shape"]] = [-1, 12]
    elif what == "float_shape":
        doc[key["shape"]] = [12.5, 12]
    elif what == "wrong_ndim":
        doc[key["shape"]] = [12]
    elif what == "shape_is_string":
        doc[key["shape"]] = "12x12"
    elif what == "zero_chunk":
        if fmt == "n5":
            doc["blockSize"] = [0, 4]
        elif fmt == "zarr2":
            doc["chunks"] = [0, 4]
        else:
            doc["chunk_grid"] = {"name": "regular", "configuration": {"chunk_shape": [0, 4]}}
    elif what == "chunk_too_large":
        big = [2**31, 2**31]
        if fmt == "n5":
            doc["blockSize"] = big
        elif fmt == "zarr2":
            doc["chunks"] = big
        else:
            doc["chunk_grid"] = {"name": "regular", "configuration": {"chunk_shape": big}}
    elif what == "hostile_separator":
        if fmt == "zarr2":
            doc["dimension_separator"] = "/../"
        else:
            doc["chunk_key_encoding"] = {
                "name": "default",
                "configuration": {"separator": "/../../"},
            }
    elif what == "missing_dtype":
        del doc[key["dtype"]]
    else:
        raise AssertionError(what)
    return doc


UNSUPPORTED = ["unknown_codec", "unknown_dtype"]
INVALID = [
    "negative_shape",
    "float_shape",
    "wrong_ndim",
    "shape_is_string",
    "zero_chunk",
    "chunk_too_large",
    "hostile_separator",
    "missing_dtype",
]


# N5 has no configurable separator, and an N5 node without dataType is a group by definition.
NOT_IN_N5 = {"hostile_separator", "missing_dtype"}
BAD_VALUE_CASES = [
    (fmt, what)
    for fmt in FORMATS
    for what in UNSUPPORTED + INVALID
    if not (fmt == "n5" and what in NOT_IN_N5)
]


@pytest.mark.parametrize(("fmt", "what"), BAD_VALUE_CASES)
def test_bad_metadata_values(tmp_path, fmt, what):
    f, meta, doc, sibling_data = _dataset_with_sibling(tmp_path, fmt)
    meta.write_text(json.dumps(_edit(doc, fmt, what)))
    cls = errors.UnsupportedError if what in UNSUPPORTED else errors.MetadataError
    assert_raises_named(cls, ValueError, meta, lambda: f["x"][...])
    # the sibling and the container keep working
    np.testing.assert_array_equal(f["y"][...], sibling_data)
    assert f["y"].attrs["k"] == "v"
    assert "y" in f
    g = f.create_group("after")
    assert "after" in f and isinstance(g, z5py.Group)


MALFORMED = {
    "truncated": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "not_json": lambda text: "this is not json",
    "trailing_garbage": lambda text: text + "}}",
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("what", list(MALFORMED))
def test_malformed_array_metadata(tmp_path, fmt, what):
    f, meta, _, sibling_data = _dataset_with_sibling(tmp_path, fmt)
    meta.write_text(MALFORMED[what](meta.read_text()))
    assert_raises_named(errors.MetadataError, ValueError, meta, lambda: f["x"])
    np.testing.assert_array_equal(f["y"][...], sibling_data)
    assert f["y"].attrs["k"] == "v"


@pytest.mark.parametrize("fmt", FORMATS)
def test_array_metadata_not_an_object(tmp_path, fmt):
    f, meta, _, sibling_data = _dataset_with_sibling(tmp_path, fmt)
    meta.write_text("[1, 2, 3]")
    if fmt == "n5":
        # N5: without dataset keys the directory is a group, whose attributes are refused
        node = f["x"]
        assert isinstance(node, z5py.Group)
        assert_raises_named(errors.MetadataError, ValueError, meta, lambda: dict(node.attrs))
    else:
        assert_raises_named(errors.MetadataError, ValueError, meta, lambda: f["x"])
    np.testing.assert_array_equal(f["y"][...], sibling_data)


@pytest.mark.parametrize("fmt", FORMATS)
def test_metadata_that_is_not_utf8_is_a_metadata_error(tmp_path, fmt):
    f, meta, _, _ = _dataset_with_sibling(tmp_path, fmt)
    meta.write_bytes(b'{"shape": [\xff\xfe]}')
    assert_raises_named(errors.MetadataError, ValueError, meta, lambda: f["x"])


@pytest.mark.parametrize("fmt", ["zarr2", "zarr3"])
def test_missing_zarr_array_metadata_is_not_a_member(tmp_path, fmt):
    f, meta, _, sibling_data = _dataset_with_sibling(tmp_path, fmt)
    meta.unlink()
    assert "x" not in f
    with pytest.raises(errors.NodeNotFoundError) as info:
        f["x"]
    assert isinstance(info.value, KeyError)
    assert "x" in str(info.value)
    np.testing.assert_array_equal(f["y"][...], sibling_data)


def test_missing_n5_dataset_attributes_make_a_plain_group(tmp_path):
    """In N5 a directory without attributes is a group; its chunks are not mistaken for data."""
    f, meta, _, sibling_data = _dataset_with_sibling(tmp_path, "n5")
    meta.unlink()
    assert isinstance(f["x"], z5py.Group)
    np.testing.assert_array_equal(f["y"][...], sibling_data)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("what", ["truncated", "not_json"])
def test_malformed_attributes(tmp_path, fmt, what):
    f = open_container(tmp_path, fmt)
    ds, data = make_filled(f, "x", "raw")
    ds.attrs["a"] = 1
    attrs_file = (
        Path(ds.path) / {"n5": "attributes.json", "zarr2": ".zattrs", "zarr3": "zarr.json"}[fmt]
    )
    damaged = MALFORMED[what](attrs_file.read_text())
    attrs_file.write_text(damaged)
    if fmt == "zarr2":  # .zattrs is separate from the array metadata: the data stays readable
        np.testing.assert_array_equal(ds[...], data)
        for access in (lambda: dict(ds.attrs), lambda: ds.attrs.__setitem__("b", 2)):
            assert_raises_named(errors.MetadataError, ValueError, attrs_file, access)
        # the failed update did not replace the damaged file (and its lost keys) with {"b": 2}
        assert attrs_file.read_text() == damaged
    else:
        assert_raises_named(errors.MetadataError, ValueError, attrs_file, lambda: f["x"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_malformed_root_metadata(tmp_path, fmt):
    f = open_container(tmp_path, fmt)
    root_meta = (
        Path(f.path) / {"n5": "attributes.json", "zarr2": ".zgroup", "zarr3": "zarr.json"}[fmt]
    )
    root_meta.write_text("{oops")
    # the root's own metadata is read strictly in every format (.zgroup included)
    for mode in ("r", "r+", "a"):
        assert_raises_named(
            errors.MetadataError, ValueError, root_meta, lambda m=mode: z5py.File(f.path, mode=m)
        )


# ------------------------------------------------------------------------------------------
# bounded allocation: headers and streams claiming gigabytes, measured in a subprocess

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@lru_cache
def _zstd_rle_frame(total: int, with_size: bool) -> bytes:
    """A zstd frame of RLE blocks decompressing to ``total`` zero bytes."""
    if with_size:
        # 8-byte frame content size, window 128 KiB
        head = _ZSTD_MAGIC + bytes([0xC0, 0x38]) + struct.pack("<Q", total)
    else:
        head = _ZSTD_MAGIC + bytes([0x00, 0x38])  # window 128 KiB, size unknown
    block = 1 << 17
    n = total // block
    body = bytearray()
    for i in range(n):
        last = 1 if i == n - 1 else 0
        body += struct.pack("<I", (block << 3) | (1 << 1) | last)[:3] + b"\x00"
    return head + bytes(body)


@lru_cache
def _gzip_bomb(total: int) -> bytes:
    member = gzip.compress(bytes(64 << 20), compresslevel=9)
    return member * (total // (64 << 20))


@lru_cache
def _zlib_bomb(total: int) -> bytes:
    """A zlib stream of ``total`` zeros built from repeated full-flush deflate blocks."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(bytes(1 << 20)) + comp.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    adler = ((total % 65521) << 16) | 1  # adler32 of ``total`` zero bytes
    return b"\x78\xda" + block * (total >> 20) + tail + struct.pack(">I", adler)


@lru_cache
def _bz2_bomb(total: int) -> bytes:
    stream = bz2.compress(bytes(64 << 20), 9)
    return stream * (total // (64 << 20))


@lru_cache
def _xz_bomb(total: int) -> bytes:
    stream = lzma.compress(bytes(16 << 20), preset=0)
    return stream * (total // (16 << 20))


def _blosc_claim(nbytes: int) -> bytes:
    # blosc1 header: version, versionlz, flags (memcpyed), typesize, nbytes, blocksize, cbytes
    return struct.pack("<BBBBIII", 2, 1, 0x02, 1, nbytes, 1 << 16, 16 + 4096) + bytes(4096)


def _lz4_java_claim(nbytes: int) -> bytes:
    return b"LZ4Block" + bytes([0x26]) + struct.pack("<III", 64, nbytes, 0) + bytes(64)


GB = 1 << 30
CHUNK = 64 * 64  # bytes of one uint8 chunk of the datasets below


def _bombs() -> list[tuple[str, str, str, bytes]]:
    """(format, compressor, label, chunk bytes) of hostile chunks claiming >= 1 GiB."""
    n5_head = _n5_header((64, 64))
    assert _zlib_bomb(64 << 20)  # cheap self-check of the construction
    bombs = [
        ("n5", "raw", "n5 dims 2^31 x 2^31", _n5_header((2**31, 2**31)) + bytes(64)),
        ("n5", "raw", "n5 varlength 2^32-1", _n5_header((64, 64), 1, 2**32 - 1) + bytes(64)),
        ("n5", "gzip", "n5 gzip 1 GiB stream", n5_head + _gzip_bomb(GB)),
        ("n5", "bzip2", "n5 bzip2 1 GiB stream", n5_head + _bz2_bomb(GB)),
        ("n5", "xz", "n5 xz 256 MiB stream", n5_head + _xz_bomb(GB // 4)),
        ("n5", "zstd", "n5 zstd frame size 4 GiB", n5_head + _zstd_rle_frame(4 * GB, True)),
        ("n5", "blosc", "n5 blosc claims 2 GiB", n5_head + _blosc_claim(2 * GB)),
        ("n5", "lz4", "n5 LZ4Block claims 2 GiB", n5_head + _lz4_java_claim(2 * GB)),
        ("zarr2", "zlib", "zarr zlib 1 GiB stream", _zlib_bomb(GB)),
        ("zarr2", "gzip", "zarr gzip 1 GiB stream", _gzip_bomb(GB)),
        ("zarr2", "zstd", "zarr zstd 1 GiB unsized", _zstd_rle_frame(GB, False)),
        ("zarr2", "zstd", "zarr zstd frame size 4 GiB", _zstd_rle_frame(4 * GB, True)),
        ("zarr2", "lz4", "zarr lz4 prefix 4 GiB-1", struct.pack("<I", 2**32 - 1) + bytes(64)),
        ("zarr2", "blosc", "zarr blosc claims 2 GiB", _blosc_claim(2 * GB)),
        ("zarr3", "gzip", "zarr3 gzip 1 GiB stream", _gzip_bomb(GB)),
    ]
    have = set(FMT_CODECS)
    return [b for b in bombs if (b[0], b[1]) in have]


_BOMB_READER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import z5py

    def status(key):
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith(key + ":"))

    def reset_peak():  # Linux: writing 5 to clear_refs resets the peak RSS (VmHWM)
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return status("VmRSS")

    cases = json.loads(sys.argv[1])
    opened = [(label, z5py.File(path, mode="r")[name]) for label, path, name in cases]
    for _, ds in opened:  # warm up every code path once on a valid chunk
        ds[64:, 64:]
    stages = {"after_warm_up_peak_kib": status("VmHWM"), "rss_kib": reset_peak()}
    results = {}
    for label, ds in opened:
        try:
            ds[:64, :64]
            results[label] = "no error"
        except z5py.CorruptChunkError as e:
            results[label] = "ok" if ds.path in str(e) else "message: " + str(e)
        except BaseException as e:
            results[label] = f"{type(e).__name__}: {e}"
    growth = status("VmHWM") - stages["rss_kib"]
    before = reset_peak()
    control = np.ones(96 << 20, dtype=np.uint8)  # proves the measurement sees allocations
    control_growth = status("VmHWM") - before + int(control[-1]) - 1
    print(json.dumps({"results": results, "growth_kib": growth,
                      "control_kib": control_growth, **stages}))
    """
)


@pytest.mark.skipif(
    not os.path.exists("/proc/self/clear_refs"), reason="needs Linux peak-RSS reset"
)
def test_bombs_are_refused_without_allocating(tmp_path):
    cases = []
    files = {}
    for i, (fmt, compression, label, content) in enumerate(_bombs()):
        if fmt not in files:
            files[fmt] = open_container(tmp_path, fmt, name=fmt)
        ds = files[fmt].create_dataset(
            f"b{i}", shape=(128, 128), chunks=(64, 64), dtype="u1", compression=compression
        )
        ds[64:, 64:] = 1
        chunk = Path(ds.chunk_path((0, 0)))
        chunk.parent.mkdir(parents=True, exist_ok=True)
        chunk.write_bytes(content)
        cases.append((label, files[fmt].path, f"b{i}"))
    assert len(cases) >= 10
    proc = subprocess.run(
        [sys.executable, "-c", _BOMB_READER, json.dumps(cases)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    bad = {k: v for k, v in report["results"].items() if v != "ok"}
    assert not bad, bad
    # claims were >= 256 MiB each; reading all of them grew the peak RSS by < 32 MiB
    assert report["growth_kib"] < 32 * 1024, report
    assert report["control_kib"] > 64 * 1024, report


_HUGE_CHUNK_READER = textwrap.dedent(
    """
    import sys, z5py
    try:
        # Refusing the metadata when opening, or the chunk when reading, are both fine.
        z5py.File(sys.argv[1], mode="r")["x"][0:10]
    except (z5py.Z5Error, MemoryError) as e:
        print("refused:", type(e).__name__, e)
    else:
        print("read without error")
    """
)


def test_metadata_claiming_a_huge_chunk_does_not_abort(tmp_path):
    f = open_container(tmp_path, "zarr2")
    f.create_dataset("x", shape=(100,), chunks=(10,), dtype="u1", compression="zlib")[...] = 1
    meta_path = Path(f.path) / "x" / ".zarray"
    meta = json.loads(meta_path.read_text())
    meta["shape"] = meta["chunks"] = [2**39]  # a 512 GiB chunk
    meta_path.write_text(json.dumps(meta))
    proc = subprocess.run(
        [sys.executable, "-c", _HUGE_CHUNK_READER, f.path],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, f"rc={proc.returncode}: {proc.stderr[:300]}"
    assert "refused:" in proc.stdout


# ------------------------------------------------------------------------------------------
# hostile names

HOSTILE_NAMES = [
    "..",
    "../x",
    "../../escape",
    "a/../../b",
    "a/..",
    ".",
    "./a",
    "a/./b",
    "/../abs",
    "/../../../../../../tmp/z5py-escape",
    "/a/../../b",
    "//abs",
    "a\0b",
    "\0",
    "",
    "a//b",
    "a/",
    "//",
    ".zarray",
    "a/zarr.json",
    "attributes.json",
]


def _name_attempts(node, name):
    """Every way of using ``name`` as a member name of ``node``."""
    return {
        "create_group": lambda: node.create_group(name),
        "require_group": lambda: node.require_group(name),
        "create_dataset": lambda: node.create_dataset(name, shape=(2,), dtype="u1"),
        "create_dataset with data": lambda: node.create_dataset(name, data=np.ones(3, "u1")),
        "require_dataset": lambda: node.require_dataset(name, shape=(2,), dtype="u1"),
        "getitem": lambda: node[name],
        "delitem": lambda: node.__delitem__(name),
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_names_are_refused_and_create_nothing(tmp_path, fmt):
    box = tmp_path / "box"
    box.mkdir()
    f = open_container(box, fmt)
    inner = f.create_group("inner")
    before = snapshot(tmp_path)
    for node in (f, inner):
        for name in HOSTILE_NAMES:
            attempts = _name_attempts(node, name)
            for what, attempt in attempts.items():
                with pytest.raises(errors.InvalidArgumentError) as info:
                    attempt()
                assert isinstance(info.value, ValueError), (what, name)
            assert name not in node
        assert snapshot(tmp_path) == before
    assert not os.path.exists("/tmp/z5py-escape")
    assert not os.path.exists("/abs")


def test_non_string_names_are_type_errors(tmp_path):
    f = open_container(tmp_path, "zarr2")
    for name in (None, 3, b"x", ("a",)):
        with pytest.raises(TypeError):
            f.create_group(name)
        with pytest.raises(TypeError):
            f[name]
        assert name not in f


def test_unusual_but_harmless_names_stay_inside(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    f = open_container(box, "zarr2")
    for name in ("..\\x", "\\..\\x", "a b", "é", "x..y", "...", "-rf"):
        ds = f.create_dataset(name, data=np.arange(3, dtype="u1"))
        assert os.path.dirname(os.path.abspath(ds.path)) == os.path.abspath(f.path)
        np.testing.assert_array_equal(f[name][...], np.arange(3))
    assert sorted(os.listdir(tmp_path)) == ["box"]
    assert sorted(os.listdir(box)) == ["c.zarr"]


def test_hostile_chunk_key_separator_cannot_escape(tmp_path):
    """A .zarray whose separator would build '../' paths is refused before any I/O."""
    box = tmp_path / "box"
    box.mkdir()
    f = open_container(box, "zarr2")
    f.create_dataset("x", shape=(4, 4), chunks=(2, 2), dtype="u1")
    meta_path = Path(f.path) / "x" / ".zarray"
    meta = json.loads(meta_path.read_text())
    for sep in ("/../", "..", "/", "\\"):
        meta["dimension_separator"] = sep
        meta_path.write_text(json.dumps(meta))
        if sep == "/":
            f["x"][...] = 1
            continue
        before = snapshot(tmp_path)
        with pytest.raises(errors.MetadataError):
            f["x"][...] = 1
        assert snapshot(tmp_path) == before


# ------------------------------------------------------------------------------------------
# modes


def _populated(tmp_path, fmt):
    f = open_container(tmp_path, fmt, mode="w")
    g = f.create_group("g/h")
    ds = f.create_dataset("g/x", shape=(6, 6), chunks=(3, 3), dtype="i4")
    ds[...] = np.arange(36).reshape(6, 6)
    f.attrs["a"] = 1
    g.attrs["b"] = 2
    ds.attrs["c"] = 3
    return f


@pytest.mark.parametrize("fmt", FORMATS)
def test_read_only_mode_refuses_every_write_path(tmp_path, fmt):
    f = _populated(tmp_path, fmt)
    before = snapshot(Path(f.path))
    r = z5py.File(f.path, mode="r")
    group = r["g"]
    ds = r["g/x"]
    visited = {}

    def visit(name, obj):
        visited[name] = obj

    r.visititems(visit)
    assert sorted(visited) == ["g", "g/h", "g/x"]
    ds_visited = visited["g/x"]
    ds_unpickled = pickle.loads(pickle.dumps(ds))
    writes = {}
    for label, d in (("ds", ds), ("visited ds", ds_visited), ("unpickled ds", ds_unpickled)):
        writes.update(
            {
                f"{label} setitem": lambda d=d: d.__setitem__((0, 0), 5),
                f"{label} setitem bad value": lambda d=d: d.__setitem__((0, 0), "junk"),
                f"{label} setitem all": lambda d=d: d.__setitem__(Ellipsis, 0),
                f"{label} write_subarray": lambda d=d: d.write_subarray(
                    (0, 0), np.zeros((6, 6), "i4")
                ),
                f"{label} write_chunk": lambda d=d: d.write_chunk((1, 1), np.zeros((3, 3), "i4")),
                f"{label} write_direct": lambda d=d: d.write_direct(np.zeros((6, 6), "i4")),
                f"{label} attrs set": lambda d=d: d.attrs.__setitem__("c", 4),
                f"{label} attrs del": lambda d=d: d.attrs.__delitem__("c"),
                f"{label} attrs update": lambda d=d: d.attrs.update(c=5),
                f"{label} attrs clear": lambda d=d: d.attrs.clear(),
            }
        )
    for label, node in (("root", r), ("group", group), ("visited group", visited["g"])):
        writes.update(
            {
                f"{label} create_group": lambda n=node: n.create_group("new"),
                f"{label} create_group nested": lambda n=node: n.create_group("new/deeper"),
                f"{label} require_group": lambda n=node: n.require_group("new"),
                f"{label} create_dataset": lambda n=node: n.create_dataset(
                    "new", shape=(2,), dtype="u1"
                ),
                f"{label} create_dataset data": lambda n=node: n.create_dataset(
                    "new", data=np.ones(2)
                ),
                f"{label} require_dataset": lambda n=node: n.require_dataset(
                    "new", shape=(2,), dtype="u1"
                ),
                f"{label} attrs set": lambda n=node: n.attrs.__setitem__("z", 1),
                f"{label} attrs clear": lambda n=node: n.attrs.clear(),
            }
        )
    writes["root delitem dataset"] = lambda: r.__delitem__("g/x")
    writes["root delitem group"] = lambda: r.__delitem__("g")
    writes["group delitem"] = lambda: group.__delitem__("h")
    writes["root attrs del"] = lambda: r.attrs.__delitem__("a")
    for what, write in writes.items():
        with pytest.raises(errors.ReadOnlyError) as info:
            write()
        assert isinstance(info.value, PermissionError), what
        assert snapshot(Path(f.path)) == before, f"{what} changed the disk"
    # reading still works
    np.testing.assert_array_equal(ds[...], np.arange(36).reshape(6, 6))
    assert r.attrs["a"] == 1 and group["h"].attrs["b"] == 2 and ds.attrs["c"] == 3


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", ["w-", "x"])
def test_exclusive_modes_refuse_anything_existing(tmp_path, fmt, mode):
    f = _populated(tmp_path, fmt)
    before = snapshot(tmp_path)
    for existing in (f.path, str(tmp_path / "plain_dir"), str(tmp_path / "plain_file")):
        if existing.endswith("plain_dir"):
            os.mkdir(existing)
        elif existing.endswith("plain_file"):
            Path(existing).write_text("precious")
        before = snapshot(tmp_path)
        with pytest.raises((errors.Z5FileExistsError, errors.Z5OSError)) as info:
            z5py.File(existing, use_zarr_format=fmt != "n5", mode=mode)
        assert isinstance(info.value, OSError)
        assert snapshot(tmp_path) == before
    # a fresh path works and the container is then refused a second time
    fresh = tmp_path / ("fresh.n5" if fmt == "n5" else "fresh.zarr")
    z5py.File(fresh, mode=mode, zarr_format=None if fmt == "n5" else int(fmt[-1]))
    with pytest.raises(errors.Z5FileExistsError):
        z5py.File(fresh, mode=mode)


@pytest.mark.parametrize("fmt", FORMATS)
def test_mode_w_truncates_everything(tmp_path, fmt):
    f = _populated(tmp_path, fmt)
    stale = f["g/x"]
    f2 = open_container(tmp_path, fmt, mode="w")
    assert list(f2) == [] and dict(f2.attrs) == {}
    meta = {"n5": "attributes.json", "zarr2": ".zgroup", "zarr3": "zarr.json"}[fmt]
    assert sorted(os.listdir(f2.path)) == [meta]
    assert f2.zarr_format == (None if fmt == "n5" else int(fmt[-1]))
    # a handle from before the truncation sees no data (reads the fill value), no crash
    np.testing.assert_array_equal(stale[...], np.zeros((6, 6), "i4"))
    # the truncated container is fully usable
    ds = f2.create_dataset("g/x", shape=(2,), dtype="u1")
    ds[...] = 7
    np.testing.assert_array_equal(z5py.File(f2.path, mode="r")["g/x"][...], [7, 7])


# ------------------------------------------------------------------------------------------
# a sharded dataset's chunk_path names the shard that holds the chunk


def test_sharded_chunk_path_names_the_shard_file(tmp_path):
    f = open_container(tmp_path, "zarr3")
    ds = f.create_dataset("s", shape=(20, 20), chunks=(5, 5), shards=(10, 10), dtype="u2")
    ds[...] = 1
    for idx in ds._handle.existing_chunks():
        assert ds.chunk_path(idx) == shard_path(ds, idx)
        assert os.path.isfile(ds.chunk_path(idx))
