"""Arrays that grow and shrink (h5py's resize / maxshape, append), Zarr v3 dimension_names
and write_empty_chunks, with zarr-python and tensorstore reading what we resized and us
reading what they resized."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorstore as ts
import z5py
import zarr
from z5py import errors

FORMATS = ["n5", "zarr2", "zarr3", "zarr3-sharded"]


def open_file(tmp_path, fmt, **kwargs):
    if fmt == "n5":
        return z5py.File(tmp_path / "r.n5", **kwargs)
    return z5py.File(tmp_path / "r.zarr", zarr_format=int(fmt[4]), **kwargs)


def create(tmp_path, fmt, data, chunks=(4, 3), **kwargs):
    f = open_file(tmp_path, fmt)
    if fmt == "zarr3-sharded":
        kwargs["shards"] = tuple(2 * c for c in chunks)
    if fmt != "n5":
        kwargs.setdefault("fillvalue", -1)
    return f, f.create_dataset("x", data=data, chunks=chunks, compression="raw", **kwargs)


def stored_files(ds):
    return sorted(
        os.path.relpath(os.path.join(d, name), ds.path)
        for d, _, names in os.walk(ds.path)
        for name in names
        if not name.startswith(".") and name not in ("zarr.json", "attributes.json")
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_shrink_then_grow_reads_fill_values(tmp_path, fmt):
    data = np.arange(1, 17 * 13 + 1, dtype="i4").reshape(17, 13)
    f, ds = create(tmp_path, fmt, data)
    fill = 0 if fmt == "n5" else -1
    before = len(stored_files(ds))
    ds.resize((6, 5))
    assert ds.shape == (6, 5)
    np.testing.assert_array_equal(ds[...], data[:6, :5])
    assert len(stored_files(ds)) < before
    # nothing stored wholly outside the new shape
    unit = ds.shards or ds.chunks
    for idx in ds._handle.existing_chunks():
        assert all(i * c // u * u < n for i, c, u, n in zip(idx, ds.chunks, unit, ds.shape))
    ds.resize((17, 13))
    expected = np.full((17, 13), fill, dtype="i4")
    expected[:6, :5] = data[:6, :5]
    np.testing.assert_array_equal(ds[...], expected)
    again = z5py.File(f.path, mode="r")["x"]
    assert again.shape == (17, 13)
    np.testing.assert_array_equal(again[...], expected)


@pytest.mark.parametrize("fmt", FORMATS)
def test_resize_axis_append_and_maxshape(tmp_path, fmt):
    data = np.arange(20, dtype="u2").reshape(4, 5)
    fillvalue = {} if fmt == "n5" else {"fillvalue": 7}
    f, ds = create(tmp_path, fmt, data, chunks=(3, 2), maxshape=(None, 6), **fillvalue)
    assert ds.maxshape == (None, 6)
    ds.resize(6, axis=1)
    with pytest.raises(errors.InvalidArgumentError, match="maxshape"):
        ds.resize(7, axis=1)
    with pytest.raises(errors.InvalidArgumentError, match="maxshape"):
        ds.resize((4, 7))
    ds.append(np.full(6, 9, dtype="u2"))
    ds.append(np.full((2, 6), 8, dtype="u2"), axis=0)
    assert ds.shape == (7, 6)
    fill = 0 if fmt == "n5" else 7
    expected = np.full((7, 6), fill, dtype="u2")
    expected[:4, :5] = data
    expected[4] = 9
    expected[5:] = 8
    np.testing.assert_array_equal(ds[...], expected)
    with pytest.raises(errors.InvalidArgumentError, match="append"):
        ds.append(np.zeros((1, 3), dtype="u2"))
    # maxshape survives reopening; the attribute that keeps it is not a user attribute
    again = z5py.File(f.path, mode="r")["x"]
    assert again.maxshape == (None, 6)
    assert "_z5py_maxshape" not in again.attrs and dict(again.attrs) == {}
    ds.attrs["a"] = 1
    ds.attrs.clear()
    assert again.maxshape == (None, 6)
    with pytest.raises(errors.InvalidArgumentError, match="reserved"):
        ds.attrs["_z5py_maxshape"] = [1, 2]
    with pytest.raises(TypeError, match="maxshape"):
        f.require_dataset("x", shape=(7, 6), dtype="u2", maxshape=(None, None))
    assert f.require_dataset("x", shape=(7, 6), dtype="u2", maxshape=(None, 6)).shape == (7, 6)
    # the default: unlimited
    assert f.create_dataset("y", shape=(2, 2), dtype="u1").maxshape == (None, None)
    with pytest.raises(errors.InvalidArgumentError, match="smaller"):
        f.create_dataset("z", shape=(2, 2), dtype="u1", maxshape=(1, None))
    with pytest.raises(errors.ReadOnlyError):
        again.resize((1, 1))


def test_n5_clipped_edge_block_becomes_interior(tmp_path):
    """An N5 block stored at its clipped edge shape reads by its header after a grow: its
    own elements, and 0 for the rest of the now larger block (as N5-Java does)."""
    data = np.arange(1, 10 * 7 + 1, dtype="f4").reshape(10, 7)
    _f, ds = create(tmp_path, "n5", data, chunks=(4, 3))
    assert ds.read_chunk((2, 2)).shape == (2, 1)
    ds.resize((12, 9))
    assert ds.read_chunk((2, 2)).shape == (2, 1)  # still stored clipped
    expected = np.zeros((12, 9), dtype="f4")
    expected[:10, :7] = data
    np.testing.assert_array_equal(ds[...], expected)
    np.testing.assert_array_equal(ds[8:12:3, 6:9], expected[8:12:3, 6:9])
    # a partial write into it rewrites it at its full size
    ds[11, 8] = 5
    expected[11, 8] = 5
    np.testing.assert_array_equal(ds[...], expected)
    assert ds.read_chunk((2, 2)).shape == (4, 3)
    # tensorstore reads it too (N5 lists dimensions fastest first: transposed)
    t = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": ds.path}}).result()
    np.testing.assert_array_equal(t.read().result(), expected.T)


ZARR_READERS = ["zarr2", "zarr3", "zarr3-sharded"]


@pytest.mark.parametrize("fmt", ZARR_READERS)
def test_zarr_python_and_tensorstore_read_our_resized_arrays(tmp_path, fmt):
    data = np.arange(1, 17 * 13 + 1, dtype="i4").reshape(17, 13)
    _f, ds = create(tmp_path, fmt, data)
    ds.resize((6, 5))
    ds.resize((9, 14))
    expected = np.full((9, 14), -1, dtype="i4")
    expected[:6, :5] = data[:6, :5]
    z = zarr.open_array(ds.path, mode="r")
    assert z.shape == (9, 14)
    np.testing.assert_array_equal(z[...], expected)
    driver = "zarr" if fmt == "zarr2" else "zarr3"
    t = ts.open({"driver": driver, "kvstore": {"driver": "file", "path": ds.path}}).result()
    np.testing.assert_array_equal(t.read().result(), expected)


def test_tensorstore_reads_our_resized_n5(tmp_path):
    data = np.arange(1, 17 * 13 + 1, dtype="i4").reshape(17, 13)
    _f, ds = create(tmp_path, "n5", data)
    ds.resize((6, 5))
    ds.resize((9, 14))
    expected = np.zeros((9, 14), dtype="i4")
    expected[:6, :5] = data[:6, :5]
    t = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": ds.path}}).result()
    np.testing.assert_array_equal(t.read().result(), expected.T)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_we_read_arrays_zarr_python_resized(tmp_path, zarr_format):
    path = tmp_path / "z.zarr"
    data = np.arange(1, 17 * 13 + 1, dtype="i4").reshape(17, 13)
    z = zarr.create_array(
        str(path / "x"),
        shape=data.shape,
        chunks=(4, 3),
        dtype="i4",
        fill_value=-1,
        zarr_format=zarr_format,
    )
    z[...] = data
    zarr.open_group(str(path), mode="a", zarr_format=zarr_format)
    z.resize((6, 5))
    z.resize((9, 14))
    expected = z[...]
    ds = z5py.File(path, mode="r")["x"]
    assert ds.shape == (9, 14)
    np.testing.assert_array_equal(ds[...], expected)


@pytest.mark.parametrize("driver", ["n5", "zarr", "zarr3"])
def test_we_read_arrays_tensorstore_resized(tmp_path, driver):
    path = tmp_path / ("t.n5" if driver == "n5" else "t.zarr") / "x"
    data = np.arange(1, 17 * 13 + 1, dtype="i4").reshape(17, 13)
    if driver == "n5":
        metadata = {
            "dimensions": [17, 13],
            "blockSize": [4, 3],
            "dataType": "int32",
            "compression": {"type": "raw"},
        }
    elif driver == "zarr":
        metadata = {
            "shape": [17, 13],
            "chunks": [4, 3],
            "dtype": "<i4",
            "fill_value": 0,
            "compressor": None,
        }
    else:
        metadata = {
            "shape": [17, 13],
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 3]}},
            "data_type": "int32",
        }
    t = ts.open(
        {"driver": driver, "kvstore": {"driver": "file", "path": str(path)}, "metadata": metadata},
        create=True,
    ).result()
    t.write(data).result()
    t = t.resize(exclusive_max=[6, 5], shrink_only=True).result()
    t = t.resize(exclusive_max=[9, 14], expand_only=True).result()
    expected = t.read().result()
    if driver != "n5":
        (path.parent / (".zgroup" if driver == "zarr" else "zarr.json")).write_text(
            '{"zarr_format": 2}' if driver == "zarr" else '{"zarr_format": 3, "node_type": "group"}'
        )
    ds = z5py.File(path.parent, mode="r")["x"]
    if driver == "n5":  # N5 lists dimensions fastest first: transposed
        expected = expected.T
    assert ds.shape == expected.shape
    np.testing.assert_array_equal(ds[...], expected)


# ------------------------------------------------------------------------------------------
# dimension_names and write_empty_chunks


def test_dimension_names(tmp_path):
    f = z5py.File(tmp_path / "d.zarr", zarr_format=3)
    ds = f.create_dataset("x", shape=(4, 5, 6), dtype="u1", dimension_names=["z", None, "x"])
    assert ds.dimension_names == ("z", None, "x")
    assert z5py.File(f.path, mode="r")["x"].dimension_names == ("z", None, "x")
    assert zarr.open_array(ds.path, mode="r").metadata.dimension_names == ("z", None, "x")
    t = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": ds.path}}).result()
    assert t.domain.labels == ("z", "", "x")
    ds.resize((8, 5, 6))
    assert z5py.File(f.path, mode="r")["x"].dimension_names == ("z", None, "x")
    assert f.create_dataset("y", shape=(2,), dtype="u1").dimension_names is None
    with pytest.raises(errors.InvalidArgumentError, match="dimension_names"):
        f.create_dataset("w", shape=(2, 2), dtype="u1", dimension_names=["a"])
    with pytest.raises(errors.InvalidArgumentError, match="Zarr v3"):
        z5py.File(tmp_path / "n.n5").create_dataset(
            "w", shape=(2,), dtype="u1", dimension_names=["a"]
        )
    # zarr-python's names come through
    zarr.create_array(
        str(tmp_path / "d.zarr" / "z"), shape=(3, 3), dtype="u1", dimension_names=["row", "col"]
    )
    assert z5py.File(f.path, mode="r")["z"].dimension_names == ("row", "col")


def test_rechunk_and_convert_keep_dimension_names(tmp_path):
    from z5py import util
    from z5py.cli import main

    f = z5py.File(tmp_path / "a.zarr", zarr_format=3)
    f.create_dataset("x", data=np.arange(64, dtype="u1").reshape(8, 8), dimension_names=["y", "x"])
    util.rechunk(str(tmp_path / "a.zarr"), str(tmp_path / "a.zarr"), "x", "y", (4, 4), 1)
    assert z5py.File(tmp_path / "a.zarr", mode="r")["y"].dimension_names == ("y", "x")
    assert (
        main(
            ["convert", str(tmp_path / "a.zarr/x"), str(tmp_path / "b.zarr/x"), "--format", "zarr3"]
        )
        == 0
    )
    assert z5py.File(tmp_path / "b.zarr", mode="r")["x"].dimension_names == ("y", "x")


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_empty_chunks(tmp_path, fmt):
    f = open_file(tmp_path, fmt)
    shards = {"shards": (4, 4)} if fmt == "zarr3-sharded" else {}
    skip = f.create_dataset("skip", shape=(4, 4), chunks=(2, 2), dtype="u1", **shards)
    keep = f.create_dataset(
        "keep", shape=(4, 4), chunks=(2, 2), dtype="u1", write_empty_chunks=True, **shards
    )
    assert not skip.write_empty_chunks and keep.write_empty_chunks
    skip[...] = 0
    keep[...] = 0
    assert skip._handle.existing_chunks() == []
    assert sorted(keep._handle.existing_chunks()) == [(i, j) for i in range(2) for j in range(2)]
    np.testing.assert_array_equal(keep[...], 0)
    g = open_file(tmp_path, fmt, write_empty_chunks=True)
    assert g.write_empty_chunks and g["skip"].write_empty_chunks
    g["skip"][:2, :2] = 0
    assert skip.chunk_exists((0, 0))
