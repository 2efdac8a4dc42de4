"""Dataset: creation arguments, metadata, whole-region I/O, chunk API, pickling."""

from __future__ import annotations

import gzip
import json
import os
import pickle

import numpy as np
import pytest
import z5py
from z5py import _z5py, errors

NUMERIC_DTYPES = ["u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f4", "f8"]


def _metadata(ds) -> dict:
    name = {"n5": "attributes.json", "zarr2": ".zarray", "zarr3": "zarr.json"}
    fmt = "n5" if not ds.is_zarr else f"zarr{ds.zarr_format}"
    with open(os.path.join(ds.path, name[fmt])) as fh:
        return json.load(fh)


# ------------------------------------------------------------------------------------------
# creation


def test_create_and_metadata(f, fmt):
    ds = f.create_dataset("x", shape=(10, 20), dtype="u2", chunks=(3, 7))
    assert isinstance(ds, z5py.Dataset)
    assert ds.shape == (10, 20) and ds.chunks == (3, 7)
    assert ds.dtype == np.dtype("uint16")
    assert ds.ndim == 2 and ds.size == 200 and ds.nbytes == 400
    assert ds.chunks_per_dimension == (4, 3) and ds.number_of_chunks == 12
    assert ds.name == "/x" and ds.parent is f and ds.file is f
    assert ds.path == os.path.join(f.path, "x")
    assert ds.is_zarr == (fmt != "n5") and ds.zarr_format == f.zarr_format
    assert ds.fillvalue == 0
    assert ds.n_threads == 1
    meta = _metadata(ds)
    if fmt == "n5":
        assert meta["dimensions"] == [20, 10]  # N5 is column-major
        assert meta["blockSize"] == [7, 3]
        assert meta["dataType"] == "uint16"
        assert meta["compression"]["type"] == "gzip"
    elif fmt == "zarr2":
        assert meta["shape"] == [10, 20] and meta["chunks"] == [3, 7]
        assert meta["dtype"] == "<u2"
        assert meta["compressor"]["id"] == "blosc"
        assert meta["dimension_separator"] == "."
    else:
        assert meta["shape"] == [10, 20] and meta["data_type"] == "uint16"
        assert meta["chunk_grid"]["configuration"]["chunk_shape"] == [3, 7]


def test_default_compression(f, fmt):
    ds = f.create_dataset("x", shape=(4,), dtype="f4")
    expected = "gzip" if fmt == "n5" else "blosc"
    assert ds.compression == expected
    assert ds.compression_options["compression"] == expected
    assert {k: v for k, v in ds.compression_options.items() if k != "compression"} == (
        ds.compression_opts
    )
    assert z5py.Dataset.n5_default_compressor == "gzip"
    assert z5py.Dataset.zarr_default_compressor == "blosc"


def test_compressor_lists_tell_the_truth():
    assert list(z5py.Dataset.compressors_n5) == _z5py.compressors("n5")
    assert list(z5py.Dataset.compressors_zarr) == _z5py.compressors("zarr2")
    assert list(z5py.Dataset.compressors_zarr_v3) == _z5py.compressors("zarr3")
    assert "gzip" in z5py.Dataset.compressors_n5 and "raw" in z5py.Dataset.compressors_zarr


@pytest.mark.parametrize("fmt", ["n5", "zarr2", "zarr3"])
def test_every_advertised_compressor_roundtrips(f, fmt):
    names = {
        "n5": z5py.Dataset.compressors_n5,
        "zarr2": z5py.Dataset.compressors_zarr,
        "zarr3": z5py.Dataset.compressors_zarr_v3,
    }[fmt]
    data = np.arange(600, dtype="i4").reshape(20, 30) % 17
    for name in names:
        ds = f.create_dataset(f"c_{name}", data=data, chunks=(8, 8), compression=name)
        assert ds.compression == {"lzma": "xz"}.get(name, name)  # lzma is an alias of xz
        np.testing.assert_array_equal(f[f"c_{name}"][:], data)


