"""The copy-job runner: copies a dataset block by block with bounded memory.

A copy job walks the output dataset block by block (each block a whole number of output
chunks, see :mod:`z5py.blocks`), so memory stays bounded by the blocks in flight, never the
whole dataset.  Blocks whose output chunks all exist already are skipped when a job is run
again (``resume=True``), which makes interrupted jobs cheap to finish.  Shared by
:func:`z5py.util.rechunk`, the HDF5 converters in :mod:`z5py.converter` and the command line.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .blocks import Block, auto_blocks, chunk_ids, n_blocks, plan
from .timer import Timer

__all__ = [
    "BlockCallback",
    "JobOptions",
    "JobResult",
    "Z5Reader",
    "Z5Writer",
    "block_task",
    "client_workers",
    "copy_attrs",
    "copy_z5_to_z5",
    "existing_chunk_set",
    "final_blocks",
    "plan_into_z5",
    "progress_bar",
    "run_blocks",
    "set_threads",
    "split_threads",
    "write_unit",
    "z5_block_done",
]


BlockCallback = Callable[[Block], None]


@dataclass(frozen=True)
class JobOptions:
    """How a copy job runs, as the public job functions take it: with ``n_threads`` threads
    (or as tasks on the Dask ``client``), skipping the blocks an earlier run stored when
    ``resume``, with a tqdm bar labelled ``desc`` when ``progress``, calling ``on_block``
    with each finished block (in the calling thread)."""

    n_threads: int
    resume: bool = True
    client: Any = None
    progress: bool = False
    on_block: BlockCallback | None = None
    desc: str = "copy"


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


def block_task(reader: Any, writer: Any, block: Block, data: np.ndarray | None):
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


def progress_bar(progress: bool, total: int, initial: int, desc: str):
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


def run_blocks(
    blocks: Iterable[Block],
    reader: Any,
    writer: Any,
    *,
    read_in_main: bool,
    write_in_main: bool,
    n_workers: int,
    job: JobOptions,
    total: int = 0,
    skipped: int = 0,
) -> tuple[int, int]:
    """Copy ``blocks`` from ``reader`` to ``writer`` with bounded memory.

    Reads happen in the calling thread when ``read_in_main`` (HDF5 input), writes when
    ``write_in_main`` (HDF5 output); the other side runs in a thread pool of ``n_workers``
    threads, or on the Dask ``job.client``.  At most about ``2 * n_workers`` blocks are in
    flight.  ``job.on_block`` is called in the calling thread after each finished block; an
    exception it raises stops the job (blocks already running are let finish).  ``total``
    and ``skipped`` size the progress bar.

    Returns the number of blocks copied and the number of bytes copied.
    """
    client, on_block = job.client, job.on_block
    n_workers = max(1, int(n_workers))
    max_inflight = 2 * n_workers if not read_in_main else n_workers + 1
    bar = progress_bar(job.progress, total, skipped, job.desc)
    copied = 0
    nbytes = 0

    pool = None
    if client is None:
        pool = cf.ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="z5py-copy")

        def submit(*args):
            return pool.submit(block_task, *args)

        def wait_first(futs):
            return cf.wait(futs, return_when=cf.FIRST_COMPLETED)

    else:
        from distributed import wait as dwait

        max_inflight = max(max_inflight, 2 * client_workers(client))

        def submit(*args):
            return client.submit(block_task, *args, pure=False)

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


def client_workers(client: Any) -> int:
    """Number of worker threads of a Dask client's cluster (at least 1)."""
    try:
        info = client.scheduler_info()
        workers = info.get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))
    except (OSError, RuntimeError):  # pragma: no cover - the scheduler is unreachable
        return 1


