"""Common base of groups and datasets: location in the container, format, mode, attributes."""

from __future__ import annotations

import os
import posixpath
from typing import TYPE_CHECKING, Any

from ._location import Loc, as_loc
from .attribute_manager import AttributeManager
from .errors import InvalidArgumentError, ReadOnlyError
from .formats import METADATA_FILES

if TYPE_CHECKING:
    from .file import File
    from .group import Group


#: Mode used to reopen a container that was opened with the key mode (pickling, ``.file``):
#: reopening must never truncate or fail because the container now exists.
REOPEN_MODES = {"r": "r", "r+": "r+", "a": "a", "w": "r+", "w-": "r+", "x": "r+"}


def split_name(name: Any) -> list[str]:
    """The components of a relative member name such as ``"a/b/c"``.

    Refuses (:class:`InvalidArgumentError`) absolute names, empty components (``"a//b"``,
    trailing ``/``), ``.`` and ``..``, NUL bytes and names of metadata files; only ``str``
    names are accepted (``TypeError`` otherwise).
    """
    if not isinstance(name, str):
        raise TypeError(f"member names must be strings, got {type(name).__name__} ({name!r})")
    if "\0" in name:
        raise InvalidArgumentError(f"member name {name!r} contains a NUL byte")
    if name.startswith("/"):
        raise InvalidArgumentError(
            f"member name {name!r} is absolute; use a name relative to the group"
        )
    parts = name.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidArgumentError(f"member name {name!r} has an empty, '.' or '..' component")
        if part in METADATA_FILES:
            raise InvalidArgumentError(
                f"member name {name!r} collides with the metadata file {part!r}"
            )
    return parts


class Node:
    """State and behaviour shared by :class:`~z5py.Group` and :class:`~z5py.Dataset`.

    A node knows its filesystem path, the path of the container root it belongs to, its
    name inside the container (``"/"`` for the root, ``"/a/b"`` below), the container's
    format (``"n5"``, ``"zarr2"``, ``"zarr3"``) and the mode it was opened with.
    """

    _path: str
    _root: str
    _name: str
    _fmt: str
    _mode: str
    _file: File | None
    #: The group this node was obtained from, if known (``None``: derived from the name).
    _parent: Group | None
    #: Default ``dimension_separator`` of new Zarr v2 datasets created below this node.
    _separator: str
    #: ``"group"`` or ``"dataset"``; nodes of the same kind at the same path are equal.
    _kind: str

    def _init_node(
        self,
        path: str | Loc,
        fmt: str,
        mode: str,
        root: str | Loc,
        name: str,
        file: File | None,
        *,
        separator: str = ".",
        parent: Group | None = None,
    ) -> None:
        """Set the location (a directory path, or a :class:`Loc` in a store), format and mode
        of this node and of its container's root, and optionally the group it was obtained
        from and the default Zarr v2 ``dimension_separator`` below it."""
        if mode not in REOPEN_MODES:
            raise InvalidArgumentError(
                f"invalid mode {mode!r}; expected one of {sorted(REOPEN_MODES)}"
            )
        self._loc = as_loc(path)
        self._path = self._loc.shown()
        self._fmt = fmt
        self._mode = mode
        self._root_loc = as_loc(root)
        self._root = self._root_loc.shown()
        self._name = name
        self._file = file
        self._parent = parent
        self._separator = separator

    def _context(self) -> dict[str, Any]:
        """What the members of this node share with it, as keyword arguments of
        ``group_at`` and ``open_dataset``: the mode, the container root,
        the :class:`~z5py.File` and the default Zarr v2 ``dimension_separator``."""
        return {
            "mode": self._mode,
            "root": self._root_loc,
            "file": self._file,
            "separator": self._separator,
        }

    def _child_location(self, name: str) -> tuple[Loc, str]:
        """Location and container name of the member ``name`` (validated)."""
        parts = split_name(name)
        return self._loc.child(*parts), posixpath.join(self._name, *parts)

    def _check_writable(self, action: str) -> None:
        """Raise :class:`ReadOnlyError` if this node was opened in mode ``'r'``."""
        if self._mode == "r":
            raise ReadOnlyError(f"cannot {action}: {self._root!r} is opened in read-only mode 'r'")

    @property
    def path(self) -> str:
        """Filesystem path of this node (a directory), or its URL in a store."""
        return self._path

    @property
    def name(self) -> str:
        """Name inside the container: ``"/"`` for the root, ``"/a/b"`` for members."""
        return self._name

    @property
    def is_zarr(self) -> bool:
        """Whether this node is stored in Zarr (v2 or v3) rather than N5 format."""
        return self._fmt != "n5"

    @property
    def zarr_format(self) -> int | None:
        """Zarr version (2 or 3), or ``None`` for N5."""
        return None if self._fmt == "n5" else int(self._fmt[-1])

    @property
    def mode(self) -> str:
        """Mode the container was opened with (one of ``'r', 'r+', 'a', 'w', 'w-', 'x'``)."""
        return self._mode

    @property
    def attrs(self) -> AttributeManager:
        """The user attributes of this node (:class:`~z5py.AttributeManager`)."""
        return AttributeManager(
            self._loc, fmt=self._fmt, read_only=self._mode == "r", root=self._name == "/"
        )

    @property
    def file(self) -> File:
        """The :class:`~z5py.File` this node belongs to (reopened if it was unpickled)."""
        if self._file is None:
            from .file import File

            self._file = File(
                self._root_loc.target if self._root_loc.remote else self._root,
                use_zarr_format=self.is_zarr,
                mode=REOPEN_MODES[self._mode],
                zarr_format=self.zarr_format,
                dimension_separator=self._separator,
            )
        return self._file

    @property
    def parent(self) -> Group:
        """The group containing this node (the root's parent is the root itself).

        A member obtained as ``group[name]`` (or created through ``group``) with a
        single-component name has ``group`` itself as its parent.
        """
        if self._parent is not None:
            return self._parent
        if self._name == "/":
            return self.file
        parent_name = posixpath.dirname(self._name)
        if parent_name == "/":
            return self.file
        from .group import group_at

        self._parent = group_at(self._loc.parent(), self._fmt, name=parent_name, **self._context())
        return self._parent

    def __eq__(self, other: object) -> bool:
        """Nodes are equal when they are of the same kind and live in the same directory."""
        if not isinstance(other, Node):
            return NotImplemented
        return self._kind == other._kind and _identity(self._loc) == _identity(other._loc)

    def __hash__(self) -> int:
        """Hash consistent with ``__eq__``."""
        return hash((self._kind, _identity(self._loc)))


def _identity(loc: Loc) -> str:
    """What makes two locations the same node: the real directory, or the URL."""
    return loc.shown() if loc.remote else os.path.realpath(loc.target)