@pytest.mark.parametrize("fmt", ["zarr2"])
def test_zarr2_gzip_is_real_gzip(f):
    ds = f.create_dataset("x", data=np.arange(100, dtype="i4"), chunks=(50,), compression="gzip")
    assert _metadata(ds)["compressor"]["id"] == "gzip"
    with open(os.path.join(ds.path, "0"), "rb") as fh:
        raw = fh.read()
    assert raw[:2] == b"\x1f\x8b"
    assert np.frombuffer(gzip.decompress(raw), dtype="<i4").tolist() == list(range(50))


def test_compression_options(f, fmt):
    ds = f.create_dataset("x", shape=(4,), dtype="i4", compression="gzip", level=2)
    assert ds.compression == "gzip" and ds.compression_opts["level"] == 2
    h5 = f.create_dataset("h5", shape=(4,), dtype="i4", compression="gzip", compression_opts=7)
    assert h5.compression_opts["level"] == 7
    raw = f.create_dataset("r", shape=(4,), dtype="i4", compression="raw")
    assert raw.compression == "raw"
    with pytest.raises(errors.InvalidArgumentError, match="foo"):
        f.create_dataset("bad", shape=(4,), dtype="i4", compression="gzip", foo=1)
    assert "bad" not in f


def test_unknown_compressor(f):
    with pytest.raises(errors.UnsupportedError, match="lzf"):
        f.create_dataset("x", shape=(4,), dtype="i4", compression="lzf")
    assert "x" not in f


@pytest.mark.parametrize(
    ("shape", "chunks"),
    [
        ((1_000_000,), (262144,)),
        ((100,), (100,)),
        ((5000, 5000), (512, 512)),
        ((100, 3), (100, 3)),
        ((1000, 1000, 1000), (64, 64, 64)),
        ((100, 100, 100, 100), (23, 23, 23, 23)),
        ((0, 4), (1, 4)),
    ],
)
@pytest.mark.parametrize("fmt", ["n5", "zarr2"])
def test_default_chunks(f, shape, chunks):
    assert f.create_dataset("x", shape=shape, dtype="u1").chunks == chunks


def test_create_from_data(f):
    data = np.arange(60, dtype="i2").reshape(3, 4, 5)
    ds = f.create_dataset("x", data=data, chunks=(2, 2, 2))
    assert ds.shape == data.shape and ds.dtype == data.dtype
    np.testing.assert_array_equal(ds[:], data)
    assert f.create_dataset("int_shape", shape=5, dtype="u1").shape == (5,)
    lists = f.create_dataset("lists", data=[[1.5, 2.5], [3.5, 4.5]])
    assert lists.dtype == np.float64
    np.testing.assert_array_equal(lists[:], [[1.5, 2.5], [3.5, 4.5]])
    same = f.create_dataset("same", data=data, dtype="i2", shape=(3, 4, 5))
    np.testing.assert_array_equal(same[:], data)
    big_endian = f.create_dataset("be", data=data.astype(">i2"), dtype="i2")
    np.testing.assert_array_equal(big_endian[:], data)


def test_create_from_data_with_other_dtype_raises(f):
    data = np.arange(10, dtype="f4")
    with pytest.raises(errors.DtypeMismatchError, match="float32"):
        f.create_dataset("x", data=data, dtype="f8")
    with pytest.raises(RuntimeError):
        f.create_dataset("x", data=data, dtype="i4")
    with pytest.raises(ValueError):
        f.create_dataset("x", data=data, dtype="i4")
    assert "x" not in f


