"""The I/O thread: with ``n_threads=1`` on a machine with a core to spare, calls that move
at least 1 MiB read chunk files ahead of the decoder and write them behind the encoder.

These tests use arrays large enough to take that path, check that it stores exactly the
bytes the single-threaded path stores, and that its errors and concurrent use behave like
the rest of the engine.  ``Z5PY_NO_IO_THREAD=1`` (read once per process) turns it off, so
the comparison runs in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import z5py
from z5py import errors

SHAPE = (64, 128, 128)  # 2 MiB of uint16
CHUNKS = (16, 32, 32)  # 32 KiB chunks, 64 of them

LAYOUTS = {
    "n5_gzip": (None, {"compression": "gzip"}),
    "n5_raw": (None, {"compression": "raw"}),
    "zarr2_raw": (2, {"compression": "raw"}),
    "zarr2_blosc": (2, {"compression": "blosc"}),
    "zarr3_zstd": (3, {"compression": "zstd"}),
    "zarr3_sharded": (3, {"compression": "raw", "shards": (32, 64, 64)}),
}

needs_two_cores = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2,
    reason="the I/O thread runs only when a core is free; this process may use one core",
)


def data() -> np.ndarray:
    n = int(np.prod(SHAPE))
    return ((np.arange(n, dtype=np.uint64) * 2654435761) % 65521).astype("u2").reshape(SHAPE)


def create(root: Path, label: str):
    zarr_format, kwargs = LAYOUTS[label]
    path = root / (f"{label}.n5" if zarr_format is None else f"{label}.zarr")
    f = z5py.File(path, mode="a", zarr_format=zarr_format)
    return f.create_dataset("d", shape=SHAPE, chunks=CHUNKS, dtype="u2", **kwargs)


def file_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


WRITE_WITHOUT_IO_THREAD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import z5py
    ds = z5py.File(sys.argv[1], mode="a")["d"]
    n = int(np.prod(ds.shape))
    ds.n_threads = 1
    ds[...] = ((np.arange(n, dtype=np.uint64) * 2654435761) % 65521).astype("u2").reshape(ds.shape)
    """
)


@needs_two_cores
@pytest.mark.parametrize("label", LAYOUTS)
def test_io_thread_writes_the_same_files_and_reads_them_back(tmp_path, label):
    expected = data()
    ours = create(tmp_path / "io", label)
    ours.n_threads = 1
    ours[...] = expected
    # the same dataset written with the I/O thread switched off, in another process
    plain = create(tmp_path / "plain", label)
    env = dict(os.environ, Z5PY_NO_IO_THREAD="1")
    subprocess.run(
        [sys.executable, "-c", WRITE_WITHOUT_IO_THREAD, str(Path(plain.path).parent)],
        check=True,
        env=env,
    )
    a, b = file_bytes(tmp_path / "io"), file_bytes(tmp_path / "plain")
    assert len(a) > 8 and a.keys() == b.keys()
    assert a == b
    np.testing.assert_array_equal(ours[...], expected)
    window = np.s_[3:61, 17:120, 5:127]
    np.testing.assert_array_equal(ours[window], expected[window])


