"""Where a node lives: a directory on the local file system, or a key inside a store (an
object store such as ``s3://``, a web server, or ``memory://NAME``).

A :class:`Loc` is what the engine's functions take (``target`` and ``key``): for local
containers the node's directory and ``""`` (the engine opens the directory itself), for
URLs the container's :class:`z5py._z5py.Store` and the node's key inside it. Listing,
deleting and existence checks of nodes go through the functions here, so groups and
files never look at ``os.scandir`` / ``shutil`` themselves.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
from typing import Any, NamedTuple

from . import _z5py

__all__ = [
    "Loc",
    "as_loc",
    "container_exists",
    "durable_loc",
    "durable_writes",
    "is_url",
    "open_location",
    "options_for",
    "same_container",
]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")


def is_url(location: Any) -> bool:
    """Whether ``location`` is a URL other than ``file://`` (a store, not a directory)."""
    if not isinstance(location, str):
        return False
    m = _SCHEME.match(location)
    return m is not None and m.group(1).lower() != "file"


class Loc(NamedTuple):
    """A node's place: ``target`` (a directory path, or a ``Store``) and ``key``."""

    target: Any
    key: str

    @property
    def remote(self) -> bool:
        """Whether the node lives in a store rather than in a local directory."""
        return not isinstance(self.target, str)

    def shown(self) -> str:
        """The path or URL of the node, for messages and ``.path``."""
        if self.remote:
            return self.target.location(self.key)
        return self.target

    def child(self, *parts: str) -> Loc:
        """The location of a member, ``parts`` being validated name components."""
        if self.remote:
            return Loc(
                self.target, posixpath.join(self.key, *parts) if self.key else "/".join(parts)
            )
        return Loc(os.path.join(self.target, *parts), "")

    def parent(self) -> Loc:
        """The location of the group containing this node."""
        if self.remote:
            return Loc(self.target, posixpath.dirname(self.key))
        return Loc(os.path.dirname(self.target), "")

    def members(self) -> list[str]:
        """Names of the sub-directories (sub-prefixes) below this node, sorted."""
        if self.remote:
            _, prefixes = self.target.list_dir(self.key)
            return sorted(p.rsplit("/", 1)[-1] for p in prefixes)
        with os.scandir(self.target) as entries:
            return sorted(e.name for e in entries if e.is_dir())

    def exists(self) -> bool:
        """Whether anything is stored at or below this node."""
        if self.remote:
            return self.target.prefix_exists(self.key)
        return os.path.lexists(self.target)

    def is_empty(self) -> bool:
        """Whether nothing at all is stored below this node."""
        if self.remote:
            return not self.target.prefix_exists(self.key)
        return not os.listdir(self.target)

    def remove(self) -> None:
        """Delete the node and everything below it."""
        if self.remote:
            self.target.delete_prefix(self.key)
        else:
            shutil.rmtree(self.target)

    def info(self) -> tuple[str, str | None]:
        """What the engine finds here: (kind, format), see ``_z5py.node_info``."""
        return _z5py.node_info(self.target, self.key)

    def root_info(self) -> tuple[str, str | None]:
        """What the engine finds here as a container's root: like :meth:`info`, but corrupt
        or unsupported root metadata raises (see ``_z5py.root_info``)."""
        return _z5py.root_info(self.target, self.key)

    def reopen_args(self) -> tuple[Any, str]:
        """What pickling needs to find the node again."""
        return self.target, self.key


def as_loc(where: Any) -> Loc:
    """A :class:`Loc` from a Loc, a ``(target, key)`` pair or a local path."""
    if isinstance(where, Loc):
        return where
    if isinstance(where, tuple) and len(where) == 2:
        return Loc(*where)
    return Loc(os.fspath(where), "")


def open_location(path: Any, storage_options: dict[str, Any] | None = None) -> tuple[Loc, str]:
    """The root location of a container at a path or URL, and how to show it.

    Local paths (and ``file://`` URLs) stay paths; other URLs open a store with
    ``storage_options``. ``storage_options`` with a local path is an error.
    """
    if isinstance(path, _z5py.Store):
        return Loc(path, ""), path.url
    if isinstance(path, str) and is_url(path):
        store = _z5py.Store(path.rstrip("/") or path, storage_options=storage_options or None)
        return Loc(store, ""), store.url
    if storage_options:
        from .errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"storage_options were given for the local path {path!r}; they configure "
            "object stores (s3://, gs://, az://, http://) only"
        )
    path = os.fspath(path)
    if isinstance(path, str) and path.lower().startswith("file://"):
        path = path[len("file://") :]
    if len(path) > 1:
        path = path.rstrip("/")
    return Loc(path, ""), path


def options_for(path: Any, storage_options: dict[str, Any] | None) -> dict[str, Any] | None:
    """``storage_options`` if ``path`` is a URL they configure, else ``None``: tools that
    take one set of options for several operands (a local input, a bucket output) apply
    them to the URLs only."""
    return storage_options if is_url(path) else None


def container_exists(path: Any, storage_options: dict[str, Any] | None = None) -> bool:
    """Whether anything is stored at the path or URL ``path`` (a read-only web server,
    which cannot be listed, is taken to hold it)."""
    if is_url(path) or isinstance(path, _z5py.Store):
        loc, _ = open_location(path, options_for(path, storage_options))
        return loc.target.read_only or loc.exists()
    path = os.fspath(path)
    if isinstance(path, str) and path.lower().startswith("file://"):
        path = path[len("file://") :]
    return os.path.exists(path)


def same_container(a: Any, b: Any) -> bool:
    """Whether two container paths or URLs name the same container."""
    if is_url(a) or is_url(b):
        return str(a).rstrip("/") == str(b).rstrip("/")
    return os.path.abspath(a) == os.path.abspath(b)


def with_consolidated(root: Loc) -> Loc:
    """The container root ``root``, read through its Zarr consolidated metadata when it has
    some (``.zmetadata``, or the ``consolidated_metadata`` of the root ``zarr.json``): the
    hierarchy's metadata and member names then come from that one document, and metadata
    written through the returned location keeps it up to date (see
    ``_z5py.Store.with_consolidated``).  A local container then goes through a ``Store``
    too, so that its writes keep the document true as well."""
    if root.key:
        return root
    store = root.target if root.remote else _z5py.Store(root.target)
    overlay = store.with_consolidated()
    return root if overlay is None else Loc(overlay, "")


def durable_writes(loc: Loc) -> bool:
    """Whether writes at ``loc`` are synced before they return (a store opened with
    ``durable=True``, or ``Z5PY_DURABLE=1`` for the whole process)."""
    store = loc.target if loc.remote else _z5py.Store(loc.target)
    return bool(store.durable)


def durable_loc(loc: Loc, root: Loc) -> Loc:
    """``loc``, a node below the container root ``root``, on a store that syncs every write
    before it returns (see ``File(durable=True)``).  Object stores are durable when a write
    returns and keep their location."""
    if durable_writes(loc):
        return loc
    if not loc.remote:
        rel = os.path.relpath(loc.target, root.target).replace(os.sep, "/")
        return Loc(_z5py.Store(root.target, durable=True), "" if rel == "." else rel)
    if is_url(loc.target.url):
        return loc
    from .errors import InvalidArgumentError

    # a local container read through its consolidated metadata: a second store would keep
    # its own copy of the document, so the whole container must be durable
    raise InvalidArgumentError(
        f"durable=True for one dataset of {loc.target.url!r}, which has consolidated "
        "metadata: open the container with File(..., durable=True) instead"
    )
