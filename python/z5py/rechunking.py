"""Rechunking: copy an N5 / Zarr dataset into one with other chunks, dtype, format or codec."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._location import same_container
from .blocks import as_shape, check_blocks
from .containers import (
    copy_compression,
    native_dtype,
    open_z5_file,
    open_z5_read,
    require_z5_dataset,
)
from .jobs import BlockCallback, JobOptions, JobResult, copy_z5_to_z5

__all__ = [
    "copy_dataset",
    "rechunk",
]


def rechunk(
    in_path: str,
    out_path: str,
    in_path_in_file: str,
    out_path_in_file: str,
    out_chunks: Sequence[int],
    n_threads: int,
    out_blocks: Sequence[int] | None = None,
    dtype: Any = None,
    use_zarr_format: bool | None = None,
    *,
    progress: bool = False,
    resume: bool = True,
    client: Any = None,
    on_block: BlockCallback | None = None,
    storage_options: dict[str, Any] | None = None,
    out_storage_options: dict[str, Any] | None = None,
    **new_compression: Any,
) -> JobResult:
    """Copy a dataset into a new one with other chunks (and optionally dtype, format or codec).

    The copy runs block by block: each block is read from the input, cast to ``dtype`` and
    written to the output, with up to ``n_threads`` threads (or on a Dask cluster when
    ``client`` is given).  User attributes are copied too.

    Args:
        in_path: input container (N5 or Zarr).
        out_path: output container; created if missing.  May be the input container when
            ``out_path_in_file`` differs.
        in_path_in_file: name of the input dataset.
        out_path_in_file: name of the output dataset.
        out_chunks: chunk shape of the output dataset.
        n_threads: threads used for the copy.
        out_blocks: copy block shape, a multiple of ``out_chunks`` in every dimension.  If
            None, the output chunk shape is used, enlarged to cover whole input chunks when
            such a block fits in 64 MiB (which avoids decoding input chunks repeatedly; the
            result is the same).
        dtype: dtype of the output; by default the input's.  Values are cast with numpy
            (``astype``), so narrowing casts wrap or truncate.
        use_zarr_format: True for Zarr, False for N5.  None infers the format from the
            output's extension (or existing files) and otherwise keeps the input's format.
        progress: show a tqdm progress bar.
        resume: if the output dataset exists already (same shape, chunks and dtype), skip
            the blocks whose output chunks are all stored, so an interrupted job finishes
            where it stopped.  Blocks that hold only the fill value are never stored and so
            are always copied again.  Resuming trusts that the existing output was made
            from the same input; with False every block is written again.
        client: a ``distributed.Client``; blocks then run as tasks on its cluster.
        on_block: called with each finished block (in the calling thread).
        storage_options: configuration of the containers that are URLs (``s3://...``, see
            :class:`z5py.File`); local paths ignore them.  They travel with the blocks to
            Dask workers.
        out_storage_options: configuration of the output URL when it differs from the
            input's (default: ``storage_options``).
        **new_compression: ``compression`` name and its options for the output.  Without a
            ``compression`` name the input's compressor is kept (with the options given
            here, or else the input's options); ``compression=None`` picks the output
            format's default.  ``shards=`` (Zarr v3) and ``zarr_format=3`` (for a new Zarr
            container) are accepted too.

    Returns:
        JobResult: counts of copied and skipped blocks, bytes and time.
    """
    if same_container(in_path, out_path) and (
        in_path_in_file.strip("/") == out_path_in_file.strip("/")
    ):
        raise ValueError("rechunk cannot write a dataset onto itself; choose another output")
    if out_storage_options is None:
        out_storage_options = storage_options
    f_in = open_z5_read(in_path, storage_options)
    ds_in = f_in[in_path_in_file.strip("/")]
    shape = tuple(int(s) for s in ds_in.shape)
    ndim = len(shape)
    out_chunks_t = as_shape(out_chunks, "out_chunks", ndim)
    out_dtype = native_dtype(ds_in.dtype if dtype is None else dtype)

    new_compression = dict(new_compression)
    zarr_format = new_compression.pop("zarr_format", None)
    compression = copy_compression(ds_in, new_compression)
    return copy_dataset(
        ds_in,
        out_path,
        out_path_in_file,
        is_zarr=use_zarr_format,
        default_zarr=f_in.is_zarr,
        zarr_format=zarr_format,
        chunks=out_chunks_t,
        dtype=out_dtype,
        compression=compression,
        out_blocks=out_blocks,
        job=JobOptions(n_threads, resume, client, progress, on_block, desc="rechunk"),
        storage_options=out_storage_options,
    )


def copy_dataset(
    ds_in: Any,
    out_path: str,
    out_key: str,
    *,
    is_zarr: bool | None,
    default_zarr: bool = True,
    zarr_format: int | None,
    chunks: tuple[int, ...],
    dtype: np.dtype,
    compression: dict[str, Any],
    out_blocks: Sequence[int] | None,
    job: JobOptions,
    storage_options: dict[str, Any] | None = None,
) -> JobResult:
    """Copy the z5py dataset ``ds_in`` into ``out_key`` of the container ``out_path``
    (created or opened, in the format ``is_zarr`` names, else the one its extension or
    files tell, else Zarr if ``zarr_format`` is given, else ``default_zarr``), made with
    ``chunks``, ``dtype`` and the ``create_dataset`` keyword arguments ``compression``;
    shared by :func:`rechunk` and ``z5py convert``.  An existing output must match; then,
    with ``job.resume``, the blocks it holds already are skipped.  Zarr v3
    ``dimension_names`` of the input are kept.  ``storage_options`` configure ``out_path``
    if it is a URL."""
    blocks_shape = None
    if out_blocks is not None:
        blocks_shape = check_blocks(out_blocks, chunks, compression.get("shards"))
    f_out = open_z5_file(
        out_path,
        is_zarr,
        default_zarr=default_zarr,
        zarr_format=zarr_format,
        storage_options=storage_options,
    )
    ds_out, existed = require_z5_dataset(
        f_out,
        out_key,
        shape=tuple(int(s) for s in ds_in.shape),
        chunks=chunks,
        dtype=dtype,
        create_kwargs=compression,
        dimension_names=ds_in.dimension_names,
    )
    if ds_in.dtype == object:
        # a zarr-python 2 string array's fill value 0 / None: kept where the output can
        # hold it (Zarr v2); elsewhere chunks the source lacks read as the output's "".
        # An output that exists already gets it too (a copy stopped right after creating
        # it, or made before copies kept it), or the chunks the copy leaves out (the
        # source's own missing ones) would read as its "" instead
        ds_out.keep_missing_value(ds_in.fillvalue)
    return copy_z5_to_z5(ds_in, ds_out, blocks_shape, dtype, existed=existed, job=job)
