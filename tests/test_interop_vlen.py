"""Variable-length strings and bytes with zarr-python 3 (and zarr-python 2 for json2).

Zarr v2 object arrays (``|O``) with the ``vlen-utf8`` and ``vlen-bytes`` object codecs and
Zarr v3 ``string`` / ``variable_length_bytes`` (sharded too): zarr-python 3 writes, we read equal (whole,
windows, fancy selections, fill values of chunks it never wrote); we write (whole, then
partial regions), zarr-python reads equal and its metadata says what it says for its own.
``json2`` only zarr-python 2 writes: a virtualenv with ``zarr<3`` runs as a subprocess
(``$Z5PY_ZARR2_PYTHON``, default ``/work/zarr2-venv/bin/python``; CI sets
``Z5PY_REQUIRE_ZARR2=1`` so that a missing one fails instead of skipping).
tensorstore (0.1.x) supports none of these types, sharded or not; a test pins that down.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import zlib

import numpy as np
import pytest
import z5py
import zarr
from interop_helpers import z5_open
from z5py.errors import CorruptChunkError, UnsupportedError

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore:The data type .* does not have a Zarr V3 specification"),
]

SHAPE = (13, 7)
CHUNKS = (5, 3)
WINDOW = (slice(2, 11), slice(1, 6))
ALPHABET = list("ab é✓ß𝄞z\x00")


def make_items(kind, seed=0, shape=SHAPE):
    """An object array of str or bytes: empty items, non-ASCII, NULs and a long one."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    lengths = rng.integers(0, 12, n)
    lengths[::9] = 0
    lengths[5] = 300
    words = ["".join(rng.choice(ALPHABET, k)) for k in lengths]
    if kind == "bytes":
        words = [w.encode("utf-8") + bytes([i % 256]) for i, w in enumerate(words)]
    out = np.empty(n, dtype=object)
    out[:] = words
    return out.reshape(shape)


def _zarr_dtype(kind):
    from zarr.core.dtype import VariableLengthBytes, VariableLengthUTF8

    return VariableLengthUTF8() if kind == "str" else VariableLengthBytes()


CASES = [(fmt, kind) for fmt in (2, 3) for kind in ("str", "bytes")]


def _id(case):
    return f"v{case[0]}-{case[1]}"


def _equal(actual, expected):
    """Same items; zarr-python 3 reads strings as StringDType, we as object arrays."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    assert actual.tolist() == expected.tolist()


@pytest.mark.parametrize("compressors", ["auto", None], ids=["default", "raw"])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_zarr_python_written_read_by_ours(tmp_path, case, compressors):
    fmt, kind = case
    data = make_items(kind)
    z = zarr.create_array(
        str(tmp_path / "a.zarr"),
        shape=SHAPE,
        chunks=CHUNKS,
        dtype=_zarr_dtype(kind),
        zarr_format=fmt,
        compressors=compressors,
    )
    # leave the last chunks unwritten: they read as the fill value
    z[:10] = data[:10]
    expected = np.array(z[:])
    ds = z5py.open(str(tmp_path / "a.zarr"), "r")
    assert ds.dtype == object
    assert ds.dtype.metadata["vlen"] is (str if kind == "str" else bytes)
    assert ds.fillvalue == ("" if kind == "str" else b"")
    _equal(ds[:], expected)
    _equal(ds[WINDOW], expected[WINDOW])
    _equal(ds[[0, 4, 11], 1:6:2], expected[[0, 4, 11]][:, 1:6:2])
    _equal(ds.vindex[[1, 12, 3], [6, 0, 2]], expected[[1, 12, 3], [6, 0, 2]])
    assert ds[2, 3] == expected[2, 3]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_ours_read_by_zarr_python(tmp_path, case):
    fmt, kind = case
    data = make_items(kind, seed=1)
    f = z5_open(tmp_path / "ours.zarr", "zarr2" if fmt == 2 else "zarr3", mode="w")
    ds = f.create_dataset(
        "a", shape=SHAPE, chunks=CHUNKS, dtype=str if kind == "str" else bytes, compression="zstd"
    )
    expected = np.empty(SHAPE, dtype=object)
    expected[:] = "" if kind == "str" else b""
    # partial chunk writes first (read-modify-write of chunks others filled), then a window
    ds[WINDOW] = data[WINDOW]
    expected[WINDOW] = data[WINDOW]
    ds[0, :] = data[0, :]
    expected[0, :] = data[0, :]
    ds[4:6, 2] = data[7:9, 3]
    expected[4:6, 2] = data[7:9, 3]
    z = zarr.open_array(str(tmp_path / "ours.zarr" / "a"), mode="r")
    _equal(z[:], expected)
    _equal(ds[:], expected)
    if fmt == 2:
        meta = json.loads((tmp_path / "ours.zarr" / "a" / ".zarray").read_text())
        assert meta["dtype"] == "|O"
        assert meta["filters"] == [{"id": "vlen-utf8" if kind == "str" else "vlen-bytes"}]
    else:
        meta = json.loads((tmp_path / "ours.zarr" / "a" / "zarr.json").read_text())
        assert meta["data_type"] == ("string" if kind == "str" else "variable_length_bytes")
        assert meta["codecs"][0]["name"] == ("vlen-utf8" if kind == "str" else "vlen-bytes")
    assert meta["fill_value"] == ""
    # a chunk written back to all fill value is removed
    ds[:5, :3] = "" if kind == "str" else b""
    assert not ds.chunk_exists((0, 0))


def test_fortran_order_both_ways(tmp_path):
    """Zarr v2 ``order: "F"``: vlen items are stored in the chunk's memory order."""
    data = make_items("str", seed=4)
    path = str(tmp_path / "f.zarr")
    z = zarr.create_array(path, shape=SHAPE, chunks=CHUNKS, dtype=str, zarr_format=2, order="F")
    z[:] = data
    ds = z5py.open(path, "a")
    _equal(ds[:], data)
    new = make_items("str", seed=5)
    ds[WINDOW] = new[WINDOW]
    data[WINDOW] = new[WINDOW]
    _equal(zarr.open_array(path, mode="r")[:], data)


