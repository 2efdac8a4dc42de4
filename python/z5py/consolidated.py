"""Consolidated metadata: every node's metadata in one document at the root, so that a
hierarchy on an object store opens with one request.

Zarr v2 keeps it in ``.zmetadata`` (``{"metadata": {"a/.zarray": {...}, ...},
"zarr_consolidated_format": 1}``), Zarr v3 in the ``consolidated_metadata`` member of the
root ``zarr.json`` (``{"kind": "inline", "must_understand": false, "metadata": {"a":
{...zarr.json of a...}}}``), both as zarr-python writes them. N5 has none.

:func:`consolidate_metadata` writes it.  Opening a container that has it reads the
hierarchy through it (``_z5py.Store.with_consolidated``: the engine's store layer lays the
document over the store), and every metadata document written through z5py afterwards
(new groups and datasets, attributes, resizing, deletions) updates it in place, so it stays
true; writes by other libraries leave it stale, as zarr-python's own writes do.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .formats import ZARR_CONSOLIDATED

__all__ = ["consolidate_metadata"]

ZMETADATA = ZARR_CONSOLIDATED
_V2_NAMES = (".zgroup", ".zarray", ".zattrs")


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

    Containers that have it are opened through it (one request for the whole hierarchy),
    and writes through z5py keep it up to date (see the module documentation).
    """
    from . import _z5py
    from ._location import options_for
    from .errors import InvalidArgumentError
    from .file import File

    f = File(path, mode="r+", storage_options=storage_options)
    if not f.is_zarr:
        raise InvalidArgumentError(
            f"{path!r} is N5, which has no consolidated metadata (a Zarr feature)"
        )
    store = (
        path
        if isinstance(path, _z5py.Store)
        else _z5py.Store(os.fspath(path), storage_options=options_for(path, storage_options))
    )
    return write(store, f"zarr{f.zarr_format}")
