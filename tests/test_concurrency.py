"""Concurrency: threads and processes writing disjoint chunk-aligned regions lose nothing,
multi-threaded region I/O equals numpy, and readers never see torn chunks.

Across processes "chunk-aligned" means aligned to the unit of storage: the chunk, or for a
sharded Zarr v3 dataset the shard (see docs/safety.md).  Within one process the engine
serialises updates of one file, so threads may even share chunks.
"""

from __future__ import annotations

import itertools
import multiprocessing
import random
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import z5py

SHAPE = (95, 87)  # edge chunks included
CHUNKS = (10, 10)
SHARDS = (20, 30)

# label -> (zarr_format, create_dataset keyword arguments, storage unit)
LAYOUTS = {
    "n5": (None, {"compression": "gzip"}, CHUNKS),
    "zarr2": (2, {"compression": "blosc"}, CHUNKS),
    "zarr3": (3, {"compression": "zstd"}, CHUNKS),
    "zarr3_sharded": (3, {"compression": "gzip", "shards": SHARDS}, SHARDS),
}


def make(root, label, name="x", dtype="u4"):
    zarr_format, kwargs, unit = LAYOUTS[label]
    path = root / (f"{label}.n5" if label == "n5" else f"{label}.zarr")
    f = z5py.File(path, mode="a", zarr_format=zarr_format)
    ds = f.create_dataset(name, shape=SHAPE, chunks=CHUNKS, dtype=dtype, **kwargs)
    return ds, unit


def expected_data(seed: int) -> np.ndarray:
    return (
        ((np.arange(np.prod(SHAPE), dtype=np.uint64) * 2654435761 + seed) % 2**32)
        .astype("u4")
        .reshape(SHAPE)
    )


def run_threads(targets, timeout=60.0):
    """Start one daemon thread per callable and wait for all; a hang becomes a failure."""
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    hung = sum(t.is_alive() for t in threads)
    assert not hung, f"{hung} thread(s) still running after {timeout} s: deadlock?"


def aligned_blocks(unit, rng: random.Random) -> list[tuple[slice, slice]]:
    """Disjoint blocks of 1-2 storage units per axis tiling SHAPE, in random order."""
    blocks = []
    grid = [range(0, s, u) for s, u in zip(SHAPE, unit)]
    used = set()
    for y, x in itertools.product(*grid):
        if (y, x) in used:
            continue
        h = unit[0] * rng.choice([1, 1, 2])
        w = unit[1] * rng.choice([1, 1, 2])
        cells = {
            (yy, xx)
            for yy in range(y, min(y + h, SHAPE[0]), unit[0])
            for xx in range(x, min(x + w, SHAPE[1]), unit[1])
        }
        if cells & used:
            h, w = unit
            cells = {(y, x)}
        used |= cells
        blocks.append((slice(y, y + h), slice(x, x + w)))
    rng.shuffle(blocks)
    return blocks


# ------------------------------------------------------------------------------------------
# threads


@pytest.mark.parametrize("label", list(LAYOUTS))
def test_threads_writing_disjoint_aligned_regions_lose_nothing(tmp_path, label):
    ds, unit = make(tmp_path, label)
    ds.n_threads = 2
    expected = expected_data(7)
    rng = random.Random(label)
    blocks = aligned_blocks(unit, rng)
    n_workers = 8
    barrier = threading.Barrier(n_workers)
    failures = []

    def work(k):
        try:
            # half the threads share one Dataset object, the others open their own
            target = ds if k % 2 else z5py.File(ds.file.path, mode="r+")[ds.name[1:]]
            barrier.wait()
            for box in blocks[k::n_workers]:  # neighbours are written by other threads
                target[box] = expected[box]
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    run_threads([lambda k=k: work(k) for k in range(n_workers)])
    assert not failures, failures
    np.testing.assert_array_equal(ds[...], expected)
    reopened = z5py.File(ds.file.path, mode="r")[ds.name[1:]]
    np.testing.assert_array_equal(reopened[...], expected)


def test_threads_writing_disjoint_inner_chunks_of_one_shard(tmp_path):
    ds, _ = make(tmp_path, "zarr3_sharded")
    for trial in range(5):  # any loss fails; without a lock nearly every trial loses chunks
        expected = expected_data(trial)
        boxes = [
            (slice(y, y + CHUNKS[0]), slice(x, x + CHUNKS[1]))
            for y, x in itertools.product(range(0, 20, 10), range(0, 30, 10))
        ]  # the six inner chunks of shard (0, 0)
        barrier = threading.Barrier(len(boxes))

        def work(box, expected=expected, barrier=barrier):
            barrier.wait()
            for _ in range(3):
                ds[box] = expected[box]

        run_threads([lambda box=box: work(box) for box in boxes])
        np.testing.assert_array_equal(ds[:20, :30], expected[:20, :30])