SHARDS = (10, 6)


@pytest.mark.parametrize("compressors", ["auto", None], ids=["default", "raw"])
@pytest.mark.parametrize("kind", ["str", "bytes"])
def test_sharded_zarr_python_written_read_by_ours(tmp_path, kind, compressors):
    """Sharded Zarr v3 (inner chunks encoded by vlen-utf8 / vlen-bytes, then zstd by
    default): shards, and inner chunks within written shards, that zarr-python never wrote
    read as the fill value."""
    data = make_items(kind, seed=6)
    path = str(tmp_path / "sh.zarr")
    z = zarr.create_array(
        path,
        shape=SHAPE,
        chunks=CHUNKS,
        shards=SHARDS,
        dtype=_zarr_dtype(kind),
        compressors=compressors,
    )
    z[:4, :5] = data[:4, :5]  # shard (0, 0) in part; shard (0, 1) gets inner chunks too
    z[11:, 6:] = data[11:, 6:]  # the corner shard, one inner chunk
    expected = np.array(z[:])
    meta = json.loads((tmp_path / "sh.zarr" / "zarr.json").read_text())
    assert meta["codecs"][0]["name"] == "sharding_indexed"
    ds = z5py.open(path, "r")
    assert ds.shards == SHARDS and ds.chunks == CHUNKS
    assert ds.dtype.metadata["vlen"] is (str if kind == "str" else bytes)
    assert ds.chunk_exists((0, 0)) and not ds.chunk_exists((1, 0))
    _equal(ds[:], expected)
    _equal(ds[WINDOW], expected[WINDOW])
    _equal(ds[[0, 4, 11], 1:6:2], expected[[0, 4, 11]][:, 1:6:2])
    _equal(ds.vindex[[1, 12, 3], [6, 0, 2]], expected[[1, 12, 3], [6, 0, 2]])
    assert ds[12, 6] == expected[12, 6] and ds[8, 1] == ("" if kind == "str" else b"")


