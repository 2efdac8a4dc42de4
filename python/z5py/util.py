"""Utilities around z5py datasets: block iteration, rechunking, timing and sample data.

The block-copy machinery in this module is shared by :func:`rechunk` and by the HDF5
converters in :mod:`z5py.converter`.  A copy job walks the output dataset block by block
(each block a whole number of output chunks), so memory stays bounded by the blocks in
flight, never the whole dataset.  Blocks whose output chunks all exist already are skipped
when a job is run again (``resume=True``), which makes interrupted jobs cheap to finish.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import io
import json
import math
import os
import re
import struct
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import Z5Error

__all__ = [
    "DownloadError",
    "JobResult",
    "Timer",
    "blocking",
    "fetch_test_data",
    "fetch_test_data_stent",
    "rechunk",
]

Block = tuple[slice, ...]

BlockCallback = Callable[[Block], None]

#: Extensions recognised as HDF5 files (lower case).
H5_EXTS = (".h5", ".hdf5", ".hdf", ".he5", ".h5py")
#: Extensions recognised as Zarr containers.
ZARR_EXTS = (".zarr", ".zr")
#: Extensions recognised as N5 containers.
N5_EXTS = (".n5",)

#: Default upper bound (bytes) for an automatically enlarged copy block.
_AUTO_BLOCK_BYTES = 64 * 2**20


# ---------------------------------------------------------------------------------------
# Blocking
# ---------------------------------------------------------------------------------------


def blocking(
    shape: Sequence[int], block_shape: Sequence[int], roi: Sequence[slice] | None = None
) -> Iterator[Block]:
    """Iterate over an n-d grid of blocks covering an array of ``shape``.

    Blocks are visited in C order (last axis fastest).  Each one is yielded as a tuple of
    ``slice`` objects with integer ``start``/``stop`` (step ``None``) that can index a
    dataset or a numpy array directly; blocks at the upper border are clipped to ``shape``.

    Args:
        shape: extent of the array.
        block_shape: extent of one block, one positive integer per axis.
        roi: optional region of interest (a tuple of slices with step 1); only the parts
            of the grid blocks that fall into it are yielded.  The grid stays anchored at
            the origin, so blocks stay aligned with ``block_shape``.

    Raises:
        ValueError: when the lengths differ or a block extent is not positive.
    """
    shape = tuple(int(s) for s in shape)
    block_shape = tuple(int(b) for b in block_shape)
    if len(shape) != len(block_shape):
        raise ValueError(f"blocking: shape {shape} and block_shape {block_shape} differ in length")
    if any(b <= 0 for b in block_shape):
        raise ValueError(f"blocking: block_shape {block_shape} must be positive")
    if any(s < 0 for s in shape):
        raise ValueError(f"blocking: shape {shape} must not be negative")
    if roi is None:
        lo = (0,) * len(shape)
        hi = shape
    else:
        roi = tuple(roi)
        if len(roi) != len(shape):
            raise ValueError("blocking: roi must have one slice per axis")
        lo_l, hi_l = [], []
        for sl, s in zip(roi, shape):
            start, stop, step = sl.indices(s)
            if step != 1:
                raise ValueError("blocking: roi slices must have step 1")
            lo_l.append(start)
            hi_l.append(max(start, stop))
        lo, hi = tuple(lo_l), tuple(hi_l)
    if any(a >= b for a, b in zip(lo, hi)):
        return
    first = [a // b for a, b in zip(lo, block_shape)]
    last = [(h - 1) // b for h, b in zip(hi, block_shape)]  # inclusive
    ndim = len(shape)
    if ndim == 0:
        yield ()
        return
    pos = list(first)
    # odometer loop: avoids materialising the index ranges (itertools.product would)
    while True:
        yield tuple(
            slice(max(p * b, a), min((p + 1) * b, h))
            for p, b, a, h in zip(pos, block_shape, lo, hi)
        )
        axis = ndim - 1
        while axis >= 0:
            pos[axis] += 1
            if pos[axis] <= last[axis]:
                break
            pos[axis] = first[axis]
            axis -= 1
        if axis < 0:
            return


def _n_blocks(shape: Sequence[int], block_shape: Sequence[int]) -> int:
    """Number of blocks :func:`blocking` yields for the whole array."""
    if any(int(s) == 0 for s in shape):
        return 0
    return math.prod(-(-int(s) // int(b)) for s, b in zip(shape, block_shape))


def _chunk_ids(block: Block, chunks: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Indices of the chunks of size ``chunks`` that ``block`` overlaps."""
    ranges = [range(b.start // c, -(-b.stop // c)) for b, c in zip(block, chunks)]
    if not ranges:
        yield ()
        return
    pos = [r.start for r in ranges]
    if any(len(r) == 0 for r in ranges):
        return
    while True:
        yield tuple(pos)
        axis = len(ranges) - 1
        while axis >= 0:
            pos[axis] += 1
            if pos[axis] < ranges[axis].stop:
                break
            pos[axis] = ranges[axis].start
            axis -= 1
        if axis < 0:
            return


def _as_shape(value: Any, name: str, ndim: int | None = None) -> tuple[int, ...]:
    """Normalise an int or a sequence of ints to a tuple of positive ints."""
    if isinstance(value, (int, np.integer)):
        if ndim is None:
            raise ValueError(f"{name} must be a tuple of integers")
        value = (int(value),) * ndim
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise ValueError(f"{name} must be a tuple of integers, got {value!r}") from None
    if ndim is not None and len(out) != ndim:
        raise ValueError(f"{name} {out} must have {ndim} entries, one per dimension")
    if any(v <= 0 for v in out):
        raise ValueError(f"{name} {out} must be positive")
    return out


def _check_blocks(
    out_blocks: Any, out_chunks: tuple[int, ...], shards: Any = None
) -> tuple[int, ...]:
    """Validate that ``out_blocks`` is an element-wise multiple of ``out_chunks`` (and of
    ``shards`` when the output will be sharded)."""
    blocks = _as_shape(out_blocks, "out_blocks", len(out_chunks))
    if any(b % c for b, c in zip(blocks, out_chunks)):
        raise ValueError(
            f"out_blocks {blocks} must be a multiple of out_chunks {out_chunks} in every dimension"
        )
    if shards is not None:
        unit = _as_shape(shards, "shards", len(out_chunks))
        if any(b % u for b, u in zip(blocks, unit)):
            raise ValueError(
                f"out_blocks {blocks} must be a multiple of the output's shard shape {unit}"
            )
    return blocks


def _auto_blocks(
    out_chunks: tuple[int, ...],
    in_chunks: Sequence[int] | None,
    shape: Sequence[int],
    itemsize: int,
    budget: int = _AUTO_BLOCK_BYTES,
) -> tuple[int, ...]:
    """Default copy block: the output chunk, grown so that it covers whole input chunks.

    Reading a region smaller than an input chunk decodes the whole input chunk, so a block
    of one output chunk can decode every input chunk many times over.  Growing each block
    extent to the next multiple of the output chunk at least as large as the input chunk
    avoids that.  The growth is dropped when the block would exceed ``budget`` bytes.
    """
    if not in_chunks or len(in_chunks) != len(out_chunks):
        return out_chunks
    grown = []
    for c, ic, s in zip(out_chunks, in_chunks, shape):
        b = c * max(1, -(-int(ic) // c))
        cap = c * max(1, -(-int(s) // c))  # no point in exceeding the array
        grown.append(min(b, cap))
    if math.prod(grown) * itemsize > budget:
        return out_chunks
    return tuple(grown)


def default_chunks(shape: Sequence[int], itemsize: int = 1) -> tuple[int, ...]:
    """A reasonable chunk shape for ``shape``: about 1 MiB, cube-like, clipped to ``shape``."""
    ndim = len(shape)
    if ndim == 0:
        return ()
    target = max(1, (2**20) // max(1, itemsize))
    side = max(1, round(target ** (1.0 / ndim)))
    # round down to a power of two, it keeps chunk grids tidy
    side = 2 ** int(math.log2(side))
    return tuple(max(1, min(side, int(s))) for s in shape)


# ---------------------------------------------------------------------------------------
# Timer
# ---------------------------------------------------------------------------------------


class Timer:
    """Wall-clock stopwatch.

    Use ``start()``/``stop()`` or a ``with`` block; ``elapsed`` gives seconds (while the
    timer runs, the time so far).  ``stop()`` returns the elapsed seconds.

    >>> with Timer() as t:
    ...     pass
    >>> t.elapsed >= 0
    True
    """

    def __init__(self) -> None:
        self._start: float | None = None
        self._stop: float | None = None

    def start(self) -> Timer:
        """Start (or restart) the timer and return it."""
        self._start = time.perf_counter()
        self._stop = None
        return self

    def stop(self) -> float:
        """Stop the timer and return the elapsed seconds.

        Raises:
            RuntimeError: if the timer was never started.
        """
        if self._start is None:
            raise RuntimeError("Timer.stop() called before Timer.start()")
        self._stop = time.perf_counter()
        return self.elapsed

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._start is not None and self._stop is None

    @property
    def elapsed(self) -> float:
        """Seconds between start and stop (or now, while running).

        Raises:
            RuntimeError: if the timer was never started.
        """
        if self._start is None:
            raise RuntimeError("Timer has not been started")
        end = self._stop if self._stop is not None else time.perf_counter()
        return end - self._start

    def __enter__(self) -> Timer:  # noqa: PYI034 - Timer is not meant to be subclassed
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        if self._start is None:
            return "Timer(not started)"
        state = "running" if self.running else "stopped"
        return f"Timer({state}, elapsed={self.elapsed:.3f}s)"


# ---------------------------------------------------------------------------------------
# Job results and the block-copy engine
# ---------------------------------------------------------------------------------------


@dataclass
class JobResult:
    """What a copy job (conversion or rechunking) did.

    Attributes:
        blocks_total: blocks in the output's copy grid.
        blocks_skipped: blocks found complete from an earlier run and not copied again.
        blocks_copied: blocks read and written by this run.
        nbytes: uncompressed bytes copied by this run.
        seconds: wall-clock duration of the copy.
    """

    blocks_total: int
    blocks_skipped: int
    blocks_copied: int
    nbytes: int
    seconds: float

    @property
    def resumed(self) -> bool:
        """True when some blocks were skipped because an earlier run had written them."""
        return self.blocks_skipped > 0

    @property
    def mb_per_s(self) -> float:
        """Throughput of this run in MB/s (uncompressed; 0 when nothing was copied)."""
        if self.seconds <= 0 or self.nbytes == 0:
            return 0.0
        return self.nbytes / 1e6 / self.seconds

    def summary(self) -> str:
        """A one-line human readable account of the job."""
        text = (
            f"copied {self.blocks_copied}/{self.blocks_total} blocks "
            f"({self.nbytes / 1e6:.1f} MB) in {self.seconds:.2f} s ({self.mb_per_s:.1f} MB/s)"
        )
        if self.blocks_skipped:
            text += f"; resumed: skipped {self.blocks_skipped} blocks already done"
        return text

    def __str__(self) -> str:
        return self.summary()


def _block_task(reader: Any, writer: Any, block: Block, data: np.ndarray | None):
    """One unit of work: read ``block`` (unless ``data`` is given), then write it (unless
    ``writer`` is None, in which case the data is returned to the caller).

    Module level so that it pickles for a Dask cluster.
    """
    if data is None:
        data = reader.read(block)
    nbytes = int(data.nbytes)
    if writer is None:
        return block, data, nbytes
    writer.write(block, data)
    return block, None, nbytes


def _progress_bar(progress: bool, total: int, initial: int, desc: str):
    """A tqdm bar (stderr), or a no-op stand-in when progress is off or tqdm is missing."""
    if progress:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - tqdm is a dependency
            pass
        else:
            return tqdm(total=total, initial=initial, desc=desc, unit="block", leave=True)

    class _Null:
        def update(self, n: int = 1) -> None:
            pass

        def close(self) -> None:
            pass

    return _Null()


def _run_blocks(
    blocks: Iterable[Block],
    reader: Any,
    writer: Any,
    *,
    read_in_main: bool,
    write_in_main: bool,
    n_workers: int,
    client: Any = None,
    progress: bool = False,
    desc: str = "copy",
    total: int = 0,
    skipped: int = 0,
    on_block: BlockCallback | None = None,
) -> tuple[int, int]:
    """Copy ``blocks`` from ``reader`` to ``writer`` with bounded memory.

    Reads happen in the calling thread when ``read_in_main`` (HDF5 input), writes when
    ``write_in_main`` (HDF5 output); the other side runs in a thread pool of ``n_workers``
    threads, or on a Dask ``client``.  At most about ``2 * n_workers`` blocks are in flight.
    ``on_block`` is called in the calling thread after each finished block; an exception it
    raises stops the job (blocks already running are let finish).

    Returns the number of blocks copied and the number of bytes copied.
    """
    n_workers = max(1, int(n_workers))
    max_inflight = 2 * n_workers if not read_in_main else n_workers + 1
    bar = _progress_bar(progress, total, skipped, desc)
    copied = 0
    nbytes = 0

    pool = None
    if client is None:
        pool = cf.ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="z5py-copy")

        def submit(*args):
            return pool.submit(_block_task, *args)

        def wait_first(futs):
            return cf.wait(futs, return_when=cf.FIRST_COMPLETED)

    else:
        from distributed import wait as dwait

        max_inflight = max(max_inflight, 2 * _client_workers(client))

        def submit(*args):
            return client.submit(_block_task, *args, pure=False)

        def wait_first(futs):
            return dwait(list(futs), return_when="FIRST_COMPLETED")

    pending: set = set()

    def finish(done) -> None:
        nonlocal copied, nbytes
        for fut in done:
            block, data, nb = fut.result()
            if write_in_main:
                writer.write(block, data)
            copied += 1
            nbytes += nb
            bar.update(1)
            if on_block is not None:
                on_block(block)

    try:
        for block in blocks:
            if read_in_main:
                data = reader.read(block)
                fut = submit(None, None if write_in_main else writer, block, data)
            else:
                fut = submit(reader, None if write_in_main else writer, block, None)
            pending.add(fut)
            while len(pending) >= max_inflight:
                done, not_done = wait_first(pending)
                pending = set(not_done)
                finish(done)
        while pending:
            done, not_done = wait_first(pending)
            pending = set(not_done)
            finish(done)
    except BaseException:
        if client is not None and pending:
            # the job's own error is the one to report; a cluster that cannot be reached
            # to cancel is not
            with contextlib.suppress(OSError, RuntimeError):
                client.cancel(list(pending))
        raise
    finally:
        if pool is not None:
            # let running writes finish so no thread touches the output after we return
            pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    return copied, nbytes


def _client_workers(client: Any) -> int:
    """Number of worker threads of a Dask client's cluster (at least 1)."""
    try:
        info = client.scheduler_info()
        workers = info.get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))
    except (OSError, RuntimeError):  # pragma: no cover - the scheduler is unreachable
        return 1


def _split_threads(
    n_threads: int, blocks_shape: Sequence[int], chunks: Sequence[int]
) -> tuple[int, int]:
    """Split ``n_threads`` between concurrent blocks and the engine's per-block threads
    (no more engine threads than a block has ``chunks``)."""
    n_threads = max(1, int(n_threads))
    chunks_per_block = math.prod(-(-b // c) for b, c in zip(blocks_shape, chunks))
    inner = max(1, min(n_threads, int(chunks_per_block)))
    outer = max(1, n_threads // inner)
    return outer, inner


# ---------------------------------------------------------------------------------------
# z5py-side readers / writers (picklable: datasets pickle by path)
# ---------------------------------------------------------------------------------------


class _Z5Reader:
    """Reads blocks from a z5py dataset."""

    def __init__(self, ds: Any) -> None:
        self.ds = ds

    def read(self, block: Block) -> np.ndarray:
        return np.ascontiguousarray(self.ds[block])


class _Z5Writer:
    """Writes blocks into a z5py dataset, casting to its dtype."""

    def __init__(self, ds: Any, dtype: np.dtype) -> None:
        self.ds = ds
        self.dtype = np.dtype(dtype)

    def write(self, block: Block, data: np.ndarray) -> None:
        data = np.ascontiguousarray(np.asarray(data).astype(self.dtype, copy=False))
        self.ds[block] = data


def _set_threads(ds: Any, n: int) -> None:
    """Set the engine threads of a z5py dataset."""
    ds.n_threads = int(n)


def _existing_chunk_set(ds: Any) -> set[tuple[int, ...]] | None:
    """The indices of a z5py dataset's stored chunks, or None if they cannot be listed."""
    handle = getattr(ds, "_handle", None)
    if handle is None or not hasattr(handle, "existing_chunks"):
        return None
    try:
        return {tuple(int(i) for i in idx) for idx in handle.existing_chunks()}
    except OSError:  # the chunks cannot be listed: the caller asks chunk by chunk
        return None


def _z5_block_done(ds: Any, block: Block, chunks: tuple[int, ...], existing: set | None) -> bool:
    """True when every chunk that ``block`` covers is stored in ``ds``."""
    for idx in _chunk_ids(block, chunks):
        if existing is not None:
            if idx not in existing:
                return False
        elif not ds.chunk_exists(idx):
            return False
    return True


def _plan_into_z5(
    shape: Sequence[int], blocks_shape: Sequence[int], ds_out: Any, resume: bool
) -> tuple[Iterable[Block], int]:
    """Blocks to copy into the z5py dataset ``ds_out``; with ``resume``, those whose output
    chunks are all stored already count as done."""
    if not resume:
        return _plan(shape, blocks_shape, None)
    chunks = tuple(int(c) for c in ds_out.chunks)
    existing = _existing_chunk_set(ds_out)
    return _plan(shape, blocks_shape, lambda b: _z5_block_done(ds_out, b, chunks, existing))


def _plan(
    shape: Sequence[int], blocks_shape: Sequence[int], is_done: Callable[[Block], bool] | None
) -> tuple[Iterable[Block], int]:
    """The blocks still to copy (lazily) and the number of blocks already done.

    Nothing is materialised: for huge datasets the block list itself would be large.
    """
    if is_done is None:
        return blocking(shape, blocks_shape), 0
    skipped = sum(1 for b in blocking(shape, blocks_shape) if is_done(b))
    todo = (b for b in blocking(shape, blocks_shape) if not is_done(b))
    return todo, skipped


def _write_unit(ds: Any) -> tuple[int, ...]:
    """The smallest region a task may write without racing another: shard, else chunk."""
    shards = getattr(ds, "shards", None)
    if shards:
        return tuple(int(s) for s in shards)
    return tuple(int(c) for c in ds.chunks)


def _final_blocks(
    out_blocks: tuple[int, ...] | None,
    ds_out: Any,
    in_chunks: Sequence[int] | None,
    itemsize: int,
) -> tuple[int, ...]:
    """Copy block shape for writing into ``ds_out``.

    ``out_blocks`` (already checked against the chunks) must also be a multiple of the
    shard shape of a sharded output, so that no two blocks write into one shard.  Without
    ``out_blocks`` the write unit is grown to cover whole input chunks.
    """
    unit = _write_unit(ds_out)
    shape = tuple(int(s) for s in ds_out.shape)
    if out_blocks is None:
        return _auto_blocks(unit, in_chunks, shape, itemsize)
    if any(b % u for b, u in zip(out_blocks, unit)):
        raise ValueError(
            f"out_blocks {out_blocks} must be a multiple of the output's shard shape {unit}"
        )
    return out_blocks


def _dataset_path(ds: Any) -> str | None:
    """Filesystem directory of a z5py dataset (via the public ``path`` or the handle)."""
    handle = getattr(ds, "_handle", None)
    p = getattr(handle, "path", None) if handle is not None else None
    if isinstance(p, str):
        return p
    p = getattr(ds, "path", None)
    return p if isinstance(p, str) else None


def _compression_of(ds: Any) -> dict[str, Any]:
    """Compression of a z5py dataset as ``create_dataset`` keyword arguments."""
    opts = getattr(ds, "compression_options", None)
    if opts is None:
        opts = getattr(ds, "compression_opts", None)
    opts = dict(opts or {})
    name = opts.pop("compression", None)
    if name is None:
        name = getattr(ds, "compression", None)
    if not isinstance(name, str):
        handle = getattr(ds, "_handle", None)
        name = getattr(handle, "compressor", None)
    out: dict[str, Any] = {}
    if isinstance(name, str):
        out["compression"] = name
    out.update(opts)
    return out


def infer_zarr_format(path: str) -> bool | None:
    """True for Zarr, False for N5, None when neither the extension nor the files tell."""
    ext = os.path.splitext(os.path.normpath(path))[1].lower()
    if ext in ZARR_EXTS:
        return True
    if ext in N5_EXTS:
        return False
    if os.path.isdir(path):
        for name in (".zgroup", ".zarray", "zarr.json"):
            if os.path.exists(os.path.join(path, name)):
                return True
        if os.path.exists(os.path.join(path, "attributes.json")):
            return False
    return None


def _open_z5_file(
    path: str,
    use_zarr_format: bool | None,
    *,
    default_zarr: bool = True,
    zarr_format: int | None = None,
):
    """Open (or create) a z5py container for writing, resolving its format.

    ``zarr_format`` (2 or 3) selects the Zarr version of a new container.
    """
    from .file import File

    fmt = use_zarr_format
    if fmt is None:
        fmt = infer_zarr_format(path)
    if fmt is None:
        fmt = True if zarr_format is not None else default_zarr
    if zarr_format is not None and fmt and not os.path.exists(path):
        return File(path, mode="a", use_zarr_format=True, zarr_format=int(zarr_format))
    return File(path, mode="a", use_zarr_format=bool(fmt))


def _open_z5_read(path: str):
    """Open an existing z5py container read-only."""
    from .file import File

    if not os.path.exists(path):
        raise FileNotFoundError(f"no such container: {path}")
    return File(path, mode="r")


def _require_parent(f: Any, key: str) -> tuple[Any, str]:
    """Return ``(group, name)`` for ``key`` inside ``f``, creating intermediate groups."""
    key = key.strip("/")
    if "/" not in key:
        return f, key
    parent, name = key.rsplit("/", 1)
    return f.require_group(parent), name


def _contains(group: Any, key: str) -> bool:
    return key.strip("/") in group


def _require_z5_dataset(
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
    if _contains(f, key):
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
    group, name = _require_parent(f, key)
    create_kwargs = dict(create_kwargs)
    if dimension_names is not None and getattr(group, "zarr_format", None) == 3:
        create_kwargs.setdefault("dimension_names", list(dimension_names))
    ds = group.create_dataset(
        name, shape=shape, chunks=chunks, dtype=np.dtype(dtype), **create_kwargs
    )
    return ds, False


def _native(dtype: Any) -> np.dtype:
    """The native-endian version of a numeric dtype."""
    dt = np.dtype(dtype)
    if dt.kind in "biufc" and dt.byteorder not in ("=", "|"):
        dt = dt.newbyteorder("=")
    return dt


def _copy_attrs_z5(src: Any, dst: Any) -> None:
    """Copy user attributes from one z5py node to another."""
    for key, value in dict(src.attrs.items()).items():
        dst.attrs[key] = value


# ---------------------------------------------------------------------------------------
# rechunk
# ---------------------------------------------------------------------------------------


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
        **new_compression: ``compression`` name and its options for the output.  Without a
            ``compression`` name the input's compressor is kept (with the options given
            here, or else the input's options); ``compression=None`` picks the output
            format's default.  ``shards=`` (Zarr v3) and ``zarr_format=3`` (for a new Zarr
            container) are accepted too.

    Returns:
        JobResult: counts of copied and skipped blocks, bytes and time.
    """
    if os.path.abspath(in_path) == os.path.abspath(out_path) and (
        in_path_in_file.strip("/") == out_path_in_file.strip("/")
    ):
        raise ValueError("rechunk cannot write a dataset onto itself; choose another output")
    f_in = _open_z5_read(in_path)
    ds_in = f_in[in_path_in_file.strip("/")]
    shape = tuple(int(s) for s in ds_in.shape)
    ndim = len(shape)
    out_chunks_t = _as_shape(out_chunks, "out_chunks", ndim)
    out_dtype = _native(ds_in.dtype if dtype is None else dtype)

    new_compression = dict(new_compression)
    zarr_format = new_compression.pop("zarr_format", None)
    compression = _compression_of(ds_in)
    if new_compression:
        if "compression" in new_compression:
            compression = dict(new_compression)
        else:
            compression = {"compression": compression.get("compression"), **new_compression}
            if compression["compression"] is None:
                compression.pop("compression")

    fmt = use_zarr_format
    if fmt is None:
        fmt = infer_zarr_format(out_path)
    if fmt is None:
        fmt = True if zarr_format is not None else bool(getattr(f_in, "is_zarr", False))
    blocks_shape = None
    if out_blocks is not None:
        blocks_shape = _check_blocks(out_blocks, out_chunks_t, compression.get("shards"))
    f_out = _open_z5_file(out_path, fmt, zarr_format=zarr_format)
    ds_out, existed = _require_z5_dataset(
        f_out,
        out_path_in_file,
        shape=shape,
        chunks=out_chunks_t,
        dtype=out_dtype,
        create_kwargs=compression,
        dimension_names=getattr(ds_in, "dimension_names", None),
    )
    return _copy_z5_to_z5(
        ds_in,
        ds_out,
        blocks_shape,
        out_dtype,
        n_threads,
        existed=existed,
        resume=resume,
        client=client,
        progress=progress,
        on_block=on_block,
        desc="rechunk",
    )


def _copy_z5_to_z5(
    ds_in: Any,
    ds_out: Any,
    out_blocks: tuple[int, ...] | None,
    out_dtype: np.dtype,
    n_threads: int,
    *,
    existed: bool,
    resume: bool,
    client: Any,
    progress: bool,
    on_block: BlockCallback | None,
    desc: str,
) -> JobResult:
    """Block copy between two z5py datasets (shared by rechunk and the CLI).

    ``out_blocks`` must already be checked against the output chunks (or be None).
    """
    timer = Timer().start()
    shape = tuple(ds_in.shape)
    out_chunks = tuple(int(c) for c in ds_out.chunks)
    blocks_shape = _final_blocks(out_blocks, ds_out, tuple(ds_in.chunks), out_dtype.itemsize)
    total = _n_blocks(shape, blocks_shape)
    todo, skipped = _plan_into_z5(shape, blocks_shape, ds_out, existed and resume)
    outer, inner = _split_threads(n_threads, blocks_shape, out_chunks)
    _set_threads(ds_in, inner)
    _set_threads(ds_out, inner)
    copied, nbytes = _run_blocks(
        todo,
        _Z5Reader(ds_in),
        _Z5Writer(ds_out, out_dtype),
        read_in_main=False,
        write_in_main=False,
        n_workers=outer,
        client=client,
        progress=progress,
        desc=desc,
        total=total,
        skipped=skipped,
        on_block=on_block,
    )
    _copy_attrs_z5(ds_in, ds_out)
    return JobResult(total, skipped, copied, nbytes, timer.stop())


# ---------------------------------------------------------------------------------------
# Test data
# ---------------------------------------------------------------------------------------

#: Where :func:`fetch_test_data` downloads the T1 head MRI (ImageJ sample, 256x256x129).
T1_HEAD_URL = "https://imagej.net/ij/images/t1-head-raw.zip"
#: Where :func:`fetch_test_data_stent` downloads the stent CT volume (imageio sample).
STENT_URL = "https://raw.githubusercontent.com/imageio/imageio-binaries/master/images/stent.npz"


class DownloadError(Z5Error, OSError):
    """Test data could not be downloaded (for example because the machine is offline)."""


def cache_dir() -> Path:
    """Directory for downloaded sample data: ``$Z5PY_CACHE``, else ``$XDG_CACHE_HOME/z5py``,
    else ``~/.cache/z5py``."""
    env = os.environ.get("Z5PY_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "z5py"


def _download(url: str, filename: str, timeout: float = 60.0) -> Path:
    """Return the cached copy of ``url`` (named ``filename``), downloading it if needed."""
    target = cache_dir() / filename
    if target.is_file() and target.stat().st_size > 0:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot create the cache directory {target.parent}: {e}") from e
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "z5py"})
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status = getattr(response, "status", None)
            if status is not None and status != 200:
                raise DownloadError(f"downloading {url} failed with HTTP status {status}")
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".download-")
            try:
                with os.fdopen(fd, "wb") as out:
                    while True:
                        buf = response.read(1 << 20)
                        if not buf:
                            break
                        out.write(buf)
                os.replace(tmp, target)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
    except DownloadError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise DownloadError(
            f"could not download test data from {url} ({reason}); the machine may be offline. "
            f"Download the file by hand and save it as {target} "
            "(or point $Z5PY_CACHE at a directory that has it)."
        ) from e
    return target


def _to_uint8(data: np.ndarray) -> np.ndarray:
    """Scale a volume to uint8 (0..255 by its maximum), unless it is uint8 already."""
    if data.dtype == np.uint8:
        return data
    data = data.astype(np.float64)
    lo = min(0.0, float(data.min())) if data.size else 0.0
    hi = float(data.max()) if data.size else 0.0
    if hi <= lo:
        return np.zeros(data.shape, dtype=np.uint8)
    return ((data - lo) / (hi - lo) * 255).astype(np.uint8)


_TIFF_TYPES = {
    1: "B",
    2: "c",
    3: "H",
    4: "I",
    5: "II",
    6: "b",
    7: "B",
    8: "h",
    9: "i",
    10: "ii",
    11: "f",
    12: "d",
}


def _read_tiff_stack(buf: bytes) -> np.ndarray:
    """Decode an uncompressed, single-channel (multi-page) baseline TIFF into an array.

    Enough for the sample data: ImageJ stacks, written either with one IFD per slice or
    with one IFD and an ``images=N`` description.  Compressed TIFFs raise ``ValueError``.
    """
    if buf[:2] == b"II":
        bo = "<"
    elif buf[:2] == b"MM":
        bo = ">"
    else:
        raise ValueError("not a TIFF file")
    (magic,) = struct.unpack(bo + "H", buf[2:4])
    if magic != 42:
        raise ValueError("unsupported TIFF variant (BigTIFF?)")
    (offset,) = struct.unpack(bo + "I", buf[4:8])
    pages = []
    first: dict[int, Any] | None = None
    while offset:
        (n,) = struct.unpack(bo + "H", buf[offset : offset + 2])
        tags: dict[int, Any] = {}
        for i in range(n):
            e = offset + 2 + 12 * i
            tag, typ, count = struct.unpack(bo + "HHI", buf[e : e + 8])
            fmt = _TIFF_TYPES.get(typ)
            if fmt is None:
                continue
            size = struct.calcsize(bo + fmt) * count
            if size <= 4:
                raw = buf[e + 8 : e + 8 + size]
            else:
                (vo,) = struct.unpack(bo + "I", buf[e + 8 : e + 12])
                raw = buf[vo : vo + size]
            if typ == 2:
                tags[tag] = raw.rstrip(b"\0").decode("latin-1")
            else:
                tags[tag] = list(struct.unpack(bo + fmt * count, raw))
        if first is None:
            first = tags
        width, height = tags[256][0], tags[257][0]
        bits = tags.get(258, [1])[0]
        if tags.get(259, [1])[0] != 1:
            raise ValueError("compressed TIFF data is not supported")
        if tags.get(277, [1])[0] != 1:
            raise ValueError("multi-channel TIFF data is not supported")
        kind = {1: "u", 2: "i", 3: "f"}[tags.get(339, [1])[0]]
        dt = np.dtype(f"{bo}{kind}{bits // 8}")
        data = b"".join(buf[o : o + c] for o, c in zip(tags[273], tags[279]))
        pages.append((np.frombuffer(data, dtype=dt, count=width * height), height, width, dt))
        (offset,) = struct.unpack(bo + "I", buf[offset + 2 + 12 * n : offset + 6 + 12 * n])
    if not pages:
        raise ValueError("TIFF file has no images")
    desc = first.get(270, "") if first else ""
    m = re.search(r"images=(\d+)", desc) if isinstance(desc, str) else None
    _, h, w, dt = pages[0]
    if len(pages) == 1 and m and int(m.group(1)) > 1:
        n_img = int(m.group(1))
        start = first[273][0]
        arr = np.frombuffer(buf, dtype=dt, count=n_img * h * w, offset=start)
        return arr.reshape(n_img, h, w).astype(dt.newbyteorder("="))
    stack = np.stack([p[0].reshape(p[1], p[2]) for p in pages])
    return stack.astype(stack.dtype.newbyteorder("="))


def fetch_test_data() -> np.ndarray:
    """The T1-weighted head MRI sample volume as a ``uint8`` array (scaled by its maximum).

    The ImageJ sample archive is downloaded once from :data:`T1_HEAD_URL` into
    :func:`cache_dir` and read from there afterwards.

    Raises:
        DownloadError: when the file is not cached and cannot be downloaded.
    """
    path = _download(T1_HEAD_URL, "t1-head-raw.zip")
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith((".tif", ".tiff"))]
            if not names:
                raise ValueError("archive holds no TIFF file")
            buf = zf.read(names[0])
    except (zipfile.BadZipFile, ValueError) as e:
        raise DownloadError(f"cached test data {path} is damaged ({e}); delete it and retry") from e
    return _to_uint8(_read_tiff_stack(buf))


def fetch_test_data_stent() -> np.ndarray:
    """The stent CT sample volume as a ``uint8`` array (scaled by its maximum).

    Downloaded once from :data:`STENT_URL` into :func:`cache_dir`.

    Raises:
        DownloadError: when the file is not cached and cannot be downloaded.
    """
    path = _download(STENT_URL, "stent.npz")
    try:
        with np.load(path) as z:
            data = z[z.files[0]]
    except (OSError, ValueError, zipfile.BadZipFile, IndexError) as e:
        raise DownloadError(f"cached test data {path} is damaged ({e}); delete it and retry") from e
    return _to_uint8(np.asarray(data))


def _jsonable(value: Any) -> Any:
    """Convert numpy and bytes values to plain JSON-compatible Python values.

    Raises TypeError for values JSON cannot represent.
    """
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, bytes):
            return value.decode("utf-8")
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OSU":
            return [_jsonable(v) for v in value.tolist()]
        if value.dtype.kind not in "biuf":
            raise TypeError(f"arrays of dtype {value.dtype} are not JSON-able")
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{type(value).__name__} is not JSON-able")


# keep io/json referenced for type checkers of helpers in other modules
_ = (io, json)