def test_create_argument_errors(f, fmt):
    with pytest.raises(TypeError, match="shape and dtype"):
        f.create_dataset("x", shape=(3,))
    with pytest.raises(TypeError, match="shape and dtype"):
        f.create_dataset("x", dtype="u1")
    with pytest.raises(ValueError, match="does not match the data"):
        f.create_dataset("x", shape=(4,), data=np.zeros(3))
    with pytest.raises(ValueError, match="negative"):
        f.create_dataset("x", shape=(-1,), dtype="u1")
    with pytest.raises(TypeError):
        f.create_dataset("x", shape=(2.5,), dtype="u1")
    with pytest.raises(ValueError, match="dimensions"):
        f.create_dataset("x", shape=(4, 4), dtype="u1", chunks=(2,))
    with pytest.raises(ValueError, match="positive"):
        f.create_dataset("x", shape=(4,), dtype="u1", chunks=(0,))
    with pytest.raises(errors.UnsupportedError, match="subarray"):
        f.create_dataset("x", shape=(4,), dtype="(2,)i4")
    with pytest.raises(ValueError, match="n_threads"):
        f.create_dataset("x", shape=(4,), dtype="u1", n_threads=0)
    assert "x" not in f
    f.create_dataset("x", shape=(4,), dtype="u1")
    with pytest.raises(errors.NodeExistsError, match="already exists"):
        f.create_dataset("x", shape=(4,), dtype="u1")
    f.create_group("g")
    with pytest.raises(KeyError):
        f.create_dataset("g", shape=(4,), dtype="u1")


def test_create_failure_leaves_nothing_behind(f, fmt):
    f.create_dataset("ok", shape=(2,), dtype="u1")
    with pytest.raises(errors.InvalidArgumentError):
        f.create_dataset("bad", shape=(4,), dtype="u1", compression="gzip", nonsense=1)
    if fmt == "n5":
        with pytest.raises(errors.UnsupportedError):
            f.create_dataset("bad", shape=(4,), dtype="f2")
    assert not os.path.exists(os.path.join(f.path, "bad"))
    assert list(f) == ["ok"]


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES)
def test_numeric_dtypes_roundtrip(f, dtype):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "ui" else np.finfo(dtype)
    middle = int(info.max) // 2 if dtype[0] in "ui" else 0.5
    data = np.array([info.min, 0, 1, info.max, middle], dtype=dtype)
    ds = f.create_dataset("x", data=data, chunks=(2,))
    assert ds.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(f["x"][:], data)


@pytest.mark.parametrize("fmt", ["zarr2", "zarr3"])
@pytest.mark.parametrize("dtype", ["bool", "f2", "c8", "c16"])
def test_zarr_only_dtypes_roundtrip(f, dtype):
    data = (np.arange(7) % 3).astype(dtype)
    f.create_dataset("x", data=data, chunks=(3,))
    np.testing.assert_array_equal(f["x"][:], data)


@pytest.mark.parametrize("fmt", ["zarr2", "zarr3"])
def test_big_endian_zarr(f):
    data = np.arange(10, dtype=">f4")
    ds = f.create_dataset("x", data=data, chunks=(4,))
    assert ds.dtype == np.dtype("float32")  # native in memory
    np.testing.assert_array_equal(ds[:], data)


# ------------------------------------------------------------------------------------------
# fill values


@pytest.mark.parametrize("fmt", ["zarr2", "zarr3"])
def test_zarr_fill_value(f):
    ds = f.create_dataset("x", shape=(10,), chunks=(4,), dtype="f4", fillvalue=3.5)
    assert ds.fillvalue == 3.5
    np.testing.assert_array_equal(ds[:], np.full(10, 3.5, "f4"))
    ds[5] = 1
    expected = np.full(10, 3.5, "f4")
    expected[5] = 1
    np.testing.assert_array_equal(z5py.File(f.path, mode="r")["x"][:], expected)
    big = f.create_dataset("big", shape=(3,), chunks=(2,), dtype=">i4", fillvalue=-5)
    assert big.fillvalue == -5
    np.testing.assert_array_equal(big[:], [-5, -5, -5])
    nan = f.create_dataset("nan", shape=(3,), dtype="f8", fillvalue=np.nan)
    assert np.isnan(nan.fillvalue) and np.isnan(nan[:]).all()
    with pytest.raises(ValueError, match="fill value"):
        f.create_dataset("bad", shape=(3,), dtype="u1", fillvalue=-1)


