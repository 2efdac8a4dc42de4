"""Type stubs of the Rust extension module ``z5py._z5py``.

This is the whole contract between the Rust engine and the Python package.  Formats are
named ``"n5"``, ``"zarr2"`` and ``"zarr3"``.  Arrays cross the boundary as numpy arrays in
the dataset's native-endian dtype (``ArrayHandle.dtype``), C-contiguous.
"""

import os
from collections.abc import Sequence
from typing import Any, TypeAlias, final

import numpy as np

__all__ = [
    "ArrayHandle",
    "Store",
    "__version__",
    "check_compression",
    "clear_attrs",
    "compressors",
    "create_group",
    "node_info",
    "read_attrs",
    "reserved_attrs",
    "root_info",
    "set_file_locking",
    "update_attrs",
    "write_attrs",
]

__version__: str

@final
class Store:
    """A storage backend: a local directory (path or ``file://``; ``durable=True`` or
    ``Z5PY_DURABLE=1`` syncs every write before it returns), ``memory://NAME`` (a store
    living in this process under NAME), or an object store (``s3://``, ``gs://``,
    ``az://``/``abfs://``, read-only ``http(s)://``) configured by ``storage_options``.
    Keys are ``/``-separated, relative to the root; listings return full keys, sorted.
    Every method releases the GIL.  Pickling carries the URL, ``storage_options`` and
    ``consolidated`` (``True``: lay the container's consolidated metadata over the store
    when it has some, see :meth:`with_consolidated`)."""

    def __new__(
        cls,
        url: str | os.PathLike[str],
        durable: bool = False,
        storage_options: dict[str, str | bool | int | float] | None = None,
        consolidated: bool = False,
    ) -> Store: ...
    @property
    def url(self) -> str: ...
    @property
    def durable(self) -> bool:
        """Whether every write is synced before it returns (``durable=True`` or
        ``Z5PY_DURABLE=1``)."""
    @property
    def consolidated(self) -> bool:
        """Whether the container's consolidated metadata is laid over this store."""
    def with_consolidated(self) -> Store | None:
        """This store with the container's Zarr consolidated metadata (v3 root ``zarr.json``
        member, else v2 ``.zmetadata``) laid over it, or None without any: the metadata of
        the nodes it lists and the members of its groups are answered from it, and metadata
        written through the returned store updates it."""
    @property
    def storage_options(self) -> dict[str, str | bool | int | float] | None: ...
    @property
    def read_only(self) -> bool:
        """Whether writes are refused whatever the mode (HTTP)."""
    @property
    def concurrency(self) -> int:
        """Requests this store serves well at once (1 for local storage)."""
    def location(self, key: str) -> str: ...
    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, value: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int | None: ...
    def list_dir(self, prefix: str = "") -> tuple[list[str], list[str]]:
        """(keys, sub-prefixes) directly below ``prefix``."""
    def list_prefix(self, prefix: str = "") -> list[str]:
        """Every key below ``prefix``."""
    def prefix_exists(self, prefix: str = "") -> bool: ...

_Target: TypeAlias = str | os.PathLike[str] | Store
"""Where a node is: a ``Store``, or a local path (read as ``Store(path)``); every function
takes the node's ``key`` inside it too (default ``""``: the target itself)."""

def node_info(target: _Target, key: str = "") -> tuple[str, str | None]:
    """What lives at ``key`` in ``target``: ``("array", fmt)``, ``("group", fmt)``, or
    ``("none", None)`` (``("dir", None)`` for a plain directory without metadata, which N5
    treats as a group)."""

def create_group(target: _Target, fmt: str, is_root: bool, key: str = "") -> None:
    """Create the directory and write group metadata (``.zgroup``, v3 ``zarr.json``, or for an
    N5 root ``attributes.json`` with the ``"n5"`` version key).  Idempotent."""

def root_info(target: _Target, key: str = "") -> tuple[str, str | None]:
    """As :func:`node_info` for the root of a container, with its metadata checked strictly:
    a corrupt ``.zgroup`` / ``.zarray`` / ``zarr.json`` / ``attributes.json`` raises
    ``MetadataError`` naming it, an N5 version above 4.x ``UnsupportedError``."""

