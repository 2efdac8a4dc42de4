"""Tests of z5py.util: blocking, Timer, rechunk (incl. resume) and the test-data fetchers."""

from __future__ import annotations

import io
import itertools
import os
import struct
import time
import zipfile

import numpy as np
import pytest
import z5py
from z5py import jobs, sample_data, tiff, util
from z5py.blocks import n_blocks
from z5py.util import DownloadError, JobResult, Timer, blocking, rechunk

# --------------------------------------------------------------------------------------
# blocking
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "block"),
    [((10,), (3,)), ((7, 9), (2, 4)), ((5, 6, 7), (5, 6, 7)), ((13, 1, 8), (4, 4, 3))],
)
def test_blocking_covers_array_exactly_once(shape, block):
    counts = np.zeros(shape, dtype=int)
    blocks = list(blocking(shape, block))
    for bb in blocks:
        assert isinstance(bb, tuple)
        assert all(isinstance(s, slice) and s.step is None for s in bb)
        assert all(isinstance(s.start, int) and isinstance(s.stop, int) for s in bb)
        # aligned to the block grid and never larger than one block
        assert all(s.start % b == 0 and 0 < s.stop - s.start <= b for s, b in zip(bb, block))
        counts[bb] += 1
    assert (counts == 1).all()
    assert len(blocks) == n_blocks(shape, block)


def test_blocking_c_order():
    starts = [tuple(s.start for s in bb) for bb in blocking((4, 4), (2, 2))]
    assert starts == [(0, 0), (0, 2), (2, 0), (2, 2)]


def test_blocking_roi():
    roi = (slice(3, 9), slice(0, 5))
    counts = np.zeros((10, 10), dtype=int)
    for bb in blocking((10, 10), (4, 4), roi=roi):
        counts[bb] += 1
    expected = np.zeros((10, 10), dtype=int)
    expected[roi] = 1
    assert (counts == expected).all()


def test_blocking_is_lazy_for_huge_shapes():
    gen = blocking((10**15,), (1,))
    assert next(gen) == (slice(0, 1),)
    assert next(gen) == (slice(1, 2),)


def test_blocking_empty_and_errors():
    assert list(blocking((0, 5), (2, 2))) == []
    with pytest.raises(ValueError):
        list(blocking((4, 4), (2,)))
    with pytest.raises(ValueError):
        list(blocking((4, 4), (0, 2)))


# --------------------------------------------------------------------------------------
# Timer
# --------------------------------------------------------------------------------------


def test_timer_start_stop():
    t = Timer()
    with pytest.raises(RuntimeError):
        _ = t.elapsed
    with pytest.raises(RuntimeError):
        t.stop()
    t.start()
    assert t.running
    time.sleep(0.01)
    assert t.elapsed > 0
    e = t.stop()
    assert not t.running
    assert e >= 0.01
    assert t.elapsed == e


def test_timer_context_manager():
    with Timer() as t:
        time.sleep(0.01)
    assert t.elapsed >= 0.01
    assert "stopped" in repr(t)


def test_job_result_summary():
    r = JobResult(10, 4, 6, 6_000_000, 2.0)
    assert r.resumed
    assert r.mb_per_s == pytest.approx(3.0)
    assert "skipped 4" in r.summary()
    assert not JobResult(1, 0, 1, 0, 0.0).resumed


# --------------------------------------------------------------------------------------
# rechunk
# --------------------------------------------------------------------------------------


def _make(path, key, data, chunks, **kw):
    f = z5py.File(str(path), mode="a")
    ds = f.create_dataset(key, data=data, chunks=chunks, **kw)
    return ds


@pytest.fixture
def volume():
    rng = np.random.default_rng(42)
    return rng.integers(0, 200, size=(23, 37, 41)).astype("uint16")


@pytest.mark.parametrize("out_ext", [".n5", ".zarr"])
def test_rechunk_roundtrip(tmp_path, volume, out_ext):
    src = tmp_path / "in.n5"
    ds = _make(src, "raw", volume, (8, 8, 8), compression="gzip", level=3)
    ds.attrs["resolution"] = [1.0, 2.0, 3.0]
    ds.attrs["meta"] = {"a": 1}
    out = tmp_path / f"out{out_ext}"
    res = rechunk(str(src), str(out), "raw", "g/raw", (5, 10, 20), 2)
    assert res.blocks_copied == res.blocks_total > 0
    assert res.blocks_skipped == 0
    ds2 = z5py.File(str(out), mode="r")["g/raw"]
    assert ds2.chunks == (5, 10, 20)
    assert ds2.dtype == volume.dtype
    assert ds2.is_zarr == (out_ext == ".zarr")
    np.testing.assert_array_equal(ds2[:], volume)
    # same compression as the input when none is given
    assert ds2.compression_options["compression"] == "gzip"
    assert ds2.compression_options.get("level") == 3
    assert dict(ds2.attrs) == {"resolution": [1.0, 2.0, 3.0], "meta": {"a": 1}}


