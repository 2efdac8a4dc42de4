"""Shape, chunk and index arithmetic shared by the dataset and group layers.

Everything here is pure Python and independent of the on-disk format.  The central piece
is :func:`normalize_index`, which turns an h5py/numpy style basic index (integers, slices,
``Ellipsis`` and ``None``) into a :class:`Selection`: the bounding box to read or write on
disk plus what to do in memory (stepping, dropping and inserting axes).
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidArgumentError

__all__ = [
    "Resolved",
    "Selection",
    "check_region",
    "default_chunks",
    "expand_index",
    "index_axes",
    "index_position",
    "normalize_chunks",
    "normalize_index",
    "normalize_maxshape",
    "normalize_shape",
    "to_int",
]

#: Target number of elements of a default chunk (2**18, e.g. 64**3 or 512**2).
#: The one default of the package: ``create_dataset``, the HDF5 converters and
#: :func:`z5py.dask.store` all use :func:`default_chunks`, so a dataset gets the same chunks
#: whichever way it was made.  Counting elements rather than bytes keeps the chunk grid of
#: a dataset independent of its dtype (converting with another dtype keeps its chunks).
DEFAULT_CHUNK_ELEMENTS = 2**18


def to_int(value: Any, what: str) -> int:
    """``value`` as a Python int, refusing bools, floats and other non-integers."""
    if isinstance(value, bool) or (hasattr(value, "dtype") and value.dtype.kind == "b"):
        raise TypeError(f"{what} must be an integer, got a boolean ({value!r})")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{what} must be an integer, got {type(value).__name__} ({value!r})"
        ) from None


def normalize_shape(shape: Any) -> tuple[int, ...]:
    """Validate a shape (an int or a sequence of ints) and return it as a tuple of ints.

    Raises ``TypeError`` for non-integers and :class:`InvalidArgumentError` for negative
    extents.
    """
    if isinstance(shape, (str, bytes)):
        raise TypeError(f"shape must be an integer or a sequence of integers, got {shape!r}")
    dims = (shape,) if not hasattr(shape, "__len__") else tuple(shape)
    result = tuple(to_int(d, "shape entry") for d in dims)
    if any(d < 0 for d in result):
        raise InvalidArgumentError(f"shape must not contain negative extents, got {result}")
    return result


def normalize_maxshape(maxshape: Any, shape: Sequence[int]) -> tuple[int | None, ...]:
    """Validate h5py's ``maxshape`` against ``shape``: ``None`` (unlimited on every axis)
    or one entry per axis, each ``None`` (unlimited) or an extent at least the shape's."""
    if maxshape is None:
        return (None,) * len(shape)
    entries = (maxshape,) if not hasattr(maxshape, "__len__") else tuple(maxshape)
    if len(entries) != len(shape):
        raise InvalidArgumentError(
            f"maxshape {tuple(entries)} has {len(entries)} dimensions but the shape "
            f"{tuple(shape)} has {len(shape)}"
        )
    result = tuple(None if m is None else to_int(m, "maxshape entry") for m in entries)
    for dim, (m, n) in enumerate(zip(result, shape)):
        if m is not None and m < n:
            raise InvalidArgumentError(
                f"maxshape {result} is smaller than the shape {tuple(shape)} in axis {dim}"
            )
    return result


def default_chunks(shape: Sequence[int]) -> tuple[int, ...]:
    """Chunk shape used when the caller gives none.

    Every dimension gets the same edge length, chosen so that a chunk holds about
    :data:`DEFAULT_CHUNK_ELEMENTS` elements (1-d: 262144, 2-d: 512, 3-d: 64, 4-d: 23...),
    clipped to the extent of the array (and at least 1).
    """
    if len(shape) == 0:
        return ()
    edge = max(1, round(DEFAULT_CHUNK_ELEMENTS ** (1.0 / len(shape))))
    return tuple(max(1, min(edge, extent)) for extent in shape)


def normalize_chunks(chunks: Any, shape: Sequence[int]) -> tuple[int, ...]:
    """Validate ``chunks`` against ``shape``; ``None`` or ``True`` select :func:`default_chunks`.

    An int is accepted for a 1-d shape.  Every chunk extent must be a positive integer.
    """
    if chunks is None or chunks is True:
        return default_chunks(shape)
    if chunks is False:
        raise InvalidArgumentError(
            "z5py datasets are always chunked; chunks=False is not supported"
        )
    result = normalize_shape(chunks)
    if len(result) != len(shape):
        raise InvalidArgumentError(
            f"chunks {result} have {len(result)} dimensions but the shape {tuple(shape)} "
            f"has {len(shape)}"
        )
    if any(c < 1 for c in result):
        raise InvalidArgumentError(f"chunk extents must be positive, got {result}")
    return result


def check_region(
    start: Sequence[int], region_shape: Sequence[int], shape: Sequence[int]
) -> tuple[int, ...]:
    """Validate that the box at ``start`` of ``region_shape`` lies inside an array of ``shape``.

    Returns ``start`` as a tuple of ints; raises :class:`InvalidArgumentError` otherwise.
    """
    begin = tuple(to_int(s, "start coordinate") for s in start)
    if len(begin) != len(shape) or len(region_shape) != len(shape):
        raise InvalidArgumentError(
            f"region of {len(begin)} dimensions does not match the dataset's {len(shape)}"
        )
    for dim, (b, n, extent) in enumerate(zip(begin, region_shape, shape)):
        if b < 0 or n < 0 or b + n > extent:
            raise InvalidArgumentError(
                f"region [{b}, {b + n}) is out of bounds in dimension {dim} (extent {extent})"
            )
    return begin