@pytest.mark.parametrize("fmt", ["n5"])
def test_n5_has_no_fill_value(f):
    with pytest.raises(errors.InvalidArgumentError, match="N5 has no fill value"):
        f.create_dataset("x", shape=(3,), dtype="f4", fillvalue=1)
    assert f.create_dataset("x", shape=(3,), dtype="f4", fillvalue=0).fillvalue == 0


def test_partial_write_into_missing_chunk_fills_the_rest(f):
    """z5 #106: a partial write into a missing chunk must not pick up stale buffer data."""
    ds = f.create_dataset("x", shape=(8, 8), chunks=(4, 4), dtype="i4")
    ds[:4, :4] = 7  # chunk (0, 0) full of 7
    ds[5, 5] = 1  # partial write into missing chunk (1, 1)
    expected = np.zeros((8, 8), "i4")
    expected[:4, :4] = 7
    expected[5, 5] = 1
    np.testing.assert_array_equal(ds[:], expected)


# ------------------------------------------------------------------------------------------
# require_dataset


def test_require_dataset(f):
    ds = f.require_dataset("x", shape=(10, 10), dtype="f4", chunks=(5, 5), compression="raw")
    assert ds.compression == "raw"
    ds[:] = 1
    again = f.require_dataset("x", shape=(10, 10), dtype="f4", chunks=(5, 5), n_threads=3)
    assert again == ds and again.n_threads == 3
    np.testing.assert_array_equal(again[:], 1)
    assert f.require_dataset("x", shape=(10, 10)).dtype == np.float32
    assert f.require_dataset("x", shape=(10, 10), compression="gzip").compression == "raw"
    with pytest.raises(TypeError, match=r"shapes do not match.*\(10, 11\)"):
        f.require_dataset("x", shape=(10, 11), dtype="f4")
    with pytest.raises(TypeError, match="dtypes do not match"):
        f.require_dataset("x", shape=(10, 10), dtype="f8")
    with pytest.raises(TypeError, match="chunks do not match"):
        f.require_dataset("x", shape=(10, 10), dtype="f4", chunks=(5, 6))
    f.create_group("g")
    with pytest.raises(TypeError, match="group"):
        f.require_dataset("g", shape=(1,), dtype="u1")
    with pytest.raises(TypeError):
        f.require_dataset("new", shape=(3,))


# ------------------------------------------------------------------------------------------
# whole-region I/O


def test_read_write_subarray(f):
    data = np.random.default_rng(0).integers(0, 1000, (13, 17)).astype("i4")
    ds = f.create_dataset("x", shape=data.shape, dtype="i4", chunks=(4, 5))
    ds.write_subarray((0, 0), data)
    np.testing.assert_array_equal(ds.read_subarray((0, 0), (13, 17)), data)
    np.testing.assert_array_equal(ds.read_subarray((3, 4), (11, 9)), data[3:11, 4:9])
    ds.write_subarray((5, 6), np.full((2, 3), -1, "i8"))
    data[5:7, 6:9] = -1
    np.testing.assert_array_equal(ds[:], data)
    assert ds.read_subarray((2, 2), (2, 5)).shape == (0, 3)
    with pytest.raises(errors.InvalidArgumentError, match="out of bounds"):
        ds.read_subarray((10, 0), (14, 3))
    with pytest.raises(ValueError, match="out of bounds"):
        ds.write_subarray((12, 0), np.zeros((2, 2), "i4"))
    with pytest.raises(ValueError, match="out of bounds"):
        ds.read_subarray((-1, 0), (2, 2))
    with pytest.raises(ValueError, match="dimensions"):
        ds.read_subarray((0,), (2,))


def test_multithreaded_io(f):
    data = np.random.default_rng(1).random((40, 50, 30)).astype("f4")
    ds = f.create_dataset("x", data=data, chunks=(8, 8, 8), n_threads=4)
    ds.n_threads = 3
    assert ds.n_threads == 3
    np.testing.assert_array_equal(ds[:], data)
    with pytest.raises(ValueError):
        ds.n_threads = 0
    with pytest.raises(TypeError):
        ds.n_threads = 1.5