@pytest.mark.parametrize("label", list(LAYOUTS))
def test_threads_writing_disjoint_parts_of_shared_chunks_lose_nothing(tmp_path, label):
    """Within one process even unaligned writes sharing chunks are serialised per file.

    (Only unstrided selections: a strided write reads, modifies and writes back its whole
    bounding box in Python, which is not atomic; see docs/safety.md.)
    """
    ds, _ = make(tmp_path, label)
    columns = 6
    width = 7  # chunks are 10 wide: every chunk (and shard) is shared by 2-6 writers
    rows = 40

    def work(k):
        own = z5py.File(ds.file.path, mode="r+")[ds.name[1:]]
        for i in range(rows):
            own[i, k * width : (k + 1) * width] = i + 1

    run_threads([lambda k=k: work(k) for k in range(columns)])
    got = ds[:rows, : columns * width]
    expected = np.broadcast_to(np.arange(1, rows + 1, dtype="u4")[:, None], got.shape)
    lost = int((got != expected).sum())
    assert lost == 0, f"{lost} element writes lost"


@pytest.mark.parametrize("label", ["n5", "zarr2", "zarr3"])
def test_threads_setting_different_attributes_lose_nothing(tmp_path, label):
    ds, _ = make(tmp_path, label)
    n_threads, n_keys = 4, 40
    barrier = threading.Barrier(n_threads)

    def work(k):
        # separate AttributeManager objects (of the dataset and of a reopened handle)
        node = ds if k % 2 else z5py.File(ds.file.path, mode="r+")[ds.name[1:]]
        barrier.wait()
        for i in range(n_keys):
            node.attrs[f"t{k}_{i}"] = i
        node.attrs.update({f"u{k}": k})
        del node.attrs[f"t{k}_0"]

    run_threads([lambda k=k: work(k) for k in range(n_threads)])
    attrs = dict(ds.attrs)
    assert len(attrs) == n_threads * n_keys, sorted(set(attrs))[:10]
    assert all(attrs[f"u{k}"] == k and f"t{k}_0" not in attrs for k in range(n_threads))
    assert ds.shape == SHAPE  # N5 keeps its dataset keys in the same file
    np.testing.assert_array_equal(z5py.File(ds.file.path, mode="r")[ds.name[1:]][:2, :2], 0)


_DEADLOCK_PROBE = textwrap.dedent(
    """
    import os, sys, threading, time
    import z5py

    f = z5py.File(sys.argv[1], mode="w", zarr_format=3)
    ds = f.create_dataset(
        "s", shape=(40, 40), chunks=(5, 5), shards=(20, 20), dtype="u2", compression="gzip"
    )
    stop = time.monotonic() + 2

    def loop(region, value):
        own = f["s"]
        own.n_threads = 2
        while time.monotonic() < stop:
            own[region] = value

    # one thread writes a single shard (its inner chunks go to the pool while it holds the
    # shard's lock); the others write two shards each on the same pool
    regions = [(slice(0, 20), slice(0, 20))] + [(slice(0, 20), slice(0, 40))] * 3
    threads = [threading.Thread(target=loop, args=(r, k + 1), daemon=True)
               for k, r in enumerate(regions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, stop + 4 - time.monotonic()))
    print("hung" if any(t.is_alive() for t in threads) else "finished", flush=True)
    os._exit(0)
    """
)