@dataclass(frozen=True, kw_only=True)
class Resolved:
    """What every index resolved against a shape tells (a basic :class:`Selection` and the
    orthogonal selection of :mod:`z5py.indexing`): ``counts``, the number of selected
    elements per array dimension; ``out_shape``, the shape of the result (integer-indexed
    axes dropped, ``None`` axes inserted); ``scalar``, that the result is one element,
    returned as a numpy scalar like numpy does."""

    counts: tuple[int, ...]
    out_shape: tuple[int, ...]
    scalar: bool

    @property
    def empty(self) -> bool:
        """True when no element is selected (disk need not be touched)."""
        return any(c == 0 for c in self.counts)


@dataclass(frozen=True, kw_only=True)
class Selection(Resolved):
    """A basic index resolved against a shape (see :class:`Resolved` for ``counts``,
    ``out_shape`` and ``scalar``, which here means all axes integer-indexed and no
    ``Ellipsis``).

    ``start``/``shape`` describe the bounding box of the selected elements on disk (one
    entry per array dimension); ``steps`` the in-memory slices that pick the selected
    elements out of that box (``None`` when the box is selected entirely).
    """

    start: tuple[int, ...]
    shape: tuple[int, ...]
    steps: tuple[slice, ...] | None


def expand_index(index: Any, ndim: int) -> tuple[list[Any], bool]:
    """An index of an ``ndim``-dimensional array as a list with ``Ellipsis`` expanded and
    missing trailing slices added, and whether it had an ``Ellipsis`` (the basic and the
    fancy selections of :mod:`z5py.indexing` alike)."""
    items = list(index) if isinstance(index, tuple) else [index]
    n_ellipsis = sum(1 for item in items if item is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consuming = sum(1 for item in items if item is not None and item is not Ellipsis)
    if consuming > ndim:
        raise IndexError(
            f"too many indices: the dataset is {ndim}-dimensional but {consuming} were given"
        )
    fill = [slice(None)] * (ndim - consuming)
    if n_ellipsis:
        pos = items.index(Ellipsis)
        items = items[:pos] + fill + items[pos + 1 :]
    else:
        items = items + fill
    return items, n_ellipsis == 1


def index_axes(
    items: Sequence[Any], shape: Sequence[int], out_shape: list[int]
) -> Iterator[tuple[int, int, Any]]:
    """The ``(dim, extent, item)`` of each array axis that ``items`` (what
    :func:`expand_index` returns) index, in order; a ``None`` item (a new axis) indexes
    none and adds a 1 to ``out_shape``. The walk both index resolvers share."""
    dim = 0
    for item in items:
        if item is None:
            out_shape.append(1)
            continue
        yield dim, shape[dim], item
        dim += 1


def normalize_index(index: Any, shape: Sequence[int]) -> Selection:
    """Resolve a basic index (ints, slices, ``Ellipsis``, ``None`` or a tuple of them).

    Negative integers and slice bounds count from the end, slices are clipped like in
    numpy and may have any non-zero step.  Raises ``IndexError`` for integers out of range
    and ``TypeError`` for anything else (lists, arrays, floats: fancy indexing is not
    supported).
    """
    items, has_ellipsis = expand_index(index, len(shape))
    start: list[int] = []
    box: list[int] = []
    steps: list[slice] = []
    counts: list[int] = []
    out_shape: list[int] = []
    stepped = False
    for dim, extent, item in index_axes(items, shape, out_shape):
        if isinstance(item, slice):
            first, stop, step = item.indices(extent)
            count = len(range(first, stop, step))
            if count == 0:
                start.append(min(first, extent) if step > 0 else 0)
                box.append(0)
                steps.append(slice(None))
            else:
                last = first + (count - 1) * step
                low, high = min(first, last), max(first, last)
                start.append(low)
                box.append(high - low + 1)
                if step > 0:
                    steps.append(slice(None, None, step))
                else:
                    steps.append(slice(high - low, None, step))
                stepped = stepped or step != 1
            counts.append(count)
            out_shape.append(count)
        else:
            position = index_position(_index_or_type_error(item), dim, extent)
            start.append(position)
            box.append(1)
            steps.append(slice(None))
            counts.append(1)
    return Selection(
        start=tuple(start),
        shape=tuple(box),
        steps=tuple(steps) if stepped else None,
        counts=tuple(counts),
        out_shape=tuple(out_shape),
        scalar=not has_ellipsis and not out_shape,
    )


def index_position(position: int, dim: int, extent: int) -> int:
    """``position`` on axis ``dim`` of length ``extent`` counted from the start (negative
    ones count from the end); ``IndexError`` when it lies outside."""
    if not -extent <= position < extent:
        raise IndexError(f"index {position} is out of bounds for axis {dim} with size {extent}")
    return position % extent


def _index_or_type_error(item: Any) -> int:
    """An integer index, or ``TypeError`` explaining which indices are supported."""
    if isinstance(item, bool) or not hasattr(item, "__index__"):
        raise TypeError(
            "z5py datasets support only integers, slices, Ellipsis ('...') and None as "
            f"indices (no fancy or boolean indexing); got {type(item).__name__} ({item!r})"
        )
    return operator.index(item)
