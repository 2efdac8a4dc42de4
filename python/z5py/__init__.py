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
from .errors import *  # the exception classes, listed once in errors.__all__
from .file import File, N5File, ZarrFile, open
from .group import Group

__all__ = [
    "AttributeManager",
    "Dataset",
    "File",
    "Group",
    "N5File",
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
__all__ += errors.__all__