def test_concurrent_multithreaded_shard_writes_do_not_deadlock(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", _DEADLOCK_PROBE, str(tmp_path / "d.zarr")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "finished"


@pytest.mark.parametrize("label", list(LAYOUTS))
@pytest.mark.parametrize("dtype", ["u1", "i8", "f4"])
def test_write_subarray_on_two_threads_equals_numpy(tmp_path, label, dtype):
    ds, _ = make(tmp_path, label, dtype=dtype)
    ds.n_threads = 2
    rng = np.random.default_rng(abs(hash((label, dtype))) % 2**32)
    mirror = np.zeros(SHAPE, dtype)
    for _ in range(6):
        start = [int(rng.integers(0, s // 3)) for s in SHAPE]
        stop = [int(rng.integers(s // 2, s + 1)) for s in SHAPE]
        shape = tuple(b - a for a, b in zip(start, stop))  # unaligned, many chunks
        data = (rng.standard_normal(shape) * 100).astype(dtype)
        ds.write_subarray(start, data)
        mirror[start[0] : stop[0], start[1] : stop[1]] = data
        np.testing.assert_array_equal(ds.read_subarray(start, stop), data)
        np.testing.assert_array_equal(ds[...], mirror)
    ds.n_threads = 1
    np.testing.assert_array_equal(ds[...], mirror)


@pytest.mark.parametrize("label", list(LAYOUTS))
def test_reading_while_another_thread_writes(tmp_path, label):
    """Readers see old or new chunks, never torn ones, and untouched regions unchanged."""
    ds, unit = make(tmp_path, label)
    static = expected_data(3)
    ds[...] = static
    # the writer owns the top-left block of 2x2 storage units; the reader also watches
    # the rest, which (for the sharded layout) shares shards with nothing the writer does
    hot = (slice(0, 2 * unit[0]), slice(0, 2 * unit[1]))
    n_writes = 60
    done = threading.Event()
    failures = []

    def writer():
        try:
            for v in range(1, n_writes + 1):
                ds[hot] = v
        except BaseException as error:  # noqa: BLE001
            failures.append(error)
        finally:
            done.set()

    reads = 0

    def reader():
        nonlocal reads
        own = z5py.File(ds.file.path, mode="r")[ds.name[1:]]
        own.n_threads = 2
        last: dict = {}
        try:
            while not done.is_set() or reads < 5:
                data = own[...]
                cold = data.copy()
                cold[hot] = static[hot]
                np.testing.assert_array_equal(cold, static)
                for y, x in itertools.product(
                    range(0, hot[0].stop, CHUNKS[0]), range(0, hot[1].stop, CHUNKS[1])
                ):
                    box = (slice(y, y + CHUNKS[0]), slice(x, x + CHUNKS[1]))
                    if (data[box] == static[box]).all():
                        value = 0  # not written yet
                    else:
                        value = int(data[box].flat[0])
                        assert (data[box] == value).all(), f"torn chunk at {(y, x)}"
                        assert 1 <= value <= n_writes
                    assert value >= last.get((y, x), 0), "a chunk went back in time"
                    last[(y, x)] = value
                reads += 1
        except BaseException as error:  # noqa: BLE001
            failures.append(error)

    run_threads([writer, reader])
    assert not failures, failures
    assert reads >= 5
    final = static.copy()
    final[hot] = n_writes
    np.testing.assert_array_equal(ds[...], final)


# ------------------------------------------------------------------------------------------
# processes


def _write_blocks(task):
    """Worker: write ``blocks`` of the dataset at ``path``/``name`` with the expected data."""
    path, name, seed, blocks = task
    ds = z5py.File(path, mode="r+")[name]
    expected = expected_data(seed)
    for (y0, y1), (x0, x1) in blocks:
        ds[y0:y1, x0:x1] = expected[y0:y1, x0:x1]
    return len(blocks)


@pytest.fixture(scope="module")
def spawn():
    return multiprocessing.get_context("spawn")


def test_processes_writing_disjoint_aligned_regions_lose_nothing(tmp_path, spawn):
    tasks = []
    datasets = []
    for i, label in enumerate(LAYOUTS):
        ds, unit = make(tmp_path, label)
        blocks = [
            ((b[0].start, b[0].stop), (b[1].start, b[1].stop))
            for b in aligned_blocks(unit, random.Random(i))
        ]
        n_tasks = 6
        for k in range(n_tasks):  # interleaved: neighbouring blocks go to different workers
            tasks.append((ds.file.path, ds.name[1:], i, blocks[k::n_tasks]))
        datasets.append((ds, i))
    random.Random(0).shuffle(tasks)
    with spawn.Pool(3) as pool:
        written = pool.map(_write_blocks, tasks, chunksize=1)
    assert sum(written) == sum(len(t[3]) for t in tasks)
    for ds, seed in datasets:
        np.testing.assert_array_equal(ds[...], expected_data(seed))


def test_processes_writing_the_same_chunks_never_tear_them(tmp_path, spawn):
    """Two processes rewriting every chunk: per chunk the last writer wins, nothing torn;
    a reader in this process meanwhile only ever sees whole chunks."""
    values = (0x11111111, 0x22222222)
    dsets = [make(tmp_path, label)[0] for label in ("n5", "zarr2", "zarr3_sharded")]
    for ds in dsets:
        ds[...] = values[0]
    barrier = spawn.Barrier(2)
    procs = [
        spawn.Process(
            target=_hammer_all, args=([(d.file.path, d.name[1:]) for d in dsets], v, barrier)
        )
        for v in values
    ]
    for p in procs:
        p.start()
    reads = 0
    try:
        while any(p.is_alive() for p in procs) or reads == 0:
            for ds in dsets:
                _assert_whole_chunks(ds[...], values)
            reads += 1
    finally:
        for p in procs:
            p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    for ds in dsets:
        _assert_whole_chunks(ds[...], values)


def _hammer_all(specs, value, barrier):
    dsets = [z5py.File(path, mode="r+")[name] for path, name in specs]
    barrier.wait()
    for _ in range(8):
        for ds in dsets:
            ds[...] = value


def _assert_whole_chunks(data, values):
    for y, x in itertools.product(range(0, SHAPE[0], CHUNKS[0]), range(0, SHAPE[1], CHUNKS[1])):
        chunk = data[y : y + CHUNKS[0], x : x + CHUNKS[1]]
        assert (chunk == chunk.flat[0]).all(), f"torn chunk at {(y, x)}"
        assert chunk.flat[0] in values
