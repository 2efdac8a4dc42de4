"""Consolidated metadata (Zarr v2 ``.zmetadata``, Zarr v3 ``consolidated_metadata`` in the
root ``zarr.json``): containers that have it open through it, one request for the whole
hierarchy (counted on a real HTTP server and through a proxy in front of moto's S3
server); writes through z5py keep it equal to a fresh consolidation, which zarr-python
then reads; what we write is read by zarr-python and what it writes is read by us."""

from __future__ import annotations

import json

import numpy as np
import pytest
import z5py
from remote_servers import fault_proxy, http_server, s3_server
from z5py._z5py import Store

zarr = pytest.importorskip("zarr")


def _expected_tree(root: str, zf: int) -> dict[str, tuple]:
    """A hierarchy written by zarr-python at ``root`` (3 groups of 4 arrays, attributes),
    consolidated; returns what each node should look like."""
    g = zarr.open_group(root, mode="w", zarr_format=zf)
    g.attrs["top"] = "yes"
    expected: dict[str, tuple] = {}
    for i in range(3):
        sub = g.create_group(f"g{i}")
        sub.attrs["i"] = i
        expected[f"g{i}"] = ("group", {"i": i})
        for j in range(4):
            a = sub.create_array(f"a{j}", shape=(6 + j, 5), chunks=(3, 5), dtype="int16")
            a[:] = i * 10 + j
            a.attrs["j"] = j
            expected[f"g{i}/a{j}"] = ("array", (6 + j, 5), {"j": j})
    zarr.consolidate_metadata(root, zarr_format=zf)
    return expected


def _walk(f: z5py.File) -> dict[str, tuple]:
    seen: dict[str, tuple] = {}

    def visit(name, obj):
        if isinstance(obj, z5py.Dataset):
            seen[name] = ("array", obj.shape, dict(obj.attrs))
        else:
            seen[name] = ("group", dict(obj.attrs))

    f.visititems(visit)
    return seen


@pytest.mark.parametrize("zf,requests", [(2, 2), (3, 1)])
def test_a_consolidated_hierarchy_opens_with_one_request_over_http(tmp_path, zf, requests):
    expected = _expected_tree(str(tmp_path / "c.zarr"), zf)
    with http_server(str(tmp_path)) as srv:
        srv.counter[0] = 0
        f = z5py.File(f"{srv.url}/c.zarr", "r")
        assert f.attrs["top"] == "yes"
        assert _walk(f) == expected
        # v3: the root zarr.json; v2: the root zarr.json (missing) and .zmetadata
        assert srv.counter[0] == requests
        np.testing.assert_array_equal(f["g2/a3"][:], np.full((9, 5), 23, "int16"))
        assert srv.counter[0] == requests + 3  # the array's three chunks


def test_a_consolidated_hierarchy_opens_with_one_request_on_s3(tmp_path):
    with s3_server() as s3, fault_proxy(s3.endpoint) as proxy:
        s3.create_bucket("cons")
        store = s3.zarr_store("cons", "c.zarr")
        g = zarr.open_group(store, mode="w", zarr_format=3)
        for i in range(5):
            g.create_group(f"g{i}").create_array("a", shape=(4,), chunks=(2,), dtype="u1")
        zarr.consolidate_metadata(store)
        proxy.log.clear()
        f = z5py.File("s3://cons/c.zarr", "r", storage_options={"endpoint": proxy.endpoint})
        assert sorted(_walk(f)) == sorted(
            [f"g{i}" for i in range(5)] + [f"g{i}/a" for i in range(5)]
        )
        assert proxy.log == ["GET /cons/c.zarr/zarr.json"]


def _fresh_members(store: Store, zf: int) -> dict:
    """What a consolidation of the metadata stored now would list."""
    keys = store.list_prefix("")
    if zf == 2:
        names = (".zgroup", ".zarray", ".zattrs")
        return {k: json.loads(store.get(k)) for k in keys if k.rsplit("/", 1)[-1] in names}
    members = {}
    for k in keys:
        if k.endswith("/zarr.json"):
            members[k.rsplit("/", 1)[0]] = json.loads(store.get(k))
    return members


def _stored_members(store: Store, zf: int) -> dict:
    """The members of the stored consolidated document (zarr-python also gives its groups'
    entries an empty ``consolidated_metadata`` of their own: left out of the comparison)."""
    if zf == 2:
        members = json.loads(store.get(".zmetadata"))["metadata"]
    else:
        members = json.loads(store.get("zarr.json"))["consolidated_metadata"]["metadata"]
    for doc in members.values():
        doc.pop("consolidated_metadata", None)
    return members


