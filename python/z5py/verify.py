"""Checking stored data: decode every stored chunk of a dataset and report the damaged ones.

Used by ``z5py verify``; a damaged chunk is ``"corrupt"`` when it does not decode and
``"mis-sized"`` when it decodes to another size or shape than its place in the dataset
(:class:`~z5py.errors.ChunkSizeError` from the engine, or a shape check here).
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ChunkSizeError, Z5Error

__all__ = ["BadChunk", "expected_stored_shape", "iter_datasets", "verify_dataset"]


@dataclass(frozen=True)
class BadChunk:
    """A stored chunk that failed verification."""

    index: tuple[int, ...]
    #: ``"corrupt"`` (does not decode) or ``"mis-sized"`` (wrong size or shape).
    kind: str
    message: str


def iter_datasets(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """``(name, dataset)`` for ``node`` itself when it is a dataset, else for every dataset
    below it (sorted, depth first); ``name`` is relative to the container, ``"."`` for
    the root."""
    if hasattr(node, "chunks"):
        yield key or ".", node
        return
    for name in sorted(node.keys()):
        yield from iter_datasets(node[name], f"{key}/{name}" if key else name)


def expected_stored_shape(
    idx: Sequence[int], shape: Sequence[int], chunks: Sequence[int], is_n5: bool
) -> tuple[int, ...]:
    """Shape a stored chunk decodes to: N5 clips border chunks to the array, Zarr does not."""
    if is_n5:
        return tuple(max(0, min(c, s - i * c)) for i, s, c in zip(idx, shape, chunks))
    return tuple(int(c) for c in chunks)


def verify_dataset(ds: Any, n_threads: int = 1) -> tuple[int, list[BadChunk]]:
    """Decode every stored chunk of the z5py dataset ``ds`` on ``n_threads`` threads.

    Returns the number of chunks checked and the bad ones, in chunk order.
    """
    shape = tuple(int(s) for s in ds.shape)
    chunks = tuple(int(c) for c in ds.chunks)
    is_n5 = not ds.is_zarr
    stored = ds.stored_chunks()

    def check(idx: tuple[int, ...]) -> BadChunk | None:
        try:
            data = ds.read_chunk(idx)
        except (Z5Error, OSError) as e:  # any failure to read or decode is a finding
            kind = "mis-sized" if isinstance(e, ChunkSizeError) else "corrupt"
            return BadChunk(idx, kind, f"{type(e).__name__}: {' '.join(str(e).split())}")
        if data is None:
            return BadChunk(idx, "corrupt", "chunk vanished while verifying")
        got = tuple(int(s) for s in np.shape(data))
        want = expected_stored_shape(idx, shape, chunks, is_n5)
        if got != want and not (is_n5 and got == chunks):
            return BadChunk(idx, "mis-sized", f"decoded shape {got}, expected {want}")
        return None

    with cf.ThreadPoolExecutor(max_workers=max(1, n_threads)) as pool:
        bad = [res for res in pool.map(check, stored) if res is not None]
    return len(stored), bad