def test_read_direct_and_write_direct(f):
    data = np.arange(120, dtype="f8").reshape(10, 12)
    ds = f.create_dataset("x", data=data, chunks=(3, 5))
    dest = np.zeros((10, 12), "f8")
    ds.read_direct(dest)
    np.testing.assert_array_equal(dest, data)
    dest = np.zeros((4, 5), "f8")
    ds.read_direct(dest, np.s_[2:6, 3:8])
    np.testing.assert_array_equal(dest, data[2:6, 3:8])
    dest = np.zeros((6, 6), "f4")
    ds.read_direct(dest, np.s_[0:4:2, 1:4], np.s_[1:3, 2:5])
    expected = np.zeros((6, 6), "f4")
    expected[1:3, 2:5] = data[0:4:2, 1:4]
    np.testing.assert_array_equal(dest, expected)
    with pytest.raises(TypeError):
        ds.read_direct([0, 0])
    source = -np.arange(20, dtype="f8").reshape(4, 5)
    ds.write_direct(source, np.s_[1:3, :], np.s_[7:9, 0:5])
    data[7:9, 0:5] = source[1:3, :]
    np.testing.assert_array_equal(ds[:], data)
    ds.write_direct(np.zeros((10, 12)))
    assert not ds[:].any()


def test_array_protocol_len_iter(f):
    data = np.arange(24, dtype="i2").reshape(4, 6) % 5
    ds = f.create_dataset("x", data=data, chunks=(3, 4))
    np.testing.assert_array_equal(np.asarray(ds), data)
    np.testing.assert_array_equal(np.unique(ds), np.unique(data))
    as_float = np.asarray(ds, dtype="f8")
    assert as_float.dtype == np.float64
    np.testing.assert_array_equal(as_float, data)
    assert ds.__array__(copy=False).dtype == np.int16
    with pytest.raises(ValueError, match="copy"):
        ds.__array__(dtype="f8", copy=False)
    assert len(ds) == 4
    rows = list(ds)
    assert len(rows) == 4
    np.testing.assert_array_equal(np.stack(rows), data)


@pytest.mark.parametrize("fmt", ["zarr2", "zarr3"])
def test_zero_dimensional(f):
    ds = f.create_dataset("x", shape=(), dtype="f8")
    ds[()] = 2.5
    assert ds[()] == 2.5 and isinstance(ds[()], np.float64)
    assert ds[...].shape == ()
    with pytest.raises(TypeError):
        len(ds)


@pytest.mark.parametrize("fmt", ["n5"])
def test_n5_zero_dimensional_is_refused_or_works(f):
    try:
        ds = f.create_dataset("x", shape=(), dtype="f8")
    except errors.UnsupportedError:
        return
    ds[()] = 2.5
    assert ds[()] == 2.5


def test_empty_dataset(f):
    ds = f.create_dataset("x", shape=(0, 5), dtype="u1")
    assert ds[:].shape == (0, 5) and ds.size == 0
    ds[:] = 1
    assert list(ds) == []


# ------------------------------------------------------------------------------------------
# chunk API


def test_chunk_api(f, fmt):
    ds = f.create_dataset("x", shape=(10, 7), chunks=(4, 4), dtype="u2", compression="raw")
    assert not ds.chunk_exists((0, 0))
    assert ds.read_chunk((0, 0)) is None
    ds[:] = np.arange(70, dtype="u2").reshape(10, 7)
    assert ds.chunk_exists((2, 1))
    full = ds.read_chunk((0, 0))
    np.testing.assert_array_equal(full, np.arange(70).reshape(10, 7)[:4, :4])
    edge = ds.read_chunk((2, 1))
    if fmt == "n5":
        assert edge.shape == (2, 3)  # N5 stores edge chunks clipped
        np.testing.assert_array_equal(edge, np.arange(70).reshape(10, 7)[8:, 4:])
        new_edge = np.ones((2, 3), "u2")
    else:
        assert edge.shape == (4, 4)  # Zarr pads edge chunks
        np.testing.assert_array_equal(edge[:2, :3], np.arange(70).reshape(10, 7)[8:, 4:])
        new_edge = np.ones((4, 4), "u2")
    ds.write_chunk((2, 1), new_edge)
    np.testing.assert_array_equal(ds[8:, 4:], np.ones((2, 3)))
    assert os.path.exists(ds.chunk_path((2, 1)))
    for bad in ((3, 0), (0, 2), (-1, 0), (0,)):
        with pytest.raises(errors.InvalidArgumentError, match="chunk grid"):
            ds.read_chunk(bad)
        with pytest.raises(ValueError):
            ds.chunk_exists(bad)


