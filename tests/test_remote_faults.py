"""Faults and refusals on every backend: credentials moto rejects, mode 'r' on local
paths, file:// and memory:// URLs, S3 and HTTP, and writes that fail half way (a PUT whose
connection drops, a PUT the server forbids) leaving the previous object in place."""

from __future__ import annotations

import json

import numpy as np
import pytest
import z5py
from remote_servers import enforced_auth, fault_proxy, http_server
from z5py._z5py import Store

pytest.importorskip("moto", reason="moto[server] (the S3 API server) is not installed")


#: the bucket of the ``s3`` fixture (conftest.py)
S3_BUCKET = "faults"


def _data(shape=(12, 10)):
    return (np.arange(np.prod(shape)) % 251).astype("uint8").reshape(shape)


def _object(s3, key: str) -> bytes:
    return s3.boto().get_object(Bucket="faults", Key=key)["Body"].read()


def test_wrong_credentials_are_a_permission_error_naming_the_url(s3):
    url = "s3://faults/auth/c.zarr"
    z5py.File(url, "w", storage_options={"endpoint": s3.endpoint}).create_dataset(
        "d", data=_data(), chunks=(6, 5)
    )
    with enforced_auth(s3, ["s3:*"]) as good:
        # the right key works: moto is checking signatures, and ours are valid
        np.testing.assert_array_equal(z5py.File(url, "r", storage_options=good)["d"][:], _data())
        for bad in (
            {**good, "secret_access_key": "not-the-secret"},
            {**good, "access_key_id": "AKIAUNKNOWN000000000"},
        ):
            with pytest.raises(PermissionError) as e:
                z5py.File(url, "r", storage_options=bad)
            assert isinstance(e.value, z5py.Z5Error)
            assert url in str(e.value)


def test_a_forbidden_write_is_a_permission_error_and_changes_nothing(s3):
    url = "s3://faults/forbidden/c.n5"
    so = {"endpoint": s3.endpoint}
    z5py.File(url, "w", storage_options=so).create_dataset("d", data=_data(), chunks=(6, 5))
    before = _object(s3, "forbidden/c.n5/d/0/0")
    with enforced_auth(s3, ["s3:GetObject", "s3:ListBucket"]) as reader:
        ds = z5py.File(url, "r+", storage_options=reader)["d"]
        np.testing.assert_array_equal(ds[:], _data())
        with pytest.raises(PermissionError) as e:
            ds[:6, :5] = 7
        assert f"{url}/d/0/0" in str(e.value)
        with pytest.raises(PermissionError):
            ds.attrs["k"] = 1
    assert _object(s3, "forbidden/c.n5/d/0/0") == before
    np.testing.assert_array_equal(z5py.File(url, "r", storage_options=so)["d"][:], _data())


def test_a_put_dropped_half_way_leaves_the_previous_object(s3):
    url = "s3://faults/dropped/c.zarr"
    with fault_proxy(s3.endpoint) as proxy:
        so = {"endpoint": proxy.endpoint, "max_retries": 0, "retry_timeout": 2}
        f = z5py.File(url, "w", zarr_format=3, storage_options=so)
        ds = f.create_dataset("d", data=_data(), chunks=(6, 5), shards=(12, 10))
        ds.attrs["version"] = 1
        shard = _object(s3, "dropped/c.zarr/d/c/0/0")
        meta = _object(s3, "dropped/c.zarr/d/zarr.json")
        proxy.faults["put"] = True
        with pytest.raises(OSError) as e:  # a connection error, naming the object's URL
            ds[2:9, 3:7] = 0
        assert f"{url}/d/c/0/0" in str(e.value)
        with pytest.raises(OSError):
            ds.attrs["version"] = 2
        assert any(line.startswith("PUT") for line in proxy.log)
        proxy.faults["put"] = False
        # nothing was half written: the shard and the metadata are the previous ones
        assert _object(s3, "dropped/c.zarr/d/c/0/0") == shard
        assert _object(s3, "dropped/c.zarr/d/zarr.json") == meta
        np.testing.assert_array_equal(ds[:], _data())
        assert ds.attrs["version"] == 1


def test_a_slow_server_times_out_and_a_truncated_body_is_an_error(s3):
    import time

    url = "s3://faults/slow/c.zarr"
    with fault_proxy(s3.endpoint) as proxy:
        so = {"endpoint": proxy.endpoint, "max_retries": 0, "timeout": 1, "retry_timeout": 2}
        f = z5py.File(url, "w", storage_options=so)
        ds = f.create_dataset("d", data=_data(), chunks=(6, 5), compression="raw")
        proxy.faults["delay"] = 5
        t = time.monotonic()
        with pytest.raises(TimeoutError) as e:
            ds[:]
        assert time.monotonic() - t < 4.5  # the timeout, not the server, ended the wait
        assert isinstance(e.value, z5py.Z5Error) and url in str(e.value)
        proxy.faults["delay"] = 0
        proxy.faults["truncate"] = True
        with pytest.raises(OSError) as e:  # never a short chunk taken for data
            ds[:]
        assert isinstance(e.value, z5py.Z5Error) and url in str(e.value)
        proxy.faults["truncate"] = False
        np.testing.assert_array_equal(ds[:], _data())


