"""Dask integration: z5py datasets as dask arrays and dask arrays into z5py datasets.

Needs the optional ``dask`` extra (``pip install z5py[dask]``).  z5py files, groups and
datasets pickle by path or URL, so the objects in a task graph reopen the data on whichever
worker runs the task; nothing but the location and the block's data travels.  A dataset
on an object store (``s3://...``) carries the ``storage_options`` it was opened with,
secrets included; workers that have the credentials in their environment
(``AWS_ACCESS_KEY_ID``...) need none.

Writes are chunk-aligned: before storing, the dask array is rechunked so that every dask
block covers whole chunks of the dataset, hence no two tasks ever write the same chunk and
no lock is needed.  Blocking copy jobs (:func:`z5py.util.rechunk`,
:func:`z5py.converter.convert_from_h5`, :func:`z5py.converter.convert_to_h5`) take a
``client=`` argument to run their blocks on a ``distributed`` cluster.

Example::

    from distributed import Client
    import z5py, z5py.dask

    client = Client()                       # or Client("scheduler:8786")
    ds = z5py.File("vol.n5")["raw"]
    arr = z5py.dask.to_dask(ds)             # lazy, one task per chunk
    smooth = (arr.astype("float32") * 0.5)
    z5py.dask.from_dask(smooth, "out.zarr", "half", client=client)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from .containers import native_dtype, open_z5_file, require_parent
from .jobs import write_unit
from .shape_utils import default_chunks

__all__ = ["aligned_chunks", "from_dask", "store", "to_dask"]


def _da():
    """Import dask.array or explain how to get it."""
    try:
        import dask.array as da
    except ImportError as e:  # pragma: no cover - dask is installed in the test env
        raise ImportError("z5py.dask needs dask; install it with `pip install 'z5py[dask]'`") from e
    return da


def _path_of(dataset: Any) -> str:
    return str(dataset.path)


def to_dask(dataset: Any, chunks: Sequence[int] | None = None, name: str | None = None):
    """A lazy dask array over a z5py dataset, with blocks aligned to its chunks.

    Args:
        dataset: an open :class:`z5py.Dataset`.
        chunks: block shape of the dask array; a multiple of the dataset's chunk shape in
            every dimension (default: the chunk shape itself, one task per chunk).
        name: dask key prefix (default: a fresh unique name).

    Raises:
        ValueError: if ``chunks`` is not a multiple of the dataset's chunks.
    """
    da = _da()
    ds_chunks = tuple(int(c) for c in dataset.chunks)
    shape = tuple(int(s) for s in dataset.shape)
    if chunks is None:
        blocks = ds_chunks
    else:
        blocks = tuple(int(c) for c in chunks)
        if len(blocks) != len(ds_chunks) or any(b <= 0 or b % c for b, c in zip(blocks, ds_chunks)):
            raise ValueError(
                f"chunks {blocks} must be a multiple of the dataset chunks {ds_chunks}"
            )
    # dask wants block sizes no larger than needed
    blocks = tuple(max(1, min(b, s)) if s else b for b, s in zip(blocks, shape))
    dtype = np.dtype(dataset.dtype)
    if name is None:
        name = f"z5py-{uuid.uuid4().hex}"
    return da.from_array(
        dataset,
        chunks=blocks,
        name=name,
        lock=False,
        asarray=True,
        fancy=False,
        meta=np.empty((0,) * len(shape), dtype=dtype),
    )


def aligned_chunks(
    array_chunks: tuple[tuple[int, ...], ...], ds_chunks: Sequence[int]
) -> tuple[tuple[int, ...], ...] | tuple[int, ...]:
    """Dask chunks whose boundaries fall on the dataset's chunk boundaries.

    ``array_chunks`` (dask's tuple-of-tuples) is returned unchanged when it is aligned
    already; otherwise each misaligned dimension gets regular blocks of the dataset chunk
    size times the multiple nearest to the array's current block size.
    """
    out: list[Any] = []
    for dim_chunks, c in zip(array_chunks, ds_chunks):
        c = int(c)
        edges = np.cumsum(dim_chunks)[:-1]
        if all(int(e) % c == 0 for e in edges):
            out.append(tuple(dim_chunks))
            continue
        typical = max(dim_chunks) if dim_chunks else c
        k = max(1, round(typical / c))
        out.append(c * k)
    return tuple(out)


def store(
    array: Any,
    dataset: Any,
    *,
    client: Any = None,
    compute: bool = True,
) -> Any:
    """Write a dask array into an existing z5py dataset of the same shape.

    The array is cast to the dataset's dtype and rechunked onto the dataset's chunk grid
    (its shard grid for sharded Zarr v3 data; see :func:`aligned_chunks`), so every chunk
    or shard is written by exactly one task.

    Args:
        array: a ``dask.array.Array`` (a numpy array is wrapped).
        dataset: the target :class:`z5py.Dataset`.
        client: a ``distributed.Client`` to run the writes on (default: dask's current
            scheduler).
        compute: False returns a ``dask.delayed`` object to compute later instead.

    Returns:
        The dataset, or the delayed store when ``compute`` is False.

    Raises:
        ValueError: if the shapes differ.
    """
    da = _da()
    if not isinstance(array, da.Array):
        array = da.from_array(np.asarray(array), chunks=tuple(dataset.chunks))
    shape = tuple(int(s) for s in dataset.shape)
    if tuple(array.shape) != shape:
        raise ValueError(f"array shape {tuple(array.shape)} != dataset shape {shape}")
    dtype = np.dtype(dataset.dtype)
    if array.dtype != dtype:
        array = array.astype(dtype)
    target_chunks = aligned_chunks(array.chunks, write_unit(dataset))
    if target_chunks != array.chunks:
        array = array.rechunk(target_chunks)
    delayed = da.store(array, dataset, lock=False, compute=False)
    if not compute:
        return delayed
    if client is not None:
        client.compute(delayed).result()
    else:
        delayed.compute()
    return dataset


def from_dask(
    array: Any,
    path: str,
    key: str,
    chunks: Sequence[int] | None = None,
    *,
    client: Any = None,
    use_zarr_format: bool | None = None,
    compute: bool = True,
    storage_options: dict[str, Any] | None = None,
    **create_kwargs: Any,
) -> Any:
    """Write a dask array into a (new or existing) dataset of a z5py container.

    Args:
        array: the ``dask.array.Array`` to write.
        path: container path or URL (created if missing; format from the extension, as in
            :func:`z5py.converter.convert_from_h5`).
        key: dataset name inside the container.
        chunks: chunk shape of a new dataset (default: the array's block shape when its
            blocks are regular, else :func:`z5py.shape_utils.default_chunks`).
        client: a ``distributed.Client`` to run the writes on.
        use_zarr_format: True for Zarr, False for N5, None to infer.
        compute: False returns the delayed store instead of writing now.
        storage_options: configuration of ``path`` if it is a URL (``s3://...``, see
            :class:`z5py.File`); the dataset carries them to the workers.
        **create_kwargs: passed to ``require_dataset`` for a new dataset (``compression``,
            ``level``, ...).  An existing dataset must have the array's shape.

    Returns:
        The :class:`z5py.Dataset` written to (or the delayed store when ``compute`` is False).
    """
    da = _da()
    if not isinstance(array, da.Array):
        array = da.asarray(array)
    shape = tuple(int(s) for s in array.shape)
    dtype = native_dtype(create_kwargs.pop("dtype", array.dtype))
    if chunks is None:
        regular = all(len(set(c[:-1])) <= 1 and (len(c) < 2 or c[-1] <= c[0]) for c in array.chunks)
        if regular and all(array.chunksize):
            chunks = tuple(int(c) for c in array.chunksize)
        else:
            chunks = default_chunks(shape)
    chunks = tuple(int(c) for c in chunks)
    f = open_z5_file(path, use_zarr_format, storage_options=storage_options)
    group, name = require_parent(f, key)
    ds = group.require_dataset(name, shape=shape, dtype=dtype, chunks=chunks, **create_kwargs)
    result = store(array, ds, client=client, compute=compute)
    return ds if compute else result
