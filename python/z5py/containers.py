"""Opening N5 / Zarr containers and the datasets copy jobs read and write.

Shared by :func:`z5py.util.rechunk`, the converters, :mod:`z5py.dask` and the command line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._location import container_exists, is_url, options_for
from .formats import METADATA_FILES, ZARR_CONSOLIDATED, infer_zarr_format

__all__ = [
    "compression_of",
    "copy_compression",
    "disk_usage",
    "native_dtype",
    "open_z5_file",
    "open_z5_read",
    "require_parent",
    "require_z5_dataset",
]


def compression_of(ds: Any) -> dict[str, Any]:
    """Compression of a z5py dataset as ``create_dataset`` keyword arguments."""
    return dict(ds.compression_options)


def copy_compression(ds: Any, given: dict[str, Any]) -> dict[str, Any]:
    """Compression of a copy of the z5py dataset ``ds`` as ``create_dataset`` keyword
    arguments, given the compression arguments ``given`` (a codec name under
    ``compression``, its options, ``shards``): ``given`` itself when it names a codec, else
    ``ds``'s codec with the options given, or with ``ds``'s own options when none are."""
    if "compression" in given:
        return dict(given)
    kept = compression_of(ds)
    if not given:
        return kept
    merged = {"compression": kept.get("compression"), **given}
    if merged["compression"] is None:
        merged.pop("compression")
    return merged


def open_z5_file(
    path: str,
    use_zarr_format: bool | None,
    *,
    default_zarr: bool = True,
    zarr_format: int | None = None,
    storage_options: dict[str, Any] | None = None,
):
    """Open (or create) a z5py container at a path or URL for writing, resolving its format.

    ``zarr_format`` (2 or 3) selects the Zarr version of a new container;
    ``storage_options`` configure ``path`` if it is a URL (and are ignored otherwise).
    """
    from .file import File

    options = options_for(path, storage_options)
    fmt = use_zarr_format
    if fmt is None:
        fmt = infer_zarr_format(path)
    if fmt is None:
        fmt = True if zarr_format is not None else default_zarr
    if zarr_format is not None and fmt and not container_exists(path, options):
        return File(
            path,
            mode="a",
            use_zarr_format=True,
            zarr_format=int(zarr_format),
            storage_options=options,
        )
    return File(path, mode="a", use_zarr_format=bool(fmt), storage_options=options)


def open_z5_read(path: str, storage_options: dict[str, Any] | None = None):
    """Open an existing z5py container (a path or URL) read-only; ``storage_options``
    configure ``path`` if it is a URL (and are ignored otherwise)."""
    from .file import File

    if not is_url(path) and not container_exists(path):
        raise FileNotFoundError(f"no such container: {path}")
    return File(path, mode="r", storage_options=options_for(path, storage_options))


def require_parent(f: Any, key: str) -> tuple[Any, str]:
    """Return ``(group, name)`` for ``key`` inside ``f``, creating intermediate groups."""
    key = key.strip("/")
    if "/" not in key:
        return f, key
    parent, name = key.rsplit("/", 1)
    return f.require_group(parent), name


def require_z5_dataset(
    f: Any,
    key: str,
    *,
    shape: tuple[int, ...],
    chunks: tuple[int, ...],
    dtype: np.dtype,
    create_kwargs: dict[str, Any],
    dimension_names: Sequence[str | None] | None = None,
) -> tuple[Any, bool]:
    """Open the output dataset if it exists (checking it fits), else create it.

    ``dimension_names`` (of the source) are kept when the output is Zarr v3.
    Returns the dataset and whether it existed before.
    """
    if key.strip("/") in f:
        ds = f[key.strip("/")]
        if not hasattr(ds, "chunks"):
            raise ValueError(f"output {key!r} exists and is not a dataset")
        problems = []
        if tuple(ds.shape) != tuple(shape):
            problems.append(f"shape {tuple(ds.shape)} != {tuple(shape)}")
        if tuple(ds.chunks) != tuple(chunks):
            problems.append(f"chunks {tuple(ds.chunks)} != {tuple(chunks)}")
        if np.dtype(ds.dtype) != np.dtype(dtype):
            problems.append(f"dtype {np.dtype(ds.dtype)} != {np.dtype(dtype)}")
        if problems:
            raise ValueError(
                f"output dataset {key!r} already exists and does not match ("
                + ", ".join(problems)
                + "); remove it or pick another output name"
            )
        return ds, True
    group, name = require_parent(f, key)
    create_kwargs = dict(create_kwargs)
    if dimension_names is not None and getattr(group, "zarr_format", None) == 3:
        create_kwargs.setdefault("dimension_names", list(dimension_names))
    ds = group.create_dataset(
        name, shape=shape, chunks=chunks, dtype=np.dtype(dtype), **create_kwargs
    )
    return ds, False


def native_dtype(dtype: Any) -> np.dtype:
    """The native-endian version of a numeric dtype."""
    dt = np.dtype(dtype)
    if dt.kind in "biufc" and dt.byteorder not in ("=", "|"):
        dt = dt.newbyteorder("=")
    return dt


def disk_usage(path: str) -> tuple[int, int]:
    """Bytes of all files below ``path`` and of its chunk files (all but metadata)."""
    total = chunk = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                size = os.path.getsize(os.path.join(root, name))
            except OSError:
                continue
            total += size
            if name not in METADATA_FILES and name != ZARR_CONSOLIDATED:
                chunk += size
    return total, chunk
