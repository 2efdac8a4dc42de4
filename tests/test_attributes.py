"""AttributeManager: JSON attributes of groups and datasets in every format."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import z5py
from z5py import errors


@pytest.fixture(params=["root", "group", "dataset"])
def node(request, f):
    """The root, a group or a dataset of the container ``f``."""
    if request.param == "root":
        return f
    if request.param == "group":
        return f.create_group("g")
    return f.create_dataset("d", shape=(4,), dtype="f4")


def _attrs_on_disk(node, fmt: str) -> dict:
    """User attributes as stored in the format's metadata file."""
    if fmt == "n5":
        path = os.path.join(node.path, "attributes.json")
        with open(path) as fh:
            stored = json.load(fh)
        for reserved in ("dimensions", "blockSize", "dataType", "compression", "n5"):
            stored.pop(reserved, None)
        return stored
    if fmt == "zarr2":
        with open(os.path.join(node.path, ".zattrs")) as fh:
            return json.load(fh)
    with open(os.path.join(node.path, "zarr.json")) as fh:
        return json.load(fh)["attributes"]


def test_set_get_delete(node, fmt):
    attrs = node.attrs
    assert isinstance(attrs, z5py.AttributeManager)
    assert len(attrs) == 0 and list(attrs) == []
    attrs["a"] = 1
    attrs["b"] = "text ü"
    assert attrs["a"] == 1 and attrs["b"] == "text ü"
    assert "a" in attrs and "zz" not in attrs
    assert sorted(attrs) == ["a", "b"]
    assert len(attrs) == 2
    assert _attrs_on_disk(node, fmt) == {"a": 1, "b": "text ü"}
    attrs["a"] = [1, 2]
    assert node.attrs["a"] == [1, 2]
    del attrs["a"]
    assert dict(node.attrs) == {"b": "text ü"}
    assert _attrs_on_disk(node, fmt) == {"b": "text ü"}


def test_missing_keys_raise_keyerror(node):
    with pytest.raises(KeyError, match="nope"):
        node.attrs["nope"]
    with pytest.raises(KeyError, match="nope"):
        del node.attrs["nope"]
    assert node.attrs.get("nope", 5) == 5


def test_value_types_roundtrip(node):
    values = {
        "int": 3,
        "float": 2.5,
        "bool": True,
        "none": None,
        "list": [1, "two", [3.0]],
        "dict": {"nested": {"deep": [1, 2]}},
        "tuple": (1, 2),
        "np_int": np.int64(7),
        "np_float": np.float32(1.5),
        "np_bool": np.bool_(False),
        "np_array": np.arange(6).reshape(2, 3),
        "inf": float("inf"),
        "neg_inf": -np.inf,
    }
    for key, value in values.items():
        node.attrs[key] = value
    node.attrs["nan"] = float("nan")
    got = dict(node.attrs)
    assert got["int"] == 3 and isinstance(got["int"], int)
    assert got["float"] == 2.5
    assert got["bool"] is True and got["none"] is None
    assert got["list"] == [1, "two", [3.0]]
    assert got["dict"] == {"nested": {"deep": [1, 2]}}
    assert got["tuple"] == [1, 2]
    assert got["np_int"] == 7 and isinstance(got["np_int"], int)
    assert got["np_float"] == 1.5
    assert got["np_bool"] is False
    assert got["np_array"] == [[0, 1, 2], [3, 4, 5]]
    assert got["inf"] == math.inf and got["neg_inf"] == -math.inf
    assert math.isnan(got["nan"])


def test_unserializable_values_are_refused_without_writing(node):
    node.attrs["keep"] = 1
    with pytest.raises(TypeError, match="JSON serializable"):
        node.attrs["bad"] = object()
    with pytest.raises(TypeError):
        node.attrs["bad"] = {1, 2}
    with pytest.raises(TypeError, match="strings"):
        node.attrs[1] = "int key"
    assert dict(node.attrs) == {"keep": 1}


def test_update_and_clear(node):
    node.attrs.update({"a": 1, "b": 2}, c=3)
    assert dict(node.attrs) == {"a": 1, "b": 2, "c": 3}
    node.attrs.update(a=10)
    assert node.attrs["a"] == 10
    node.attrs.clear()
    assert dict(node.attrs) == {}


def test_attributes_persist_across_reopen(f, tmp_path):
    f.create_dataset("d", shape=(2,), dtype="u1").attrs["unit"] = "nm"
    f.attrs["root"] = {"x": 1}
    r = z5py.File(f.path, mode="r")
    assert r["d"].attrs["unit"] == "nm"
    assert r.attrs["root"] == {"x": 1}


N5_DATASET_KEYS = ("dimensions", "blockSize", "dataType", "compression", "compressionType")


@pytest.mark.parametrize("fmt", ["n5"])
def test_n5_reserved_keys_are_hidden_and_protected(f):
    ds = f.create_dataset("d", shape=(4, 6), chunks=(2, 3), dtype="u2")
    with open(os.path.join(ds.path, "attributes.json")) as fh:
        metadata_before = json.load(fh)
    assert dict(ds.attrs) == {}
    # N5 reserves the dataset keys on datasets and the version key at the root (only)
    reserved = [(ds.attrs, key) for key in N5_DATASET_KEYS] + [(f.attrs, "n5")]
    for target, key in reserved:
        assert key not in target
        with pytest.raises(errors.InvalidArgumentError, match="reserved"):
            target[key] = 1
        with pytest.raises(errors.InvalidArgumentError, match="reserved"):
            del target[key]
        with pytest.raises(ValueError):
            target.update({key: 1, "fine": 2})
        assert "fine" not in target
    ds.attrs["user"] = "ok"
    ds.attrs.clear()
    with open(os.path.join(ds.path, "attributes.json")) as fh:
        assert json.load(fh) == metadata_before
    assert ds.shape == (4, 6) and z5py.File(f.path, mode="r")["d"].chunks == (2, 3)


@pytest.mark.parametrize("fmt", ["zarr2", "zarr3"])
def test_zarr_allows_n5_key_names(f):
    ds = f.create_dataset("d", shape=(2,), dtype="u1")
    ds.attrs["dimensions"] = ["z", "y"]
    assert ds.attrs["dimensions"] == ["z", "y"]


def test_read_only_attributes(f):
    f.attrs["a"] = 1
    attrs = z5py.File(f.path, mode="r").attrs
    assert attrs.read_only
    for action in (
        lambda: attrs.__setitem__("a", 2),
        lambda: attrs.__delitem__("a"),
        lambda: attrs.update(a=3),
        attrs.clear,
    ):
        with pytest.raises(errors.ReadOnlyError):
            action()
    assert dict(attrs) == {"a": 1}


def test_attribute_manager_constructor(f, fmt):
    ds = f.create_dataset("d", shape=(2,), dtype="u1")
    ds.attrs["x"] = 1
    by_flag = z5py.AttributeManager(ds.path, fmt != "n5")
    assert by_flag["x"] == 1
    by_disk = z5py.AttributeManager(ds.path)
    assert by_disk["x"] == 1
    explicit = z5py.AttributeManager(ds.path, fmt=fmt, read_only=True)
    assert explicit.path == ds.path and explicit["x"] == 1
    with pytest.raises(ValueError, match="unknown format"):
        z5py.AttributeManager(ds.path, fmt="hdf5")
    assert "x" in repr(by_flag)
