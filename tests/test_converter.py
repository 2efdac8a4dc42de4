"""Tests of z5py.converter: HDF5 <-> N5/Zarr round trips, options, attributes and resume."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
import z5py
from z5py import _z5py, converter, jobs
from z5py.converter import convert_from_h5, convert_to_h5

h5py = pytest.importorskip("h5py")

SHAPE = (37, 45, 29)  # not a multiple of any chunk shape used below
CHUNKS = (8, 16, 10)


def _data(dtype, shape=SHAPE, seed=0):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return (rng.standard_normal(shape) * 100).astype(dt)
    if dt.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    info = np.iinfo(dt)
    lo, hi = max(info.min, -(2**40)), min(info.max, 2**40)
    return rng.integers(lo, hi, size=shape, endpoint=True).astype(dt)


def _write_h5(path, key, data, **kw):
    with h5py.File(path, "a") as f:
        ds = f.create_dataset(key, data=data, **kw)
        return ds.name


def _read_h5(path, key):
    with h5py.File(path, "r") as f:
        return f[key][...]


DTYPES = ["uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "float32", "float64"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ext", [".n5", ".zarr"])
def test_roundtrip_dtypes(tmp_path, dtype, ext):
    data = _data(dtype)
    h5 = tmp_path / "in.h5"
    _write_h5(h5, "vol/raw", data, chunks=(10, 10, 10), compression="gzip")
    out = tmp_path / f"out{ext}"
    res = convert_from_h5(str(h5), str(out), "vol/raw", "raw", CHUNKS, 2)
    assert res.blocks_copied == res.blocks_total
    ds = z5py.File(str(out), mode="r")["raw"]
    assert ds.dtype == np.dtype(dtype)
    assert ds.chunks == CHUNKS
    assert ds.shape == SHAPE
    np.testing.assert_array_equal(ds[:], data)

    back = tmp_path / "back.h5"
    convert_to_h5(str(out), str(back), "raw", "data/raw", CHUNKS, 2)
    got = _read_h5(back, "data/raw")
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, data)


def _codecs(fmt):
    wanted = ["raw", "gzip", "zlib", "blosc", "zstd", "lz4", "bzip2", "xz"]
    have = set(_z5py.compressors(fmt))
    return [c for c in wanted if c in have]


@pytest.mark.parametrize(
    ("ext", "codec"),
    [(".n5", c) for c in _codecs("n5")] + [(".zarr", c) for c in _codecs("zarr2")],
)
def test_roundtrip_codecs(tmp_path, ext, codec):
    data = _data("uint16", shape=(19, 33, 21), seed=1) % 50  # compressible
    h5 = tmp_path / "in.h5"
    _write_h5(h5, "raw", data)  # contiguous HDF5 input
    out = tmp_path / f"out{ext}"
    convert_from_h5(
        str(h5), str(out), "raw", "raw", (8, 8, 8), 2, out_blocks=(16, 8, 16), compression=codec
    )
    ds = z5py.File(str(out), mode="r")["raw"]
    assert ds.compression_options["compression"] == codec
    np.testing.assert_array_equal(ds[:], data)
    back = tmp_path / "back.h5"
    convert_to_h5(str(out), str(back), "raw", "raw", (8, 8, 8), 2, out_blocks=(8, 16, 8))
    np.testing.assert_array_equal(_read_h5(back, "raw"), data)


@pytest.mark.parametrize(
    ("shape", "chunks", "blocks"),
    [
        ((1,), (1,), None),
        ((100,), (7,), (21,)),
        ((13, 17), (5, 4), (10, 8)),
        ((3, 5, 7, 11), (2, 2, 3, 4), (4, 2, 6, 8)),
        ((10, 10), (64, 64), None),  # chunks larger than the array
    ],
)
def test_odd_shapes_and_blocks(tmp_path, shape, chunks, blocks):
    data = _data("int32", shape=shape, seed=3)
    h5 = tmp_path / "in.h5"
    _write_h5(h5, "x", data)
    out = tmp_path / "out.n5"
    convert_from_h5(str(h5), str(out), "x", "x", chunks, 3, out_blocks=blocks)
    np.testing.assert_array_equal(z5py.File(str(out), mode="r")["x"][:], data)
    back = tmp_path / "back.h5"
    convert_to_h5(str(out), str(back), "x", "x", chunks, 3, out_blocks=blocks)
    np.testing.assert_array_equal(_read_h5(back, "x"), data)


def test_out_blocks_must_be_multiple(tmp_path):
    data = _data("uint8", shape=(16, 16))
    h5 = tmp_path / "in.h5"
    _write_h5(h5, "x", data)
    with pytest.raises(ValueError, match="multiple"):
        convert_from_h5(str(h5), str(tmp_path / "o.n5"), "x", "x", (4, 4), 1, out_blocks=(6, 8))
    with pytest.raises(ValueError):
        convert_from_h5(str(h5), str(tmp_path / "o.n5"), "x", "x", (4, 4), 1, out_blocks=(8,))
    convert_from_h5(str(h5), str(tmp_path / "ok.n5"), "x", "x", (4, 4), 1)
    with pytest.raises(ValueError, match="multiple"):
        convert_to_h5(
            str(tmp_path / "ok.n5"), str(tmp_path / "b.h5"), "x", "x", (4, 4), 1, out_blocks=(4, 5)
        )


def test_dtype_and_compression_override(tmp_path):
    data = _data("int16")
    h5 = tmp_path / "in.h5"
    _write_h5(h5, "x", data, chunks=True)
    out = tmp_path / "o.zarr"
    convert_from_h5(str(h5), str(out), "x", "f", CHUNKS, 2, dtype="float32", compression="raw")
    ds = z5py.File(str(out), mode="r")["f"]
    assert ds.dtype == np.float32
    assert ds.compression_options["compression"] == "raw"
    np.testing.assert_array_equal(ds[:], data.astype("float32"))

    convert_from_h5(str(h5), str(out), "x", "g", CHUNKS, 2, compression="gzip", level=2)
    opts = z5py.File(str(out), mode="r")["g"].compression_options
    assert opts["compression"] == "gzip"
    assert opts["level"] == 2

    back = tmp_path / "b.h5"
    convert_to_h5(
        str(out),
        str(back),
        "g",
        "g",
        (8, 8, 8),
        2,
        dtype="float64",
        compression="gzip",
        compression_opts=3,
    )
    with h5py.File(back, "r") as f:
        assert f["g"].dtype == np.float64
        assert f["g"].compression == "gzip"
        assert f["g"].compression_opts == 3
        np.testing.assert_array_equal(f["g"][...], data.astype("float64"))


def test_default_compression_is_format_default(tmp_path):
    data = _data("uint8", shape=(20, 20))
    h5 = tmp_path / "in.h5"
    _write_h5(h5, "x", data)
    convert_from_h5(str(h5), str(tmp_path / "o.n5"), "x", "x", (8, 8), 1)
    convert_from_h5(str(h5), str(tmp_path / "o.zarr"), "x", "x", (8, 8), 1)
    n5 = z5py.File(str(tmp_path / "o.n5"), mode="r")["x"]
    zr = z5py.File(str(tmp_path / "o.zarr"), mode="r")["x"]
    assert n5.compression_options["compression"] == z5py.Dataset.n5_default_compressor
    assert zr.compression_options["compression"] == z5py.Dataset.zarr_default_compressor


def test_format_inference(tmp_path):
    data = _data("uint8", shape=(9, 9))
    h5 = tmp_path / "in.h5"
    _write_h5(h5, "x", data)
    convert_from_h5(str(h5), str(tmp_path / "a.n5"), "x", "x", (4, 4), 1)
    convert_from_h5(str(h5), str(tmp_path / "a.zr"), "x", "x", (4, 4), 1)
    convert_from_h5(str(h5), str(tmp_path / "noext"), "x", "x", (4, 4), 1)
    convert_from_h5(str(h5), str(tmp_path / "noext_n5"), "x", "x", (4, 4), 1, use_zarr_format=False)
    assert not z5py.File(str(tmp_path / "a.n5"), mode="r").is_zarr
    assert z5py.File(str(tmp_path / "a.zr"), mode="r").is_zarr
    assert z5py.File(str(tmp_path / "noext"), mode="r").is_zarr  # falls back to Zarr
    assert not z5py.File(str(tmp_path / "noext_n5"), mode="r").is_zarr
    # an existing container keeps its format
    convert_from_h5(str(h5), str(tmp_path / "noext_n5"), "x", "y", (4, 4), 1)
    assert not z5py.File(str(tmp_path / "noext_n5"), mode="r").is_zarr


def test_attributes_both_ways(tmp_path):
    data = _data("uint8", shape=(6, 6))
    h5 = tmp_path / "in.h5"
    with h5py.File(h5, "w") as f:
        ds = f.create_dataset("x", data=data)
        ds.attrs["resolution"] = np.array([4.0, 4.0])
        ds.attrs["unit"] = "nm"
        ds.attrs["bytes_unit"] = np.bytes_(b"um")
        ds.attrs["count"] = np.int64(7)
        ds.attrs["flag"] = np.bool_(True)
        ds.attrs["names"] = np.array(["a", "bc"], dtype=h5py.string_dtype())
        ds.attrs["ref"] = f.ref  # not representable in JSON: skipped with a warning
    out = tmp_path / "o.n5"
    with pytest.warns(UserWarning, match="ref"):
        convert_from_h5(str(h5), str(out), "x", "x", (3, 3), 1)
    attrs = dict(z5py.File(str(out), mode="r")["x"].attrs)
    assert attrs == {
        "resolution": [4.0, 4.0],
        "unit": "nm",
        "bytes_unit": "um",
        "count": 7,
        "flag": True,
        "names": ["a", "bc"],
    }

    z5 = z5py.File(str(out), mode="a")["x"]
    z5.attrs["nested"] = {"a": [1, 2], "b": None}
    z5.attrs["mixed"] = [1, "two"]
    z5.attrs["nothing"] = None
    back = tmp_path / "b.h5"
    convert_to_h5(str(out), str(back), "x", "x", (3, 3), 1)
    with h5py.File(back, "r") as f:
        a = f["x"].attrs
        np.testing.assert_array_equal(a["resolution"], [4.0, 4.0])
        assert a["unit"] == "nm"
        assert a["count"] == 7
        assert bool(a["flag"]) is True
        assert [s.decode() if isinstance(s, bytes) else s for s in a["names"]] == ["a", "bc"]
        import json

        assert json.loads(a["nested"]) == {"a": [1, 2], "b": None}
        assert json.loads(a["mixed"]) == [1, "two"]
        assert json.loads(a["nothing"]) is None


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        convert_from_h5(str(tmp_path / "missing.h5"), str(tmp_path / "o.n5"), "x", "x", (2,), 1)
    h5 = tmp_path / "in.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("g/x", data=np.arange(4))
    with pytest.raises(KeyError):
        convert_from_h5(str(h5), str(tmp_path / "o.n5"), "nope", "x", (2,), 1)
    with pytest.raises(ValueError, match="group"):
        convert_from_h5(str(h5), str(tmp_path / "o.n5"), "g", "x", (2,), 1)
    with pytest.raises(ValueError):
        convert_from_h5(str(h5), str(tmp_path / "o.n5"), "g/x", "x", (2, 2), 1)
    with pytest.raises(FileNotFoundError):
        convert_to_h5(str(tmp_path / "missing.n5"), str(tmp_path / "o.h5"), "x", "x", (2,), 1)


def test_hdf5_is_only_touched_from_the_calling_thread(tmp_path, monkeypatch):
    data = _data("float32", shape=(32, 32, 32))
    h5 = tmp_path / "in.h5"
    _write_h5(h5, "x", data, chunks=(8, 8, 8))
    threads = set()
    orig_get = h5py.Dataset.__getitem__
    orig_set = h5py.Dataset.__setitem__

    def get(self, *a, **k):
        threads.add(threading.get_ident())
        return orig_get(self, *a, **k)

    def put(self, *a, **k):
        threads.add(threading.get_ident())
        return orig_set(self, *a, **k)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", get)
    monkeypatch.setattr(h5py.Dataset, "__setitem__", put)
    out = tmp_path / "o.n5"
    convert_from_h5(str(h5), str(out), "x", "x", (8, 8, 8), 4)
    convert_to_h5(str(out), str(tmp_path / "b.h5"), "x", "x", (8, 8, 8), 4)
    assert threads == {threading.get_ident()}
    monkeypatch.undo()
    np.testing.assert_array_equal(_read_h5(tmp_path / "b.h5", "x"), data)


class _Stop(Exception):
    pass


def _stop_after(k):
    n = itertools.count(1)

    def cb(block):
        if next(n) >= k:
            raise _Stop

    return cb


def test_convert_from_h5_interrupted_then_resumed(tmp_path):
    data = _data("uint16", shape=(40, 40, 40)) | 1  # no all-zero block
    h5 = tmp_path / "in.h5"
    _write_h5(h5, "x", data, chunks=(10, 10, 10))
    out = str(tmp_path / "o.n5")
    with pytest.raises(_Stop):
        convert_from_h5(str(h5), out, "x", "x", (10, 10, 10), 2, on_block=_stop_after(10))
    res = convert_from_h5(str(h5), out, "x", "x", (10, 10, 10), 2)
    assert res.blocks_total == 64
    assert res.blocks_skipped >= 10
    assert res.blocks_skipped + res.blocks_copied == 64
    np.testing.assert_array_equal(z5py.File(out, mode="r")["x"][:], data)


def test_convert_from_h5_resume_checks_compatibility(tmp_path):
    data = _data("uint8", shape=(8, 8))
    h5 = tmp_path / "in.h5"
    _write_h5(h5, "x", data)
    out = str(tmp_path / "o.n5")
    convert_from_h5(str(h5), out, "x", "x", (4, 4), 1)
    with pytest.raises(ValueError, match="already exists"):
        convert_from_h5(str(h5), out, "x", "x", (2, 2), 1)
    # resume=False rewrites every block of the existing dataset
    z5py.File(out, mode="a")["x"][:] = 0
    res = convert_from_h5(str(h5), out, "x", "x", (4, 4), 1, resume=False)
    assert res.blocks_copied == res.blocks_total == 4
    np.testing.assert_array_equal(z5py.File(out, mode="r")["x"][:], data)


def test_convert_to_h5_interrupted_then_resumed(tmp_path):
    data = _data("float32", shape=(30, 30, 30))
    src = tmp_path / "in.zarr"
    z5py.File(str(src), mode="a").create_dataset("x", data=data, chunks=(10, 10, 10))
    out = str(tmp_path / "o.h5")
    with pytest.raises(_Stop):
        convert_to_h5(str(src), out, "x", "x", (10, 10, 10), 2, on_block=_stop_after(5))
    res = convert_to_h5(str(src), out, "x", "x", (10, 10, 10), 2)
    assert res.blocks_skipped >= 5
    assert res.blocks_skipped + res.blocks_copied == 27
    np.testing.assert_array_equal(_read_h5(out, "x"), data)
    again = convert_to_h5(str(src), out, "x", "x", (10, 10, 10), 2)
    assert again.blocks_skipped == 27


def test_convert_to_h5_leaves_empty_blocks_unallocated(tmp_path):
    src = tmp_path / "in.n5"
    ds = z5py.File(str(src), mode="a").create_dataset(
        "x", shape=(40, 40), chunks=(10, 10), dtype="int32"
    )
    ds[0:10, 0:10] = 5
    out = tmp_path / "o.h5"
    convert_to_h5(str(src), str(out), "x", "x", (10, 10), 1)
    with h5py.File(out, "r") as f:
        assert f["x"].id.get_num_chunks() == 1
        expected = np.zeros((40, 40), dtype="int32")
        expected[:10, :10] = 5
        np.testing.assert_array_equal(f["x"][...], expected)


def test_convert_to_h5_existing_mismatch(tmp_path):
    src = tmp_path / "in.n5"
    z5py.File(str(src), mode="a").create_dataset("x", data=np.ones((4, 4), "uint8"))
    out = tmp_path / "o.h5"
    with h5py.File(out, "w") as f:
        f.create_dataset("x", shape=(3, 3), dtype="uint8")
    with pytest.raises(ValueError, match="already exists"):
        convert_to_h5(str(src), str(out), "x", "x", (2, 2), 1)


def test_progress_bar(tmp_path, capsys):
    data = _data("uint8", shape=(16, 16))
    h5 = tmp_path / "in.h5"
    _write_h5(h5, "x", data)
    convert_from_h5(str(h5), str(tmp_path / "o.n5"), "x", "x", (4, 4), 1, progress=True)
    assert "16/16" in capsys.readouterr().err
    convert_from_h5(str(h5), str(tmp_path / "o.n5"), "x", "y", (4, 4), 1)
    assert capsys.readouterr().err == ""


def test_bounded_blocks_in_flight(tmp_path, monkeypatch):
    """The copy never holds much more than ~2 blocks per worker in memory."""
    data = _data("uint8", shape=(64, 64, 64))
    h5 = tmp_path / "in.h5"
    _write_h5(h5, "x", data, chunks=(8, 8, 8))
    live = 0
    peak = 0
    lock = threading.Lock()
    orig_write = jobs.Z5Writer.write
    orig_read = converter._H5Reader.read

    def read(self, block):
        nonlocal live, peak
        with lock:
            live += 1
            peak = max(peak, live)
        return orig_read(self, block)

    def write(self, block, data):
        nonlocal live
        try:
            return orig_write(self, block, data)
        finally:
            with lock:
                live -= 1

    monkeypatch.setattr(converter._H5Reader, "read", read)
    monkeypatch.setattr(jobs.Z5Writer, "write", write)
    res = convert_from_h5(str(h5), str(tmp_path / "o.n5"), "x", "x", (8, 8, 8), 2)
    assert res.blocks_total == 512
    assert peak <= 2 + 2  # n_workers + 1 queued + the one being read
