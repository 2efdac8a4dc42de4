"""Benchmark rows for the data types and numcodecs filters (issue 14).

Rows: a delta-filtered uint64 segmentation (Zarr v2 ``filters=[Delta("<u8")]`` with zlib 1
and with blosc lz4), written and read whole by z5py and by zarr-python 3 (numcodecs does
the filter and the compressor there), a ``|S16`` fixed-length label array, and
variable-length string labels (``--vlen`` short strings, default 10^6, in 1-d chunks of
65536: Zarr v2 ``|O`` with ``vlen-utf8`` and zstd; numcodecs' vlen-utf8 is the peer), and
the same labels as a sharded Zarr v3 ``string`` array (8 inner chunks per shard).  Each
library runs the same operation in turn (interleaved), the median of ``--reps`` runs is
reported with its CPU time (user+sys of the process, all threads), and every read is
checked against the data.

    python benches/bench_types.py [--reps 5] [--shape 64,256,256] [--threads 1,2] [--vlen N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings

import numcodecs
import numpy as np

warnings.filterwarnings("ignore")


def segmentation(shape, seed=0) -> np.ndarray:
    """Blocky uint64 labels (supervoxel-like runs), ids spread over 40 bits."""
    rng = np.random.default_rng(seed)
    coarse = [max(1, s // 8) for s in shape]
    ids = rng.integers(1, 2**40, size=coarse, dtype=np.uint64)
    out = ids
    for axis, s in enumerate(shape):
        out = np.repeat(out, 8, axis=axis)
        out = np.take(out, np.arange(s), axis=axis, mode="clip")
    return np.ascontiguousarray(out[tuple(slice(0, s) for s in shape)])


def labels(shape, seed=1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    names = np.array([f"cell_{i:05d}".encode() for i in range(2000)], dtype="S16")
    return names[rng.integers(0, len(names), size=shape)]


def vlen_labels(n, seed=2) -> np.ndarray:
    """``n`` short variable-length labels (3-14 characters) as an object array of str."""
    rng = np.random.default_rng(seed)
    names = [f"c{i}_" + "x" * (i % 10) for i in range(5000)]
    out = np.empty(n, dtype=object)
    out[:] = [names[i] for i in rng.integers(0, len(names), size=n)]
    return out


def same(got, data) -> bool:
    if data.dtype == object:
        return np.asarray(got).tolist() == data.tolist()
    return np.array_equal(got, data)


def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - w0, time.process_time() - c0, result


class Z5:
    name = "z5py"

    def __init__(self, threads):
        import z5py

        self.z5py = z5py
        self.threads = threads

    def write(self, path, data, filters, compression, opts, shards=None):
        v3 = {"zarr_format": 3} if shards else {}
        f = self.z5py.File(path, "w", use_zarr_format=True, **v3)
        ds = f.create_dataset(
            "d",
            shape=data.shape,
            dtype=str if data.dtype == object else data.dtype,
            chunks=chunks_for(data),
            shards=shards,
            compression=compression,
            filters=filters,
            n_threads=self.threads,
            **opts,
        )
        ds[...] = data

    def read(self, path):
        ds = self.z5py.File(path, "r")["d"]
        ds.n_threads = self.threads
        return ds[...]


class Zarr:
    name = "zarr-python"

    def __init__(self, threads):
        import zarr

        self.zarr = zarr
        zarr.config.set({"threading.max_workers": threads})

    def write(self, path, data, filters, compression, opts, shards=None):
        compressor = {
            "zstd": lambda: numcodecs.Zstd(level=opts.get("level", 1)),
            "zlib": lambda: numcodecs.Zlib(level=opts.get("level", 1)),
            "blosc": lambda: numcodecs.Blosc(cname=opts.get("codec", "lz4"), clevel=5, shuffle=1),
            "raw": lambda: None,
        }[compression]()
        if shards:  # Zarr v3: the codec as zarr-python 3 spells it
            compressor = {"zstd": lambda: self.zarr.codecs.ZstdCodec(level=opts.get("level", 1))}[
                compression
            ]()
        g = self.zarr.open_group(path, mode="w", zarr_format=3 if shards else 2)
        a = g.create_array(
            "d",
            shape=data.shape,
            dtype=str if data.dtype == object else data.dtype,
            chunks=chunks_for(data),
            shards=shards,
            filters="auto" if filters is None and data.dtype == object else filters,
            compressors=compressor,
        )
        a[...] = data

    def read(self, path):
        return self.zarr.open_group(path, mode="r")["d"][...]


CHUNKS = (64, 64, 64)
#: chunk length of the 1-d variable-length row
VLEN_CHUNK = 65536


def chunks_for(data):
    return (VLEN_CHUNK,) if data.dtype == object else CHUNKS


def main(argv=None) -> int:
    global CHUNKS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--shape", default="64,256,256")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--vlen", type=int, default=10**6, help="items of the vlen-utf8 row")
    p.add_argument("--workdir", default=None)
    args = p.parse_args(argv)
    shape = tuple(int(s) for s in args.shape.split(","))
    CHUNKS = tuple(min(64, s) for s in shape)
    threads = [int(t) for t in args.threads.split(",")]
    seg = segmentation(shape)
    lab = labels(shape)
    rows = [
        ("seg u64 delta+zlib1", seg, [numcodecs.Delta("<u8")], "zlib", {"level": 1}),
        ("seg u64 delta+blosc-lz4", seg, [numcodecs.Delta("<u8")], "blosc", {"codec": "lz4"}),
        ("labels |S16 zlib1", lab, None, "zlib", {"level": 1}),
        (f"vlen-utf8 {args.vlen} zstd1", vlen_labels(args.vlen), None, "zstd", {"level": 1}),
    ]
    rows = [(*row, None) for row in rows]
    # the same labels in sharded Zarr v3 (8 inner chunks of VLEN_CHUNK per shard)
    rows.append(
        (
            f"vlen-utf8 {args.vlen} v3 sharded",
            rows[-1][1],
            None,
            "zstd",
            {"level": 1},
            (8 * VLEN_CHUNK,),
        )
    )
    work = args.workdir or tempfile.mkdtemp(prefix="z5py-bench-types-")
    print(f"shape {shape}, chunks {CHUNKS}, {args.reps} reps, median wall (cpu) ms")
    print(f"{'row':28} {'thr':>3} {'op':5} {'z5py':>16} {'zarr-python':>16} {'speedup':>8}")
    try:
        for label, data, filters, compression, opts, shards in rows:
            for t in threads:
                libs = [Z5(t), Zarr(t)]
                times = {(lib.name, op): [] for lib in libs for op in ("write", "read")}
                for _ in range(args.reps):
                    for lib in libs:
                        path = os.path.join(work, f"{lib.name}.zarr")
                        shutil.rmtree(path, ignore_errors=True)
                        args_ = (path, data, filters, compression, opts, shards)
                        w, c, _ = timed(lambda lib=lib, a=args_: lib.write(*a))
                        times[(lib.name, "write")].append((w, c))
                        w, c, got = timed(lambda lib=lib, path=path: lib.read(path))
                        if not same(got, data):
                            print(f"{lib.name} read back different data", file=sys.stderr)
                            return 1
                        times[(lib.name, "read")].append((w, c))
                for op in ("write", "read"):
                    cells = []
                    for lib in libs:
                        runs = times[(lib.name, op)]
                        wall = statistics.median(r[0] for r in runs)
                        cpu = statistics.median(r[1] for r in runs)
                        cells.append((wall, cpu))
                    speed = cells[1][0] / cells[0][0]
                    print(
                        f"{label:28} {t:>3} {op:5} "
                        + " ".join(f"{w * 1e3:7.1f} ({c * 1e3:6.1f})" for w, c in cells)
                        + f" {speed:7.2f}x"
                    )
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
