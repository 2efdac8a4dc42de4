"""Conversion between HDF5 and the z5py formats (N5, Zarr).

Both converters copy block by block, so memory is bounded by the blocks in flight rather
than the size of the dataset.  h5py is not thread-safe, so every HDF5 call happens in the
calling thread; the z5py side reads or writes in a thread pool and the Rust engine encodes
and decodes the chunks of one block in parallel.  Re-running an interrupted conversion
skips the blocks that are already complete (see ``resume``).

h5py is needed for this module (``pip install z5py[h5]``); it is imported on first use.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .attrs_json import jsonable
from .blocks import Block, as_shape, auto_blocks, check_blocks, chunk_ids, n_blocks, plan
from .containers import native_dtype, open_z5_file, open_z5_read, require_z5_dataset
from .jobs import (
    BlockCallback,
    JobOptions,
    JobResult,
    Z5Reader,
    Z5Writer,
    final_blocks,
    plan_into_z5,
    run_blocks,
    set_threads,
    split_threads,
)
from .shape_utils import default_chunks
from .timer import Timer

#: What h5py raises when HDF5 refuses an operation: it maps HDF5's error classes onto these
#: builtins (a missing object is a KeyError, a bad argument a ValueError, a failed read an
#: OSError, anything else a RuntimeError).
H5PY_ERRORS = (OSError, ValueError, KeyError, RuntimeError)

__all__ = ["convert_from_h5", "convert_to_h5"]

#: Raw-data chunk cache used when reading HDF5 input (bytes per open dataset).
_H5_CHUNK_CACHE = 64 * 2**20


def _h5py():
    """Import h5py or explain how to get it."""
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is installed in the test env
        raise ImportError(
            "the HDF5 converters need h5py; install it with `pip install h5py`"
        ) from e
    return h5py


class _H5Reader:
    """Reads blocks from an HDF5 dataset.

    Locally it wraps the already open dataset and is only used from the calling thread.
    When pickled to a Dask worker it drops the handle and opens the file read-only for
    each block it reads.
    """

    def __init__(self, path: str, key: str, dataset: Any = None) -> None:
        self.path = os.path.abspath(path)
        self.key = key
        self._ds = dataset

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "key": self.key, "_ds": None}

    def read(self, block: Block) -> np.ndarray:
        if self._ds is not None:
            return np.ascontiguousarray(np.asarray(self._ds[block]))
        # On a worker: open, read, close.  Keeping the file open between tasks would hold
        # HDF5's file lock and stop anyone from rewriting the file after the job.
        with _h5py().File(self.path, "r", rdcc_nbytes=_H5_CHUNK_CACHE) as f:
            return np.ascontiguousarray(np.asarray(f[self.key][block]))


class _H5Writer:
    """Writes blocks into an HDF5 dataset (calling thread only).

    All-zero blocks are not written when the dataset's fill value is zero and none of the
    block's chunks is stored yet: HDF5 reads unallocated chunks as the fill value anyway.
    """

    def __init__(
        self,
        ds: Any,
        dtype: np.dtype,
        chunks: tuple[int, ...],
        stored: set | None,
        existed: bool,
    ) -> None:
        self.ds = ds
        self.dtype = np.dtype(dtype)
        self.chunks = chunks
        self.stored = stored
        self.existed = existed
        self.zero_fill = bool(np.all(np.asarray(ds.fillvalue) == 0))

    def _any_stored(self, block: Block) -> bool:
        if not self.existed:
            return False
        if self.stored is None:
            return True  # unknown: be safe and write
        return any(
            tuple(i * c for i, c in zip(idx, self.chunks)) in self.stored
            for idx in chunk_ids(block, self.chunks)
        )

    def write(self, block: Block, data: np.ndarray) -> None:
        data = np.asarray(data).astype(self.dtype, copy=False)
        if self.zero_fill and not data.any() and not self._any_stored(block):
            return
        self.ds[block] = data


def _h5_stored_chunks(ds: Any) -> set[tuple[int, ...]] | None:
    """Offsets of the chunks an HDF5 dataset has allocated (None if h5py cannot tell)."""
    if ds.chunks is None:  # contiguous: no chunks to list
        return None
    try:
        n = ds.id.get_num_chunks()
        return {tuple(int(o) for o in ds.id.get_chunk_info(i).chunk_offset) for i in range(n)}
    except H5PY_ERRORS:
        return None


def h5_attrs_to_json(h5_attrs: Any) -> dict[str, Any]:
    """HDF5 attributes as JSON-compatible values; others are skipped with a warning."""
    out: dict[str, Any] = {}
    for key in list(h5_attrs.keys()):
        try:
            out[key] = jsonable(h5_attrs[key])
        except (TypeError, *H5PY_ERRORS) as e:  # TypeError: not JSON-able
            warnings.warn(f"attribute {key!r} not copied: {e}", stacklevel=3)
    return out


def _json_to_h5_attr(value: Any) -> Any:
    """Turn a JSON attribute value into something h5py can store.

    Scalars and homogeneous lists of numbers or strings map onto HDF5 natively; objects,
    ``null`` and ragged or mixed lists are stored as their JSON text.
    """
    h5py = _h5py()
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        if value and all(isinstance(v, str) for v in value):
            return np.array(value, dtype=h5py.string_dtype())
        if all(isinstance(v, bool) for v in value) or all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        ):
            try:
                arr = np.asarray(value)
                if arr.dtype.kind in "biuf":
                    return arr
            except (ValueError, OverflowError):
                pass
        try:
            arr = np.asarray(value)
            if arr.dtype.kind in "biuf" and arr.ndim > 1:
                return arr
        except (ValueError, OverflowError):
            pass
    return json.dumps(value)


def _label(in_path: str, out_path: str) -> str:
    """The progress bar label of a conversion: ``in -> out`` (file names)."""
    return f"{os.path.basename(in_path)} -> {os.path.basename(out_path)}"


def _resolve_key(key: str) -> str:
    key = str(key).strip("/")
    if not key:
        raise ValueError("a dataset name inside the file is required")
    return key


def convert_from_h5(
    in_path: str,
    out_path: str,
    in_path_in_file: str,
    out_path_in_file: str,
    out_chunks: Sequence[int] | None,
    n_threads: int,
    out_blocks: Sequence[int] | None = None,
    use_zarr_format: bool | None = None,
    *,
    progress: bool = False,
    resume: bool = True,
    client: Any = None,
    on_block: BlockCallback | None = None,
    storage_options: dict[str, Any] | None = None,
    **z5_kwargs: Any,
) -> JobResult:
    """Convert an HDF5 dataset into an N5 or Zarr dataset.

    The output is written block by block; each block is read from HDF5 in the calling
    thread (h5py is not thread-safe) and handed to a pool of writer threads, where the
    Rust engine encodes its chunks in parallel.

    Args:
        in_path: path of the HDF5 file.
        out_path: path or URL (``s3://...``, see :class:`z5py.File`) of the N5 or Zarr
            container (created if missing).
        in_path_in_file: name of the HDF5 dataset.
        out_path_in_file: name of the output dataset (intermediate groups are created).
        out_chunks: chunk shape of the output.  None uses the HDF5 chunks, or for contiguous
            HDF5 data :func:`z5py.shape_utils.default_chunks` (as ``create_dataset``).
        n_threads: threads for the conversion.
        out_blocks: block shape used for copying; must be a multiple of ``out_chunks``.
            If None, the chunk shape is used, enlarged to cover whole HDF5 chunks when such
            a block fits in 64 MiB (same result, fewer HDF5 chunk decodes).
        use_zarr_format: True for Zarr, False for N5.  None infers the format from the
            extension of ``out_path`` (``.n5``; ``.zarr``/``.zr``) or the files already
            there, and falls back to Zarr.
        progress: show a tqdm progress bar.
        resume: if the output dataset exists already (same shape, chunks and dtype), skip
            blocks whose output chunks are all stored; the result reports how many.  Blocks
            holding only the fill value store no chunk and are converted again.  Resuming
            trusts that the existing output was made from the same input; False writes
            every block again.
        client: a ``distributed.Client``; blocks then run as tasks on its cluster, each
            worker opening the HDF5 file read-only itself.
        on_block: called with each finished block (in the calling thread).
        storage_options: configuration of the N5/Zarr container if it is a URL (see
            :class:`z5py.File`); they travel with the blocks to Dask workers.
        **z5_kwargs: options for the output dataset: ``dtype`` (values are cast with numpy
            ``astype``), ``compression`` (default: the format's default compressor) and
            compression options such as ``level``, ``fillvalue``, ``shards`` (Zarr v3; copy
            blocks are then whole shards) and ``zarr_format=3`` for a new Zarr v3 container.

    Returns:
        JobResult: counts of converted and skipped blocks, bytes and time.

    HDF5 attributes are copied onto the output dataset; values JSON cannot hold
    (references, compound data...) are skipped with a warning.
    """
    h5py = _h5py()
    if not os.path.isfile(in_path):
        raise FileNotFoundError(f"no such HDF5 file: {in_path}")
    in_key = _resolve_key(in_path_in_file)
    out_key = _resolve_key(out_path_in_file)
    timer = Timer().start()
    job = JobOptions(n_threads, resume, client, progress, on_block, _label(in_path, out_path))
    with h5py.File(in_path, "r", rdcc_nbytes=_H5_CHUNK_CACHE) as f_h5:
        if in_key not in f_h5:
            raise KeyError(f"{in_path} has no dataset {in_key!r}")
        ds_h5 = f_h5[in_key]
        if not isinstance(ds_h5, h5py.Dataset):
            raise ValueError(f"{in_key!r} in {in_path} is a group, not a dataset")  # noqa: TRY004
        shape = tuple(int(s) for s in ds_h5.shape)
        ndim = len(shape)
        kwargs = dict(z5_kwargs)
        out_dtype = native_dtype(kwargs.pop("dtype", ds_h5.dtype))
        kwargs.pop("chunks", None)
        if out_chunks is None:
            out_chunks = ds_h5.chunks or default_chunks(shape)
        chunks = as_shape(out_chunks, "out_chunks", ndim)
        checked_blocks = None
        if out_blocks is not None:
            checked_blocks = check_blocks(out_blocks, chunks, kwargs.get("shards"))
        zarr_format = kwargs.pop("zarr_format", None)
        f_z5 = open_z5_file(
            out_path, use_zarr_format, zarr_format=zarr_format, storage_options=storage_options
        )
        ds_z5, existed = require_z5_dataset(
            f_z5, out_key, shape=shape, chunks=chunks, dtype=out_dtype, create_kwargs=kwargs
        )
        blocks_shape = final_blocks(checked_blocks, ds_z5, ds_h5.chunks, out_dtype.itemsize)
        total = n_blocks(shape, blocks_shape)
        todo, skipped = plan_into_z5(shape, blocks_shape, ds_z5, existed and job.resume)
        outer, inner = split_threads(job.n_threads, blocks_shape, chunks)
        set_threads(ds_z5, inner)
        copied, nbytes = run_blocks(
            todo,
            _H5Reader(in_path, in_key, None if client is not None else ds_h5),
            Z5Writer(ds_z5, out_dtype),
            read_in_main=client is None,
            write_in_main=False,
            n_workers=outer,
            job=job,
            total=total,
            skipped=skipped,
        )
        attrs = h5_attrs_to_json(ds_h5.attrs)
    for key, value in attrs.items():
        ds_z5.attrs[key] = value
    return JobResult(total, skipped, copied, nbytes, timer.stop())


def convert_to_h5(
    in_path: str,
    out_path: str,
    in_path_in_file: str,
    out_path_in_file: str,
    out_chunks: Sequence[int] | None,
    n_threads: int,
    out_blocks: Sequence[int] | None = None,
    *,
    progress: bool = False,
    resume: bool = True,
    client: Any = None,
    on_block: BlockCallback | None = None,
    storage_options: dict[str, Any] | None = None,
    **h5_kwargs: Any,
) -> JobResult:
    """Convert an N5 or Zarr dataset into an HDF5 dataset.

    Blocks are read from the z5py dataset by a pool of threads (the Rust engine decodes
    each block's chunks in parallel) and written to HDF5 in the calling thread, one at a
    time, because HDF5 has no parallel write access.

    Args:
        in_path: path or URL (``s3://...``, see :class:`z5py.File`) of the N5 or Zarr
            container.
        out_path: path of the HDF5 file (created if missing, else opened for appending).
        in_path_in_file: name of the input dataset.
        out_path_in_file: name of the HDF5 dataset (intermediate groups are created).
        out_chunks: HDF5 chunk shape (clipped to the dataset shape, as HDF5 requires).
            None uses the input's chunk shape.
        n_threads: threads for reading.
        out_blocks: block shape used for copying; must be a multiple of ``out_chunks``.
            If None, the chunk shape is used, enlarged to cover whole input chunks when
            such a block fits in 64 MiB.
        progress: show a tqdm progress bar.
        resume: if the HDF5 dataset exists already (same shape and dtype), skip blocks
            whose HDF5 chunks are all allocated.  False writes every block again.
        client: a ``distributed.Client``; blocks are then read on its workers and sent
            back to be written here.
        on_block: called with each finished block (in the calling thread).
        storage_options: configuration of the N5/Zarr container if it is a URL (see
            :class:`z5py.File`); they travel with the blocks to Dask workers.
        **h5_kwargs: options for ``h5py.Group.create_dataset``: ``dtype`` (values are cast
            with numpy ``astype``), ``compression`` (``"gzip"``, ``"lzf"``...),
            ``compression_opts``, ``shuffle``, ``fillvalue``...  No compression by default.

    Returns:
        JobResult: counts of converted and skipped blocks, bytes and time.

    Attributes are copied onto the HDF5 dataset.  Numbers, strings and homogeneous lists
    become native HDF5 attributes; objects, ``null`` and mixed lists are stored as JSON text.
    """
    h5py = _h5py()
    in_key = _resolve_key(in_path_in_file)
    out_key = _resolve_key(out_path_in_file)
    timer = Timer().start()
    job = JobOptions(n_threads, resume, client, progress, on_block, _label(in_path, out_path))
    f_z5 = open_z5_read(in_path, storage_options)
    ds_z5 = f_z5[in_key]
    shape = tuple(int(s) for s in ds_z5.shape)
    ndim = len(shape)
    kwargs = dict(h5_kwargs)
    out_dtype = np.dtype(kwargs.pop("dtype", ds_z5.dtype))
    kwargs.pop("chunks", None)
    if out_chunks is None:
        out_chunks = tuple(ds_z5.chunks)
    chunks = as_shape(out_chunks, "out_chunks", ndim)
    if out_blocks is None:
        blocks_shape = auto_blocks(chunks, tuple(ds_z5.chunks), shape, out_dtype.itemsize)
    else:
        blocks_shape = check_blocks(out_blocks, chunks)
    h5_chunks = tuple(max(1, min(c, s)) for c, s in zip(chunks, shape))

    with h5py.File(out_path, "a") as f_h5:
        existed = out_key in f_h5
        if existed:
            ds_h5 = f_h5[out_key]
            if not isinstance(ds_h5, h5py.Dataset):
                raise ValueError(f"{out_key!r} in {out_path} exists and is not a dataset")
            if tuple(ds_h5.shape) != shape or ds_h5.dtype != out_dtype:
                raise ValueError(
                    f"HDF5 dataset {out_key!r} already exists with shape {ds_h5.shape} and "
                    f"dtype {ds_h5.dtype} (wanted {shape}, {out_dtype}); remove it or pick "
                    "another output name"
                )
            stored = _h5_stored_chunks(ds_h5)
            stored_chunks = tuple(ds_h5.chunks) if ds_h5.chunks else h5_chunks
        else:
            ds_h5 = f_h5.create_dataset(
                out_key, shape=shape, dtype=out_dtype, chunks=h5_chunks or None, **kwargs
            )
            stored = set()
            stored_chunks = h5_chunks
        total = n_blocks(shape, blocks_shape)
        is_done = None
        if existed and job.resume and stored is not None and ds_h5.chunks:

            def is_done(b: Block) -> bool:
                return all(
                    tuple(i * c for i, c in zip(idx, stored_chunks)) in stored
                    for idx in chunk_ids(b, stored_chunks)
                )

        todo, skipped = plan(shape, blocks_shape, is_done)
        outer, inner = split_threads(job.n_threads, blocks_shape, tuple(ds_z5.chunks))
        set_threads(ds_z5, inner)
        copied, nbytes = run_blocks(
            todo,
            Z5Reader(ds_z5),
            _H5Writer(ds_h5, out_dtype, stored_chunks, stored, existed),
            read_in_main=False,
            write_in_main=True,
            n_workers=outer,
            job=job,
            total=total,
            skipped=skipped,
        )
        for key, value in dict(ds_z5.attrs.items()).items():
            try:
                ds_h5.attrs[key] = _json_to_h5_attr(value)
            except (TypeError, *H5PY_ERRORS) as e:  # TypeError: a type HDF5 cannot hold
                warnings.warn(f"attribute {key!r} not copied: {e}", stacklevel=2)
    return JobResult(total, skipped, copied, nbytes, timer.stop())
