"""The round trip behind ``z5py demo``: a sample volume written as HDF5, converted to N5
and Zarr, read back in parallel and converted back to HDF5, every copy compared."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import converter
from .containers import compression_of, disk_usage, open_z5_read
from .jobs import JobResult
from .sample_data import make_sample_volume
from .timer import Timer

__all__ = ["Copy", "DemoReport", "run_demo"]


@dataclass
class Copy:
    """One conversion of the sample volume to N5 or Zarr, and its read back."""

    name: str
    codec: str
    bytes_on_disk: int
    conversion: JobResult
    read_seconds: float
    identical: bool


@dataclass
class DemoReport:
    """What :func:`run_demo` made and measured."""

    shape: tuple[int, ...]
    nbytes: int
    h5_path: str
    h5_bytes: int
    h5_seconds: float
    copies: list[Copy] = field(default_factory=list)
    back_to_h5: JobResult | None = None
    back_identical: bool = False

    @property
    def ok(self) -> bool:
        """Every copy holds exactly the sample volume."""
        return all(c.identical for c in self.copies) and self.back_identical


def run_demo(
    workdir: str,
    shape: Sequence[int],
    n_threads: int,
    *,
    progress: bool = False,
    on_step: Callable[[DemoReport], None] | None = None,
) -> DemoReport:
    """Run the round trip in ``workdir``; ``on_step`` sees the report after each step."""
    import h5py

    shape = tuple(int(s) for s in shape)
    chunks = tuple(min(64, s) for s in shape)
    vol = make_sample_volume(shape)
    h5_path = os.path.join(workdir, "sample.h5")
    with Timer() as t, h5py.File(h5_path, "w") as f:
        f.create_dataset("raw", data=vol, chunks=chunks)
    report = DemoReport(shape, vol.nbytes, h5_path, os.path.getsize(h5_path), t.elapsed)
    if on_step:
        on_step(report)
    for name in ("sample.n5", "sample.zarr"):
        out = os.path.join(workdir, name)
        res = converter.convert_from_h5(
            h5_path, out, "raw", "raw", chunks, n_threads, progress=progress
        )
        ds = open_z5_read(out)["raw"]
        ds.n_threads = n_threads
        with Timer() as tr:
            back = ds[...]
        codec = compression_of(ds).get("compression", "?")
        on_disk, _ = disk_usage(out)
        report.copies.append(
            Copy(name, codec, on_disk, res, tr.elapsed, bool(np.array_equal(back, vol)))
        )
        if on_step:
            on_step(report)
    back_h5 = os.path.join(workdir, "roundtrip.h5")
    report.back_to_h5 = converter.convert_to_h5(
        os.path.join(workdir, "sample.n5"),
        back_h5,
        "raw",
        "raw",
        chunks,
        n_threads,
        progress=progress,
    )
    with h5py.File(back_h5, "r") as f:
        report.back_identical = bool(np.array_equal(f["raw"][...], vol))
    if on_step:
        on_step(report)
    return report