@pytest.mark.parametrize("kind", ["str", "bytes"])
def test_sharded_ours_read_by_zarr_python(tmp_path, kind):
    data = make_items(kind, seed=7)
    f = z5_open(tmp_path / "ours.zarr", "zarr3", mode="w")
    ds = f.create_dataset(
        "a",
        shape=SHAPE,
        chunks=CHUNKS,
        shards=SHARDS,
        dtype=str if kind == "str" else bytes,
        compression="zstd",
        n_threads=2,
    )
    fill = "" if kind == "str" else b""
    expected = np.full(SHAPE, fill, dtype=object)
    # partial shard writes (read-modify-write of shards others filled), then a window
    for sel, src in [
        (WINDOW, WINDOW),
        ((0, slice(None)), (0, slice(None))),
        ((slice(4, 6), 2), (slice(7, 9), 3)),
        ((slice(10, 13), slice(6, 7)), (slice(0, 3), slice(0, 1))),
    ]:
        ds[sel] = data[src]
        expected[sel] = data[src]
    path = str(tmp_path / "ours.zarr" / "a")
    z = zarr.open_array(path, mode="r")
    assert z.shards == SHARDS and z.chunks == CHUNKS
    _equal(z[:], expected)
    _equal(ds[:], expected)
    meta = json.loads((tmp_path / "ours.zarr" / "a" / "zarr.json").read_text())
    assert meta["data_type"] == ("string" if kind == "str" else "variable_length_bytes")
    inner = meta["codecs"][0]["configuration"]["codecs"]
    assert [c["name"] for c in inner] == ["vlen-utf8" if kind == "str" else "vlen-bytes", "zstd"]
    # zarr-python writes into our shards, we read its inner chunks
    z = zarr.open_array(path, mode="a")
    z[5:9, 1:4] = data[:4, :3]
    expected[5:9, 1:4] = data[:4, :3]
    _equal(z5py.open(path, "r")[:], expected)
    # inner chunks and shards written back to all fill value are removed
    ds[:5, :3] = fill
    assert not ds.chunk_exists((0, 0)) and ds.chunk_exists((1, 0))
    ds[:] = fill
    assert [p for p in (tmp_path / "ours.zarr" / "a").rglob("*") if p.is_file()] == [
        tmp_path / "ours.zarr" / "a" / "zarr.json"
    ]


def test_sharded_concurrent_partial_writes_lose_nothing(tmp_path):
    """Threads writing disjoint items of the same shards: each write is a read-modify-write
    of the shard under the store's update, so none is lost."""
    from concurrent.futures import ThreadPoolExecutor

    f = z5_open(tmp_path / "c.zarr", "zarr3", mode="w")
    ds = f.create_dataset("a", shape=(12, 8), chunks=(3, 2), shards=(6, 4), dtype=str)

    def write(column):
        for row in range(12):
            ds[row, column] = f"{row}/{column}"

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    expected = [[f"{r}/{c}" for c in range(8)] for r in range(12)]
    assert ds[:].tolist() == expected
    assert zarr.open_array(str(tmp_path / "c.zarr" / "a"))[:].tolist() == expected


def test_sharded_corrupt_or_short_shard_names_it(tmp_path):
    path = str(tmp_path / "sh.zarr")
    z = zarr.create_array(path, shape=(16,), chunks=(2,), shards=(8,), dtype=str)
    z[:] = np.array([f"item {i}" for i in range(16)], dtype=object)
    shard = tmp_path / "sh.zarr" / "c" / "0"
    good = shard.read_bytes()
    ds = z5py.open(path, "r")
    shard.write_bytes(good[:20])  # cut short: the index at its end is gone
    with pytest.raises(CorruptChunkError, match=r"sh.zarr[/\\]c[/\\]0"):
        ds[:]
    assert ds[8:].tolist() == [f"item {i}" for i in range(8, 16)]
    # an inner chunk's bytes damaged (its zstd frame), the index intact
    shard.write_bytes(b"\x00" * 8 + good[8:])
    with pytest.raises(CorruptChunkError, match=r"c[/\\]0.*inner chunk \[0\]"):
        ds[:2]
    with pytest.raises(CorruptChunkError, match=r"c[/\\]0"):
        z5py.open(path, "a")[1] = "x"
    assert shard.read_bytes()[:8] == b"\x00" * 8


