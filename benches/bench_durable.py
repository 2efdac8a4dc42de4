"""What the inter-process locks and durable writes cost (issue 13), on the local disk.

Rows (N5 and Zarr v3, raw, uint8):
* ``full``: a chunk-aligned write of the whole volume (no read-modify-write, no lock);
* ``partial``: an unaligned write of a box shifted by half a chunk on every axis: every
  chunk it touches is a read-modify-write under that chunk's lock;
* ``attrs``: 200 single-key attribute updates (each a locked read-modify-write).

Each row runs in a fresh process per setting, interleaved, median of ``--reps``:
``default``; ``no-locks`` (``Z5PY_FILE_LOCKING=none``: the lock files between processes
off, so default / no-locks is what the locks cost); ``durable`` (``Z5PY_DURABLE=1``: every
file synced before it is renamed, its directory after). Wall time and CPU time
(user + sys, all threads) are reported with their ratio to ``default``.

    python benches/bench_durable.py [--reps 5] [--shape 128,256,256] [--chunks 64]

With ``--ab A_PYTHONPATH B_PYTHONPATH`` it compares two z5py builds instead: per rep, the
settings ``default`` and ``no-locks`` of A and of B, interleaved (A B A B ...), each in a
fresh process; it prints their median CPU ms, B/A of each, and default/no-locks of each
(what the locks cost in that build), then the same of the minima (steadier than medians on
a machine shared with other work). ``--inner N`` runs the op N times in each process (a
full write into a new dataset each time) and takes the fastest.

With ``--in-process`` it measures only what the locks cost, and more finely: one process
per format and op runs ``--reps`` pairs of ops, one with the lock files on and one with them
off, in random order, and prints the median ratio of the pairs (single processes of one
setting scatter by up to 2x on a shared machine; ops paired in one process do not).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

SETTINGS = {
    "default": {},
    "no-locks": {"Z5PY_FILE_LOCKING": "none"},
    "durable": {"Z5PY_DURABLE": "1"},
}


def _setup(root: str, fmt: str, op: str, shape: tuple, chunk: int):
    """The op, ready to run (once per call; ``full`` into a new dataset each time)."""
    import itertools

    import numpy as np
    import z5py

    path = os.path.join(root, "n.n5" if fmt == "n5" else "z.zarr")
    f = z5py.File(path, mode="w", zarr_format=3 if fmt == "zarr3" else None)
    data = (np.arange(np.prod(shape)) % 251).astype("uint8").reshape(shape)

    def create(name: str):
        return f.create_dataset(
            name, shape=shape, dtype="uint8", chunks=(chunk,) * 3, compression="raw"
        )

    ds = create("d")
    half = chunk // 2
    box = tuple(slice(half, s - half) for s in shape)
    if op == "partial":
        ds[:] = data  # the chunks exist: each partial one is read, merged and written back
    fresh = itertools.count()

    def run() -> None:
        if op == "full":
            i = next(fresh)
            (create(f"d{i}") if i else ds)[:] = data
        elif op == "partial":
            ds[box] = data[box]
        else:
            for i in range(200):
                ds.attrs[f"k{i}"] = i

    return run


def worker(root: str, fmt: str, op: str, shape: tuple, chunk: int) -> None:
    run = _setup(root, fmt, op, shape, chunk)
    # --inner N: the op N times in this process (full: each into a new dataset), the fastest
    times = []
    for _ in range(int(os.environ.get("Z5PY_BENCH_INNER", "1"))):
        w0, c0 = time.perf_counter(), time.process_time()
        run()
        times.append((time.process_time() - c0, time.perf_counter() - w0))
    cpu, wall = min(times)
    print(json.dumps({"wall": wall, "cpu": cpu}))


def in_process(args) -> None:
    """--in-process: per format and op, one process runs the op ``--reps`` times with the
    lock files on and as often with them off (``z5py._z5py.set_file_locking``), the two in
    random order within each pair, so that both meet the same page cache, allocator and
    machine load; prints each setting's median and 10th percentile, and the median of the
    pairs' ratios (off / on)."""
    import random

    from z5py import _z5py

    rng = random.Random(0)
    shape = tuple(int(s) for s in args.shape.split(","))
    print(
        f"\nshape {args.shape}, chunks {args.chunks}^3, uint8 raw; one process, {args.reps} "
        "pairs (locks on, off) in random order; ms"
    )
    print(
        f"{'format':7} {'op':8} {'clock':5} {'on p50':>7} {'off p50':>7} {'on p10':>7} "
        f"{'off p10':>7} {'off/on (pairs)':>15}"
    )
    for fmt in args.formats.split(","):
        for op in args.ops.split(","):
            with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/tmp")) as tmp:
                run = _setup(tmp, fmt, op, shape, args.chunks)
                run()  # warm up
                got: dict = {(on, clock): [] for on in (True, False) for clock in ("cpu", "wall")}
                for _ in range(args.reps):
                    for on in rng.sample([True, False], 2):
                        _z5py.set_file_locking(on)
                        w0, c0 = time.perf_counter(), time.process_time()
                        run()
                        got[(on, "cpu")].append(time.process_time() - c0)
                        got[(on, "wall")].append(time.perf_counter() - w0)
                _z5py.set_file_locking(True)
            for clock in ("cpu", "wall"):
                on, off = got[(True, clock)], got[(False, clock)]
                pairs = statistics.median(b / a for a, b in zip(on, off, strict=True))

                def p10(v: list) -> float:
                    return sorted(v)[len(v) // 10] * 1e3

                print(
                    f"{fmt:7} {op:8} {clock:5} {statistics.median(on) * 1e3:7.2f} "
                    f"{statistics.median(off) * 1e3:7.2f} {p10(on):7.2f} {p10(off):7.2f} "
                    f"{pairs:15.3f}"
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--shape", default="128,256,256")
    ap.add_argument("--chunks", type=int, default=64)
    ap.add_argument("--formats", default="n5,zarr3")
    ap.add_argument("--ops", default="full,partial,attrs")
    ap.add_argument("--ab", nargs=2, metavar=("A_PYTHONPATH", "B_PYTHONPATH"))
    ap.add_argument("--inner", type=int, default=1, help="ops per process; the fastest counts")
    ap.add_argument("--in-process", action="store_true", help="locks on/off paired in one process")
    args = ap.parse_args()
    os.environ["Z5PY_BENCH_INNER"] = str(args.inner)
    if args.ab:
        return ab(args)
    if args.in_process:
        return in_process(args)
    results: dict = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/tmp")) as tmp:
        for fmt in args.formats.split(","):
            for op in args.ops.split(","):
                for _ in range(args.reps):
                    for name, env in SETTINGS.items():
                        r = _run(tmp, fmt, op, args, env)
                        results.setdefault((fmt, op, name), []).append(r)
    print(
        f"\nshape {args.shape}, chunks {args.chunks}^3, uint8 raw; median of {args.reps}, "
        "interleaved; ratio = setting / default"
    )
    print(
        f"{'format':7} {'op':8} {'setting':9} {'wall ms':>8} {'CPU ms':>8} {'wall x':>7} "
        f"{'CPU x':>6}"
    )
    for fmt in args.formats.split(","):
        for op in args.ops.split(","):
            base = results[(fmt, op, "default")]
            bw = statistics.median(r["wall"] for r in base)
            bc = statistics.median(r["cpu"] for r in base)
            for name in SETTINGS:
                rs = results[(fmt, op, name)]
                w = statistics.median(r["wall"] for r in rs)
                c = statistics.median(r["cpu"] for r in rs)
                print(
                    f"{fmt:7} {op:8} {name:9} {w * 1e3:8.1f} {c * 1e3:8.1f} {w / bw:7.2f} "
                    f"{c / bc:6.2f}"
                )


def _run(tmp: str, fmt: str, op: str, args, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", tmp, fmt, op, args.shape, str(args.chunks)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def ab(args) -> None:
    """Two builds, the default and no-locks settings of each, interleaved; CPU medians."""
    builds = {"A": args.ab[0], "B": args.ab[1]}
    settings = ["default", "no-locks"]
    results: dict = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/tmp")) as tmp:
        for fmt in args.formats.split(","):
            for op in args.ops.split(","):
                for rep in range(args.reps):
                    order = list(builds) if rep % 2 == 0 else list(builds)[::-1]
                    for setting in settings:
                        for b in order:
                            env = {**SETTINGS[setting], "PYTHONPATH": builds[b]}
                            r = _run(tmp, fmt, op, args, env)
                            results.setdefault((fmt, op, b, setting), []).append(r["cpu"])
    print(
        f"\nshape {args.shape}, chunks {args.chunks}^3, uint8 raw; CPU ms (user+sys), median "
        f"of {args.reps}, interleaved; A = {builds['A']}, B = {builds['B']}"
    )
    print(
        f"{'format':7} {'op':8} {'A':>7} {'B':>7} {'B/A':>6} {'A nolk':>7} {'B nolk':>7} "
        f"{'A lock x':>8} {'B lock x':>8}"
    )
    for stat in (statistics.median, min):
        print(stat.__name__)
        for fmt in args.formats.split(","):
            for op in args.ops.split(","):
                m = {(b, s): stat(results[(fmt, op, b, s)]) * 1e3 for b in builds for s in settings}
                a, b_ = m[("A", "default")], m[("B", "default")]
                an, bn = m[("A", "no-locks")], m[("B", "no-locks")]
                print(
                    f"{fmt:7} {op:8} {a:7.1f} {b_:7.1f} {b_ / a:6.2f} {an:7.1f} {bn:7.1f} "
                    f"{a / an:8.2f} {b_ / bn:8.2f}"
                )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        shape = tuple(int(s) for s in sys.argv[5].split(","))
        worker(sys.argv[2], sys.argv[3], sys.argv[4], shape, int(sys.argv[6]))
    else:
        main()