def test_transient_errors_are_retried_with_backoff(s3):
    url = "s3://faults/retry/c.zarr"
    with fault_proxy(s3.endpoint) as proxy:
        so = {"endpoint": proxy.endpoint, "max_retries": 3, "retry_timeout": 20}
        ds = z5py.File(url, "w", storage_options=so).create_dataset(
            "d", data=_data(), chunks=(12, 10)
        )
        proxy.log.clear()
        proxy.faults["fail"] = 2
        np.testing.assert_array_equal(ds[:], _data())  # two 503s, then the data
        assert proxy.log.count("GET /faults/retry/c.zarr/d/0.0") == 3
        # without retries the first 503 is the answer, naming the chunk
        no_retry = z5py.File(url, "r", storage_options={**so, "max_retries": 0})["d"]
        proxy.faults["fail"] = 1
        with pytest.raises(OSError) as e:
            no_retry[:]
        assert f"{url}/d/0.0" in str(e.value)


def test_open_returns_the_dataset_of_an_array_root_on_s3(s3):
    zarr = pytest.importorskip("zarr")
    pytest.importorskip("obstore")
    a = zarr.create_array(
        s3.zarr_store("faults", "root-array.zarr"), shape=(6, 4), chunks=(3, 2), dtype="i2"
    )
    a[:] = np.arange(24, dtype="i2").reshape(6, 4)
    ds = z5py.open("s3://faults/root-array.zarr", "r", storage_options={"endpoint": s3.endpoint})
    assert isinstance(ds, z5py.Dataset)
    np.testing.assert_array_equal(ds[:], np.arange(24, dtype="i2").reshape(6, 4))
    with pytest.raises(z5py.ReadOnlyError):
        ds[0, 0] = 1


# --------------------------------------------------------------------------------------
# mode 'r' on every backend


def _snapshot(store: Store) -> dict[str, bytes]:
    return {k: store.get(k) for k in store.list_prefix("")}


def _try_every_write(f: z5py.File) -> None:
    """Every modification through a read-only container raises ReadOnlyError."""
    ds = f["g/d"]
    attempts = {
        "setitem": lambda: ds.__setitem__((0, 0), 1),
        "fancy setitem": lambda: ds.__setitem__(([0, 1], slice(None)), 1),
        "write_chunk": lambda: ds.write_chunk((0, 0), np.ones((6, 5), "uint8")),
        "resize": lambda: ds.resize((24, 10)),
        "append": lambda: ds.append(np.ones((1, 10), "uint8")),
        "attr set": lambda: ds.attrs.__setitem__("k", 1),
        "attr update": lambda: ds.attrs.update(k=1),
        "attr delete": lambda: ds.attrs.__delitem__("a"),
        "attr clear": lambda: f.attrs.clear(),
        "create_group": lambda: f.create_group("new"),
        "require_group": lambda: f["g"].require_group("new"),
        "create_dataset": lambda: f.create_dataset("x", shape=(2,), dtype="i4"),
        "require_dataset": lambda: f.require_dataset("y", shape=(2,), dtype="i4"),
        "delete": lambda: f.__delitem__("g/d"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(z5py.ReadOnlyError):
            attempt()
            pytest.fail(f"{what} was allowed in mode 'r'")


def _fill(url, so=None, **kw):
    f = z5py.File(url, "w", storage_options=so, **kw)
    ds = f.create_dataset("g/d", data=_data(), chunks=(6, 5))
    ds.attrs["a"] = 1
    f.attrs["top"] = True


@pytest.mark.parametrize("backend", ["path", "file", "memory", "s3"])
def test_mode_r_refuses_every_write(backend, s3, tmp_path):
    so = None
    if backend == "path":
        url = str(tmp_path / "c.zarr")
        store = Store(url)
    elif backend == "file":
        url = f"file://{tmp_path}/c.zarr"
        store = Store(url)
    elif backend == "memory":
        url = "memory://mode-r-test.zarr"
        store = Store(url)
    else:
        url = "s3://faults/mode-r/c.zarr"
        so = {"endpoint": s3.endpoint}
        store = Store(url, storage_options=so)
    _fill(url, so, zarr_format=3)
    before = _snapshot(store)
    _try_every_write(z5py.File(url, "r", storage_options=so))
    assert _snapshot(store) == before


def test_mode_r_refuses_every_write_over_http(tmp_path):
    _fill(str(tmp_path / "c.zarr"))
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    with http_server(str(tmp_path)) as srv:
        url = f"{srv.url}/c.zarr"
        f = z5py.File(url, "r")
        assert f["g/d"].attrs["a"] == 1
        _try_every_write(f)
        for mode in ("r+", "a", "w", "w-"):
            with pytest.raises(z5py.Z5Error, match="read-only"):
                z5py.File(url, mode)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()) == files
    assert json.loads((tmp_path / "c.zarr" / "g" / "d" / ".zattrs").read_text()) == {"a": 1}
