"""Crash safety: a writer killed with SIGKILL at random moments leaves only old or new files.

A writer subprocess rewrites every chunk of nine datasets (N5, Zarr v2, Zarr v3 with and
without sharding; several codecs; edge chunks) round after round, each round with its round
number as the value, through whole-array writes on two threads, chunk-aligned blocks and
``write_chunk``; it also rewrites attributes (for N5 inside the dataset metadata file) and
creates a new dataset per round.  It announces each round on stdout before writing it.

After every kill, every chunk must decode and be uniform (a torn chunk would not be),
its value must lie between the last fully written round and the last announced round, and
never go backwards; every metadata file must parse.  Temporary files left by the killed
writer must never be listed or read as chunks.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import z5py

SHAPE = (90, 100)  # not a multiple of the chunks: edge chunks included
CHUNKS = (16, 16)
SHARDS = (32, 32)
ROUNDS_KILLED = 8
TMP_PREFIX = ".z5tmp."
METADATA_NAMES = {"attributes.json", ".zarray", ".zattrs", ".zgroup", "zarr.json"}

# (container, zarr_format, dataset, create_dataset keyword arguments)
DATASETS = [
    ("c.n5", None, "gzip", {"compression": "gzip"}),
    ("c.n5", None, "raw", {"compression": "raw"}),
    ("c.n5", None, "blosc", {"compression": "blosc"}),
    ("c2.zarr", 2, "blosc", {"compression": "blosc"}),
    ("c2.zarr", 2, "zstd_nested", {"compression": "zstd", "dimension_separator": "/"}),
    ("c2.zarr", 2, "raw", {"compression": "raw"}),
    ("c3.zarr", 3, "sharded_gzip", {"compression": "gzip", "shards": SHARDS}),
    ("c3.zarr", 3, "sharded_blosc", {"compression": "blosc", "shards": SHARDS}),
    ("c3.zarr", 3, "zstd", {"compression": "zstd"}),
]

WRITER = textwrap.dedent(
    """
    import json, random, sys
    import numpy as np
    import z5py

    specs, start, stop, seed = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    files = {path: z5py.File(path, mode="r+") for path, _ in specs}
    dsets = [files[path][name] for path, name in specs]

    def chunk_grid(ds):
        return [range(n) for n in ds.chunks_per_dimension]

    def stored_shape(ds, idx):
        if ds.is_zarr:
            return ds.chunks
        return tuple(min(c, s - i * c) for i, c, s in zip(idx, ds.chunks, ds.shape))

    print("ready", flush=True)
    for r in range(start, stop):
        print(f"round {r}", flush=True)
        for ds in dsets:
            how = rng.choice(["whole", "blocks", "chunks"])
            if how == "whole":
                ds.n_threads = 2
                ds[...] = r
                ds.n_threads = 1
            elif how == "blocks":
                # chunk-aligned blocks of 1-3 chunks per axis, in random order, covering all
                (ny, nx), (cy, cx) = ds.chunks_per_dimension, ds.chunks
                blocks = []
                y = 0
                while y < ny:
                    h = rng.randint(1, 3)
                    x = 0
                    while x < nx:
                        w = rng.randint(1, 3)
                        blocks.append((y, h, x, w))
                        x += w
                    y += h
                rng.shuffle(blocks)
                for y, h, x, w in blocks:
                    ds[y * cy:(y + h) * cy, x * cx:(x + w) * cx] = np.full((1,), r, ds.dtype)
            else:
                idxs = [tuple(i) for i in __import__("itertools").product(*chunk_grid(ds))]
                rng.shuffle(idxs)
                for idx in idxs:
                    ds.write_chunk(idx, np.full(stored_shape(ds, idx), r, ds.dtype))
            ds.attrs["round"] = r
        for path, f in files.items():
            f.attrs.update(round=r, note="x" * (r % 50))
        f = files[specs[r % len(specs)][0]]
        f.create_dataset(f"r{r}", data=np.full((40, 40), r, "u2"), chunks=(8, 8))
    print("done", flush=True)
    """
)


def _setup(root: Path) -> list[tuple[str, str]]:
    specs = []
    for container, zarr_format, name, kwargs in DATASETS:
        path = root / container
        f = z5py.File(path, mode="a", zarr_format=zarr_format)
        f.create_dataset(name, shape=SHAPE, chunks=CHUNKS, dtype="u2", **kwargs)
        specs.append((str(path), name))
    return specs


def _plant_decoys(specs) -> None:
    """Files named like the store's temporaries, next to where chunks live, full of junk."""
    for path, name in specs:
        ds_dir = Path(path) / name
        for d in (ds_dir, ds_dir / "0", ds_dir / "c", ds_dir / "c" / "0"):
            d.mkdir(exist_ok=True)
            (d / f"{TMP_PREFIX}0.999999.0").write_bytes(b"\x00\x01garbage" * 50)
            (d / f"{TMP_PREFIX}0.0.999999.0").write_bytes(b"junk")


