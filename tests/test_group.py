"""Group: the dict interface, creating, requiring, deleting and visiting members."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import z5py
from z5py import errors

GROUP_METADATA = {"n5": None, "zarr2": ".zgroup", "zarr3": "zarr.json"}


def test_create_group_nested_creates_intermediates(f, fmt):
    g = f.create_group("a/b/c")
    assert isinstance(g, z5py.Group) and not isinstance(g, z5py.File)
    assert g.name == "/a/b/c"
    assert g.path == os.path.join(f.path, "a", "b", "c")
    assert os.path.isdir(g.path)
    for sub in ("a", "a/b", "a/b/c"):
        meta = GROUP_METADATA[fmt]
        if meta is not None:
            assert os.path.isfile(os.path.join(f.path, sub, meta))
        assert isinstance(f[sub], z5py.Group)
    assert g.parent.name == "/a/b"
    assert g.parent.parent.parent is f
    assert g.is_zarr == (fmt != "n5")
    assert g.zarr_format == f.zarr_format


def test_create_group_below_existing_groups(f):
    f.create_group("a")
    g = f["a"].create_group("b/c")
    assert g.name == "/a/b/c"
    assert list(f["a/b"]) == ["c"]


def test_create_existing_group_fails(f):
    f.create_group("a/b")
    f.create_dataset("x", shape=(2,), dtype="u1")
    for name in ("a", "a/b", "x"):
        with pytest.raises(errors.NodeExistsError, match="already exists"):
            f.create_group(name)
    # both the h5py (ValueError) and the old z5py (KeyError) expectations hold
    with pytest.raises(ValueError):
        f.create_group("a")
    with pytest.raises(KeyError):
        f.create_group("a")


def test_create_group_below_dataset_fails(f):
    f.create_dataset("x", shape=(2,), dtype="u1")
    with pytest.raises(ValueError, match="is a dataset"):
        f.create_group("x/g")
    with pytest.raises(ValueError, match="is a dataset"):
        f.create_dataset("x/y", shape=(2,), dtype="u1")


def test_require_group(f):
    g = f.require_group("a/b")
    assert g.name == "/a/b"
    g.attrs["marker"] = 1
    again = f.require_group("a/b")
    assert again == g and again.attrs["marker"] == 1
    f.create_dataset("x", shape=(2,), dtype="u1")
    with pytest.raises(TypeError, match="dataset"):
        f.require_group("x")


def test_getitem(f):
    f.create_group("a/b")
    ds = f.create_dataset("a/x", shape=(3,), dtype="i2")
    assert isinstance(f["a"], z5py.Group)
    assert isinstance(f["a/x"], z5py.Dataset)
    assert f["a/x"] == ds
    assert f["a"]["b"].name == "/a/b"
    with pytest.raises(KeyError, match="'nope'"):
        f["nope"]
    with pytest.raises(errors.NodeNotFoundError, match="'a/nope'"):
        f["a/nope"]
    assert f.get("nope") is None
    assert f.get("a/x") == ds


def test_iteration_is_sorted_and_lists_groups_and_datasets(f):
    for name in ("zeta", "alpha", "Mid"):
        f.create_group(name)
    f.create_dataset("beta", shape=(2,), dtype="u1")
    f.create_dataset("alpha/inner", shape=(2,), dtype="u1")
    assert list(f) == ["Mid", "alpha", "beta", "zeta"]
    assert list(f.keys()) == ["Mid", "alpha", "beta", "zeta"]
    assert len(f) == 4
    assert [type(v).__name__ for v in f.values()] == ["Group", "Group", "Dataset", "Group"]
    assert dict(f.items())["beta"].shape == (2,)
    assert list(f["alpha"]) == ["inner"]
    assert len(f["alpha/inner"].parent) == 1


def test_contains(f):
    f.create_group("a/b")
    f.create_dataset("a/x", shape=(2,), dtype="u1")
    assert "a" in f and "a/b" in f and "a/x" in f
    assert "b" in f["a"]
    assert "nope" not in f and "a/nope" not in f
    for invalid in ("..", "/../a", "a//b", "", 3, None, "a\0"):
        assert invalid not in f


def test_plain_directories(tmp_path, fmt, f):
    """N5 treats every directory as a group; Zarr needs metadata."""
    f.create_dataset("x", shape=(2,), dtype="u1")
    os.mkdir(os.path.join(f.path, "plain"))
    with open(os.path.join(f.path, "somefile.txt"), "w") as fh:
        fh.write("not a member")
    if fmt == "n5":
        assert list(f) == ["plain", "x"]
        assert isinstance(f["plain"], z5py.Group)
    else:
        assert list(f) == ["x"]
        assert "plain" not in f
        with pytest.raises(KeyError):
            f["plain"]
        # creating a group there adds the metadata
        f.create_group("plain")
        assert list(f) == ["plain", "x"]


@pytest.mark.parametrize("fmt", ["zarr2", "zarr3"])
def test_zarr_implicit_groups(f, fmt):
    """Older z5py wrote no metadata for intermediate Zarr groups; they must stay reachable."""
    f.create_dataset("g/h/x", data=np.arange(3))
    f.create_group("g/k")
    metadata = GROUP_METADATA[fmt]
    for implicit in ("g", "g/h"):
        os.remove(os.path.join(f.path, implicit, metadata))
    os.makedirs(os.path.join(f.path, "empty", "deeper"))
    assert list(f) == ["g"]
    assert "g" in f and "empty" not in f
    assert list(f["g"]) == ["h", "k"]
    names = []
    f.visit(names.append)
    assert names == ["g", "g/h", "g/h/x", "g/k"]
    np.testing.assert_array_equal(f["g/h/x"][:], np.arange(3))
    with pytest.raises(errors.NodeExistsError):
        f.create_group("g")
    assert f.require_group("g/h").name == "/g/h"


@pytest.mark.parametrize(
    "name",
    ["..", "../escape", "a/../b", "/../escape", "/a//b", "a//b", "a/", "", ".", "a\0b", ".zarray"],
)
def test_invalid_names_are_refused(f, tmp_path, name):
    f.create_dataset("x", shape=(2,), dtype="u1")
    with pytest.raises(errors.InvalidArgumentError):
        f.create_group(name)
    with pytest.raises(ValueError):
        f.create_dataset(name, shape=(2,), dtype="u1")
    with pytest.raises(ValueError):
        f[name]
    assert not (tmp_path / "escape").exists()


def test_non_string_names(f):
    with pytest.raises(TypeError):
        f.create_group(3)
    with pytest.raises(TypeError):
        f[b"bytes"]


def test_delitem(f):
    f.create_dataset("a/b/x", data=np.arange(10))
    f.create_dataset("y", data=np.arange(3))
    del f["y"]
    assert "y" not in f and not os.path.exists(os.path.join(f.path, "y"))
    del f["a"]
    assert list(f) == []
    assert not os.path.exists(os.path.join(f.path, "a"))
    with pytest.raises(KeyError, match="'a'"):
        del f["a"]
    # the name can be reused for something else
    f.create_group("y")
    assert isinstance(f["y"], z5py.Group)


def test_visititems_pre_order_sorted_and_stops(f):
    f.create_group("b/c")
    f.create_dataset("a", shape=(2,), dtype="u1")
    f.create_dataset("b/d", shape=(2,), dtype="u1")
    f.create_group("b/c/e")
    seen = []
    assert f.visititems(lambda name, obj: seen.append((name, type(obj).__name__))) is None
    assert seen == [
        ("a", "Dataset"),
        ("b", "Group"),
        ("b/c", "Group"),
        ("b/c/e", "Group"),
        ("b/d", "Dataset"),
    ]
    names = []
    assert f["b"].visit(names.append) is None
    assert names == ["c", "c/e", "d"]

    def find_dataset_in_b(name, obj):
        if isinstance(obj, z5py.Dataset) and name.startswith("b/"):
            return obj.name
        return None

    assert f.visititems(find_dataset_in_b) == "/b/d"
    visited = []
    assert f.visit(lambda name: visited.append(name) or (name if name == "b/c" else None)) == "b/c"
    assert visited == ["a", "b", "b/c"]


def test_group_pickle_and_equality(f):
    g = f.create_group("a/b")
    g2 = pickle.loads(pickle.dumps(g))
    assert g2 == g and hash(g2) == hash(g)
    assert g2.name == "/a/b" and g2.mode == "a"
    f.create_dataset("a/b/x", shape=(2,), dtype="u1")
    assert list(g2) == ["x"]
    assert g2.file == f
    assert g != f["a"]


def test_group_constructor(tmp_path):
    z5py.File(tmp_path / "c.zarr").create_group("g")
    g = z5py.Group(tmp_path / "c.zarr" / "g", is_zarr=True, mode="r")
    assert g.name == "/" and g.zarr_format == 2
    with pytest.raises(errors.ReadOnlyError):
        g.create_group("h")
    with pytest.raises(FileNotFoundError):
        z5py.Group(tmp_path / "c.zarr" / "missing")
    with pytest.raises(FileNotFoundError):
        z5py.Group(tmp_path / "c.zarr" / "g", is_zarr=False)


def test_repr(f):
    g = f.create_group("a")
    assert '"/a"' in repr(g)
    assert f.path in repr(f)
