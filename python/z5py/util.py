"""Utilities around z5py datasets: block iteration, rechunking, timing and sample data.

This module gathers the documented helpers of ``z5py.util``; each lives in the module for
its job:

- :func:`blocking` in :mod:`z5py.blocks` (block planning),
- :func:`rechunk` in :mod:`z5py.rechunking`, :class:`JobResult` in :mod:`z5py.jobs` (the
  block-copy runner it shares with the converters in :mod:`z5py.converter`),
- :class:`Timer` in :mod:`z5py.timer`,
- :func:`fetch_test_data`, :func:`fetch_test_data_stent`, :func:`cache_dir`,
  :class:`DownloadError` and the sample URLs in :mod:`z5py.sample_data`,
- the container extensions and :func:`infer_zarr_format` in :mod:`z5py.formats`.
"""

from __future__ import annotations

from .blocks import blocking
from .formats import H5_EXTS, N5_EXTS, ZARR_EXTS, infer_zarr_format
from .jobs import JobResult
from .rechunking import rechunk
from .sample_data import (
    STENT_URL,
    T1_HEAD_URL,
    DownloadError,
    cache_dir,
    fetch_test_data,
    fetch_test_data_stent,
)
from .timer import Timer

__all__ = [
    "H5_EXTS",
    "N5_EXTS",
    "STENT_URL",
    "T1_HEAD_URL",
    "ZARR_EXTS",
    "DownloadError",
    "JobResult",
    "Timer",
    "blocking",
    "cache_dir",
    "fetch_test_data",
    "fetch_test_data_stent",
    "infer_zarr_format",
    "rechunk",
]
