"""Tests of z5py.dask and of the client= option of rechunk / the converters.

One LocalCluster with two worker processes is shared by the module; every distributed
result is compared bit for bit with the single-process result.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import z5py
from z5py import util
from z5py.converter import convert_from_h5, convert_to_h5

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
h5py = pytest.importorskip("h5py")

import z5py.dask as z5dask


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,
        silence_logs=40,
    )
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def _chunk_files(ds) -> dict[tuple[int, ...], bytes]:
    """Every stored chunk of a dataset as raw bytes, keyed by chunk index."""
    h = ds._handle
    out = {}
    for idx in h.existing_chunks():
        with open(h.chunk_path(list(idx)), "rb") as fh:
            out[tuple(idx)] = fh.read()
    return out


@pytest.fixture
def volume():
    rng = np.random.default_rng(11)
    return rng.integers(0, 1000, size=(30, 41, 27)).astype("int32")


def test_aligned_chunks():
    assert z5dask.aligned_chunks(((4, 4, 2),), (4,)) == ((4, 4, 2),)
    assert z5dask.aligned_chunks(((5, 5),), (4,)) == (4,)
    assert z5dask.aligned_chunks(((9, 9, 2),), (4,)) == (8,)
    assert z5dask.aligned_chunks(((3, 3, 3, 3), (10,)), (2, 5)) == (4, (10,))


def test_to_dask_local(tmp_path, volume):
    ds = z5py.File(str(tmp_path / "a.n5"), mode="a").create_dataset(
        "x", data=volume, chunks=(8, 16, 8)
    )
    arr = z5dask.to_dask(ds)
    assert arr.shape == volume.shape
    assert arr.dtype == volume.dtype
    assert arr.chunksize == (8, 16, 8)
    np.testing.assert_array_equal(arr.compute(scheduler="threads"), volume)
    big = z5dask.to_dask(ds, chunks=(16, 32, 16))
    assert big.chunksize == (16, 32, 16)
    with pytest.raises(ValueError, match="multiple"):
        z5dask.to_dask(ds, chunks=(10, 16, 8))


def test_store_rechunks_to_alignment(tmp_path, volume):
    f = z5py.File(str(tmp_path / "s.zarr"), mode="a")
    ds = f.create_dataset("x", shape=volume.shape, dtype="int32", chunks=(8, 8, 8))
    arr = da.from_array(volume, chunks=(7, 13, 5))  # misaligned on purpose
    z5dask.store(arr, ds)
    np.testing.assert_array_equal(ds[:], volume)
    with pytest.raises(ValueError, match="shape"):
        z5dask.store(arr[:-1], ds)
    delayed = z5dask.store(arr * 0, ds, compute=False)
    np.testing.assert_array_equal(ds[:], volume)  # nothing written yet
    delayed.compute()
    assert not ds[:].any()


def test_datasets_pickle_to_workers(tmp_path, volume, client):
    ds = z5py.File(str(tmp_path / "p.n5"), mode="a").create_dataset(
        "x", data=volume, chunks=(10, 10, 10)
    )
    fut = client.submit(lambda d: (d.shape, int(d[:].sum()), os.getpid()), ds)
    shape, total, pid = fut.result()
    assert shape == volume.shape
    assert total == int(volume.sum())
    assert pid != os.getpid()


def test_to_dask_on_cluster(tmp_path, volume, client):
    ds = z5py.File(str(tmp_path / "a.n5"), mode="a").create_dataset(
        "x", data=volume, chunks=(8, 16, 8)
    )
    arr = z5dask.to_dask(ds)
    got = client.compute(arr).result()
    np.testing.assert_array_equal(got, volume)
    assert int(client.compute(arr.sum()).result()) == int(volume.sum())


def test_from_dask_cluster_equals_single_process(tmp_path, volume, client):
    arr = da.from_array(volume, chunks=(10, 20, 9)).astype("float32") * 0.5
    local = z5dask.from_dask(arr, str(tmp_path / "local.n5"), "g/out", chunks=(8, 8, 8))
    remote = z5dask.from_dask(
        arr, str(tmp_path / "remote.n5"), "g/out", chunks=(8, 8, 8), client=client
    )
    expected = volume.astype("float32") * 0.5
    np.testing.assert_array_equal(local[:], expected)
    assert remote.dtype == np.float32
    assert remote.chunks == (8, 8, 8)
    np.testing.assert_array_equal(remote[:], expected)
    assert _chunk_files(remote) == _chunk_files(local)


def test_rechunk_on_cluster(tmp_path, volume, client):
    src = tmp_path / "in.n5"
    z5py.File(str(src), mode="a").create_dataset("x", data=volume, chunks=(10, 10, 10))
    a = util.rechunk(str(src), str(tmp_path / "a.zarr"), "x", "x", (4, 8, 16), 1)
    b = util.rechunk(str(src), str(tmp_path / "b.zarr"), "x", "x", (4, 8, 16), 1, client=client)
    assert a.blocks_total == b.blocks_total == b.blocks_copied
    da_ = z5py.File(str(tmp_path / "a.zarr"), mode="r")["x"]
    db_ = z5py.File(str(tmp_path / "b.zarr"), mode="r")["x"]
    np.testing.assert_array_equal(db_[:], volume)
    assert _chunk_files(db_) == _chunk_files(da_)
    # resume also works through the cluster
    again = util.rechunk(str(src), str(tmp_path / "b.zarr"), "x", "x", (4, 8, 16), 1, client=client)
    assert again.blocks_skipped == again.blocks_total


def test_converters_on_cluster(tmp_path, volume, client):
    h5 = tmp_path / "in.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("x", data=volume, chunks=(10, 10, 10))
    convert_from_h5(str(h5), str(tmp_path / "a.n5"), "x", "x", (8, 8, 8), 1)
    res = convert_from_h5(str(h5), str(tmp_path / "b.n5"), "x", "x", (8, 8, 8), 1, client=client)
    assert res.blocks_copied == res.blocks_total
    a = z5py.File(str(tmp_path / "a.n5"), mode="r")["x"]
    b = z5py.File(str(tmp_path / "b.n5"), mode="r")["x"]
    np.testing.assert_array_equal(b[:], volume)
    assert _chunk_files(b) == _chunk_files(a)

    convert_to_h5(str(tmp_path / "b.n5"), str(tmp_path / "o.h5"), "x", "x", (8, 8, 8), 1,
                  client=client)  # fmt: skip
    with h5py.File(tmp_path / "o.h5", "r") as f:
        np.testing.assert_array_equal(f["x"][...], volume)


def test_store_into_sharded_dataset(tmp_path, volume):
    f = z5py.File(str(tmp_path / "s3.zarr"), mode="a", zarr_format=3)
    ds = f.create_dataset(
        "x", shape=volume.shape, dtype="int32", chunks=(4, 4, 4), shards=(8, 8, 8)
    )
    arr = da.from_array(volume, chunks=(4, 4, 4))  # chunk-aligned but not shard-aligned
    z5dask.store(arr, ds)
    np.testing.assert_array_equal(ds[:], volume)


def test_cli_scheduler_option(tmp_path, volume, client, capsys):
    from z5py.cli import main

    h5 = tmp_path / "in.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("x", data=volume)
    address = client.scheduler.address
    out = tmp_path / "o.n5"
    argv = ["convert", f"{h5}/x", f"{out}/x", "-c", "8", "--no-progress", "--scheduler", address]
    assert main(argv) == 0
    np.testing.assert_array_equal(z5py.File(str(out), mode="r")["x"][:], volume)
    assert main(["rechunk", f"{out}/x", f"{out}/y", "-c", "16", "--scheduler", address]) == 0
    np.testing.assert_array_equal(z5py.File(str(out), mode="r")["y"][:], volume)


def test_rewritten_h5_is_not_read_stale_on_workers(tmp_path, client):
    h5 = tmp_path / "in.h5"
    for i, value in enumerate((1, 2)):
        with h5py.File(h5, "w") as f:
            f.create_dataset("x", data=np.full((16, 16), value, dtype="uint8"), chunks=(8, 8))
        out = str(tmp_path / f"o{i}.n5")
        convert_from_h5(str(h5), out, "x", "x", (8, 8), 1, client=client)
        assert (z5py.File(out, mode="r")["x"][:] == value).all()