def test_create_spellings_and_string_dtype(tmp_path):
    h5py = pytest.importorskip("h5py")
    f = z5_open(tmp_path / "s.zarr", "zarr3", mode="w")
    for name, dtype, codec in [
        ("h5str", h5py.string_dtype(), "vlen-utf8"),
        ("h5ascii", h5py.string_dtype("ascii"), "vlen-bytes"),
        ("pystr", str, "vlen-utf8"),
        ("pybytes", bytes, "vlen-bytes"),
        ("sdt", np.dtypes.StringDType(), "vlen-utf8"),
    ]:
        ds = f.create_dataset(name, shape=(4,), chunks=(3,), dtype=dtype)
        assert ds._handle.object_codec == codec
    # created with StringDType: reads give StringDType; reopened: object arrays of str
    ds = f.create_dataset(
        "sdt2", data=np.array(["a", "bé", ""], dtype=np.dtypes.StringDType()), chunks=(2,)
    )
    assert ds[:].dtype == np.dtypes.StringDType()
    assert ds[:].tolist() == ["a", "bé", ""]
    assert ds[[0, 2]].dtype == np.dtypes.StringDType()
    assert f["sdt2"][:].dtype == object
    assert zarr.open_array(str(tmp_path / "s.zarr" / "sdt2"))[:].tolist() == ["a", "bé", ""]
    # numpy string arrays and scalars are written as items; the wrong kind is refused
    f["pystr"][:] = np.array(["x", "yy", "zzz", "w"])
    f["pystr"][1] = "é"
    assert f["pystr"][:].tolist() == ["x", "é", "zzz", "w"]
    with pytest.raises(TypeError, match="item 0 is bytes"):
        f["pystr"][0:1] = np.array([b"no"], dtype=object)
    with pytest.raises(TypeError, match="item 0 is str"):
        f["pybytes"][0:1] = np.array(["no"], dtype=object)
    # a fill value of the dataset's kind
    ds = f.create_dataset("filled", shape=(5,), chunks=(2,), dtype=str, fillvalue="n/a")
    ds[1] = "x"
    assert ds[:].tolist() == ["n/a", "x", "n/a", "n/a", "n/a"]
    assert zarr.open_array(str(tmp_path / "s.zarr" / "filled"))[:].tolist() == ds[:].tolist()


def test_astype_and_asstr_views(tmp_path):
    f = z5_open(tmp_path / "v.zarr", "zarr2", mode="w")
    s = f.create_dataset("s", data=make_items("str", seed=3), chunks=CHUNKS)
    b = f.create_dataset("b", data=make_items("bytes", seed=3), chunks=CHUNKS)
    got = s.astype(np.dtypes.StringDType())[WINDOW]
    assert got.dtype == np.dtypes.StringDType()
    assert got.tolist() == s[WINDOW].tolist()
    assert np.asarray(s.astype(np.dtypes.StringDType())).shape == SHAPE
    decoded = b.asstr(errors="surrogateescape")[1:3, 2]
    assert decoded.dtype == object
    assert decoded.tolist() == [x.decode("utf-8", "surrogateescape") for x in b[1:3, 2]]
    assert b.asstr(errors="replace")[0, 0] == b[0, 0].decode("utf-8", "replace")
    with pytest.raises(TypeError, match="string data"):
        f.create_dataset("n", shape=(2,), dtype="u1").asstr()[:]


def test_n5_refuses_variable_length_naming_the_dataset(tmp_path):
    f = z5_open(tmp_path / "x.n5", "n5", mode="w")
    with pytest.raises(UnsupportedError, match="labels"):
        f.create_dataset("labels", shape=(3,), dtype=str)
    assert "labels" not in f


def test_lengths_beyond_the_chunk_are_corrupt(tmp_path):
    f = z5_open(tmp_path / "c.zarr", "zarr2", mode="w")
    ds = f.create_dataset("a", shape=(4,), chunks=(2,), dtype=str, compression="raw")
    ds[:] = np.array(["a", "b", "c", "d"], dtype=object)
    chunk = tmp_path / "c.zarr" / "a" / "1"
    # item count right, the second item's length far beyond the chunk's bytes
    chunk.write_bytes(b"\x02\x00\x00\x00\x01\x00\x00\x00c\xff\xff\xff\x7fd")
    with pytest.raises(CorruptChunkError, match=r"a[/\\]1"):
        ds[:]
    assert ds[:2].tolist() == ["a", "b"]
    chunk.write_bytes(b"\xff\xff\xff\x7f")
    with pytest.raises(CorruptChunkError, match="items"):
        ds[2:]