@pytest.mark.parametrize("fmt", ["n5"])
def test_n5_varlen_chunk(f):
    ds = f.create_dataset("x", shape=(10,), chunks=(5,), dtype="i4", compression="raw")
    ds.write_chunk((1,), np.arange(13, dtype="i4"), varlen=True)
    np.testing.assert_array_equal(ds.read_chunk((1,)), np.arange(13))


@pytest.mark.parametrize("fmt", ["n5"])
def test_array_to_format_n5_header(f):
    ds = f.create_dataset("x", shape=(4, 6), chunks=(2, 3), dtype="u2", compression="raw")
    chunk = np.arange(6, dtype="u2").reshape(2, 3)
    encoded = ds.array_to_format(chunk)
    assert encoded.dtype == np.uint8
    # mode 0, ndim 2, dims reversed (3, 2), then big-endian payload
    header = bytes([0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2])
    assert encoded.tobytes() == header + chunk.astype(">u2").tobytes()
    ds.write_chunk((0, 0), chunk)
    with open(ds.chunk_path((0, 0)), "rb") as fh:
        assert fh.read() == encoded.tobytes()


def test_array_to_format_matches_stored_chunk(f):
    ds = f.create_dataset("x", shape=(4, 6), chunks=(2, 3), dtype="f4", compression="raw")
    chunk = np.arange(6, dtype="f4").reshape(2, 3)
    ds.write_chunk((1, 1), chunk)
    if ds.shards is None:
        with open(ds.chunk_path((1, 1)), "rb") as fh:
            assert fh.read() == ds.array_to_format(chunk).tobytes()


def test_find_minimum_and_maximum_coordinates(f):
    ds = f.create_dataset("x", shape=(20, 30), chunks=(5, 10), dtype="u1")
    assert ds.find_minimum_coordinates(0) is None
    ds[7, 25] = 1
    ds[16, 3] = 1
    ds[11, 14] = 1
    assert ds.find_minimum_coordinates(0) == (5, 20)
    assert ds.find_maximum_coordinates(0) == (15, 0)
    assert ds.find_minimum_coordinates(1) == (15, 0)
    assert ds.find_maximum_coordinates(1) == (5, 20)
    assert ds.find_maximum_coordinates(-1) == (5, 20)
    with pytest.raises(ValueError, match="out of range"):
        ds.find_minimum_coordinates(2)


# ------------------------------------------------------------------------------------------
# Zarr specifics


@pytest.mark.parametrize("fmt", ["zarr2"])
def test_zarr2_dimension_separator(f):
    ds = f.create_dataset("x", data=np.arange(16).reshape(4, 4), chunks=(2, 2))
    assert os.path.isfile(os.path.join(ds.path, "1.1"))
    nested = f.create_dataset(
        "n", data=np.arange(16).reshape(4, 4), chunks=(2, 2), dimension_separator="/"
    )
    assert _metadata(nested)["dimension_separator"] == "/"
    assert os.path.isfile(os.path.join(nested.path, "1", "1"))
    np.testing.assert_array_equal(f["n"][:], np.arange(16).reshape(4, 4))


