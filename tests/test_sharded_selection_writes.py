"""Strided, fancy and point writes on sharded Zarr v3 arrays rewrite each shard they touch
once (one read-modify-write per shard, not one per inner chunk), counted as the PUTs that
reach moto's S3 server through a logging proxy; the inner chunks of a shard holding no
selected element keep their stored bytes; results equal numpy's, and zarr-python reads
them alike. (Multi-process safety of these writes: tests/test_multiprocess_writes.py.)"""

from __future__ import annotations

import collections
import itertools
import struct

import numpy as np
import pytest
import z5py
from remote_servers import fault_proxy

S3_BUCKET = "shardsel"
SHAPE, CHUNKS, SHARDS = (32, 32), (4, 4), (16, 16)

# (name, index, the same selection for numpy); each touches all four shards and, in each,
# several inner chunks
_FLAT = np.unique(np.random.default_rng(3).integers(0, 32 * 32, 40))
POINTS = np.unravel_index(_FLAT, SHAPE)
SELECTIONS = [
    ("strided", np.s_[::2, 1::3], np.s_[::2, 1::3]),
    ("fancy", ([30, 1, 18, 5], [2, 25, 9]), np.ix_([30, 1, 18, 5], [2, 25, 9])),
    ("points", None, POINTS),
]


def _values(dtype: str, shape) -> np.ndarray:
    n = int(np.prod(shape))
    if dtype == "str":
        out = np.array([f"v{i}" + "x" * (i % 3) for i in range(n)], dtype=object)
    else:
        out = (np.arange(n) % 200 + 17).astype(dtype)
    return out.reshape(shape)


def _base(dtype: str) -> np.ndarray:
    n = int(np.prod(SHAPE))
    if dtype == "str":
        return np.array([str(i) for i in range(n)], dtype=object).reshape(SHAPE)
    return (np.arange(n) % 251).astype(dtype).reshape(SHAPE)


@pytest.mark.parametrize("dtype", ["u1", "str"])
@pytest.mark.parametrize(("kind", "index", "model"), SELECTIONS, ids=[s[0] for s in SELECTIONS])
def test_selection_writes_rewrite_each_touched_shard_once(s3, kind, index, model, dtype):
    url = f"s3://{S3_BUCKET}/{kind}-{dtype}.zarr"
    with fault_proxy(s3.endpoint) as proxy:
        so = {"endpoint": proxy.endpoint}
        f = z5py.File(url, "w", zarr_format=3, storage_options=so)
        expected = _base(dtype)
        ds = f.create_dataset(
            "d",
            data=expected,
            chunks=CHUNKS,
            shards=SHARDS,
            compression="raw",
        )
        values = _values(dtype, expected[model].shape)
        proxy.log.clear()
        if kind == "points":
            ds.vindex[model] = values
        else:
            ds[index] = values
        puts = collections.Counter(
            line.split()[1].rsplit("/c/", 1)[1] for line in proxy.log if line.startswith("PUT ")
        )
    expected[model] = values
    selected = np.zeros(SHAPE, dtype=bool)
    selected[model] = True
    touched = {(r // SHARDS[0], c // SHARDS[1]) for r, c in zip(*np.nonzero(selected))}
    assert len(touched) == 4
    assert puts == {f"{i}/{j}": 1 for i, j in touched}, puts
    np.testing.assert_array_equal(ds[...], expected)
    zarr = pytest.importorskip("zarr")
    z = zarr.open_array(s3.zarr_store(S3_BUCKET, f"{kind}-{dtype}.zarr/d", read_only=True))
    assert z.shards == SHARDS and z.chunks == CHUNKS
    assert z[...].tolist() == expected.tolist()


def _inner_entry(shard: bytes, local: tuple[int, int]) -> tuple[int, int]:
    """(offset, nbytes) of inner chunk ``local`` from a shard's index at its end."""
    per = SHARDS[1] // CHUNKS[1]
    n = (SHARDS[0] // CHUNKS[0]) * per
    index = shard[-(16 * n + 4) : -4]
    k = local[0] * per + local[1]
    return struct.unpack("<QQ", index[16 * k : 16 * k + 16])


def test_inner_chunks_without_selected_elements_keep_their_bytes(tmp_path):
    """A sparse fancy write whose box spans a whole shard changes only the inner chunks
    holding selected elements: an inner chunk in the box holding none is corrupt here
    (gzip that does not decode), so decoding it would fail, and it is kept byte for byte."""
    data = (np.arange(np.prod(SHAPE)) % 251).astype("u1").reshape(SHAPE)
    ds = z5py.File(tmp_path / "s.zarr", zarr_format=3).create_dataset(
        "d", data=data, chunks=CHUNKS, shards=SHARDS, compression="gzip"
    )
    path = ds.chunk_path((0, 0))
    with open(path, "rb") as fh:
        shard = bytearray(fh.read())
    off, n = _inner_entry(bytes(shard), (1, 2))
    shard[off : off + n] = b"\xff" * n
    with open(path, "wb") as fh:
        fh.write(shard)
    ds[[0, 15], [0, 15]] = [[1, 2], [3, 4]]  # the box of shard (0, 0) is all of it
    ds.vindex[[1, 14], [14, 1]] = [5, 6]
    data[np.ix_([0, 15], [0, 15])] = [[1, 2], [3, 4]]
    data[[1, 14], [14, 1]] = [5, 6]
    with open(path, "rb") as fh:
        after = fh.read()
    off, n = _inner_entry(after, (1, 2))
    assert after[off : off + n] == b"\xff" * n
    with pytest.raises(z5py.errors.CorruptChunkError):
        ds[4:8, 8:12]
    for i, j in itertools.product(range(8), repeat=2):
        if (i, j) != (1, 2):
            box = np.s_[4 * i : 4 * i + 4, 4 * j : 4 * j + 4]
            np.testing.assert_array_equal(ds[box], data[box])
