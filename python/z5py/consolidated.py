"""Consolidated metadata: every node's metadata in one document at the root, so that a
hierarchy on an object store opens with one request.

Zarr v2 keeps it in ``.zmetadata`` (``{"metadata": {"a/.zarray": {...}, ...},
"zarr_consolidated_format": 1}``), Zarr v3 in the ``consolidated_metadata`` member of the
root ``zarr.json`` (``{"kind": "inline", "must_understand": false, "metadata": {"a":
{...zarr.json of a...}}}``), both as zarr-python writes them. N5 has none.

:func:`consolidate_metadata` writes it; :func:`read` parses either kind into the nodes it
lists. (Opening through it instead of per-node requests, and removing it on writes that
change metadata, are not wired into groups yet.)
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["consolidate_metadata"]

ZMETADATA = ".zmetadata"
_V2_NAMES = (".zgroup", ".zarray", ".zattrs")


class Consolidated:
    """The consolidated view of one container: for every node (``""`` is the root, ``"a/b"``
    below) its kind (``"group"``/``"array"``) and its user attributes."""

    def __init__(self, nodes: dict[str, tuple[str, dict[str, Any]]]) -> None:
        self.nodes = nodes

    def kind(self, key: str) -> str | None:
        """``"group"``, ``"array"`` or ``None`` (no such node)."""
        entry = self.nodes.get(key.strip("/"))
        return entry[0] if entry else None

    def attrs(self, key: str) -> dict[str, Any] | None:
        """User attributes of the node at ``key``."""
        entry = self.nodes.get(key.strip("/"))
        return dict(entry[1]) if entry else None

    def children(self, key: str) -> list[str]:
        """Names of the direct members of the group at ``key``, sorted."""
        key = key.strip("/")
        prefix = key + "/" if key else ""
        names = set()
        for node in self.nodes:
            if node and node.startswith(prefix):
                names.add(node[len(prefix) :].split("/", 1)[0])
        return sorted(names)


def read(store: Any, fmt: str) -> Consolidated | None:
    """The consolidated metadata of the container in ``store``, or ``None`` without one."""
    if fmt == "zarr2":
        raw = store.get(ZMETADATA)
        if raw is None:
            return None
        doc = json.loads(raw)
        meta = doc.get("metadata")
        if not isinstance(meta, dict):
            return None
        nodes: dict[str, tuple[str, dict[str, Any]]] = {}
        for k, v in meta.items():
            node, _, name = k.rpartition("/")
            if name == ".zarray":
                nodes[node] = ("array", nodes.get(node, ("", {}))[1])
            elif name == ".zgroup":
                nodes[node] = ("group", nodes.get(node, ("", {}))[1])
        for k, v in meta.items():
            node, _, name = k.rpartition("/")
            if name == ".zattrs" and node in nodes and isinstance(v, dict):
                nodes[node] = (nodes[node][0], v)
        return Consolidated(nodes)
    if fmt == "zarr3":
        raw = store.get("zarr.json")
        if raw is None:
            return None
        doc = json.loads(raw)
        cm = doc.get("consolidated_metadata")
        if not isinstance(cm, dict) or not isinstance(cm.get("metadata"), dict):
            return None
        nodes = {"": ("group", doc.get("attributes") or {})}
        for k, v in cm["metadata"].items():
            if isinstance(v, dict) and v.get("node_type") in ("group", "array"):
                nodes[k.strip("/")] = (v["node_type"], v.get("attributes") or {})
        return Consolidated(nodes)
    return None


def write(store: Any, fmt: str) -> int:
    """Write the consolidated document of the container in ``store`` from the metadata
    stored there now; returns the number of nodes it lists (the root included)."""
    keys = store.list_prefix("")
    if fmt == "zarr2":
        meta: dict[str, Any] = {}
        nodes = set()
        for key in keys:
            node, _, name = key.rpartition("/")
            if name in _V2_NAMES:
                raw = store.get(key)
                if raw is not None:
                    meta[key] = json.loads(raw)
                    nodes.add(node)
        doc = {"metadata": meta, "zarr_consolidated_format": 1}
        store.put(ZMETADATA, json.dumps(doc, indent=4, sort_keys=True).encode())
        return len(nodes)
    if fmt == "zarr3":
        root_raw = store.get("zarr.json")
        if root_raw is None:
            raise FileNotFoundError("no root zarr.json")
        root = json.loads(root_raw)
        meta = {}
        for key in keys:
            node, _, name = key.rpartition("/")
            if name == "zarr.json" and node:
                raw = store.get(key)
                if raw is not None:
                    child = json.loads(raw)
                    child.pop("consolidated_metadata", None)
                    meta[node] = child
        root["consolidated_metadata"] = {
            "kind": "inline",
            "must_understand": False,
            "metadata": dict(sorted(meta.items())),
        }
        store.put("zarr.json", json.dumps(root, indent=2).encode())
        return len(meta) + 1
    raise ValueError("N5 has no consolidated metadata (it is a Zarr feature)")


def consolidate_metadata(
    path: str | os.PathLike[str], storage_options: dict[str, Any] | None = None
) -> int:
    """Write the consolidated metadata of the Zarr container at ``path`` (a directory or a
    URL) as zarr-python does: ``.zmetadata`` for Zarr v2, ``consolidated_metadata`` in the
    root ``zarr.json`` for Zarr v3. Returns the number of nodes it lists, the root included.

    Writes through z5py later remove the document again (see the module documentation).
    """
    from . import _z5py
    from .file import File

    f = File(path, mode="r+", storage_options=storage_options)
    if f._fmt == "n5":
        from .errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"{path!r} is N5, which has no consolidated metadata (a Zarr feature)"
        )
    store = f._loc.target if f._loc.remote else _z5py.Store(f._path)
    return write(store, f._fmt)
