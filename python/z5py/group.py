"""Groups: directories holding datasets and further groups, with a dict-like interface."""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from . import _z5py
from ._location import Loc, as_loc, durable_loc
from ._node import Node, split_name
from .dataset import Dataset, create_array, open_dataset, same_dtype
from .errors import (
    InvalidArgumentError,
    MetadataError,
    NodeExistsError,
    NodeNotFoundError,
    Z5FileNotFoundError,
)
from .shape_utils import normalize_chunks, normalize_maxshape, normalize_shape

__all__ = ["Group"]


def format_below(path: str | Loc, max_dirs: int = 10_000) -> str | None:
    """Format of the first node found below ``path`` (a directory or a :class:`Loc`) by its
    own metadata, breadth first in sorted order (``None`` if none within ``max_dirs``
    directories).

    This is how a container without root metadata is recognised: tensorstore and
    zarr-python write arrays under a prefix without a root ``.zgroup`` / ``zarr.json``, and
    N5-Java writes no root ``attributes.json`` when the root has no attributes.  Members
    whose metadata is corrupt are passed over here (opening them reports it).
    """
    queue = deque([as_loc(path)])
    visited = 0
    while queue and visited < max_dirs:
        visited += 1
        loc = queue.popleft()
        try:
            names = loc.members()
        except OSError:
            continue
        for name in names:
            sub = loc.child(name)
            try:
                _, fmt = sub.info()
            except MetadataError:
                continue
            if fmt is not None:
                return fmt
            queue.append(sub)
    return None


def _leads_to_zarr_node(loc: Loc) -> bool:
    """Whether a directory without metadata contains a Zarr node (through more such dirs)."""
    for name in loc.members():
        sub = loc.child(name)
        kind, _ = sub.info()
        if kind in ("array", "group") or (kind == "dir" and _leads_to_zarr_node(sub)):
            return True
    return False


