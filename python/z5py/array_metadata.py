"""Edits of an existing array's metadata document: its shape (for ``Dataset.resize``) and
Zarr v3 ``dimension_names``.  Each edit rewrites the document atomically (a temporary file
in the same directory, renamed over it), so readers see the old or the new document.

The temporary file is named like the engine's (``.z5tmp.<name>.<pid>.<n>``), so that
``z5py clean`` recognises one left by a killed process.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

from .errors import InvalidArgumentError, MetadataError
from .formats import ARRAY_METADATA_FILES

__all__ = [
    "METADATA_FILES",
    "TMP_PREFIX",
    "check_dimension_names",
    "read_document",
    "rewrite",
    "set_shape",
    "write_json_atomic",
]

#: The file holding an array's metadata, per format.
METADATA_FILES = ARRAY_METADATA_FILES

#: Prefix of temporary files (as in ``src/store/fs.rs``).
TMP_PREFIX = ".z5tmp."

_counter = itertools.count()


def write_json_atomic(path: str, document: Any, *, durable: bool = False) -> None:
    """Write ``document`` as JSON to ``path`` through a temporary file and a rename.

    With ``durable`` the file is synced before the rename and the directory after it.
    """
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f"{TMP_PREFIX}{name}.{os.getpid()}.{next(_counter)}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=4, allow_nan=True)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        fd = os.open(directory or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_document(path: Any, fmt: str) -> dict[str, Any]:
    """The metadata document of the array at ``path`` (a directory, or a ``Loc`` in a store)."""
    from ._location import as_loc

    loc = as_loc(path)
    if loc.remote:
        key = loc.child(METADATA_FILES[fmt]).key
        file = loc.target.location(key)
    else:
        file = os.path.join(loc.target, METADATA_FILES[fmt])
    try:
        if loc.remote:
            raw = loc.target.get(key)
            if raw is None:
                raise FileNotFoundError(file)
            document = json.loads(raw)
        else:
            with open(file, encoding="utf-8") as f:
                document = json.load(f)
    except (OSError, ValueError) as error:
        raise MetadataError(f"cannot read the metadata {file!r}: {error}") from None
    if not isinstance(document, dict):
        raise MetadataError(f"the metadata {file!r} is not a JSON object")
    return document


def rewrite(
    path: Any, fmt: str, change: Callable[[dict[str, Any]], None], *, durable: bool = False
) -> None:
    """Apply ``change`` to the metadata document of the array at ``path`` (a directory, or
    a ``Loc`` in a store, where the put is atomic) and store it."""
    from ._location import as_loc

    loc = as_loc(path)
    document = read_document(loc, fmt)
    change(document)
    if loc.remote:
        key = loc.child(METADATA_FILES[fmt]).key
        loc.target.put(key, json.dumps(document, indent=4, allow_nan=True).encode())
        return
    write_json_atomic(os.path.join(loc.target, METADATA_FILES[fmt]), document, durable=durable)


def set_shape(document: dict[str, Any], fmt: str, shape: Sequence[int]) -> None:
    """Set the shape in a metadata document (N5 lists its dimensions fastest-first)."""
    if fmt == "n5":
        document["dimensions"] = [int(n) for n in reversed(shape)]
    else:
        document["shape"] = [int(n) for n in shape]


def check_dimension_names(names: Any, ndim: int, fmt: str) -> list[str | None] | None:
    """Validate Zarr v3 ``dimension_names`` (one string or None per axis)."""
    if names is None:
        return None
    if fmt != "zarr3":
        raise InvalidArgumentError(
            f"dimension_names are part of Zarr v3 metadata only, not of {fmt}"
        )
    if isinstance(names, str) or not hasattr(names, "__len__"):
        raise TypeError(f"dimension_names must be a sequence of names, got {names!r}")
    names = list(names)
    if len(names) != ndim:
        raise InvalidArgumentError(
            f"dimension_names has {len(names)} entries but the dataset {ndim} dimensions"
        )
    for name in names:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"dimension names must be strings or None, got {name!r}")
    return names
