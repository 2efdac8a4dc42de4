"""Exception hierarchy of z5py.

Every error raised by the library derives from :class:`Z5Error` and also from the builtin
exception a caller would naturally catch (``ValueError``, ``OSError``, ...), so both
``except z5py.Z5Error`` and ``except ValueError`` work.  The Rust engine maps its single
error type onto these classes in one place (``src/python/errors.rs``).
"""


class Z5Error(Exception):
    """Base class of every error raised by z5py."""


class MetadataError(Z5Error, ValueError):
    """Metadata (``attributes.json``, ``.zarray``, ``zarr.json``...) is missing keys, malformed or invalid."""


class UnsupportedError(Z5Error, ValueError):
    """A codec, data type or extension that this build of z5py does not understand."""


class CorruptChunkError(Z5Error, ValueError, RuntimeError):
    """A chunk (or shard) could not be decoded: truncated, garbage, or of the wrong size.

    Also a ``RuntimeError``, which is what z5py 3.x raised for it.
    """


class ChunkSizeError(CorruptChunkError):
    """A chunk decodes (or its header claims) to another size or block shape than the
    dataset's chunk: truncated, or written for other metadata."""


class InvalidArgumentError(Z5Error, ValueError):
    """An argument (shape, region, chunk index, dtype...) does not fit the dataset."""


class Z5OSError(Z5Error, OSError):
    """A filesystem operation failed."""


class Z5FileNotFoundError(Z5OSError, FileNotFoundError):
    """A file or directory that must exist does not."""


class Z5PermissionError(Z5OSError, PermissionError):
    """The store refused access to a file, key or URL (permission denied, HTTP 401/403)."""


class Z5TimeoutError(Z5OSError, TimeoutError):
    """A storage operation (typically a remote request) timed out."""


class Z5ConnectionError(Z5OSError, ConnectionError):
    """A remote store could not be reached or dropped the connection."""


class ReadOnlyError(Z5Error, PermissionError, ValueError):
    """A write was attempted on a container opened in mode 'r'.

    Also a ``ValueError``, which is what z5py 3.x raised for it.
    """


class ResourceExhaustedError(Z5Error, MemoryError):
    """The machine ran out of something the work needs: memory for a chunk buffer, threads."""


class InternalError(Z5Error, RuntimeError):
    """A bug in z5py (for example a Rust panic caught at the boundary); please report it."""


class Z5FileExistsError(Z5OSError, FileExistsError):
    """A file or directory that must not exist does (modes 'w-' and 'x')."""


class DtypeMismatchError(InvalidArgumentError, RuntimeError):
    """``create_dataset`` got ``data`` whose dtype differs from the requested ``dtype``.

    Also a ``RuntimeError``, which is what the z5py documentation promises for this case.
    """


class ReservedAttributeError(InvalidArgumentError, RuntimeError):
    """An N5 attribute that holds format metadata (a dataset's ``dataType``, ``dimensions``,
    ``blockSize``, ``compression``, ``compressionType``, or the root's ``n5``) was set or
    deleted through the attribute manager.  Also a ``RuntimeError`` (as in z5py 3.x)."""


class CompressionOptionsError(InvalidArgumentError, RuntimeError):
    """The compression options of a new dataset are invalid (unknown option, bad value).

    Also a ``RuntimeError`` (as in z5py 3.x).
    """


class ChunkArgumentError(InvalidArgumentError, RuntimeError):
    """``write_chunk`` got data of the wrong size, or ``varlen=True`` outside N5.

    Also a ``RuntimeError`` (as in z5py 3.x).
    """


class FormatMismatchError(InvalidArgumentError, RuntimeError):
    """An explicit format (``use_zarr_format``, ``zarr_format``) contradicts the container's
    extension or the format of the container on disk.  Also a ``RuntimeError`` (as in z5py
    3.x)."""


class NodeExistsError(InvalidArgumentError, KeyError):
    """A group or dataset cannot be created because a node of that name already exists.

    Also a ``KeyError`` (raised by older z5py) and a ``ValueError`` (raised by h5py).
    """

    __str__ = Exception.__str__


class NodeNotFoundError(Z5Error, KeyError):
    """No group or dataset of the requested name exists (a ``KeyError``, as for a dict)."""

    __str__ = Exception.__str__


__all__ = [
    "ChunkArgumentError",
    "ChunkSizeError",
    "CompressionOptionsError",
    "CorruptChunkError",
    "DtypeMismatchError",
    "FormatMismatchError",
    "InternalError",
    "InvalidArgumentError",
    "MetadataError",
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
]