def _write_through(f: z5py.File) -> None:
    """Metadata changes of every kind through z5py."""
    f.create_group("new/deep")
    ds = f.create_dataset("new/deep/arr", shape=(10, 4), chunks=(5, 4), dtype="float32")
    ds[:] = 1.5
    ds.attrs.update(unit="nm", scale=[1, 2])
    f["g0"].attrs["i"] = 100
    f.attrs["top"] = "changed"
    f["g1/a0"].resize((12, 5))
    del f["g2"]
    del f["g0/a1"].attrs["j"]


@pytest.mark.parametrize("zf", [2, 3])
def test_writes_through_z5py_keep_it_true_on_disk(tmp_path, zf):
    root = str(tmp_path / "c.zarr")
    _expected_tree(root, zf)
    f = z5py.File(root, "a")
    _write_through(f)
    store = Store(root)
    assert _stored_members(store, zf) == _fresh_members(store, zf)
    # zarr-python, reading only the consolidated document, sees the new state
    g = zarr.open_consolidated(root, zarr_format=zf, mode="r")
    assert g.attrs["top"] == "changed"
    assert g["new/deep/arr"].shape == (10, 4) and g["new/deep/arr"].attrs["unit"] == "nm"
    np.testing.assert_array_equal(g["new/deep/arr"][:], np.full((10, 4), 1.5, "float32"))
    assert g["g0"].attrs["i"] == 100 and g["g1/a0"].shape == (12, 5)
    assert "g2" not in g and "j" not in g["g0/a1"].attrs
    # and so do we, reopening
    h = z5py.File(root, "r")
    assert "g2" not in h and h["g1/a0"].shape == (12, 5)


@pytest.mark.parametrize("zf", [2, 3])
def test_writes_through_z5py_keep_it_true_on_s3(tmp_path, zf):
    pytest.importorskip("obstore")
    with s3_server() as s3:
        s3.create_bucket("keep")
        so = {"endpoint": s3.endpoint}
        url = f"s3://keep/c{zf}.zarr"
        f = z5py.File(url, "w", zarr_format=zf, storage_options=so)
        for i in range(3):
            for j in range(2):
                ds = f.create_dataset(f"g{i}/a{j}", shape=(6, 5), chunks=(3, 5), dtype="int16")
                ds.attrs["j"] = j
        assert z5py.consolidate_metadata(url, storage_options=so) == 10
        f = z5py.File(url, "a", storage_options=so)
        _write_through(f)
        store = Store(url, storage_options=so)
        assert _stored_members(store, zf) == _fresh_members(store, zf)
        g = zarr.open_consolidated(
            s3.zarr_store("keep", f"c{zf}.zarr", read_only=True), zarr_format=zf, mode="r"
        )
        assert g.attrs["top"] == "changed" and g["new/deep/arr"].attrs["scale"] == [1, 2]
        np.testing.assert_array_equal(g["new/deep/arr"][:], np.full((10, 4), 1.5, "float32"))
        assert "g2" not in g and g["g1/a0"].shape == (12, 5)


def test_pickled_nodes_keep_writing_through_it(tmp_path):
    import pickle

    root = str(tmp_path / "c.zarr")
    _expected_tree(root, 3)
    ds = pickle.loads(pickle.dumps(z5py.File(root, "a")["g0/a0"]))
    ds.attrs["after"] = "pickle"
    members = _stored_members(Store(root), 3)
    assert members["g0/a0"]["attributes"] == {"j": 0, "after": "pickle"}


def test_consolidate_metadata_refuses_n5(tmp_path):
    z5py.File(tmp_path / "c.n5", "w").create_group("g")
    with pytest.raises(z5py.errors.InvalidArgumentError, match="N5"):
        z5py.consolidate_metadata(tmp_path / "c.n5")


@pytest.mark.parametrize("backend", ["path", "memory"])
def test_concurrent_writers_keep_each_others_entries(tmp_path, backend):
    from concurrent.futures import ThreadPoolExecutor

    root = str(tmp_path / "c.zarr") if backend == "path" else "memory://consolidated-race.zarr"
    z5py.File(root, "w", zarr_format=3).create_group("g")
    z5py.consolidate_metadata(root)

    def writer(w: int) -> None:
        f = z5py.File(root, "a")  # each writer its own view of the document
        for i in range(8):
            f.create_dataset(f"g/w{w}-{i}", shape=(2,), dtype="u1").attrs["w"] = w

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(writer, range(4)))
    store = Store(root)
    members = _stored_members(store, 3)
    assert members == _fresh_members(store, 3)
    assert sum(1 for k in members if k.startswith("g/w")) == 32