class Group(Node, Mapping):
    """A group inside an N5 or Zarr container: a directory of datasets and subgroups.

    Groups behave like read-only dicts of their members (``group[name]``, ``name in
    group``, iteration over the sorted member names, ``keys``/``values``/``items``); names
    may be paths such as ``"a/b/c"``.  Members are created with :meth:`create_group`,
    :meth:`create_dataset` and their ``require_*`` variants and removed with ``del``.
    As in h5py, a name with a leading ``/`` (``"/a/b"``) starts from the container's root,
    on every group, and ``"/"`` is the root itself.

    Obtain groups from a :class:`~z5py.File` rather than constructing them directly.

    Parameters
    ----------
    path:
        Filesystem path of an existing group.
    is_zarr:
        Whether the group is Zarr (the version is read from disk) or N5.
    mode:
        Mode of the container; ``'r'`` makes every modification raise
        :class:`~z5py.errors.ReadOnlyError`.
    """

    _kind = "group"

    #: The h5py file modes and what they do.
    file_modes: ClassVar[dict[str, str]] = {
        "a": "read/write if it exists, create otherwise",
        "r": "read only, must exist",
        "r+": "read/write, must exist",
        "w": "create, truncate if it exists",
        "w-": "create, fail if it exists",
        "x": "create, fail if it exists",
    }

    def __init__(self, path: str | os.PathLike[str], is_zarr: bool = True, mode: str = "a") -> None:
        loc = as_loc(path)
        path = loc.shown()
        kind, fmt = loc.info()
        if kind == "dir" and not is_zarr:
            fmt = "n5"
        if kind not in ("group", "dir") or fmt is None or (fmt != "n5") != is_zarr:
            raise Z5FileNotFoundError(
                f"no {'Zarr' if is_zarr else 'N5'} group at {path!r} (found: {kind})"
            )
        self._init_node(loc, fmt, mode, loc, "/", None)

    # ----------------------------------------------------------------------------------
    # names from the root

    def _root_group(self) -> Group:
        """The container's root group (this group if it is the root)."""
        return self if self._name == "/" else self.file

    @staticmethod
    def _from_root(name: Any) -> bool:
        """Whether ``name`` starts at the container's root (a leading ``/``, as in h5py)."""
        return isinstance(name, str) and name.startswith("/")

    @staticmethod
    def _below_root(name: str) -> str:
        """``name`` (with a leading ``/``) relative to the root; ``//...`` is refused."""
        if name.startswith("//"):
            raise InvalidArgumentError(f"member name {name!r} has an empty component")
        return name[1:]

    def _parent_for(self, parts: list[str]) -> Group:
        """The group holding the member ``parts`` (relative to this group): this group for a
        single component, else the group object of the components before the last, whose
        chain of parents leads back to this group."""
        if len(parts) == 1:
            return self
        return group_at(
            self._loc.child(*parts[:-1]),
            self._fmt,
            name=posixpath.join(self._name, *parts[:-1]),
            parent=self._parent_for(parts[:-1]),
            **self._context(),
        )

    # ----------------------------------------------------------------------------------
    # members

    def _lookup(self, path: Loc) -> tuple[str | None, str]:
        """Kind (``"array"``, ``"group"`` or ``None``: nothing usable) and format at ``path``.

        In N5 every plain directory is a group.  In Zarr a group needs its metadata, except
        that a directory without metadata that leads to Zarr nodes counts as an (implicit)
        group: older z5py created intermediate groups that way.
        """
        kind, fmt = path.info()
        if kind == "dir":
            kind = "group" if self._fmt == "n5" or _leads_to_zarr_node(path) else None
        elif kind not in ("array", "group"):
            kind = None
        return kind, fmt or self._fmt

    def _kind_at(self, path: Loc) -> str | None:
        """Kind of the node at ``path``; see :meth:`_lookup`."""
        return self._lookup(path)[0]

    def _member(self, name: str) -> Group | Dataset | None:
        """Open the member ``name`` (relative, validated here), or ``None`` if there is none."""
        path, full = self._child_location(name)
        kind, fmt = self._lookup(path)
        if kind is None:
            return None
        parent = self._parent_for(name.split("/"))
        if kind == "array":
            return open_dataset(path, name=full, parent=parent, **self._context())
        return group_at(path, fmt, name=full, parent=parent, **self._context())

    def __getitem__(self, name: str) -> Group | Dataset:
        """The group or dataset ``name`` (a relative path such as ``"a/b"``, or a path from
        the root such as ``"/a/b"``).

        Raises :class:`~z5py.errors.NodeNotFoundError` (a ``KeyError``) if it does not exist.
        """
        if self._from_root(name):
            root = self._root_group()
            return root if name == "/" else root[self._below_root(name)]
        member = self._member(name)
        if member is None:
            raise NodeNotFoundError(f"no group or dataset named {name!r} in {self._name!r}")
        return member

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is an existing member (invalid names are never members)."""
        if self._from_root(name):
            return name == "/" or (not name.startswith("//") and name[1:] in self._root_group())
        try:
            path, _ = self._child_location(name)
        except (TypeError, ValueError):
            return False
        return self._kind_at(path) is not None

    def is_sub_group(self, name: str) -> bool:
        """Whether ``name`` is an existing group below this one (``False`` for a dataset or a
        missing member)."""
        if self._from_root(name):
            return name == "/" or (
                not name.startswith("//") and self._root_group().is_sub_group(name[1:])
            )
        try:
            path, _ = self._child_location(name)
        except (TypeError, ValueError):
            return False
        return self._kind_at(path) == "group"

    def __iter__(self) -> Iterator[str]:
        """Iterate over the names of the direct members, sorted."""
        names = self._loc.members()
        return iter([n for n in names if self._kind_at(self._loc.child(n)) is not None])

    def __len__(self) -> int:
        """Number of direct members."""
        return sum(1 for _ in self)

    def _make_parents(self, parts: list[str]) -> None:
        """Create the groups along ``parts`` (relative to this group) that are missing."""
        path = self._loc
        for depth, part in enumerate(parts):
            path = path.child(part)
            kind = self._kind_at(path)
            if kind == "array":
                raise InvalidArgumentError(
                    f"cannot create a member below {'/'.join(parts[: depth + 1])!r}: "
                    "it is a dataset"
                )
            if kind is None:
                _z5py.create_group(path.target, self._fmt, False, key=path.key)

    def _check_absent(self, name: str, path: Loc, what: str) -> None:
        """Raise :class:`NodeExistsError` if a member already lives at ``path``."""
        kind = self._kind_at(path)
        if kind is not None:
            existing = "dataset" if kind == "array" else "group"
            raise NodeExistsError(
                f"cannot create {what} {name!r} in {self._name!r}: a {existing} of that name "
                "already exists"
            )

    def create_group(self, name: str) -> Group:
        """Create the group ``name`` (and any missing intermediate groups) and return it.

        Raises :class:`~z5py.errors.NodeExistsError` (a ``ValueError`` and ``KeyError``) if a
        member of that name already exists.
        """
        if self._from_root(name):
            return self._root_group().create_group(self._below_root(name))
        self._check_writable("create a group")
        path, full = self._child_location(name)
        self._check_absent(name, path, "group")
        parts = split_name(name)
        self._make_parents(parts)
        return group_at(
            path, self._fmt, name=full, parent=self._parent_for(parts), **self._context()
        )

    def require_group(self, name: str) -> Group:
        """The group ``name``, created if it does not exist.

        Raises ``TypeError`` if ``name`` is a dataset.
        """
        if self._from_root(name):
            root = self._root_group()
            return root if name == "/" else root.require_group(self._below_root(name))
        member = self._member(name)
        if isinstance(member, Dataset):
            raise TypeError(f"cannot require group {name!r}: a dataset of that name exists")
        return member if member is not None else self.create_group(name)

    def create_dataset(
        self,
        name: str,
        shape: Any = None,
        dtype: Any = None,
        data: Any = None,
        chunks: Any = None,
        compression: str | None = None,
        fillvalue: Any = 0,
        n_threads: int = 1,
        *,
        shards: Any = None,
        chunk_key_encoding: str | None = None,
        dimension_separator: str | None = None,
        maxshape: Any = None,
        dimension_names: Any = None,
        write_empty_chunks: bool | None = None,
        durable: bool = False,
        **compression_options: Any,
    ) -> Dataset:
        """Create the dataset ``name`` (and any missing intermediate groups) and return it.

        Like h5py, the shape and dtype are given explicitly or taken from ``data``, which
        is then written.  Unlike h5py, data is never converted: a ``dtype`` that differs
        from the data's raises :class:`~z5py.errors.DtypeMismatchError` (a ``RuntimeError``).

        Parameters
        ----------
        name:
            Name of the new dataset, relative to this group.
        shape, dtype:
            Shape and numpy dtype; both required unless ``data`` is given.
        data:
            Array whose shape and dtype define the dataset and which is written to it.
        chunks:
            Chunk shape; by default about 2**18 elements per chunk, clipped to the shape
            (1-d: 262144, 2-d: 512x512, 3-d: 64x64x64).
        compression:
            Compressor name (see ``Dataset.compressors_n5`` / ``compressors_zarr`` /
            ``compressors_zarr_v3``); defaults to ``"gzip"`` for N5 and ``"blosc"`` for
            Zarr.  ``"raw"`` stores chunks uncompressed.
        fillvalue:
            Value of never-written elements (Zarr only; N5 accepts only 0).
        n_threads:
            Threads used for chunk I/O by the returned dataset.
        shards:
            Zarr v3 only: shard shape (a multiple of ``chunks``); chunks are then stored
            inside shards with the ``sharding_indexed`` codec.
        chunk_key_encoding:
            Zarr v3 only: ``"default"`` (``c/0/1``) or ``"v2"`` (``0.1``).
        dimension_separator:
            Zarr only: ``"."`` or ``"/"`` between chunk indices.  For Zarr v2 the default is
            the ``dimension_separator`` the :class:`~z5py.File` was opened with (``"."``
            unless given); Zarr v3 uses ``chunk_key_encoding`` instead.
        maxshape:
            Largest shape :meth:`Dataset.resize` may give, one entry per axis (``None``:
            unlimited); by default every axis is unlimited.  Kept across reopening in a
            hidden attribute.
        dimension_names:
            Zarr v3 only: a name (or ``None``) per axis, stored as ``dimension_names``.
        write_empty_chunks:
            Store chunks that hold only the fill value instead of removing them; defaults
            to the :class:`~z5py.File`'s setting (``False``).
        durable:
            Make every write to the returned dataset (its metadata, chunks and attributes)
            durable before it returns, as ``File(durable=True)`` does for a whole container
            (this dataset object only: reopening it gives the file's setting).
        **compression_options:
            Options of the compressor in z5py spelling, e.g. ``level=5`` for gzip, or
            ``codec``, ``clevel``, ``shuffle``, ``blocksize`` for blosc.  h5py's
            ``compression_opts`` (a level or a dict) is accepted as well.
        """
        if self._from_root(name):
            return self._root_group().create_dataset(
                self._below_root(name),
                shape,
                dtype,
                data,
                chunks,
                compression,
                fillvalue,
                n_threads,
                shards=shards,
                chunk_key_encoding=chunk_key_encoding,
                dimension_separator=dimension_separator,
                maxshape=maxshape,
                dimension_names=dimension_names,
                write_empty_chunks=write_empty_chunks,
                durable=durable,
                **compression_options,
            )
        self._check_writable("create a dataset")
        path, full = self._child_location(name)
        if durable:
            path = durable_loc(path, self._root_loc)
        self._check_absent(name, path, "dataset")
        parts = split_name(name)
        self._make_parents(parts[:-1])
        if dimension_separator is None and self._fmt == "zarr2":
            dimension_separator = self._separator
        existed = path.exists()
        if write_empty_chunks is None:
            write_empty_chunks = self._file is not None and self._file.write_empty_chunks
        try:
            handle = create_array(
                path,
                self._fmt,
                shape=shape,
                dtype=dtype,
                data=data,
                chunks=chunks,
                compression=compression,
                fillvalue=fillvalue,
                n_threads=n_threads,
                shards=shards,
                chunk_key_encoding=chunk_key_encoding,
                dimension_separator=dimension_separator,
                compression_options=compression_options,
                maxshape=maxshape,
                dimension_names=dimension_names,
                write_empty_chunks=bool(write_empty_chunks),
            )
        except BaseException:
            # Leave no half-created dataset behind (the directory was not there before).
            if not existed:
                with contextlib.suppress(OSError):
                    if path.exists():
                        path.remove()
            raise
        return open_dataset(
            path,
            name=full,
            n_threads=n_threads,
            parent=self._parent_for(parts),
            handle=handle,
            **self._context(),
        )

    def require_dataset(
        self,
        name: str,
        shape: Any,
        dtype: Any = None,
        chunks: Any = None,
        n_threads: int = 1,
        **kwargs: Any,
    ) -> Dataset:
        """The dataset ``name``, created with these arguments if it does not exist.

        If it exists, its shape, dtype (if given) and chunks (if given) must match, else
        ``TypeError`` is raised as in h5py; ``kwargs`` (compression...) are only used for
        creation.
        """
        if self._from_root(name):
            return self._root_group().require_dataset(
                self._below_root(name), shape, dtype, chunks, n_threads, **kwargs
            )
        path, _ = self._child_location(name)
        kind = self._kind_at(path)
        if kind == "group":
            raise TypeError(f"cannot require dataset {name!r}: a group of that name exists")
        if kind is None:
            return self.create_dataset(
                name, shape=shape, dtype=dtype, chunks=chunks, n_threads=n_threads, **kwargs
            )
        dataset = self._member(name)
        assert isinstance(dataset, Dataset)
        dataset.n_threads = n_threads
        shape = normalize_shape(shape)
        if shape != dataset.shape:
            raise TypeError(
                f"shapes do not match for {name!r} (existing {dataset.shape} vs new {shape})"
            )
        if dtype is not None and not same_dtype(dtype, dataset.dtype):
            raise TypeError(
                f"dtypes do not match for {name!r} (existing {dataset.dtype} vs new "
                f"{np.dtype(dtype)})"
            )
        if chunks is not None and normalize_chunks(chunks, shape) != dataset.chunks:
            raise TypeError(
                f"chunks do not match for {name!r} (existing {dataset.chunks} vs new "
                f"{normalize_chunks(chunks, shape)})"
            )
        maxshape = kwargs.get("maxshape")
        if maxshape is not None and normalize_maxshape(maxshape, shape) != dataset.maxshape:
            raise TypeError(
                f"maxshapes do not match for {name!r} (existing {dataset.maxshape} vs new "
                f"{normalize_maxshape(maxshape, shape)})"
            )
        return dataset

    def __delitem__(self, name: str) -> None:
        """Delete the member ``name`` from disk (a dataset with its chunks, or a group tree)."""
        if self._from_root(name):
            if name == "/":
                raise InvalidArgumentError("cannot delete the root group '/'")
            del self._root_group()[self._below_root(name)]
            return
        self._check_writable("delete a member")
        path, _ = self._child_location(name)
        if self._kind_at(path) is None:
            raise NodeNotFoundError(f"no group or dataset named {name!r} in {self._name!r}")
        path.remove()

    def visititems(self, func: Callable[[str, Group | Dataset], Any]) -> Any:
        """Call ``func(name, object)`` for every member, recursively (pre-order, sorted).

        Names are relative to this group.  Stops and returns the first result that is not
        ``None``, like h5py.
        """
        return self._visit("", func)

    def _visit(self, prefix: str, func: Callable[[str, Group | Dataset], Any]) -> Any:
        """Recursive helper of :meth:`visititems`."""
        for key in self:
            member = self[key]
            result = func(prefix + key, member)
            if result is not None:
                return result
            if isinstance(member, Group):
                result = member._visit(prefix + key + "/", func)
                if result is not None:
                    return result
        return None

    def visit(self, func: Callable[[str], Any]) -> Any:
        """Call ``func(name)`` for every member, recursively; see :meth:`visititems`."""
        return self.visititems(lambda name, _: func(name))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by location: unpickling reopens the group."""
        return (
            group_at,
            (self._loc, self._fmt, self._mode, self._root_loc, self._name, None, self._separator),
        )

    def __repr__(self) -> str:
        """Name, format, mode and path."""
        return f'<z5py Group "{self._name}" ({self._fmt}, mode {self._mode!r}) at {self._path!r}>'


def group_at(
    path: str | Loc,
    fmt: str,
    mode: str,
    root: str | Loc,
    name: str,
    file: Any,
    separator: str = ".",
    parent: Group | None = None,
) -> Group:
    """A :class:`Group` object for the existing group at ``path`` (a directory or a ``Loc``),
    the member ``name`` of the container at ``root`` opened as ``file`` in ``mode``, without
    checking the disk (see ``Node._init_node`` for ``separator`` and ``parent``)."""
    group = Group.__new__(Group)
    group._init_node(path, fmt, mode, root, name, file, separator=separator, parent=parent)
    return group
