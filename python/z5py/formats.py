"""What the Python side knows about the container formats, in one place.

The Rust engine owns the metadata documents themselves (``src/metadata/``); the Python
layer only needs to recognise containers and metadata files: by extension when a container
is named, by the files a node holds when it exists.  The API (:class:`z5py.File`), the
converters and the command line all ask this module.
"""

from __future__ import annotations

import os

__all__ = [
    "ARRAY_METADATA_FILES",
    "CONTAINER_EXTS",
    "H5_EXTS",
    "METADATA_FILES",
    "N5_ATTRIBUTES",
    "N5_EXTS",
    "NODE_METADATA_FILES",
    "ZARR_CONSOLIDATED",
    "ZARR_EXTS",
    "ZARR_V2_ARRAY",
    "ZARR_V2_ATTRS",
    "ZARR_V2_GROUP",
    "ZARR_V3_METADATA",
    "format_from_extension",
    "infer_zarr_format",
    "is_node_dir",
]

#: Extensions recognised as HDF5 files (lower case).
H5_EXTS = (".h5", ".hdf5", ".hdf", ".he5", ".h5py")
#: Extensions recognised as Zarr containers.
ZARR_EXTS = (".zarr", ".zr")
#: Extensions recognised as N5 containers.
N5_EXTS = (".n5",)
#: Every container extension the command line splits a ``container/dataset`` path at.
CONTAINER_EXTS = H5_EXTS + ZARR_EXTS + N5_EXTS

#: N5: attributes and (for a dataset) the array metadata of a node.
N5_ATTRIBUTES = "attributes.json"
#: Zarr v2: array metadata, group marker and user attributes.
ZARR_V2_ARRAY = ".zarray"
ZARR_V2_GROUP = ".zgroup"
ZARR_V2_ATTRS = ".zattrs"
#: Zarr v3: the one metadata document of a node (array or group, with its attributes).
ZARR_V3_METADATA = "zarr.json"
#: Zarr v2 consolidated metadata (see :mod:`z5py.consolidated`).
ZARR_CONSOLIDATED = ".zmetadata"

#: The document holding an array's metadata, per format (as the engine names formats).
ARRAY_METADATA_FILES = {"n5": N5_ATTRIBUTES, "zarr2": ZARR_V2_ARRAY, "zarr3": ZARR_V3_METADATA}
#: Files whose presence makes a directory a node, per format.
NODE_METADATA_FILES = (ZARR_V2_GROUP, ZARR_V2_ARRAY, ZARR_V3_METADATA, N5_ATTRIBUTES)
#: The metadata files z5py reads and writes: never a member name, never a chunk.
METADATA_FILES = frozenset((*NODE_METADATA_FILES, ZARR_V2_ATTRS))


def format_from_extension(path: str | os.PathLike[str]) -> bool | None:
    """The format the extension of ``path`` names: True for Zarr, False for N5, else None."""
    ext = os.path.splitext(os.path.normpath(os.fspath(path)))[1].lower()
    if ext in ZARR_EXTS:
        return True
    if ext in N5_EXTS:
        return False
    return None


def is_node_dir(path: str) -> bool:
    """Whether ``path`` is a directory holding the metadata of an N5 or Zarr node."""
    return os.path.isdir(path) and any(
        os.path.exists(os.path.join(path, name)) for name in NODE_METADATA_FILES
    )


def infer_zarr_format(path: str) -> bool | None:
    """True for Zarr, False for N5, None when neither the extension nor the files tell."""
    fmt = format_from_extension(path)
    if fmt is not None or not os.path.isdir(path):
        return fmt
    zarr_files = (ZARR_V2_GROUP, ZARR_V2_ARRAY, ZARR_V3_METADATA)
    if any(os.path.exists(os.path.join(path, name)) for name in zarr_files):
        return True
    if os.path.exists(os.path.join(path, N5_ATTRIBUTES)):
        return False
    return None
