"""Containers other programs write open here (issue 12): implicit groups, arrays at the root
of a store (``z5py.open``), z5py 2.x's padded blosc chunks, the BigDataViewer N5 layout, and
loud errors for corrupt or too new root metadata.

The foreign containers are made in the tests with zarr-python and tensorstore (test extras);
z5py 2.x's blosc chunks are rebuilt byte for byte as its compressor stored them.
"""

from __future__ import annotations

import json
import os

import numcodecs
import numpy as np
import pytest
import tensorstore as ts
import z5py
import zarr
from z5py import errors

DATA = np.arange(6 * 7, dtype="uint16").reshape(6, 7)


def _ts_write(driver: str, path, data=DATA, chunks=(4, 3)) -> None:
    """Write ``data`` with tensorstore's ``driver`` at ``path`` (nothing above it)."""
    spec: dict = {"driver": driver, "kvstore": {"driver": "file", "path": str(path)}}
    if driver == "n5":
        spec["metadata"] = {
            "dimensions": list(data.shape),
            "blockSize": list(chunks),
            "dataType": str(data.dtype),
            "compression": {"type": "gzip"},
        }
    elif driver == "zarr":
        spec["metadata"] = {
            "shape": list(data.shape),
            "chunks": list(chunks),
            "dtype": data.dtype.str,
        }
    else:
        spec["metadata"] = {
            "shape": list(data.shape),
            "data_type": str(data.dtype),
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
        }
    store = ts.open(spec, create=True).result()
    store[...] = data


def _n5_ts_data(data: np.ndarray) -> np.ndarray:
    """What z5py reads from an N5 array tensorstore wrote from ``data`` (N5's axis order is
    reversed with respect to numpy's)."""
    return data.T


# ------------------------------------------------------------------------------------------
# implicit groups: no root metadata


@pytest.mark.parametrize("mode", ["r", "a", "r+"])
def test_zarr_python_arrays_under_a_prefix(tmp_path, mode):
    root = tmp_path / "implicit.zarr"
    zarr.create_array(
        store=str(root / "a" / "v2"),
        shape=DATA.shape,
        dtype=DATA.dtype,
        chunks=(4, 3),
        zarr_format=2,
    )[...] = DATA
    zarr.create_array(
        store=str(root / "a" / "v3"),
        shape=DATA.shape,
        dtype=DATA.dtype,
        chunks=(4, 3),
        zarr_format=3,
    )[...] = DATA + 1
    assert not (root / ".zgroup").exists() and not (root / "zarr.json").exists()
    f = z5py.File(root, mode)
    assert list(f) == ["a"] and list(f["a"]) == ["v2", "v3"]
    np.testing.assert_array_equal(f["a/v2"][:], DATA)
    np.testing.assert_array_equal(f["a"]["v3"][:], DATA + 1)
    seen = []
    f.visititems(lambda name, obj: seen.append((name, type(obj).__name__)))
    assert seen == [("a", "Group"), ("a/v2", "Dataset"), ("a/v3", "Dataset")]
    if mode != "r":
        f["a/v2"][0, 0] = 99
        assert zarr.open_array(str(root / "a" / "v2"), mode="r")[0, 0] == 99
    # opening does not write root metadata into someone else's container
    assert sorted(os.listdir(root)) == ["a"]


@pytest.mark.parametrize("driver", ["zarr", "zarr3", "n5"])
def test_tensorstore_arrays_under_a_prefix(tmp_path, driver):
    ext = ".n5" if driver == "n5" else ".zarr"
    root = tmp_path / f"t{ext}"
    _ts_write(driver, root / "volumes" / "raw")
    for name in (f"t{ext}", ""):
        # with the extension, and without it (the format then comes from the members)
        path = root if name else tmp_path / "noext"
        if not name:
            os.rename(root, path)
        f = z5py.File(path, "r")
        expected = _n5_ts_data(DATA) if driver == "n5" else DATA
        assert f.is_zarr == (driver != "n5")
        assert list(f) == ["volumes"] and f.is_sub_group("volumes")
        np.testing.assert_array_equal(f["volumes/raw"][:], expected)
        assert f["volumes"]["raw"].parent.name == "/volumes"


