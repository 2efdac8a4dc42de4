"""z5py: chunked N-dimensional arrays on disk in N5 and Zarr (v2, v3) with an h5py-like API.

Open a container with :class:`File` (or :class:`N5File` / :class:`ZarrFile`), navigate and
create :class:`Group` and :class:`Dataset` members like in h5py, and read or write
datasets with numpy indexing.  The chunk engine is written in Rust (``z5py._z5py``).
"""

import os as _os

from . import errors, shape_utils
from ._z5py import __version__
from .attribute_manager import AttributeManager
from .clean import clean
from .dataset import Dataset
from .errors import (
    ChunkSizeError,
    CorruptChunkError,
    DtypeMismatchError,
    InternalError,
    InvalidArgumentError,
    MetadataError,
    NodeExistsError,
    NodeNotFoundError,
    ReadOnlyError,
    ResourceExhaustedError,
    UnsupportedError,
    Z5ConnectionError,
    Z5Error,
    Z5FileExistsError,
    Z5FileNotFoundError,
    Z5OSError,
    Z5PermissionError,
    Z5TimeoutError,
)
from .file import File, N5File, ZarrFile
from .group import Group

__all__ = [
    "AttributeManager",
    "ChunkSizeError",
    "CorruptChunkError",
    "Dataset",
    "DtypeMismatchError",
    "File",
    "Group",
    "InternalError",
    "InvalidArgumentError",
    "MetadataError",
    "N5File",
    "NodeExistsError",
    "NodeNotFoundError",
    "ReadOnlyError",
    "ResourceExhaustedError",
    "UnsupportedError",
    "Z5ConnectionError",
    "Z5Error",
    "Z5FileExistsError",
    "Z5FileNotFoundError",
    "Z5OSError",
    "Z5PermissionError",
    "Z5TimeoutError",
    "ZarrFile",
    "__version__",
    "clean",
    "errors",
    "shape_utils",
]

# converter and util are written in parallel with this module; import each one only once
# its file exists so that the package stays importable in the meantime.
for _module in ("converter", "util"):
    if _os.path.exists(_os.path.join(_os.path.dirname(__file__), f"{_module}.py")):
        __import__(f"{__name__}.{_module}")
        __all__.append(_module)
del _module