def split_threads(
    n_threads: int, blocks_shape: Sequence[int], chunks: Sequence[int]
) -> tuple[int, int]:
    """Split ``n_threads`` between concurrent blocks and the engine's per-block threads
    (no more engine threads than a block has ``chunks``)."""
    n_threads = max(1, int(n_threads))
    chunks_per_block = math.prod(-(-b // c) for b, c in zip(blocks_shape, chunks))
    inner = max(1, min(n_threads, int(chunks_per_block)))
    outer = max(1, n_threads // inner)
    return outer, inner


class Z5Reader:
    """Reads blocks from a z5py dataset."""

    def __init__(self, ds: Any) -> None:
        self.ds = ds

    def read(self, block: Block) -> np.ndarray:
        return np.ascontiguousarray(self.ds[block])


class Z5Writer:
    """Writes blocks into a z5py dataset, casting to its dtype."""

    def __init__(self, ds: Any, dtype: np.dtype) -> None:
        self.ds = ds
        self.dtype = np.dtype(dtype)

    def write(self, block: Block, data: np.ndarray) -> None:
        data = np.ascontiguousarray(np.asarray(data).astype(self.dtype, copy=False))
        if getattr(self.ds, "object_codec", None) in ("vlen-utf8", "vlen-bytes"):
            self._write_vlen(block, data)
            return
        self.ds[block] = data

    def _write_vlen(self, block: Block, data: np.ndarray) -> None:
        """Write strings / bytes where items that are neither (the value a zarr-python 2
        source reads where it has no chunk: 0, None...) stand for "no chunk": an output
        chunk of only such items is not written (it reads as the output's fill value, the
        source's own when the output is Zarr v2), the others store them as the empty item,
        as numcodecs does."""
        missing = np.frompyfunc(lambda x: not isinstance(x, (str, bytes)), 1, 1)(data)
        missing = np.asarray(missing, dtype=bool)
        if not missing.any():
            self.ds[block] = data
            return
        chunks = tuple(int(c) for c in self.ds.chunks)
        for idx in chunk_ids(block, chunks):
            box = tuple(
                slice(max(b.start, i * c), min(b.stop, (i + 1) * c))
                for b, i, c in zip(block, idx, chunks)
            )
            local = tuple(slice(s.start - b.start, s.stop - b.start) for s, b in zip(box, block))
            if missing[local].all():
                continue
            part = data[local].copy()
            part[missing[local]] = None
            self.ds[box] = part


def set_threads(ds: Any, n: int) -> None:
    """Set the engine threads of a z5py dataset."""
    ds.n_threads = int(n)


def existing_chunk_set(ds: Any) -> set[tuple[int, ...]] | None:
    """The indices of a z5py dataset's stored chunks, or None if they cannot be listed."""
    try:
        return set(ds.stored_chunks())
    except OSError:  # the chunks cannot be listed: the caller asks chunk by chunk
        return None


def z5_block_done(ds: Any, block: Block, chunks: tuple[int, ...], existing: set | None) -> bool:
    """True when every chunk that ``block`` covers is stored in ``ds``."""
    for idx in chunk_ids(block, chunks):
        if existing is not None:
            if idx not in existing:
                return False
        elif not ds.chunk_exists(idx):
            return False
    return True


def plan_into_z5(
    shape: Sequence[int], blocks_shape: Sequence[int], ds_out: Any, resume: bool
) -> tuple[Iterable[Block], int]:
    """Blocks to copy into the z5py dataset ``ds_out``; with ``resume``, those whose output
    chunks are all stored already count as done."""
    if not resume:
        return plan(shape, blocks_shape, None)
    chunks = tuple(int(c) for c in ds_out.chunks)
    existing = existing_chunk_set(ds_out)
    return plan(shape, blocks_shape, lambda b: z5_block_done(ds_out, b, chunks, existing))


def write_unit(ds: Any) -> tuple[int, ...]:
    """The smallest region a task may write without racing another: shard, else chunk."""
    shards = ds.shards
    if shards:
        return tuple(int(s) for s in shards)
    return tuple(int(c) for c in ds.chunks)


def final_blocks(
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
    unit = write_unit(ds_out)
    shape = tuple(int(s) for s in ds_out.shape)
    if out_blocks is None:
        return auto_blocks(unit, in_chunks, shape, itemsize)
    if any(b % u for b, u in zip(out_blocks, unit)):
        raise ValueError(
            f"out_blocks {out_blocks} must be a multiple of the output's shard shape {unit}"
        )
    return out_blocks


def copy_attrs(src: Any, dst: Any) -> None:
    """Copy user attributes from one z5py node to another."""
    for key, value in dict(src.attrs.items()).items():
        dst.attrs[key] = value


def copy_z5_to_z5(
    ds_in: Any,
    ds_out: Any,
    out_blocks: tuple[int, ...] | None,
    out_dtype: np.dtype,
    *,
    existed: bool,
    job: JobOptions,
) -> JobResult:
    """Block copy between two z5py datasets (shared by rechunk and the CLI); ``existed``
    tells that ``ds_out`` was there before (then ``job.resume`` skips what it holds).

    ``out_blocks`` must already be checked against the output chunks (or be None).
    """
    timer = Timer().start()
    shape = tuple(ds_in.shape)
    out_chunks = tuple(int(c) for c in ds_out.chunks)
    blocks_shape = final_blocks(out_blocks, ds_out, tuple(ds_in.chunks), out_dtype.itemsize)
    total = n_blocks(shape, blocks_shape)
    todo, skipped = plan_into_z5(shape, blocks_shape, ds_out, existed and job.resume)
    outer, inner = split_threads(job.n_threads, blocks_shape, out_chunks)
    set_threads(ds_in, inner)
    set_threads(ds_out, inner)
    copied, nbytes = run_blocks(
        todo,
        Z5Reader(ds_in),
        Z5Writer(ds_out, out_dtype),
        read_in_main=False,
        write_in_main=False,
        n_workers=outer,
        job=job,
        total=total,
        skipped=skipped,
    )
    copy_attrs(ds_in, ds_out)
    return JobResult(total, skipped, copied, nbytes, timer.stop())