def test_rechunk_dtype_and_compression(tmp_path, volume):
    src = tmp_path / "in.n5"
    _make(src, "raw", volume, (8, 8, 8))
    rechunk(str(src), str(src), "raw", "f32", (16, 16, 16), 1, dtype="float32", compression="raw")
    ds = z5py.File(str(src), mode="r")["f32"]
    assert ds.dtype == np.float32
    assert ds.compression_options["compression"] == "raw"
    np.testing.assert_array_equal(ds[:], volume.astype("float32"))
    # only options given: keep the codec, change the level
    rechunk(str(src), str(src), "raw", "lvl", (8, 8, 8), 1, level=1)
    opts = z5py.File(str(src), mode="r")["lvl"].compression_options
    assert opts["compression"] == "gzip"
    assert opts["level"] == 1


def test_rechunk_use_zarr_format_keeps_input_format(tmp_path, volume):
    src = tmp_path / "in.zarr"
    _make(src, "raw", volume, (8, 8, 8))
    out = tmp_path / "plain_out"  # no extension: keep the input's format
    rechunk(str(src), str(out), "raw", "raw", (8, 16, 16), 1)
    f = z5py.File(str(out), mode="r")
    assert f.is_zarr
    np.testing.assert_array_equal(f["raw"][:], volume)


def test_rechunk_out_blocks(tmp_path, volume):
    src = tmp_path / "in.n5"
    _make(src, "raw", volume, (8, 8, 8))
    with pytest.raises(ValueError, match="multiple"):
        rechunk(str(src), str(src), "raw", "x", (4, 4, 4), 1, out_blocks=(6, 8, 8))
    res = rechunk(str(src), str(src), "raw", "y", (4, 4, 4), 2, out_blocks=(8, 12, 16))
    assert res.blocks_total == 3 * 4 * 3
    np.testing.assert_array_equal(z5py.File(str(src), mode="r")["y"][:], volume)


def test_rechunk_onto_itself_is_refused(tmp_path, volume):
    src = tmp_path / "in.n5"
    _make(src, "raw", volume, (8, 8, 8))
    with pytest.raises(ValueError):
        rechunk(str(src), str(src), "raw", "raw", (4, 4, 4), 1)


def test_rechunk_existing_mismatch(tmp_path, volume):
    src = tmp_path / "in.n5"
    _make(src, "raw", volume, (8, 8, 8))
    z5py.File(str(src), mode="a").create_dataset("other", shape=(3, 3, 3), dtype="uint8")
    with pytest.raises(ValueError, match="already exists"):
        rechunk(str(src), str(src), "raw", "other", (4, 4, 4), 1)


class _Stop(Exception):
    pass


def _stop_after(k):
    seen = []

    def cb(block):
        seen.append(block)
        if len(seen) >= k:
            raise _Stop

    return cb


def test_rechunk_interrupted_then_resumed(tmp_path, volume):
    src = tmp_path / "in.n5"
    _make(src, "raw", volume, (8, 8, 8))
    out = str(tmp_path / "out.n5")
    with pytest.raises(_Stop):
        rechunk(str(src), out, "raw", "raw", (8, 8, 8), 2, on_block=_stop_after(5))
    ds = z5py.File(out, mode="r")["raw"]
    stored = len(ds._handle.existing_chunks())
    assert 5 <= stored < ds.number_of_chunks
    res = rechunk(str(src), out, "raw", "raw", (8, 8, 8), 2)
    assert res.blocks_skipped >= 5
    assert res.blocks_skipped + res.blocks_copied == res.blocks_total
    assert "resumed" in res.summary()
    np.testing.assert_array_equal(z5py.File(out, mode="r")["raw"][:], volume)
    # a third run has nothing left to do
    again = rechunk(str(src), out, "raw", "raw", (8, 8, 8), 2)
    assert again.blocks_copied == 0
    assert again.blocks_skipped == again.blocks_total
    # resume=False rewrites everything
    full = rechunk(str(src), out, "raw", "raw", (8, 8, 8), 2, resume=False)
    assert full.blocks_copied == full.blocks_total