@needs_two_cores
@pytest.mark.parametrize("label", ["n5_raw", "zarr2_blosc", "zarr3_sharded"])
def test_io_thread_reads_fill_missing_chunks_and_name_corrupt_ones(tmp_path, label):
    expected = data()
    ds = create(tmp_path, label)
    ds[...] = expected
    ds.n_threads = 1
    # a missing storage unit (the chunk, or the shard holding it) reads as the fill value
    unit = (32, 64, 64) if label == "zarr3_sharded" else CHUNKS
    os.remove(ds.chunk_path((2, 2, 2)))
    at = tuple((2 * c) // u * u for c, u in zip(CHUNKS, unit))
    expected_now = expected.copy()
    expected_now[tuple(slice(a, a + u) for a, u in zip(at, unit))] = 0
    np.testing.assert_array_equal(ds[...], expected_now)
    # a corrupt chunk fails the whole read with an error that names it
    bad = ds.chunk_path((0, 0, 0))
    Path(bad).write_bytes(b"\x00\x01garbage")
    with pytest.raises(errors.CorruptChunkError) as info:
        ds[...]
    assert str(bad) in str(info.value)


@needs_two_cores
def test_io_thread_write_failure_names_the_file_and_leaves_the_rest_whole(tmp_path):
    expected = data()
    ds = create(tmp_path, "n5_raw")
    ds.n_threads = 1
    # N5 stores chunk (z, y, x) at x/y/z: a plain file where the directory "3" must go
    blocker = Path(ds.path) / "3"
    blocker.write_bytes(b"in the way")
    with pytest.raises(OSError) as info:
        ds[...] = expected
    assert isinstance(info.value, errors.Z5Error)
    assert str(blocker) in str(info.value)
    # whatever was written is whole: every chunk present reads back exactly
    os.remove(blocker)
    got = ds[...]
    zs, ys, xs = (range(s // c) for s, c in zip(SHAPE, CHUNKS))
    written = 0
    for z in zs:
        for y in ys:
            for x in xs:
                sl = tuple(slice(i * c, (i + 1) * c) for i, c in zip((z, y, x), CHUNKS))
                if os.path.exists(ds.chunk_path((z, y, x))):
                    written += 1
                    np.testing.assert_array_equal(got[sl], expected[sl])
                else:
                    assert not got[sl].any()
    assert written > 0


@needs_two_cores
@pytest.mark.parametrize("label", ["zarr2_raw", "zarr3_sharded"])
def test_readers_see_whole_chunks_while_the_io_thread_writes(tmp_path, label):
    ds = create(tmp_path, label)
    ds.n_threads = 1
    reader = z5py.File(Path(ds.path).parent, mode="r")["d"]
    reader.n_threads = 1
    stop = threading.Event()
    failures: list[str] = []

    def write():
        for k in range(1, 9):
            ds[...] = np.full(SHAPE, k, dtype="u2")
        stop.set()

    def read():
        while not stop.is_set():
            got = reader[...]
            blocks = got.reshape(
                SHAPE[0] // CHUNKS[0],
                CHUNKS[0],
                SHAPE[1] // CHUNKS[1],
                CHUNKS[1],
                SHAPE[2] // CHUNKS[2],
                CHUNKS[2],
            )
            lo = blocks.min(axis=(1, 3, 5))
            hi = blocks.max(axis=(1, 3, 5))
            if (lo != hi).any():
                failures.append("a chunk mixed two writes")

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert not failures
    np.testing.assert_array_equal(reader[...], np.full(SHAPE, 8, dtype="u2"))


@needs_two_cores
@pytest.mark.parametrize("label", ["n5_raw", "zarr3_zstd", "zarr3_sharded"])
def test_reads_ahead_into_part_of_a_buffer_leave_the_rest_alone(tmp_path, label):
    """While the decoder is busy, the I/O thread faults in the pages of the destination ahead
    of it; that must touch no byte outside the destination, whether the destination is a
    window of a larger array or a file mapping."""
    expected = data()
    ds = create(tmp_path, label)
    ds[...] = expected
    ds.n_threads = 1
    window = np.s_[3:61, 17:120, 5:127]
    want = expected[window]
    # a window of a larger array that starts and ends mid-page
    big = np.full(want.size + 6007, 0xABCD, dtype="u2")
    out = big[1001 : 1001 + want.size].reshape(want.shape)
    ds.read_direct(out, window)
    np.testing.assert_array_equal(out, want)
    assert (big[:1001] == 0xABCD).all() and (big[1001 + want.size :] == 0xABCD).all()
    # a shared file mapping: the file ends up holding exactly the data
    mapped_path = tmp_path / "mapped.bin"
    mapped = np.memmap(mapped_path, dtype="u2", mode="w+", shape=SHAPE)
    ds.read_direct(mapped)
    mapped.flush()
    del mapped
    np.testing.assert_array_equal(np.fromfile(mapped_path, dtype="u2").reshape(SHAPE), expected)
