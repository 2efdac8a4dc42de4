"""numpy / h5py / zarr-python style selections resolved against a dataset's shape.

Two kinds of selection, as zarr-python has them:

* **orthogonal** (``ds[...]`` and ``ds.oindex[...]``): every index applies to its own axis,
  numpy's ``np.ix_`` result.  An axis takes an integer (the axis is dropped), a slice (any
  non-zero step), an array or list of integers (any order, repeats allowed, negative ones
  count from the end; a multi-dimensional integer array puts its shape in place of the
  axis, as numpy does for a single array index) or a 1-d boolean mask of the axis' length.
  ``Ellipsis`` and ``None`` work as in numpy.  With one array index (and no integer index,
  which numpy would treat as an array index too) the result equals numpy's; with several,
  numpy broadcasts them together while an orthogonal selection combines every index of one
  with every index of the others, as h5py and zarr-python's ``oindex`` do.
* **vectorised** (``ds.vindex[...]``): integer arrays (broadcast together) give points,
  numpy's advanced indexing; a boolean mask of the dataset's full shape selects the points
  where it is true (also accepted by ``ds[mask]``).

:func:`orthogonal` gives an :class:`Orthogonal`, whose :meth:`Orthogonal.indices` are the
per-axis index lists the engine reads chunk by chunk; :func:`points` gives the coordinates
of a vectorised selection.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .shape_utils import Resolved, expand_index, index_axes, index_position

__all__ = ["Orthogonal", "is_full_mask", "orthogonal", "points"]


def _is_array_like(item: Any) -> bool:
    """Lists and arrays of at least one dimension (a 0-d integer array is an integer)."""
    return isinstance(item, list) or (isinstance(item, np.ndarray) and item.ndim > 0)


def _as_int(item: Any, dim: int, extent: int) -> int:
    """An integer index within ``extent`` (negative counts from the end)."""
    if isinstance(item, (bool, np.bool_)) or not hasattr(item, "__index__"):
        raise TypeError(
            "z5py datasets are indexed by integers, slices, integer arrays or lists, "
            f"boolean masks, Ellipsis ('...') and None; got {type(item).__name__} ({item!r})"
        )
    return index_position(operator.index(item), dim, extent)


def _index_array(item: Any, dim: int, extent: int) -> np.ndarray:
    """An integer or boolean array index of one axis as non-negative int64 positions (in
    the array's own shape; a boolean mask gives the 1-d positions where it is true)."""
    array = np.asarray(item)
    if array.dtype == np.bool_:
        if array.ndim != 1:
            raise IndexError(
                f"a boolean index of axis {dim} must be 1-dimensional (a mask of the whole "
                f"dataset's shape selects points); got shape {array.shape}"
            )
        if array.shape[0] != extent:
            raise IndexError(
                f"boolean index of length {array.shape[0]} does not match axis {dim} "
                f"of size {extent}"
            )
        return np.flatnonzero(array).astype(np.int64)
    if array.size == 0 and array.dtype.kind not in "iu":
        array = array.astype(np.int64)  # [] is an empty integer list, as for numpy
    if array.dtype.kind not in "iu":
        raise IndexError(
            f"arrays used as indices must be of integer or boolean type, got {array.dtype} "
            f"for axis {dim}"
        )
    positions = array.astype(np.int64)
    if positions.size:
        low, high = int(positions.min()), int(positions.max())
        if low < -extent or high >= extent:
            bad = low if low < -extent else high
            raise IndexError(f"index {bad} is out of bounds for axis {dim} with size {extent}")
    return np.where(positions < 0, positions + extent, positions)


@dataclass(frozen=True, kw_only=True)
class Orthogonal(Resolved):
    """An orthogonal selection resolved against a shape (see
    :class:`~z5py.shape_utils.Resolved` for ``counts``, ``out_shape`` and ``scalar``; array
    indices put their own shape into ``out_shape``).

    ``axes`` holds one entry per dataset axis: an ``int`` (a dropped axis), a ``range``
    (a slice) or a 1-d int64 array (an array index, flattened).
    """

    axes: tuple[Any, ...]

    @property
    def box(self) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        """``(start, shape)`` when the selection is one box (integers and step-1 slices)."""
        start, shape = [], []
        for axis in self.axes:
            if isinstance(axis, int):
                start.append(axis)
                shape.append(1)
            elif isinstance(axis, range) and axis.step == 1:
                start.append(axis.start)
                shape.append(len(axis))
            else:
                return None
        return tuple(start), tuple(shape)

    def indices(self) -> list[np.ndarray]:
        """The selected positions of every axis as uint64 arrays (for the engine)."""
        out = []
        for axis in self.axes:
            if isinstance(axis, int):
                out.append(np.array([axis], dtype=np.uint64))
            elif isinstance(axis, range):
                positions = np.arange(axis.start, axis.stop, axis.step, dtype=np.int64)
                out.append(positions.astype(np.uint64))
            else:
                out.append(np.ascontiguousarray(axis, dtype=np.uint64))
        return out


def orthogonal(index: Any, shape: Sequence[int]) -> Orthogonal:
    """Resolve ``index`` as an orthogonal selection of an array of ``shape``.

    Raises ``IndexError`` for positions out of range, a wrong number of indices or a mask of
    the wrong length, ``TypeError`` for indices of another kind (floats, strings...) and
    ``ValueError`` for a slice step of zero.
    """
    items, has_ellipsis = expand_index(index, len(shape))
    axes: list[Any] = []
    counts: list[int] = []
    out_shape: list[int] = []
    has_array = False
    for dim, extent, item in index_axes(items, shape, out_shape):
        if isinstance(item, slice):
            positions = range(*item.indices(extent))
            axes.append(positions)
            counts.append(len(positions))
            out_shape.append(len(positions))
        elif _is_array_like(item):
            has_array = True
            array = _index_array(item, dim, extent)
            axes.append(array.reshape(-1))
            counts.append(array.size)
            out_shape.extend(array.shape)
        else:
            axes.append(_as_int(item, dim, extent))
            counts.append(1)
    return Orthogonal(
        axes=tuple(axes),
        counts=tuple(counts),
        out_shape=tuple(out_shape),
        scalar=not has_ellipsis and not out_shape and not has_array,
    )


def is_full_mask(index: Any, shape: Sequence[int]) -> bool:
    """Whether ``index`` is a boolean array of exactly ``shape`` (of 2 or more dimensions,
    or of a 1-d dataset's shape)."""
    return (
        isinstance(index, np.ndarray)
        and index.dtype == np.bool_
        and index.shape == tuple(shape)
        and len(shape) >= 1
    )


def points(index: Any, shape: Sequence[int]) -> tuple[np.ndarray, tuple[int, ...]]:
    """Resolve a vectorised selection: ``(coordinates, out_shape)``.

    ``coordinates`` is a C-contiguous ``(n, ndim)`` uint64 array and ``out_shape`` the
    result's shape (the broadcast shape of the index arrays; ``(n,)`` for a mask).
    """
    ndim = len(shape)
    if ndim == 0:
        raise IndexError("a 0-dimensional dataset has no points to select with vindex")
    if is_full_mask(index, shape):
        coords = np.argwhere(index)
        return np.ascontiguousarray(coords, dtype=np.uint64), (coords.shape[0],)
    items = list(index) if isinstance(index, tuple) else [index]
    if len(items) != ndim:
        raise IndexError(
            f"vindex needs one integer array per axis ({ndim}) or a boolean mask of the "
            f"dataset's shape {tuple(shape)}; got {len(items)} indices"
        )
    arrays = []
    for dim, item in enumerate(items):
        if isinstance(item, slice) or item is None or item is Ellipsis:
            raise IndexError(
                "vindex takes integer arrays (broadcast together) or a full boolean mask; "
                f"got {item!r} for axis {dim}"
            )
        if _is_array_like(item):
            arrays.append(_index_array(item, dim, shape[dim]))
        else:
            arrays.append(np.int64(_as_int(item, dim, shape[dim])))
    try:
        broadcast = np.broadcast_arrays(*arrays)
    except ValueError:
        raise IndexError(
            "vindex arrays could not be broadcast together with shapes "
            + " ".join(str(np.shape(a)) for a in arrays)
        ) from None
    out_shape = broadcast[0].shape if broadcast else ()
    coords = np.stack([b.reshape(-1) for b in broadcast], axis=-1) if broadcast else None
    return np.ascontiguousarray(coords, dtype=np.uint64), tuple(out_shape)