def test_tensorstore_has_no_variable_length_types(tmp_path):
    """tensorstore 0.1.x refuses these types (zarr: dtype "|O"; zarr3: string, sharded or
    not): no interop to test until it supports them. Fails when it does, to add that
    test."""
    ts = pytest.importorskip("tensorstore")
    f = z5_open(tmp_path / "t.zarr", "zarr2", mode="w")
    f.create_dataset("a", data=np.array(["a"], dtype=object), chunks=(1,))
    f3 = z5_open(tmp_path / "t3.zarr", "zarr3", mode="w")
    f3.create_dataset("a", data=np.array(["a"], dtype=object), chunks=(1,))
    f3.create_dataset("sh", data=np.array(["a", "b"], dtype=object), chunks=(1,), shards=(2,))
    for driver, path in [("zarr", "t.zarr/a"), ("zarr3", "t3.zarr/a"), ("zarr3", "t3.zarr/sh")]:
        spec = {"driver": driver, "kvstore": {"driver": "file", "path": str(tmp_path / path)}}
        with pytest.raises(ValueError, match="dtype|data type"):
            ts.open(spec).result()


# --------------------------------------------------------------------------------------------
# zarr-python 2 (json2 and vlen as it writes them), in its own virtualenv
# --------------------------------------------------------------------------------------------

ZARR2_PYTHON = os.environ.get("Z5PY_ZARR2_PYTHON", "/work/zarr2-venv/bin/python")