def test_format_specific_arguments_are_checked(f, fmt):
    f.create_dataset("ok", shape=(4,), dtype="u1")
    if fmt != "zarr3":
        with pytest.raises(errors.InvalidArgumentError, match="only supported by Zarr v3"):
            f.create_dataset("x", shape=(4,), chunks=(2,), dtype="u1", shards=(4,))
        with pytest.raises(ValueError, match="only supported by Zarr v3"):
            f.create_dataset("x", shape=(4,), dtype="u1", chunk_key_encoding="v2")
    if fmt == "n5":
        with pytest.raises(ValueError, match="only supported by Zarr"):
            f.create_dataset("x", shape=(4,), dtype="u1", dimension_separator="/")
    with pytest.raises(ValueError, match="dimension_separator"):
        f.create_dataset("x", shape=(4,), dtype="u1", dimension_separator="-")
    assert list(f) == ["ok"]


@pytest.mark.parametrize("fmt", ["zarr3"])
def test_zarr3_sharding(f):
    data = np.arange(10 * 12, dtype="f4").reshape(10, 12)
    ds = f.create_dataset("x", data=data, chunks=(2, 3), shards=(4, 6))
    assert ds.chunks == (2, 3) and ds.shards == (4, 6)
    assert ds.chunks_per_dimension == (5, 4)
    meta = _metadata(ds)
    assert meta["chunk_grid"]["configuration"]["chunk_shape"] == [4, 6]
    assert meta["codecs"][0]["name"] == "sharding_indexed"
    np.testing.assert_array_equal(z5py.File(f.path, mode="r")["x"][:], data)
    np.testing.assert_array_equal(ds.read_chunk((1, 2)), data[2:4, 6:9])
    assert ds.find_maximum_coordinates(0) == (8, 0)
    with pytest.raises(ValueError, match="multiple"):
        f.create_dataset("bad", shape=(8,), chunks=(3,), shards=(4,), dtype="u1")


@pytest.mark.parametrize("fmt", ["zarr3"])
def test_zarr3_sharded_chunk_path_is_the_shard_file(f):
    ds = f.create_dataset("x", data=np.ones((8, 8), "i4"), chunks=(2, 2), shards=(4, 4))
    assert ds.chunk_exists((3, 3))
    assert ds.chunk_path((3, 3)) == os.path.join(ds.path, "c", "1", "1")


@pytest.mark.parametrize("fmt", ["zarr3"])
def test_zarr3_chunk_key_encoding(f):
    default = f.create_dataset("d", data=np.arange(4), chunks=(2,))
    assert os.path.isfile(os.path.join(default.path, "c", "1"))
    v2 = f.create_dataset(
        "v", data=np.arange(16).reshape(4, 4), chunks=(2, 2), chunk_key_encoding="v2"
    )
    assert os.path.isfile(os.path.join(v2.path, "1.1"))
    with pytest.raises(ValueError, match="chunk_key_encoding"):
        f.create_dataset("bad", shape=(4,), dtype="u1", chunk_key_encoding="weird")


# ------------------------------------------------------------------------------------------
# pickling, constructor, repr


def test_pickle_dataset(f):
    ds = f.create_dataset("a/x", data=np.arange(12).reshape(3, 4), chunks=(2, 2), n_threads=2)
    clone = pickle.loads(pickle.dumps(ds))
    assert clone == ds and clone.name == "/a/x" and clone.n_threads == 2
    assert clone.parent == f["a"]
    np.testing.assert_array_equal(clone[:], np.arange(12).reshape(3, 4))
    clone[0, 0] = 100
    assert ds[0, 0] == 100
    ro = pickle.loads(pickle.dumps(z5py.File(f.path, mode="r")["a/x"]))
    with pytest.raises(errors.ReadOnlyError):
        ro[0, 0] = 1


def test_dataset_constructor_and_repr(f):
    ds = f.create_dataset("x", shape=(3,), dtype="i4")
    direct = z5py.Dataset(ds.path, _z5py.ArrayHandle.open(ds.path), n_threads=2, mode="r")
    assert direct.shape == (3,) and direct.n_threads == 2 and direct.name == "/x"
    with pytest.raises(errors.ReadOnlyError):
        direct[0] = 1
    assert '"/x"' in repr(ds) and "(3,)" in repr(ds)
