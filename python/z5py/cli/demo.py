"""``z5py demo``: run :func:`z5py.demo.run_demo` and print what it made and measured."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

from ..demo import DemoReport, run_demo
from .common import default_threads, human, parse_ints, tuple_str

__all__ = ["add_parser", "run"]


def add_parser(sub, wrap) -> None:
    p = sub.add_parser(
        "demo",
        help="make a sample volume, convert it and read it back",
        description=wrap(
            "Make a sample uint8 volume, write it as HDF5, convert it to N5 and "
            "Zarr, read both back in parallel, convert back to HDF5, check every copy is "
            "identical, and print sizes and speeds.  Uses a temporary directory unless --dir."
        ),
    )
    p.add_argument("--shape", default="128,256,256", help="volume shape (default 128,256,256)")
    p.add_argument("--dir", help="work in this directory and keep the files")
    p.add_argument("--keep", action="store_true", help="keep the temporary files")
    p.add_argument("-j", "--threads", type=int, default=default_threads())
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _mb_s(mb: float, seconds: float) -> str:
    return f"{mb / max(seconds, 1e-9):.0f} MB/s"


class _Printer:
    """Prints each step of the demo as it finishes."""

    def __init__(self) -> None:
        self.copies = 0
        self.started = False

    def __call__(self, r: DemoReport) -> None:
        mb = r.nbytes / 1e6
        if not self.started:
            self.started = True
            print(
                f"  sample volume: {tuple_str(r.shape)} uint8, {mb:.1f} MB "
                "(ellipsoid of gradients + ripples + noise)"
            )
            print(f"  wrote HDF5       {r.h5_path}: {human(r.h5_bytes)} in {r.h5_seconds:.2f} s")
        for c in r.copies[self.copies :]:
            res = c.conversion
            print(
                f"  converted to {c.name:<12} {c.codec:<6} {human(c.bytes_on_disk):>9} "
                f"(ratio {r.nbytes / max(1, c.bytes_on_disk):.2f}x) in {res.seconds:.2f} s "
                f"({_mb_s(mb, res.seconds)}); read back in {c.read_seconds:.3f} s "
                f"({_mb_s(mb, c.read_seconds)}): " + ("identical" if c.identical else "MISMATCH")
            )
        self.copies = len(r.copies)
        if r.back_to_h5 is not None:
            s = r.back_to_h5.seconds
            print(
                f"  converted N5 back to HDF5 in {s:.2f} s ({_mb_s(mb, s)}): "
                + ("identical" if r.back_identical else "MISMATCH")
            )


def run(args: argparse.Namespace) -> int:
    shape = tuple(parse_ints(args.shape) or [128, 256, 256])
    workdir = args.dir or tempfile.mkdtemp(prefix="z5py-demo-")
    os.makedirs(workdir, exist_ok=True)
    try:
        print(f"z5py demo in {workdir} ({args.threads} threads)")
        report = run_demo(
            workdir, shape, args.threads, progress=not args.no_progress, on_step=_Printer()
        )
        ok = report.ok
        print("demo " + ("succeeded: all copies are identical" if ok else "FAILED: data differ"))
        return 0 if ok else 1
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"  files kept in {workdir}")