def test_n5_java_container_without_root_attributes(tmp_path):
    """N5-Java writes attributes.json only where there are attributes."""
    root = tmp_path / "java"
    _ts_write("n5", root / "setup0" / "s0")
    os.makedirs(root / "empty_group")
    f = z5py.File(root, "a")
    assert f.is_zarr is False and list(f) == ["empty_group", "setup0"]
    np.testing.assert_array_equal(f["setup0/s0"][:], _n5_ts_data(DATA))
    f.create_dataset("mine", data=np.ones(3, "u1"))
    np.testing.assert_array_equal(z5py.File(root, "r")["mine"][:], [1, 1, 1])


def test_an_empty_or_foreign_directory_is_not_a_container(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(errors.Z5FileNotFoundError):
        z5py.File(tmp_path / "empty", "r", use_zarr_format=True)
    (tmp_path / "other" / "sub").mkdir(parents=True)
    (tmp_path / "other" / "sub" / "notes.txt").write_text("no metadata anywhere")
    with pytest.raises(ValueError, match="cannot infer the format"):
        z5py.File(tmp_path / "other", "r")


# ------------------------------------------------------------------------------------------
# arrays at the root of a store: z5py.open


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_open_an_array_root_written_by_zarr_python(tmp_path, zarr_format):
    path = tmp_path / "arr.zarr"
    zarr.create_array(
        store=str(path), shape=DATA.shape, dtype=DATA.dtype, chunks=(4, 3), zarr_format=zarr_format
    )[...] = DATA
    ds = z5py.open(path)
    assert isinstance(ds, z5py.Dataset) and ds.mode == "r" and ds.name == "/"
    np.testing.assert_array_equal(ds[:], DATA)
    assert ds.zarr_format == zarr_format
    with pytest.raises(errors.ReadOnlyError):
        ds[0, 0] = 1
    with pytest.raises(ValueError, match=r"z5py\.open"):
        z5py.File(path, "r")
    writable = z5py.open(path, mode="r+")
    writable[1:3, 2] = 500
    expected = DATA.copy()
    expected[1:3, 2] = 500
    np.testing.assert_array_equal(zarr.open_array(str(path), mode="r")[...], expected)


@pytest.mark.parametrize("driver", ["zarr", "zarr3", "n5"])
def test_open_an_array_root_written_by_tensorstore(tmp_path, driver):
    path = tmp_path / "root_array"
    _ts_write(driver, path)
    ds = z5py.open(path, mode="r")
    assert isinstance(ds, z5py.Dataset)
    np.testing.assert_array_equal(ds[:], _n5_ts_data(DATA) if driver == "n5" else DATA)
    with pytest.raises(ValueError, match=r"z5py\.open"):
        z5py.File(path)


def test_open_a_group_root_gives_a_file(tmp_path, fmt):
    path = tmp_path / ("g.n5" if fmt == "n5" else "g.zarr")
    z5py.File(path, "a", zarr_format=None if fmt == "n5" else int(fmt[-1])).create_group("x")
    f = z5py.open(path)
    assert isinstance(f, z5py.File) and f.mode == "r" and list(f) == ["x"]
    created = z5py.open(tmp_path / "new.zarr", mode="a", zarr_format=3)
    assert isinstance(created, z5py.File) and created.zarr_format == 3
    with pytest.raises(errors.Z5FileNotFoundError):
        z5py.open(tmp_path / "missing.zarr")


def test_open_refuses_arguments_that_contradict_an_array_root(tmp_path):
    path = tmp_path / "arr.zarr"
    zarr.create_array(store=str(path), shape=(3,), dtype="u1", zarr_format=2)
    with pytest.raises(errors.FormatMismatchError):
        z5py.open(path, use_zarr_format=False)
    with pytest.raises(errors.FormatMismatchError):
        z5py.open(path, zarr_format=3)
    with pytest.raises(ValueError, match="mode"):
        z5py.open(path, mode="q")
    for mode in ("w-", "x"):
        with pytest.raises(errors.Z5FileExistsError):
            z5py.open(path, mode=mode)
    assert isinstance(z5py.open(path, "r", True), z5py.Dataset)
    replaced = z5py.open(path, "w")  # as File(path, "w"): a new, empty container
    assert isinstance(replaced, z5py.File) and list(replaced) == []
    assert not (path / ".zarray").exists()


# ------------------------------------------------------------------------------------------
# z5py 2.x blosc chunks: 16 elements after the frame


def _z5py2_blosc(raw: bytes, itemsize: int) -> bytes:
    """A chunk as z5py 2.x's blosc compressor stored it: the frame (blosc 1.x, blocksize 0,
    lz4, clevel 5, byte shuffle), then the output vector resized to ``cbytes // itemsize + 16``
    elements, i.e. zero bytes up to that length."""
    frame = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=1, blocksize=0).encode(raw)
    cbytes = int.from_bytes(frame[12:16], "little")
    assert cbytes == len(frame)
    stored_len = (cbytes // itemsize + 16) * itemsize
    return frame + bytes(stored_len - cbytes)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_z5py2_padded_blosc_chunks_read_like_zarr_python_reads_them(tmp_path, dtype):
    path = tmp_path / "old.zarr"
    data = (np.arange(10 * 9) % 50).astype(dtype).reshape(10, 9)
    ds = z5py.File(path, "a").create_dataset(
        "x",
        shape=data.shape,
        chunks=(4, 4),
        dtype=dtype,
        compression="blosc",
        codec="lz4",
        clevel=5,
        shuffle=1,
    )
    for i in range(3):
        for j in range(3):
            chunk = np.zeros((4, 4), dtype)
            part = data[4 * i : 4 * i + 4, 4 * j : 4 * j + 4]
            chunk[: part.shape[0], : part.shape[1]] = part
            stored = _z5py2_blosc(chunk.tobytes(), np.dtype(dtype).itemsize)
            if dtype == "uint8":
                assert len(stored) == int.from_bytes(stored[12:16], "little") + 16
            with open(ds.chunk_path((i, j)), "wb") as fh:
                fh.write(stored)
    np.testing.assert_array_equal(zarr.open_array(str(path / "x"), mode="r")[...], data)
    np.testing.assert_array_equal(z5py.File(path, "r")["x"][:], data)
    np.testing.assert_array_equal(ds.read_chunk((2, 2))[:2, :1], data[8:, 8:])
    ds[1, 1] = 7  # read-modify-write of a padded chunk
    data[1, 1] = 7
    np.testing.assert_array_equal(ds[:], data)


def test_z5py2_padded_blosc_n5_chunk(tmp_path):
    path = tmp_path / "old.n5"
    data = np.arange(12, dtype="uint8").reshape(3, 4)
    ds = z5py.File(path, "a").create_dataset(
        "x",
        shape=data.shape,
        chunks=(3, 4),
        dtype="uint8",
        compression="blosc",
        codec="lz4",
        clevel=5,
        shuffle=1,
    )
    header = (
        (0).to_bytes(2, "big")
        + (2).to_bytes(2, "big")
        + (4).to_bytes(4, "big")
        + (3).to_bytes(4, "big")
    )
    os.makedirs(os.path.dirname(ds.chunk_path((0, 0))), exist_ok=True)
    with open(ds.chunk_path((0, 0)), "wb") as fh:
        fh.write(header + _z5py2_blosc(data.tobytes(), 1))
    np.testing.assert_array_equal(z5py.File(path, "r")["x"][:], data)


def test_a_truncated_blosc_frame_stays_corrupt(tmp_path):
    ds = z5py.File(tmp_path / "c.zarr", "a").create_dataset(
        "x", shape=(64,), chunks=(64,), dtype="uint8", compression="blosc"
    )
    ds[:] = np.arange(64, dtype="uint8")
    with open(ds.chunk_path((0,)), "rb") as fh:
        stored = fh.read()
    # the frame declares more bytes than stored (the padding cannot make up for them)
    lying = bytearray(stored + bytes(16))
    lying[12:16] = (len(stored) + 17).to_bytes(4, "little")
    for broken in (stored[:-1], stored[:10], bytes(lying)):
        with open(ds.chunk_path((0,)), "wb") as fh:
            fh.write(broken)
        with pytest.raises(errors.CorruptChunkError, match="blosc"):
            ds[:]


# ------------------------------------------------------------------------------------------
# loud root metadata


@pytest.mark.parametrize(
    "name, content",
    [
        (".zgroup", "{not json"),
        (".zgroup", "[]"),
        (".zgroup", '{"zarr_format": 3}'),
        ("zarr.json", "{not json"),
        ("zarr.json", '{"zarr_format": 2, "node_type": "group"}'),
        ("attributes.json", "{not json"),
        ("attributes.json", '"a string"'),
        ("attributes.json", '{"n5": 4}'),
    ],
)
@pytest.mark.parametrize("mode", ["r", "r+", "a"])
def test_corrupt_root_metadata_is_a_metadata_error_naming_the_file(tmp_path, name, content, mode):
    root = tmp_path / "c"
    root.mkdir()
    (root / name).write_text(content)
    with pytest.raises(errors.MetadataError, match=name.replace(".", r"\.")):
        z5py.File(root, mode)
    assert sorted(os.listdir(root)) == [name]


@pytest.mark.parametrize(
    "version, ok",
    [("1.0.0", True), ("2.5.1", True), ("4.0.0", True), ("5.0.0", False), ("10.1.0", False)],
)
def test_n5_root_version_above_4_is_unsupported(tmp_path, version, ok):
    root = tmp_path / "v.n5"
    root.mkdir()
    (root / "attributes.json").write_text(json.dumps({"n5": version}))
    for mode in ("r", "a"):
        if ok:
            assert z5py.File(root, mode).attrs.get("n5") is None
        else:
            with pytest.raises(errors.UnsupportedError, match=version.replace(".", r"\.")):
                z5py.File(root, mode)


# ------------------------------------------------------------------------------------------
# N5 reserved names only where N5 gives them meaning; the BigDataViewer layout


def test_bigdataviewer_n5_layout_round_trip(tmp_path):
    """Write the layout BigDataViewer documents for its N5 back-end (setupN groups with
    downsamplingFactors and dataType, timepointN groups, sN scale-level datasets) and read it
    back, with z5py and with tensorstore."""
    path = tmp_path / "dataset.n5"
    factors = [[1, 1, 1], [2, 2, 1], [4, 4, 2]]
    f = z5py.File(path, "w")
    volumes = {}
    for setup in range(2):
        group = f.create_group(f"setup{setup}")
        group.attrs["downsamplingFactors"] = factors
        group.attrs["dataType"] = "uint16"
        for timepoint in range(2):
            tp = group.create_group(f"timepoint{timepoint}")
            tp.attrs.update(resolution=[1.0, 1.0, 2.5], multiScale=True)
            for level, factor in enumerate(factors):
                shape = tuple(n // d for n, d in zip((16, 12, 10), reversed(factor)))
                data = np.random.default_rng(setup * 10 + timepoint * 3 + level).integers(
                    0, 60000, shape, dtype="uint16"
                )
                ds = tp.create_dataset(f"s{level}", data=data, chunks=(4, 4, 4), compression="gzip")
                ds.attrs["downsamplingFactors"] = factor
                volumes[(setup, timepoint, level)] = data

    with open(path / "setup1" / "attributes.json") as fh:
        assert json.load(fh) == {"downsamplingFactors": factors, "dataType": "uint16"}
    with open(path / "setup0" / "timepoint1" / "s2" / "attributes.json") as fh:
        s2 = json.load(fh)
    assert s2["dataType"] == "uint16" and s2["downsamplingFactors"] == [4, 4, 2]
    # N5 order is x, y, z like downsamplingFactors; numpy's shape was (z, y, x) = (16, 12, 10)
    assert s2["dimensions"] == [10 // 4, 12 // 4, 16 // 2]

    r = z5py.File(path, "r")
    assert sorted(r) == ["setup0", "setup1"]
    for setup in range(2):
        attrs = r[f"setup{setup}"].attrs
        assert dict(attrs) == {"downsamplingFactors": factors, "dataType": "uint16"}
        assert "dataType" in attrs and sorted(attrs) == ["dataType", "downsamplingFactors"]
        for timepoint in range(2):
            tp = r[f"setup{setup}/timepoint{timepoint}"]
            assert tp.attrs["multiScale"] is True and sorted(tp) == ["s0", "s1", "s2"]
            for level in range(3):
                ds = tp[f"s{level}"]
                assert dict(ds.attrs) == {"downsamplingFactors": factors[level]}
                np.testing.assert_array_equal(ds[:], volumes[(setup, timepoint, level)])
    other = ts.open(
        {"driver": "n5", "kvstore": {"driver": "file", "path": str(path / "setup1/timepoint0/s1")}}
    ).result()
    np.testing.assert_array_equal(other.read().result(), volumes[(1, 0, 1)].T)


def test_bigdataviewer_container_written_elsewhere_reads_group_data_type(tmp_path):
    """As Fiji writes it: attributes.json files whose setup groups carry dataType."""
    path = tmp_path / "fiji.n5"
    _ts_write("n5", path / "setup0" / "timepoint0" / "s0")
    (path / "attributes.json").write_text('{"n5":"4.0.0"}')
    (path / "setup0" / "attributes.json").write_text(
        '{"downsamplingFactors":[[1,1,1]],"dataType":"uint16"}'
    )
    f = z5py.File(path, "a")
    setup = f["setup0"]
    assert setup.attrs["dataType"] == "uint16" and "dataType" in list(setup.attrs)
    setup.attrs["dataType"] = "uint8"
    del setup.attrs["downsamplingFactors"]
    with open(path / "setup0" / "attributes.json") as fh:
        assert json.load(fh) == {"dataType": "uint8"}
    assert "n5" not in f.attrs
    with pytest.raises(errors.ReservedAttributeError):
        f.attrs["n5"] = "5.0.0"
    ds = setup["timepoint0/s0"]
    for key in ("dataType", "dimensions", "blockSize", "compression", "compressionType"):
        assert key not in ds.attrs
        with pytest.raises(RuntimeError, match="reserved"):
            ds.attrs[key] = "x"
        with pytest.raises(RuntimeError, match="reserved"):
            del ds.attrs[key]
    np.testing.assert_array_equal(ds[:], _n5_ts_data(DATA))


def test_a_group_cannot_be_turned_into_a_dataset_by_attributes(tmp_path):
    g = z5py.File(tmp_path / "c.n5", "a").create_group("g")
    g.attrs.update(dataType="uint8", dimensions=[3])
    with pytest.raises(errors.ReservedAttributeError, match="N5 dataset"):
        g.attrs["blockSize"] = [3]
    assert dict(g.attrs) == {"dataType": "uint8", "dimensions": [3]}
    assert z5py.File(tmp_path / "c.n5", "r").is_sub_group("g")


def test_n5_names_are_ordinary_in_a_non_root_group_named_n5(tmp_path):
    g = z5py.File(tmp_path / "c.n5", "a").create_group("a")
    g.attrs["n5"] = "user value"
    assert g.attrs["n5"] == "user value" and dict(g.attrs) == {"n5": "user value"}
