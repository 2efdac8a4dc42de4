"""A/B of two z5py builds by CPU time (user + sys of the process, all threads), for a
machine shared with other work, where wall time is noise.

    python benches/ab_cpu.py A_PYTHONPATH B_PYTHONPATH [--rounds 2] [--reps 3]

Each round runs one worker process per build (the order alternates between rounds); a
worker writes, reads, reads an unaligned region of and writes an unaligned region into
(128, 256, 256) uint8 in 64^3 chunks and (64, 128, 128) in 16^3 chunks, as N5, Zarr v2,
Zarr v3 and sharded Zarr v3 (shards of twice the chunk), raw and gzip level 1, on 1 and 2
threads, under the system's temporary directory (or $AB_DIR); the partial write is a
read-modify-write of every chunk it touches. It prints the median CPU and wall milliseconds
of each cell and the geometric mean of the CPU ratios B/A.

With --selections the cells are fancy selections instead (src/selection.rs): on a
(128, 256, 256) uint8 array in 32^3 chunks per format, raw, on 1 and 2 threads, an
orthogonal read and write of 100 sorted random indices per axis (`ds.oindex`), a strided
read (`ds[::2, ::2, ::2]`) and a point read and write of 200,000 random points
(`ds.vindex`).

With --shard-writes the cells are selection writes on sharded Zarr v3 only: a (256, 256,
256) uint8 array in shards of 128^3 holding 32^3 inner chunks, raw, on 1 and 2 threads: a
strided write (`ds[::2, ::2, ::2] = x`), an orthogonal write of 100 sorted random indices
per axis and a point write of 200,000 random points; each rewrites every shard it touches.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np


def _cpu() -> float:
    t = resource.getrusage(resource.RUSAGE_SELF)
    return t.ru_utime + t.ru_stime


def _measure(fn, reps: int) -> tuple[float, float]:
    cs, ws = [], []
    for _ in range(reps):
        c0, w0 = _cpu(), time.perf_counter()
        fn()
        cs.append(_cpu() - c0)
        ws.append(time.perf_counter() - w0)
    return float(np.median(cs)), float(np.median(ws))


def _cell(ds, data, sub, part, reps: int) -> dict:
    return {
        "write": _measure(lambda: ds.__setitem__(Ellipsis, data), reps),
        "read": _measure(lambda: ds[...], reps),
        "partial_read": _measure(lambda: ds[sub], reps),
        "partial_write": _measure(lambda: ds.__setitem__(sub, part), reps),
    }


def _selection_cells(ds, data, rng, reps: int) -> dict:
    axes = tuple(np.sort(rng.choice(n, 100, replace=False)) for n in data.shape)
    ortho = data[np.ix_(*axes)].copy()
    pts = tuple(rng.integers(0, n, 200_000) for n in data.shape)
    vals = data[pts].copy()
    return {
        "oindex_read": _measure(lambda: ds.oindex[axes], reps),
        "oindex_write": _measure(lambda: ds.oindex.__setitem__(axes, ortho), reps),
        "strided_read": _measure(lambda: ds[::2, ::2, ::2], reps),
        "vindex_read": _measure(lambda: ds.vindex[pts], reps),
        "vindex_write": _measure(lambda: ds.vindex.__setitem__(pts, vals), reps),
    }


def selection_worker(reps: int) -> dict:
    import z5py

    root = tempfile.mkdtemp(prefix="ab-", dir=os.environ.get("AB_DIR"))
    rng = np.random.default_rng(0)
    shape, chunks = (128, 256, 256), (32, 32, 32)
    data = rng.integers(0, 255, shape, dtype="uint8")
    out = {}
    for fmt in ["n5", "zarr2", "zarr3", "zarr3s"]:
        for nt in [1, 2]:
            ext = ".n5" if fmt == "n5" else ".zarr"
            kw = {"zarr_format": 3} if fmt.startswith("zarr3") else {}
            path = os.path.join(root, f"sel-{fmt}-{nt}{ext}")
            f = z5py.File(path, mode="w", **kw)
            dkw = {"shape": shape, "chunks": chunks, "dtype": "uint8", "compression": "raw"}
            if fmt == "zarr3s":
                dkw["shards"] = tuple(2 * c for c in chunks)
            ds = f.create_dataset("d", n_threads=nt, **dkw)
            ds[...] = data
            for op, t in _selection_cells(ds, data, np.random.default_rng(1), reps).items():
                out[f"sel/{fmt}/t{nt}/{op}"] = t
            assert np.array_equal(ds[...], data)
            shutil.rmtree(path)
    shutil.rmtree(root)
    return out


def shard_write_worker(reps: int) -> dict:
    import z5py

    root = tempfile.mkdtemp(prefix="ab-", dir=os.environ.get("AB_DIR"))
    rng = np.random.default_rng(0)
    shape = (256, 256, 256)
    data = rng.integers(0, 255, shape, dtype="uint8")
    axes = tuple(np.sort(rng.choice(n, 100, replace=False)) for n in shape)
    pts = tuple(rng.integers(0, n, 200_000) for n in shape)
    strided, ortho, vals = data[::2, ::2, ::2].copy(), data[np.ix_(*axes)], data[pts]
    out = {}
    for nt in [1, 2]:
        path = os.path.join(root, f"shw-{nt}.zarr")
        ds = z5py.File(path, mode="w", zarr_format=3).create_dataset(
            "d",
            shape=shape,
            chunks=(32,) * 3,
            shards=(128,) * 3,
            dtype="uint8",
            compression="raw",
            n_threads=nt,
        )
        ds[...] = data
        cells = {
            "strided_write": lambda ds=ds: ds.__setitem__(np.s_[::2, ::2, ::2], strided),
            "oindex_write": lambda ds=ds: ds.oindex.__setitem__(axes, ortho),
            "vindex_write": lambda ds=ds: ds.vindex.__setitem__(pts, vals),
        }
        for op, fn in cells.items():
            out[f"shard/t{nt}/{op}"] = _measure(fn, reps)
        assert np.array_equal(ds[...], data)
        shutil.rmtree(path)
    shutil.rmtree(root)
    return out


def worker(reps: int) -> dict:
    import z5py

    root = tempfile.mkdtemp(prefix="ab-", dir=os.environ.get("AB_DIR"))
    rng = np.random.default_rng(0)
    out = {}
    for name, shape, chunks in [
        ("u8", (128, 256, 256), (64, 64, 64)),
        ("u8c16", (64, 128, 128), (16, 16, 16)),
    ]:
        grid = np.add.outer(np.arange(shape[0]), np.arange(shape[1]))[:, :, None]
        data = (grid + np.arange(shape[2])).astype("uint8")
        data ^= rng.integers(0, 8, shape, dtype="uint8")
        sub = tuple(slice(s // 7, s - s // 5) for s in shape)
        part = data[sub].copy()
        for fmt in ["n5", "zarr2", "zarr3", "zarr3s"]:
            for codec in ["raw", "gzip"]:
                for nt in [1, 2]:
                    ext = ".n5" if fmt == "n5" else ".zarr"
                    kw = {"zarr_format": 3} if fmt.startswith("zarr3") else {}
                    path = os.path.join(root, f"{name}-{fmt}-{codec}-{nt}{ext}")
                    f = z5py.File(path, mode="w", **kw)
                    dkw = {"shape": shape, "chunks": chunks, "dtype": "uint8", "compression": codec}
                    if codec == "gzip":
                        dkw["level"] = 1
                    if fmt == "zarr3s":
                        dkw["shards"] = tuple(2 * c for c in chunks)
                    ds = f.create_dataset("d", n_threads=nt, **dkw)
                    key = f"{name}/{fmt}/{codec}/t{nt}"
                    for op, t in _cell(ds, data, sub, part, reps).items():
                        out[f"{key}/{op}"] = t
                    assert np.array_equal(ds[...], data)
                    shutil.rmtree(path)
    shutil.rmtree(root)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--selections", action="store_true", help="fancy selection cells")
    p.add_argument(
        "--shard-writes", action="store_true", help="selection writes on sharded Zarr v3"
    )
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        job = worker
        if args.selections:
            job = selection_worker
        if args.shard_writes:
            job = shard_write_worker
        json.dump(job(args.reps), sys.stdout)
        return
    builds = {"A": args.a, "B": args.b}
    res = {k: [] for k in builds}
    for r in range(args.rounds):
        for k in ["A", "B"] if r % 2 == 0 else ["B", "A"]:
            env = dict(os.environ, PYTHONPATH=builds[k])
            cmd = [sys.executable, __file__, "-", "-", "--worker", "--reps", str(args.reps)]
            cmd += ["--selections"] if args.selections else []
            cmd += ["--shard-writes"] if args.shard_writes else []
            o = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            res[k].append(json.loads(o.stdout))
    print(
        f"{'cell':34s} {'A cpu ms':>9s} {'B cpu ms':>9s} {'B/A':>6s} {'A wall':>8s} {'B wall':>8s}"
    )
    ratios = []
    for cell in res["A"][0]:
        ac, bc, aw, bw = (
            float(np.median([x[cell][i] for x in res[k]]))
            for k, i in [("A", 0), ("B", 0), ("A", 1), ("B", 1)]
        )
        ratios.append(bc / ac if ac > 0 else 1.0)
        print(
            f"{cell:34s} {ac * 1e3:9.1f} {bc * 1e3:9.1f} {ratios[-1]:6.2f} {aw * 1e3:8.1f} {bw * 1e3:8.1f}"
        )
    print(f"geometric mean of B/A CPU: {float(np.exp(np.mean(np.log(ratios)))):.3f}")


if __name__ == "__main__":
    main()