def test_rechunk_failing_writer_then_resume(tmp_path, volume, monkeypatch):
    """A failure inside a worker thread stops the job; a re-run completes it."""
    src = tmp_path / "in.n5"
    _make(src, "raw", volume, (8, 8, 8))
    out = str(tmp_path / "out.zarr")
    calls = itertools.count()
    original = jobs.Z5Writer.write

    def flaky(self, block, data):
        if next(calls) >= 4:
            raise OSError("disk full (simulated)")
        return original(self, block, data)

    monkeypatch.setattr(jobs.Z5Writer, "write", flaky)
    with pytest.raises(OSError, match="simulated"):
        rechunk(str(src), out, "raw", "raw", (8, 8, 8), 1)
    monkeypatch.setattr(jobs.Z5Writer, "write", original)
    res = rechunk(str(src), out, "raw", "raw", (8, 8, 8), 1)
    assert res.blocks_skipped >= 4
    np.testing.assert_array_equal(z5py.File(out, mode="r")["raw"][:], volume)


def test_rechunk_progress_bar(tmp_path, volume, capsys):
    src = tmp_path / "in.n5"
    _make(src, "raw", volume, (8, 8, 8))
    rechunk(str(src), str(src), "raw", "p", (16, 16, 16), 1, progress=True)
    err = capsys.readouterr().err
    assert "block" in err
    rechunk(str(src), str(src), "raw", "q", (16, 16, 16), 1)
    assert capsys.readouterr().err == ""


def test_rechunk_sparse_input(tmp_path):
    """Chunks that hold only the fill value are not stored, and read back as zeros."""
    src = tmp_path / "in.zarr"
    f = z5py.File(str(src), mode="a")
    ds = f.create_dataset("s", shape=(32, 32), chunks=(8, 8), dtype="float64")
    ds[0:8, 0:8] = 1.5
    rechunk(str(src), str(src), "s", "t", (8, 8), 1)
    out = f["t"]
    assert len(out._handle.existing_chunks()) == 1
    expected = np.zeros((32, 32))
    expected[:8, :8] = 1.5
    np.testing.assert_array_equal(out[:], expected)


# --------------------------------------------------------------------------------------
# test data
# --------------------------------------------------------------------------------------


def _tiff_bytes(stack: np.ndarray, one_ifd_imagej: bool = False) -> bytes:
    """A minimal little-endian, uncompressed multi-page TIFF of a uint16 stack."""
    n, h, w = stack.shape
    data = stack.astype("<u2").tobytes()
    page = h * w * 2
    out = bytearray(b"II" + struct.pack("<HI", 42, 8))
    data_start = 8
    pages_ifd = 1 if one_ifd_imagej else n
    desc = f"ImageJ=1.0\nimages={n}\n".encode() + b"\0"
    # layout: header, image data, description, IFDs
    out += data
    desc_off = len(out)
    out += desc
    ifd_offsets = []
    for i in range(pages_ifd):
        ifd_offsets.append(len(out))
        entries = [
            (256, 4, 1, w),
            (257, 4, 1, h),
            (258, 3, 1, 16),
            (259, 3, 1, 1),
            (270, 2, len(desc), desc_off),
            (273, 4, 1, data_start + i * page),
            (277, 3, 1, 1),
            (279, 4, 1, page),
        ]
        out += struct.pack("<H", len(entries))
        for tag, typ, count, value in entries:
            if typ == 3:
                out += struct.pack("<HHIHH", tag, typ, count, value, 0)
            else:
                out += struct.pack("<HHII", tag, typ, count, value)
        out += struct.pack("<I", 0)  # patched below
    for i, off in enumerate(ifd_offsets):
        nxt = ifd_offsets[i + 1] if i + 1 < len(ifd_offsets) else 0
        end = off + 2 + 12 * 8
        out[end : end + 4] = struct.pack("<I", nxt)
    out[4:8] = struct.pack("<I", ifd_offsets[0])
    return bytes(out)


@pytest.mark.parametrize("one_ifd", [False, True])
def test_read_tiff_stack(one_ifd):
    stack = np.arange(3 * 4 * 5, dtype="uint16").reshape(3, 4, 5) * 300
    got = tiff.read_tiff_stack(_tiff_bytes(stack, one_ifd))
    np.testing.assert_array_equal(got, stack)