def read_attrs(target: _Target, fmt: str, key: str = "", root: bool = False) -> str:
    """User attributes of the node at ``key`` in ``target`` as a JSON object string (``{}``
    when none).  An N5 dataset's metadata keys and the root's ``"n5"`` key are not included."""

def write_attrs(
    target: _Target, fmt: str, attrs_json: str, key: str = "", root: bool = False
) -> None:
    """Replace the user attributes with ``attrs_json`` (a JSON object; NaN/Infinity allowed),
    atomically.  Keys N5 reserves at this node raise ``InvalidArgumentError``, and so do
    attributes that would give an N5 group all of ``dimensions``, ``blockSize``,
    ``dataType``."""

def reserved_attrs(target: _Target, fmt: str, key: str = "", root: bool = False) -> list[str]:
    """The attribute names N5 reserves at this node: a dataset's metadata keys, the root's
    ``"n5"``; empty for Zarr."""

def update_attrs(
    target: _Target,
    fmt: str,
    set_json: str,
    delete: Sequence[str] = ...,
    key: str = "",
    root: bool = False,
) -> None:
    """Set the attributes of ``set_json`` and remove those in ``delete`` (default: none) in one
    read-modify-write that other threads and processes cannot interleave (locked on disk)."""

def clear_attrs(
    target: _Target,
    fmt: str,
    keep: Sequence[str] = ...,
    key: str = "",
    root: bool = False,
) -> None:
    """Remove every user attribute but those named in ``keep`` in one read-modify-write that
    other threads and processes cannot interleave (locked on disk); the format's reserved
    keys stay."""

def compressors(fmt: str) -> list[str]:
    """Compressor names (z5py spelling) compiled in for a format."""

def check_compression(fmt: str, compressor: str, options_json: str, dtype: str) -> None:
    """Raise what creating an array of ``dtype`` (numpy typestr) with this compressor and
    these options (z5py spelling, a JSON object) would raise for them."""

def set_file_locking(on: bool) -> None:
    """Lock files between processes on or off for this process from now on (benchmarks;
    users set ``Z5PY_FILE_LOCKING=none``)."""

