"""The tools on a bucket: the command line (info, tree, convert, rechunk, verify on
``s3://`` URLs), the HDF5 converters both ways, ``util.rechunk`` between local disk and a
bucket both ways, and ``z5py.dask`` with a bucket dataset travelling to worker processes
with its ``storage_options``.  Everything runs against moto's S3 server on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import z5py
from z5py import util
from z5py.cli import main
from z5py.converter import convert_from_h5, convert_to_h5

pytest.importorskip("moto", reason="moto[server] (the S3 API server) is not installed")
h5py = pytest.importorskip("h5py")


#: the bucket of the ``s3`` fixture (conftest.py)
S3_BUCKET = "tools"


def _volume(shape=(20, 30, 40), dtype="uint16"):
    rng = np.random.default_rng(11)
    return rng.integers(0, 1000, size=shape).astype(dtype)


def _h5(tmp_path, data):
    path = tmp_path / "vol.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("grp/raw", data=data, chunks=(10, 10, 10), compression="gzip")
        ds.attrs["resolution"] = [1.0, 2.0, 2.0]
    return path


def _dead_endpoint() -> str:
    """An http endpoint on 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_cli_info_tree_convert_rechunk_verify_on_a_bucket(s3, tmp_path, capsys):
    data = _volume()
    h5 = _h5(tmp_path, data)
    so = ["-S", f"endpoint={s3.endpoint}", "-S", "region=us-east-1"]
    n5 = "s3://tools/cli/vol.n5"
    assert main(["convert", f"{h5}/grp/raw", f"{n5}/raw", "--no-progress", *so]) == 0
    assert main(["info", f"{n5}/raw", *so]) == 0
    out = capsys.readouterr().out
    assert "shape:        (20, 30, 40)" in out and "format:       N5" in out
    assert "resolution" in out
    assert main(["tree", n5, *so]) == 0
    assert "raw  uint16 (20, 30, 40)" in capsys.readouterr().out

    zarr = "s3://tools/cli/out.zarr"
    rc = main(["rechunk", f"{n5}/raw", f"{zarr}/flat", "--chunks", "1,30,40", "--no-progress", *so])
    assert rc == 0
    assert main(["verify", zarr, *so]) == 0
    assert "all good" in capsys.readouterr().out
    f = z5py.File(zarr, "r", storage_options={"endpoint": s3.endpoint})
    assert f["flat"].chunks == (1, 30, 40)
    np.testing.assert_array_equal(f["flat"][:], data)

    # bucket -> HDF5 on local disk
    back = tmp_path / "back.h5"
    assert main(["convert", f"{zarr}/flat", f"{back}/copy", "--no-progress", *so]) == 0
    with h5py.File(back, "r") as g:
        np.testing.assert_array_equal(g["copy"][:], data)

    # a damaged chunk object is found and named by its URL; exit status 1
    s3.boto().put_object(Bucket="tools", Key="cli/out.zarr/flat/3.0.0", Body=b"garbage")
    capsys.readouterr()
    assert main(["verify", f"{zarr}/flat", *so]) == 1
    assert "s3://tools/cli/out.zarr/flat/3.0.0" in capsys.readouterr().out

    # errors name the URL and exit with 1, no traceback
    assert main(["info", "s3://tools/cli/missing.n5/raw", *so]) == 1
    assert "s3://tools/cli/missing.n5" in capsys.readouterr().err
    assert main(["info", f"{n5}/raw", "-S", "no-equals-sign"]) == 1
    assert "KEY=VALUE" in capsys.readouterr().err


