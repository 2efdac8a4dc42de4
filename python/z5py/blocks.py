"""Block planning for copy jobs: the grid of blocks over an array, which chunks a block
touches, and how large a copy block should be.

A block is a tuple of ``slice`` objects with integer bounds (step ``None``) that indexes a
dataset or a numpy array directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "AUTO_BLOCK_BYTES",
    "Block",
    "as_shape",
    "auto_blocks",
    "blocking",
    "check_blocks",
    "chunk_ids",
    "chunk_nbytes",
    "n_blocks",
    "plan",
]


Block = tuple[slice, ...]

#: Default upper bound (bytes) for an automatically enlarged copy block.
AUTO_BLOCK_BYTES = 64 * 2**20


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


def n_blocks(shape: Sequence[int], block_shape: Sequence[int]) -> int:
    """Number of blocks :func:`blocking` yields for the whole array."""
    if any(int(s) == 0 for s in shape):
        return 0
    return math.prod(-(-int(s) // int(b)) for s, b in zip(shape, block_shape))


def chunk_ids(block: Block, chunks: Sequence[int]) -> Iterator[tuple[int, ...]]:
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


def as_shape(value: Any, name: str, ndim: int | None = None) -> tuple[int, ...]:
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


def check_blocks(
    out_blocks: Any, out_chunks: tuple[int, ...], shards: Any = None
) -> tuple[int, ...]:
    """Validate that ``out_blocks`` is an element-wise multiple of ``out_chunks`` (and of
    ``shards`` when the output will be sharded)."""
    blocks = as_shape(out_blocks, "out_blocks", len(out_chunks))
    if any(b % c for b, c in zip(blocks, out_chunks)):
        raise ValueError(
            f"out_blocks {blocks} must be a multiple of out_chunks {out_chunks} in every dimension"
        )
    if shards is not None:
        unit = as_shape(shards, "shards", len(out_chunks))
        if any(b % u for b, u in zip(blocks, unit)):
            raise ValueError(
                f"out_blocks {blocks} must be a multiple of the output's shard shape {unit}"
            )
    return blocks


def auto_blocks(
    out_chunks: tuple[int, ...],
    in_chunks: Sequence[int] | None,
    shape: Sequence[int],
    itemsize: int,
    budget: int = AUTO_BLOCK_BYTES,
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


def plan(
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


def chunk_nbytes(idx: Sequence[int], shape: Sequence[int], chunks: Sequence[int], item: int) -> int:
    """Uncompressed bytes of the chunk at ``idx`` clipped to the array (``item`` bytes each)."""
    n = item
    for i, s, c in zip(idx, shape, chunks):
        n *= max(0, min(c, s - i * c))
    return n