@final
class ArrayHandle:
    """An open dataset: metadata plus the chunk engine."""

    @staticmethod
    def open(target: _Target, key: str = "") -> ArrayHandle: ...
    @staticmethod
    def create(
        target: _Target,
        fmt: str,
        shape: Sequence[int],
        chunks: Sequence[int],
        dtype: str,
        compressor: str,
        options_json: str,
        fill_value: bytes,
        dimension_separator: str | None = None,
        shards: Sequence[int] | None = None,
        chunk_key_encoding: str | None = None,
        key: str = "",
        filters_json: str | None = None,
    ) -> ArrayHandle:
        """Write the metadata of a new array at ``key`` in ``target`` (directory created) and
        open it.

        ``dtype`` is a numpy dtype string (``"<u2"``, ``"|b1"``, ``">f8"``...); ``compressor``
        uses z5py's names (``raw``, ``gzip``, ``zlib``, ``bzip2``, ``xz``, ``lzma``, ``lz4``,
        ``blosc``, ``zstd``); ``options_json`` its options in z5py's spelling (``level``,
        ``codec``/``clevel``/``shuffle``/``blocksize``...); ``fill_value`` the raw native bytes
        of one element (``np.array(v, dtype).tobytes()``). ``dtype`` may also be a structured
        dtype in numpy's list form as JSON (Zarr v2); ``filters_json`` a JSON list of
        numcodecs filter/codec configurations."""

    path: str
    format: str
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    """Chunk shape (inner chunk shape for sharded Zarr v3)."""
    shards: tuple[int, ...] | None
    dtype: str
    """Native-endian numpy dtype string of the data in memory."""
    stored_dtype: str
    """dtype string as stored on disk (e.g. ``">f4"`` for big-endian Zarr, N5 always ``>``)."""
    fill_value: bytes
    """One element in native byte order (zeros for a Zarr v2 ``null`` fill value)."""
    fill_value_json: str
    """The fill value as the metadata spells it (JSON)."""
    compressor: str
    """z5py name of the compressor (``lzma`` comes back as ``xz``; a sharded array reports
    its inner chunks' compressor)."""
    compression_options_json: str
    filters_json: str
    """The codecs besides the compressor (filters, checksums) as a JSON list in numcodecs'
    form (``[{"id": "delta", "dtype": "<u8", "astype": "<u8"}]``)."""
    metadata_json: str
    """The metadata file's JSON as on disk."""
    chunks_per_dimension: tuple[int, ...]
    number_of_chunks: int

    object_codec: str | None
    """The object codec of a variable-length array (``vlen-utf8``, ``vlen-bytes``,
    ``json2``); None for fixed-size data."""
    @property
    def object_fill(self) -> Any:
        """What items of a variable-length array read as where no chunk was written: the
        fill item, or the metadata's fill value itself when that is not a string
        (zarr-python 2's default ``0``, or ``null``)."""
    def read_objects(self, start: Sequence[int], out: np.ndarray, n_threads: int) -> None:
        """Fill ``out`` (a C-contiguous numpy object array) with the variable-length items of
        the region at ``start`` of shape ``out.shape``."""
    def write_objects(self, start: Sequence[int], data: np.ndarray, n_threads: int) -> None:
        """Write the items of ``data`` (a C-contiguous numpy object array of str, bytes or,
        for json2, JSON values) at ``start``."""
    def read_into(self, start: Sequence[int], out: np.ndarray, n_threads: int) -> None:
        """Fill ``out`` (C-contiguous, writeable, dtype == ``self.dtype``) with the region
        starting at ``start`` of shape ``out.shape``.  Releases the GIL."""
    def write_from(self, start: Sequence[int], data: np.ndarray, n_threads: int) -> None:
        """Write ``data`` (C-contiguous, dtype == ``self.dtype``) at ``start``."""
    def read_orthogonal(
        self, indices: Sequence[np.ndarray], out: np.ndarray, n_threads: int
    ) -> None:
        """Fill ``out`` (shape: the lengths of ``indices``) with the orthogonal selection
        given by one uint64 index array per axis; only chunks holding selected elements
        are read.  Releases the GIL (for an object array, ``out`` a C-contiguous numpy
        object array, except while creating the items)."""
    def write_orthogonal(
        self, indices: Sequence[np.ndarray], data: np.ndarray, n_threads: int
    ) -> None:
        """Write ``data`` (shape: the lengths of ``indices``; a C-contiguous object array
        for an object array) to the orthogonal selection, each chunk holding selected
        elements in its locked read-modify-write; a repeated index keeps the value given
        last."""
    def read_points(self, coords: np.ndarray, out: np.ndarray, n_threads: int) -> None:
        """Fill ``out`` (n elements) with the points ``coords`` (uint64, n * ndim)."""
    def write_points(self, coords: np.ndarray, data: np.ndarray, n_threads: int) -> None:
        """Write ``data`` (n elements) to the points ``coords`` (uint64, n * ndim)."""
    def with_write_empty_chunks(self, write_empty_chunks: bool) -> ArrayHandle:
        """The same array storing (True) or removing (False) chunks of only fill values."""
    write_empty_chunks: bool
    def read_chunk(self, chunk_index: Sequence[int]) -> np.ndarray | None:
        """Decoded chunk as stored (N5 edge chunks clipped, Zarr edge chunks full), or None."""
    def write_chunk(
        self, chunk_index: Sequence[int], data: np.ndarray, varlen: bool = False
    ) -> None:
        """Encode and store one chunk.  ``data`` must have the chunk's stored shape (N5: the
        clipped shape at edges; Zarr: the full chunk shape).  ``varlen`` writes N5 varlength
        mode with ``data`` 1-d of any length."""
    def chunk_header_shape(self, chunk_index: Sequence[int]) -> list[int] | None:
        """N5 only: the shape (C order) the stored chunk's header declares; None if absent."""
    def chunk_exists(self, chunk_index: Sequence[int]) -> bool: ...
    def existing_chunks(self) -> list[tuple[int, ...]]:
        """Indices of all chunks present on disk (sorted); inner-chunk indices when sharded."""
    def chunk_path(self, chunk_index: Sequence[int]) -> str:
        """The file that holds the chunk (its shard file for sharded arrays)."""
    def encode_chunk(self, data: np.ndarray) -> bytes:
        """The bytes this array would store for ``data`` as one chunk (header included)."""
