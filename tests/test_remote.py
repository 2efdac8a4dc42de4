"""Containers on object stores and web servers, through real servers on 127.0.0.1: moto's
S3 API server (signed requests, ranges, conditional puts) and a threaded http.server with
Range support. zarr-python (through its obstore-backed ObjectStore) and tensorstore (its s3 kvstore) read what we
write there and we read what they write."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pytest
import z5py
from remote_servers import http_server

pytest.importorskip("moto", reason="moto[server] (the S3 API server) is not installed")


#: the bucket of the ``s3`` fixture (conftest.py)
S3_BUCKET = "bucket"


FORMATS = [("n5", ".n5", None), ("zarr2", ".zarr", 2), ("zarr3", ".zarr", 3)]


def _data(shape=(40, 50), dtype="uint16"):
    return (np.arange(np.prod(shape)) % 4001).astype(dtype).reshape(shape)


@pytest.mark.parametrize("fmt,ext,zf", FORMATS)
def test_s3_roundtrip_groups_attrs_pickle(s3, fmt, ext, zf):
    url = f"s3://bucket/rt/{fmt}{ext}"
    so = s3.options()
    f = z5py.File(url, mode="w", zarr_format=zf, storage_options=so)
    a = _data()
    ds = f.create_dataset("g/raw", data=a, chunks=(16, 16), compression="gzip")
    ds.attrs["res"] = [4.0, 4.0]
    f.create_group("h")
    assert ds.path == f"{url}/g/raw"

    g = z5py.File(url, mode="r", storage_options=so)
    assert g.zarr_format == zf
    assert list(g) == ["g", "h"] and list(g["g"]) == ["raw"]
    r = g["g/raw"]
    np.testing.assert_array_equal(r[3:37, 5:44], a[3:37, 5:44])
    assert r.attrs["res"] == [4.0, 4.0]
    assert r.chunk_exists((0, 0))
    np.testing.assert_array_equal(r.read_chunk((1, 1)), a[16:32, 16:32])

    # a pickle carries the storage options and reopens on the server
    again = pickle.loads(pickle.dumps(r))
    np.testing.assert_array_equal(again[:], a)
    assert again.file.storage_options["endpoint"] == s3.endpoint

    # mode 'r' refuses every write
    with pytest.raises(z5py.ReadOnlyError):
        r[0, 0] = 1
    with pytest.raises(z5py.ReadOnlyError):
        g.create_group("x")
    with pytest.raises(z5py.ReadOnlyError):
        r.attrs["k"] = 1

    del f["h"]
    assert list(z5py.File(url, "r", storage_options=so)) == ["g"]
    # 'w' truncates the container and nothing else in the bucket
    z5py.File(url, mode="w", zarr_format=zf, storage_options=so)
    assert list(z5py.File(url, "r", storage_options=so)) == []


def test_s3_sharded_v3_partial_reads_and_writes(s3):
    url = "s3://bucket/shard/v.zarr"
    so = s3.options()
    f = z5py.ZarrFile(url, mode="w", zarr_format=3, storage_options=so)
    a = _data((64, 64), "float32")
    ds = f.create_dataset("s", data=a, chunks=(8, 8), shards=(32, 32), compression="zstd")
    ds[5:20, 40:63] = -1
    a[5:20, 40:63] = -1
    np.testing.assert_array_equal(z5py.File(url, "r", storage_options=so)["s"][:], a)
    np.testing.assert_array_equal(ds[17:45, 3:61], a[17:45, 3:61])


def test_s3_errors_name_the_url(s3):
    so = s3.options()
    with pytest.raises(FileNotFoundError) as e:
        z5py.File("s3://no-such-bucket/x.zarr", mode="r", storage_options=so)
    assert "s3://no-such-bucket/x.zarr" in str(e.value)
    with pytest.raises(z5py.Z5Error):
        z5py.File("s3://bucket/x.zarr", mode="r", storage_options={**so, "bogus_key": "1"})
    # a corrupt chunk body is a CorruptChunkError naming the chunk's URL
    f = z5py.File("s3://bucket/corrupt.zarr", mode="w", storage_options=so)
    f.create_dataset("d", data=_data((16, 16)), chunks=(8, 8), compression="gzip")
    s3.boto().put_object(Bucket="bucket", Key="corrupt.zarr/d/0.0", Body=b"garbage")
    with pytest.raises(z5py.CorruptChunkError) as e:
        f["d"][:]
    assert "s3://bucket/corrupt.zarr/d/0.0" in str(e.value)


def test_unreachable_endpoint_fails_fast_as_connection_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    so = {
        "endpoint": f"http://127.0.0.1:{port}",
        "access_key_id": "k",
        "secret_access_key": "s",
        "region": "us-east-1",
        "max_retries": 1,
        "connect_timeout": 1,
        "retry_timeout": 2,
    }
    t = time.monotonic()
    with pytest.raises(ConnectionError) as e:
        z5py.File("s3://bucket/x.zarr", mode="r", storage_options=so)
    assert time.monotonic() - t < 10
    assert isinstance(e.value, z5py.Z5Error)
    assert "s3://bucket/x.zarr" in str(e.value)


def test_memory_store_is_shared_by_name():
    f = z5py.File("memory://remote-test.zarr", mode="w", zarr_format=3)
    f.create_dataset("a", data=_data((10, 10)), chunks=(5, 5))
    g = z5py.File("memory://remote-test.zarr", mode="r")
    np.testing.assert_array_equal(g["a"][:], _data((10, 10)))


def test_http_read_only(tmp_path):
    a = _data((30, 30))
    for fmt, ext, zf in FORMATS:
        f = z5py.File(
            tmp_path / f"c{ext}{zf or ''}", mode="w", zarr_format=zf, use_zarr_format=fmt != "n5"
        )
        f.create_dataset("d", data=a, chunks=(8, 8))
    with http_server(str(tmp_path)) as srv:
        for fmt, ext, zf in FORMATS:
            url = f"{srv.url}/c{ext}{zf or ''}"
            d = z5py.File(url, mode="r")["d"]
            np.testing.assert_array_equal(d[2:29, 3:17], a[2:29, 3:17])
        with pytest.raises(z5py.Z5Error):
            z5py.File(f"{srv.url}/cx.zarr", mode="a")


def test_shard_indexes_are_remembered_and_never_stale(tmp_path):
    """Over HTTP a sharded dataset remembers each shard's index with the shard's ETag: a
    repeated partial read costs one request per shard; a shard rewritten meanwhile (by
    another writer) is refused by its ETag and read afresh, never through the old index."""
    a = _data((32, 32), "uint16")
    local = z5py.File(tmp_path / "s.zarr", mode="w", zarr_format=3)
    local.create_dataset("d", data=a, chunks=(4, 4), shards=(16, 16), compression="zstd")
    box = np.s_[3:13, 5:30]  # two shards, a few inner chunks of each
    with http_server(str(tmp_path)) as srv:
        d = z5py.File(f"{srv.url}/s.zarr", mode="r")["d"]
        counts = []
        for _ in range(3):
            srv.counter[0] = 0
            np.testing.assert_array_equal(d[box], a[box])
            counts.append(srv.counter[0])
        assert counts == [4, 2, 2], counts  # index + chunks per shard, then chunks only
        b = a * 3
        local["d"][:] = b
        srv.counter[0] = 0
        np.testing.assert_array_equal(d[box], b[box])
        assert srv.counter[0] == 6  # refused, index, chunks; per shard
        srv.counter[0] = 0
        np.testing.assert_array_equal(d[box], b[box])
        assert srv.counter[0] == 2


def test_shard_indexes_on_s3_follow_other_writers(s3):
    so = s3.options()
    url = "s3://bucket/remembered.zarr"
    a = _data((32, 32), "int32")
    f = z5py.File(url, mode="w", zarr_format=3, storage_options=so)
    f.create_dataset("d", data=a, chunks=(4, 4), shards=(16, 16))
    reader = z5py.File(url, mode="r", storage_options=so)["d"]
    box = np.s_[1:15, 2:31]
    np.testing.assert_array_equal(reader[box], a[box])
    for k in range(1, 4):
        writer = z5py.File(url, mode="a", storage_options=so)["d"]
        writer[0:16, 0:32] = a[0:16] + k  # rewrites both shards of the box
        np.testing.assert_array_equal(reader[box], (a + k)[box])


# --------------------------------------------------------------------------------------
# interoperability through the S3 server


@pytest.mark.parametrize("zf", [2, 3])
def test_zarr_python_reads_ours_and_we_read_theirs(s3, zf):
    zarr = pytest.importorskip("zarr")
    pytest.importorskip("obstore")
    so = s3.options()
    a = _data((40, 50), "int32")
    # ours -> zarr-python
    url = f"s3://bucket/interop/ours{zf}.zarr"
    f = z5py.File(url, mode="w", zarr_format=zf, storage_options=so)
    f.create_dataset("x", data=a, chunks=(16, 16), compression="zstd" if zf == 3 else "blosc")
    if zf == 3:
        f.create_dataset("s", data=a, chunks=(8, 8), shards=(16, 16), compression="gzip")
    store = s3.zarr_store("bucket", f"interop/ours{zf}.zarr", read_only=True)
    g = zarr.open_group(store, mode="r", zarr_format=zf)
    np.testing.assert_array_equal(g["x"][:], a)
    if zf == 3:
        np.testing.assert_array_equal(g["s"][:], a)
    # zarr-python -> ours
    url = f"s3://bucket/interop/theirs{zf}.zarr"
    store = s3.zarr_store("bucket", f"interop/theirs{zf}.zarr")
    g = zarr.open_group(store, mode="w", zarr_format=zf)
    g.create_array("y", data=a.astype("float64"), chunks=(16, 16))
    if zf == 3:
        g.create_array("s", data=a, chunks=(8, 8), shards=(16, 16))
    ours = z5py.File(url, mode="r", storage_options=so)
    np.testing.assert_array_equal(ours["y"][:], a.astype("float64"))
    if zf == 3:
        np.testing.assert_array_equal(ours["s"][7:33, 1:49], a[7:33, 1:49])


@pytest.mark.parametrize(
    "driver,fmt,ext,zf",
    [("n5", "n5", ".n5", None), ("zarr", "zarr2", ".zarr", 2), ("zarr3", "zarr3", ".zarr", 3)],
)
def test_tensorstore_reads_ours_and_we_read_theirs(s3, driver, fmt, ext, zf):
    ts = pytest.importorskip("tensorstore")
    so = s3.options()
    a = _data((40, 50), "uint16")
    # ours -> tensorstore
    url = f"s3://bucket/ts/ours-{fmt}{ext}"
    f = z5py.File(url, mode="w", zarr_format=zf, use_zarr_format=fmt != "n5", storage_options=so)
    f.create_dataset("x", data=a, chunks=(16, 16), compression="gzip")
    spec = {"driver": driver, "kvstore": s3.tensorstore_kvstore("bucket", f"ts/ours-{fmt}{ext}/x")}
    # (N5 lists dimensions fastest first: our (y, x) is tensorstore's (x, y))
    seen = a.T if driver == "n5" else a
    np.testing.assert_array_equal(ts.open(spec).result().read().result(), seen)
    # tensorstore -> ours
    path = f"ts/theirs-{fmt}{ext}"
    spec = {
        "driver": driver,
        "kvstore": s3.tensorstore_kvstore("bucket", f"{path}/y"),
        "metadata": {"shape": [40, 50], "dtype": "uint16"}
        if driver != "n5"
        else {
            "dimensions": [50, 40],
            "dataType": "uint16",
            "blockSize": [16, 16],
            "compression": {"type": "gzip"},
        },
        "create": True,
        "delete_existing": True,
    }
    if driver == "zarr":
        spec["metadata"].update(chunks=[16, 16], dtype="<u2")
    if driver == "zarr3":
        spec["metadata"].update(
            chunk_grid={"name": "regular", "configuration": {"chunk_shape": [16, 16]}},
            data_type="uint16",
        )
        spec["metadata"].pop("dtype")
    t = ts.open(spec).result()
    t.write(seen).result()
    # (tensorstore writes no root group: the container is found by its member's metadata)
    ours = z5py.File(
        f"s3://bucket/{path}", mode="r", use_zarr_format=fmt != "n5", storage_options=so
    )
    np.testing.assert_array_equal(ours["y"][:], a)


def test_consolidated_metadata_interop(s3):
    zarr = pytest.importorskip("zarr")
    pytest.importorskip("obstore")
    so = s3.options()
    for zf in (2, 3):
        url = f"s3://bucket/cons/c{zf}.zarr"
        f = z5py.File(url, mode="w", zarr_format=zf, storage_options=so)
        f.create_dataset("a/b", data=_data((8, 8)), chunks=(4, 4))
        f.attrs["top"] = 1
        assert z5py.consolidate_metadata(url, storage_options=so) == 3
        store = s3.zarr_store("bucket", f"cons/c{zf}.zarr", read_only=True)
        g = zarr.open_consolidated(store, zarr_format=zf, mode="r")
        assert g.attrs["top"] == 1
        np.testing.assert_array_equal(g["a/b"][:], _data((8, 8)))
        # theirs is read through its consolidated metadata: tests/test_consolidated.py