def test_cli_takes_the_endpoint_from_the_environment(s3):
    f = z5py.File("s3://tools/env/c.zarr", "w", storage_options={"endpoint": s3.endpoint})
    f.create_dataset("d", data=_volume((8, 9)), chunks=(4, 4))
    env = {**os.environ, "AWS_ENDPOINT_URL": s3.endpoint, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "z5py", "info", "s3://tools/env/c.zarr/d"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "shape:        (8, 9)" in proc.stdout


@pytest.mark.parametrize("zarr_format", [None, 3])
def test_converters_hdf5_to_bucket_and_back(s3, tmp_path, zarr_format):
    data = _volume()
    h5 = _h5(tmp_path, data)
    so = {"endpoint": s3.endpoint}
    url = f"s3://tools/conv/v{zarr_format}.zarr" if zarr_format else "s3://tools/conv/v.n5"
    extra = {"zarr_format": zarr_format} if zarr_format else {}
    result = convert_from_h5(
        str(h5), url, "grp/raw", "a/raw", (10, 15, 20), 2, storage_options=so, **extra
    )
    assert result.blocks_copied == result.blocks_total > 0
    ds = z5py.File(url, "r", storage_options=so)["a/raw"]
    assert ds.zarr_format == zarr_format and ds.chunks == (10, 15, 20)
    assert ds.attrs["resolution"] == [1.0, 2.0, 2.0]
    np.testing.assert_array_equal(ds[:], data)
    # a second run resumes: everything is there already
    again = convert_from_h5(
        str(h5), url, "grp/raw", "a/raw", (10, 15, 20), 2, storage_options=so, **extra
    )
    assert again.blocks_skipped == again.blocks_total

    out = tmp_path / "back.h5"
    convert_to_h5(url, str(out), "a/raw", "raw", (5, 5, 5), 2, storage_options=so)
    with h5py.File(out, "r") as g:
        np.testing.assert_array_equal(g["raw"][:], data)
        assert list(g["raw"].attrs["resolution"]) == [1.0, 2.0, 2.0]


def test_rechunk_between_local_disk_and_a_bucket(s3, tmp_path):
    data = _volume((30, 31, 32), "float32")
    local = z5py.File(tmp_path / "in.n5", "w")
    local.create_dataset("raw", data=data, chunks=(10, 10, 10))
    so = {"endpoint": s3.endpoint}
    url = "s3://tools/rechunk/out.zarr"
    # local -> bucket (the options apply to the URL only)
    r = util.rechunk(
        str(tmp_path / "in.n5"), url, "raw", "raw", (16, 16, 16), 2, storage_options=so
    )
    assert r.blocks_copied > 0
    remote = z5py.File(url, "r", storage_options=so)["raw"]
    assert remote.chunks == (16, 16, 16) and remote.is_zarr
    np.testing.assert_array_equal(remote[:], data)
    # bucket -> local, new chunks and dtype
    util.rechunk(
        url,
        str(tmp_path / "back.zarr"),
        "raw",
        "raw",
        (5, 31, 32),
        2,
        dtype="float64",
        storage_options=so,
    )
    back = z5py.File(tmp_path / "back.zarr", "r")["raw"]
    assert back.chunks == (5, 31, 32) and back.dtype == np.float64
    np.testing.assert_array_equal(back[:], data.astype("float64"))
    # bucket -> bucket, onto itself refused
    with pytest.raises(ValueError, match="onto itself"):
        util.rechunk(url, url + "/", "raw", "raw", (8, 8, 8), 1, storage_options=so)


def test_dask_bucket_dataset_travels_to_worker_processes(s3, monkeypatch):
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    import z5py.dask as z5dask

    so = {"endpoint": s3.endpoint}
    data = _volume((32, 40), "int32")
    f = z5py.File("s3://tools/dask/c.n5", "w", storage_options=so)
    ds = f.create_dataset("raw", data=data, chunks=(8, 10))
    # The workers see a dead endpoint in their environment: only the storage_options that
    # travel with the dataset can lead them to the server.
    monkeypatch.setenv("AWS_ENDPOINT_URL", _dead_endpoint())
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, silence_logs=40
    )
    client = distributed.Client(cluster)
    try:
        arr = z5dask.to_dask(ds)
        assert int(arr.sum().compute(scheduler=client)) == int(data.sum())
        pids = client.run(os.getpid)
        assert os.getpid() not in pids.values()  # (the reads happened in other processes)
        # and back into the bucket from the workers, then rechunked there by the cluster
        out = z5dask.from_dask(
            da.from_array(data * 2, chunks=(16, 20)),
            "s3://tools/dask/out.zarr",
            "twice",
            client=client,
            storage_options=so,
        )
        np.testing.assert_array_equal(out[:], data * 2)
        r = util.rechunk(
            "s3://tools/dask/out.zarr",
            "s3://tools/dask/out.zarr",
            "twice",
            "flat",
            (4, 40),
            1,
            client=client,
            storage_options=so,
        )
        assert r.blocks_copied == r.blocks_total > 0
    finally:
        client.close()
        cluster.close()
    flat = z5py.File("s3://tools/dask/out.zarr", "r", storage_options=so)["flat"]
    np.testing.assert_array_equal(flat[:], data * 2)
