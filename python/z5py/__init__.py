"""z5py: chunked N-dimensional arrays on disk in N5 and Zarr (v2, v3) with an h5py-like API.

Open a container with :class:`File` (or :class:`N5File` / :class:`ZarrFile`), navigate and
create :class:`Group` and :class:`Dataset` members like in h5py, and read or write
datasets with numpy indexing.  The chunk engine is written in Rust (``z5py._z5py``).
"""

from . import converter, errors, shape_utils, util
from ._z5py import __version__
from .attribute_manager import AttributeManager, set_json_decoder, set_json_encoder
from .clean import clean
from .consolidated import consolidate_metadata
from .dataset import Dataset
from .errors import (
    ChunkArgumentError,
    ChunkSizeError,
    CompressionOptionsError,
    CorruptChunkError,
    DtypeMismatchError,
    FormatMismatchError,
    InternalError,
    InvalidArgumentError,
    MetadataError,
    NodeExistsError,
    NodeNotFoundError,
    ReadOnlyError,
    ReservedAttributeError,
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
from .file import File, N5File, ZarrFile, open
from .group import Group

__all__ = [
    "AttributeManager",
    "ChunkArgumentError",
    "ChunkSizeError",
    "CompressionOptionsError",
    "CorruptChunkError",
    "Dataset",
    "DtypeMismatchError",
    "File",
    "FormatMismatchError",
    "Group",
    "InternalError",
    "InvalidArgumentError",
    "MetadataError",
    "N5File",
    "NodeExistsError",
    "NodeNotFoundError",
    "ReadOnlyError",
    "ReservedAttributeError",
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
    "consolidate_metadata",
    "converter",
    "errors",
    "open",
    "set_json_decoder",
    "set_json_encoder",
    "shape_utils",
    "util",
]