def _run_writer(specs, start, stop, seed, kill_after=None):
    """Run the writer; SIGKILL it ``kill_after`` seconds after it is ready.

    Returns the rounds it announced and whether it finished.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, json.dumps(specs), str(start), str(stop), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump():
        for line in proc.stdout:
            lines.append(line.strip())
            ready.set()
        ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        assert ready.wait(60), "writer did not start"
        if kill_after is not None:
            time.sleep(kill_after)
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    stderr = proc.stderr.read()
    proc.stderr.close()
    proc.stdout.close()
    if kill_after is None or proc.returncode != -signal.SIGKILL:
        assert proc.returncode == 0, stderr[-3000:]
    rounds = [int(line.split()[1]) for line in lines if line.startswith("round ")]
    return rounds, "done" in lines


def _chunk_boxes(ds):
    for idx in itertools.product(*(range(n) for n in ds.chunks_per_dimension)):
        yield idx, tuple(slice(i * c, (i + 1) * c) for i, c in zip(idx, ds.chunks))


def _check_metadata(root: Path) -> int:
    """Every metadata file below ``root`` parses; returns the number of temporary files."""
    temps = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            if name.startswith(TMP_PREFIX):
                temps += 1
            elif name in METADATA_NAMES:
                text = Path(dirpath, name).read_text()
                assert isinstance(json.loads(text), dict), Path(dirpath, name)
    return temps


def _visible_chunk_files(ds) -> set[str]:
    """Chunk files on disk below a dataset, ignoring metadata and temporaries."""
    out = set()
    for dirpath, _, filenames in os.walk(ds.path):
        for name in filenames:
            if not name.startswith(".") and name not in METADATA_NAMES:
                out.add(os.path.relpath(os.path.join(dirpath, name), ds.path))
    return out


def _check_state(specs, last: dict, low: int, high: int) -> dict[str, int]:
    """Check every dataset against the rounds: ``low`` <= chunk value <= ``high``,
    monotonic per chunk (``last``); returns a histogram of chunk values."""
    seen: dict[str, int] = {}
    roots = {path for path, _ in specs}
    for path, name in specs:
        f = z5py.File(path, mode="r")
        ds = f[name]
        data = ds[...]
        for idx, box in _chunk_boxes(ds):
            block = data[box]
            value = int(block.flat[0])
            assert np.all(block == value), f"torn chunk {idx} of {path}/{name}: {np.unique(block)}"
            key = f"{path}/{name}/{idx}"
            assert last.get(key, 0) <= value <= high, (key, last.get(key), value, high)
            assert value >= low, (key, value, low)
            last[key] = value
            seen[str(value)] = seen.get(str(value), 0) + 1
            stored = ds.read_chunk(idx)
            if stored is not None:  # Zarr edge chunks are padded: compare the inside only
                stored = stored[tuple(slice(0, n) for n in block.shape)]
            if value == 0:
                assert stored is None or not stored.any()
            else:
                assert stored is not None and np.all(stored == value)
        # every listed chunk is a real chunk index; temporaries are never listed
        listed = [tuple(i) for i in ds._handle.existing_chunks()]
        grid = ds.chunks_per_dimension
        assert all(len(i) == 2 and all(0 <= a < n for a, n in zip(i, grid)) for i in listed)
        files = _visible_chunk_files(ds)
        assert not any(TMP_PREFIX in p for p in files)
        if ds.shards is None:
            assert len(listed) == len(files), (sorted(listed), sorted(files))
        attr_key = f"{path}/{name}/attrs"
        attr_round = ds.attrs.get("round", 0)
        assert last.get(attr_key, 0) <= attr_round <= high, (attr_key, attr_round, high)
        last[attr_key] = attr_round
    for root in roots:
        f = z5py.File(root, mode="r")
        assert f.attrs.get("round", 0) <= high
        # datasets created by the rounds: absent, or present with only 0 or their round
        for member in f:
            if not (member.startswith("r") and member[1:].isdigit()):
                continue
            node = f[member]
            if isinstance(node, z5py.Dataset):
                r = int(member[1:])
                values = set(np.unique(node[...]).tolist())
                assert values <= {0, r}, (root, member, values)
    return seen


def test_sigkill_during_heavy_writes_leaves_old_or_new_chunks(tmp_path):
    seed = int(os.environ.get("Z5PY_CRASH_SEED", "20240607"))
    rng = random.Random(seed)
    specs = _setup(tmp_path)
    _plant_decoys(specs)
    last: dict = {}
    start = 1
    killed_mid_round = 0
    histories = []
    for _ in range(ROUNDS_KILLED):
        delay = rng.uniform(0.15, 1.2)
        rounds, finished = _run_writer(specs, start, start + 10_000, rng.randrange(2**31), delay)
        assert not finished
        high = rounds[-1] if rounds else start - 1
        # a round is complete once the next one was announced
        low = rounds[-2] if len(rounds) >= 2 else 0
        killed_mid_round += bool(rounds)
        seen = _check_state(specs, last, low, high)
        histories.append((delay, rounds[:1] + rounds[-1:], seen))
        _check_metadata(tmp_path)
        start = high + 1
    # the kills really hit the writer while it was writing
    assert killed_mid_round >= ROUNDS_KILLED // 2, histories
    assert start > ROUNDS_KILLED, histories
    temps = _check_metadata(tmp_path)
    # the container stays fully writable after the crashes, temporaries notwithstanding
    rounds, finished = _run_writer(specs, start, start + 1, seed)
    assert finished and rounds == [start]
    _check_state(specs, last, start, start)
    for path, name in specs:
        np.testing.assert_array_equal(z5py.File(path, mode="r")[name][...], start)
    assert temps >= 2 * len(specs)  # at least the decoys survive, untouched and ignored