def test_fetch_test_data_from_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("Z5PY_CACHE", str(tmp_path))
    # never touch the network in tests
    monkeypatch.setattr(sample_data, "T1_HEAD_URL", "http://127.0.0.1:1/none.zip")
    stack = (np.arange(2 * 6 * 7, dtype="uint16").reshape(2, 6, 7) * 100) % 4000
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("JeffT1_le.tif", _tiff_bytes(stack))
    (tmp_path / "t1-head-raw.zip").write_bytes(buf.getvalue())
    data = util.fetch_test_data()
    assert data.dtype == np.uint8
    assert data.shape == stack.shape
    assert data.max() == 255
    np.testing.assert_array_equal(data, (stack / stack.max() * 255).astype("uint8"))


def test_fetch_test_data_stent_from_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("Z5PY_CACHE", str(tmp_path))
    monkeypatch.setattr(sample_data, "STENT_URL", "http://127.0.0.1:1/none.npz")
    vol = np.arange(4 * 5 * 6, dtype="int16").reshape(4, 5, 6)
    np.savez(tmp_path / "stent.npz", vol)
    data = util.fetch_test_data_stent()
    assert data.dtype == np.uint8
    np.testing.assert_array_equal(data, (vol / vol.max() * 255).astype("uint8"))


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/t1-head-raw.zip", "nope://x"])
def test_fetch_test_data_offline(tmp_path, monkeypatch, url):
    monkeypatch.setenv("Z5PY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sample_data, "T1_HEAD_URL", url)
    with pytest.raises(DownloadError) as info:
        util.fetch_test_data()
    msg = str(info.value)
    assert url in msg
    assert "offline" in msg
    assert isinstance(info.value, OSError)
    assert isinstance(info.value, z5py.Z5Error)
    # nothing half-written is left in the cache
    assert not (tmp_path / "cache" / "t1-head-raw.zip").exists()


def test_fetch_test_data_no_network(tmp_path, monkeypatch):
    """A machine without network: urlopen fails with URLError (as for a DNS failure)."""
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv("Z5PY_CACHE", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DownloadError, match="offline") as info:
        util.fetch_test_data()
    assert util.T1_HEAD_URL in str(info.value)
    assert "name resolution" in str(info.value)


def test_fetch_stent_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("Z5PY_CACHE", str(tmp_path))
    monkeypatch.setattr(sample_data, "STENT_URL", "http://127.0.0.1:1/stent.npz")
    with pytest.raises(DownloadError, match="127.0.0.1:1"):
        util.fetch_test_data_stent()


def test_download_into_cache(tmp_path, monkeypatch):
    """The download path itself, fed from a local file:// URL."""
    src = tmp_path / "remote.npz"
    vol = np.full((2, 2, 2), 7, dtype="uint8")
    np.savez(src, vol)
    monkeypatch.setenv("Z5PY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sample_data, "STENT_URL", src.as_uri())
    data = util.fetch_test_data_stent()
    np.testing.assert_array_equal(data, vol)
    assert (tmp_path / "cache" / "stent.npz").is_file()
    # second call is served from the cache even if the source vanished
    os.remove(src)
    np.testing.assert_array_equal(util.fetch_test_data_stent(), vol)


def test_cache_dir_default(monkeypatch, tmp_path):
    monkeypatch.delenv("Z5PY_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert util.cache_dir() == tmp_path / "z5py"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert str(util.cache_dir()).endswith(os.path.join(".cache", "z5py"))


def test_rechunk_into_sharded_zarr3(tmp_path, volume):
    src = tmp_path / "in.n5"
    _make(src, "raw", volume, (8, 8, 8))
    out = str(tmp_path / "v3.zarr")
    with pytest.raises(ValueError, match="shard"):
        rechunk(str(src), out, "raw", "bad", (4, 4, 4), 2, out_blocks=(4, 4, 4),
                shards=(8, 8, 8), zarr_format=3)  # fmt: skip
    res = rechunk(str(src), out, "raw", "raw", (4, 4, 4), 2, shards=(8, 8, 8), zarr_format=3)
    f = z5py.File(out, mode="r")
    assert "bad" not in f  # the invalid request created nothing
    assert f.zarr_format == 3
    ds = f["raw"]
    assert ds.shards == (8, 8, 8)
    assert ds.chunks == (4, 4, 4)
    np.testing.assert_array_equal(ds[:], volume)
    # every copy block is a whole number of shards
    assert res.blocks_total <= n_blocks(volume.shape, (8, 8, 8))
    again = rechunk(str(src), out, "raw", "raw", (4, 4, 4), 2, shards=(8, 8, 8))
    assert again.blocks_skipped == again.blocks_total