def _zarr2(script, *args):
    """Run ``script`` under zarr-python 2; skip (or fail when CI requires it) without it."""
    probe = None
    if os.path.exists(ZARR2_PYTHON):
        probe = subprocess.run(
            [ZARR2_PYTHON, "-c", "import zarr, sys; sys.exit(int(zarr.__version__[0]) != 2)"],
            capture_output=True,
            check=False,
        )
    if probe is None or probe.returncode != 0:
        missing = f"a Python with zarr-python 2 at {ZARR2_PYTHON} ($Z5PY_ZARR2_PYTHON)"
        if os.environ.get("Z5PY_REQUIRE_ZARR2"):
            pytest.fail(f"Z5PY_REQUIRE_ZARR2 is set but there is no {missing}")
        pytest.skip(f"needs {missing}; .ci/run creates one")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [ZARR2_PYTHON, "-c", textwrap.dedent(script), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


JSON_ITEMS = [{"a": [1, 2.5, None]}, "héllo", 3, None, [1, "x"], True, -7, "", {"k": {"n": "ü"}}]


def test_zarr_python_2_json2_and_vlen_read_by_ours(tmp_path):
    _zarr2(
        """
        import sys, json, numpy as np, numcodecs, zarr
        root = zarr.open_group(sys.argv[1], mode="w")
        items = json.loads(sys.argv[2])
        a = np.empty((3, 3), dtype=object)
        a.flat[:] = items
        j = root.create_dataset("j", shape=(4, 5), chunks=(2, 2), dtype=object,
                                object_codec=numcodecs.JSON(), fill_value=None)
        j[:3, :3] = a
        s = root.create_dataset("s", shape=(7,), chunks=(3,), dtype=str)
        s[:5] = np.array(["a", "", "héllo", "x" * 40, "z"], dtype=object)
        b = root.create_dataset("b", shape=(4,), chunks=(3,), dtype=object,
                                object_codec=numcodecs.VLenBytes(), compressor=None)
        b[:] = np.array([b"\\x00", b"", b"xy", b"z"], dtype=object)
        """,
        tmp_path / "z2.zarr",
        json.dumps(JSON_ITEMS),
    )
    f = z5py.open(str(tmp_path / "z2.zarr"), "r")
    j = f["j"][:]
    assert j[:3, :3].reshape(-1).tolist() == JSON_ITEMS
    assert j[3].tolist() == [None] * 5 and j[:, 3:].tolist() == [[None, None]] * 4
    assert f["j"].fillvalue is None
    # items of chunks never written read as the fill value zarr-python 2 wrote (its
    # default 0 for dtype=str), as it reads them; see the next test
    written = json.loads((tmp_path / "z2.zarr" / "s" / ".zarray").read_text())["fill_value"]
    assert written == 0 and f["s"].fillvalue == 0
    s = f["s"]
    assert s[:5].tolist() == ["a", "", "héllo", "x" * 40, "z"]
    assert s[5:].tolist() == ["", 0]  # padding of its chunk 1, then chunk 2 never written
    assert f["b"][:].tolist() == [b"\x00", b"", b"xy", b"z"]


FILL_SCRIPT = """
import sys, json, numpy as np, numcodecs, zarr
root = zarr.open_group(sys.argv[1], mode=sys.argv[2])
if sys.argv[2] == "w":
    kinds = {
        "s0": dict(dtype=str),
        "sn": dict(dtype=str, fill_value=None),
        "b0": dict(dtype=object, object_codec=numcodecs.VLenBytes(), fill_value=0),
        "s5": dict(dtype=str, fill_value=5),
    }
    for name, kw in kinds.items():
        a = root.create_dataset(name, shape=(8,), chunks=(3,), **kw)
        word = (lambda w: w.encode()) if name == "b0" else (lambda w: w)
        if name == "s5":  # numcodecs cannot encode 5: only whole chunks are writable
            a[:3] = np.array([word(w) for w in "abc"], dtype=object)
        else:
            a[1] = word("x")  # chunk 0 in part: items 0 and 2 padded with the fill value
            a[3:6] = np.array([word("")] * 3, dtype=object)
show = lambda x: "bytes:" + x.decode() if isinstance(x, bytes) else x
print(json.dumps({
    name: {"fill": show(a.fill_value), "items": [show(x) for x in a[:].tolist()]}
    for name, a in root.arrays()
}))
"""


def _shown(ds):
    show = lambda x: "bytes:" + x.decode() if isinstance(x, bytes) else x
    return {"fill": show(ds.fillvalue), "items": [show(x) for x in ds[:].tolist()]}


def test_zarr_python_2_non_string_fill_values_both_ways(tmp_path):
    """zarr-python 2 writes ``fill_value: 0`` for ``dtype=str`` by default (or null, or
    another number). Where no chunk was written it reads that value itself (int 0, None,
    5); items its partial writes padded are ``""`` (numcodecs encodes 0 and None so), and
    a chunk of ``""`` items is no chunk of fill values. We read and write alike.
    (zarr-python 3 reads ``str(0)`` where no chunk was written, which its issue #2792
    calls a bug, and cannot read the bytes array.)"""
    path = tmp_path / "z2.zarr"
    theirs = _zarr2(FILL_SCRIPT, path, "w")
    assert theirs["s0"]["items"] == ["", "x", "", "", "", "", 0, 0]
    assert theirs["sn"]["items"][5:] == ["", None, None]
    assert theirs["s5"]["items"] == ["a", "b", "c", 5, 5, 5, 5, 5]
    f = z5py.open(str(path), "a")
    assert {name: _shown(f[name]) for name in theirs} == theirs
    # we write: a new chunk in part (padded with ""), a chunk of "" items (kept: "" is not
    # the fill value 0), a whole chunk of s5
    for name in ["s0", "sn", "b0"]:
        word = (lambda w: w.encode()) if name == "b0" else (lambda w: w)
        f[name][7] = word("y")
        f[name][0:3] = np.array([word("")] * 3, dtype=object)
        assert f[name].chunk_exists((0,))
    f["s5"][3:6] = np.array(["d", "e", "f"], dtype=object)
    ours = {name: _shown(f[name]) for name in theirs}
    assert ours["s0"]["items"] == ["", "", "", "", "", "", "", "y"]
    assert ours["s5"]["items"] == ["a", "b", "c", "d", "e", "f", 5, 5]
    assert _zarr2(FILL_SCRIPT, path, "r") == ours
    # shrinking clears the retained chunk's part beyond the edge with the empty item
    f["s0"].resize((5,))
    f["s0"].resize((8,))
    assert f["s0"][:].tolist() == ["", "", "", "", "", "", 0, 0]
    assert _zarr2(FILL_SCRIPT, path, "r")["s0"] == _shown(f["s0"])


def test_ours_json2_and_vlen_read_by_zarr_python_2(tmp_path):
    f = z5_open(tmp_path / "ours.zarr", "zarr2", mode="w")
    # zarr-python 2's object_codec=numcodecs.JSON() spelled as the first filter
    j = f.create_dataset(
        "j",
        shape=(4, 5),
        chunks=(2, 2),
        dtype=object,
        compression="gzip",
        filters=[{"id": "json2"}],
        fillvalue=None,
    )
    a = np.empty((3, 3), dtype=object)
    a.flat[:] = JSON_ITEMS
    j[:3, :3] = a
    j[3, 4] = {"last": 1}
    s = f.create_dataset("s", shape=(7,), chunks=(3,), dtype=str)
    s[1:6] = np.array(["a", "", "héllo", "x" * 40, "z"], dtype=object)
    got = _zarr2(
        """
        import sys, json, zarr
        root = zarr.open_group(sys.argv[1], mode="r")
        print(json.dumps({"j": root["j"][:].tolist(), "s": root["s"][:].tolist()}))
        """,
        tmp_path / "ours.zarr",
    )
    expected = np.full((4, 5), None, dtype=object)
    expected[:3, :3] = a
    expected[3, 4] = {"last": 1}
    assert got["j"] == expected.tolist()
    assert got["s"] == ["", "a", "", "héllo", "x" * 40, "z", ""]
    # byte for byte what numcodecs writes for a json2 chunk (padding as the fill value)
    raw = (tmp_path / "ours.zarr" / "j" / "1.2").read_bytes()
    assert zlib.decompress(raw, 31) == b'[[null,null],[{"last":1},null],"|O",[2,2]]'
    meta = json.loads((tmp_path / "ours.zarr" / "j" / ".zarray").read_text())
    assert meta["filters"][0]["id"] == "json2" and meta["fill_value"] is None


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_rechunk_keeps_zarr_python_2_non_string_fill(tmp_path, zarr_format):
    """A copy of zarr-python 2 string arrays whose fill value is 0 or null: into Zarr v2 the
    copy keeps that fill value, so where the source has no chunk the copy has none either
    and reads 0 / None as the source does (and as zarr-python 2 reads it); Zarr v3 string
    arrays cannot hold it, so there such items read as the copy's fill value ""."""
    src = tmp_path / "z2.zarr"
    theirs = _zarr2(FILL_SCRIPT, src, "w")
    out = tmp_path / "copy.zarr"
    for name in ["s0", "sn", "b0"]:
        z5py.util.rechunk(str(src), str(out), name, name, (2,), 1, zarr_format=zarr_format)
    f = z5py.File(str(out), "r")
    for name in ["s0", "sn", "b0"]:
        items = theirs[name]["items"]
        # output chunk 2 (items 4, 5) and 3 (6, 7): only 6, 7 are wholly outside source chunks
        assert not f[name].chunk_exists((3,))
        got = _shown(f[name])
        if zarr_format == 2:
            assert got == theirs[name]
        else:
            empty = "bytes:" if name == "b0" else ""
            assert got["items"] == [x if isinstance(x, str) else empty for x in items]
    if zarr_format == 2:
        assert _zarr2(FILL_SCRIPT, out, "r") == {n: theirs[n] for n in ["s0", "sn", "b0"]}


def test_rechunk_resuming_an_existing_copy_keeps_zarr_python_2_non_string_fill(tmp_path):
    """A copy resumed into an output that exists already without the source's fill value
    0 / null (a copy stopped right after creating it, or made before copies kept it): the
    output gets that fill value too, so where the source has no chunk the finished copy
    reads 0 / None as the source does (before: the output's "")."""
    src = tmp_path / "z2.zarr"
    theirs = _zarr2(FILL_SCRIPT, src, "w")
    out = tmp_path / "copy.zarr"
    f = z5py.File(str(out), "a", zarr_format=2)
    for name, dtype in [("s0", str), ("sn", str), ("b0", bytes)]:
        f.create_dataset(name, shape=(8,), chunks=(2,), dtype=dtype)
    for name in ["s0", "sn", "b0"]:
        z5py.util.rechunk(str(src), str(out), name, name, (2,), 1, zarr_format=2, resume=True)
    f = z5py.File(str(out), "r")
    for name in ["s0", "sn", "b0"]:
        assert not f[name].chunk_exists((3,))
        assert _shown(f[name]) == theirs[name]
    assert _zarr2(FILL_SCRIPT, out, "r") == {n: theirs[n] for n in ["s0", "sn", "b0"]}
