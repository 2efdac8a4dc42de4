"""Chunked N-dimensional datasets with numpy-style reading and writing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from . import _z5py, array_metadata
from ._location import as_loc, durable_writes
from ._node import Node
from .attribute_manager import MAXSHAPE_KEY
from .errors import (
    ChunkArgumentError,
    CompressionOptionsError,
    DtypeMismatchError,
    InvalidArgumentError,
    UnsupportedError,
)
from .indexing import is_full_mask, orthogonal, points
from .shape_utils import (
    check_region,
    normalize_chunks,
    normalize_index,
    normalize_maxshape,
    normalize_shape,
    to_int,
)

__all__ = ["Dataset"]

_DEFAULT_COMPRESSORS = {"n5": "gzip", "zarr2": "blosc", "zarr3": "blosc"}

#: Largest temporary buffer used to materialize broadcast values when writing.
WRITE_SLAB_BYTES = 64 * 2**20


def same_dtype(a: Any, b: Any) -> bool:
    """Whether two dtypes describe the same values (byte order aside)."""
    return np.dtype(a).newbyteorder("=") == np.dtype(b).newbyteorder("=")


def _c_order(array: np.ndarray) -> np.ndarray:
    """``array`` as a C-contiguous array (unlike ``np.ascontiguousarray``, keeps 0-d arrays)."""
    return array if array.flags.c_contiguous else array.copy(order="C")


def _check_n_threads(n_threads: Any) -> int:
    """Validate a thread count (a positive integer)."""
    if isinstance(n_threads, bool) or not isinstance(n_threads, int | np.integer):
        raise TypeError(f"n_threads must be a positive integer, got {n_threads!r}")
    if n_threads < 1:
        raise InvalidArgumentError(f"n_threads must be a positive integer, got {n_threads}")
    return int(n_threads)


def _compression_arguments(
    fmt: str, compression: str | None, options: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Compressor name and options for a new dataset of format ``fmt``.

    Besides z5py's ``**compression_options`` this accepts h5py's ``compression_opts``
    (an int level, or a dict of options).
    """
    options = dict(options)
    h5py_options = options.pop("compression_opts", None)
    if isinstance(h5py_options, dict):
        options = {**h5py_options, **options}
    elif h5py_options is not None:
        options.setdefault("level", h5py_options)
    if compression is None:
        compression = _DEFAULT_COMPRESSORS[fmt]
    if not isinstance(compression, str):
        raise TypeError(f"compression must be a compressor name, got {compression!r}")
    available = _z5py.compressors(fmt)
    if compression not in available:
        raise UnsupportedError(
            f"compression {compression!r} is not available for {fmt}; "
            f"choose one of {sorted(available)}"
        )
    return compression, options


#: numpy kinds stored as fixed-size elements: numbers, bool, byte and unicode strings,
#: opaque records / structured dtypes, datetime64 and timedelta64.
_FIXED_KINDS = "biufcSUVMm"


def _fill_bytes(fmt: str, fillvalue: Any, dtype: np.dtype) -> bytes:
    """Native bytes of the fill value; N5 has no fill value and accepts only 0.

    For strings, records and datetimes a fill value of ``0`` or ``None`` means all-zero
    bytes (empty strings, the epoch), as zarr-python's default does for strings.
    """
    if dtype.kind in "SUVMm" and (fillvalue is None or _is_zero(fillvalue)):
        return bytes(dtype.itemsize)
    if fillvalue is None:
        fillvalue = 0
    # records keep their fields' byte order (the engine stores their bytes as they are)
    native = dtype if dtype.kind == "V" else dtype.newbyteorder("=")
    try:
        value = np.array(fillvalue, dtype=native)
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidArgumentError(
            f"fill value {fillvalue!r} cannot be represented as {dtype}: {error}"
        ) from None
    if value.ndim != 0:
        raise InvalidArgumentError(f"fill value must be a scalar, got {fillvalue!r}")
    if fmt == "n5" and value != 0:
        raise InvalidArgumentError(
            f"N5 has no fill value (missing chunks always read as 0); got fillvalue={fillvalue!r}"
        )
    return value.tobytes()


def _is_zero(value: Any) -> bool:
    """Whether ``value`` is the integer 0 (not a string or bytes)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value == 0


#: numpy's variable-width string dtype (numpy >= 2), or None.
_STRING_DTYPE: Any = getattr(getattr(np, "dtypes", None), "StringDType", None)

#: Handles of datasets just created with ``dtype=StringDType()``: their first ``_setup``
#: reads strings as StringDType (:func:`create_array` hands the choice over here).
_STRINGDTYPE_HANDOFF: dict[int, Any] = {}

#: The dtypes of variable-length datasets by object codec: h5py's spelling
#: (``h5py.string_dtype()`` is ``dtype('O', metadata={'vlen': str})``).
_OBJECT_DTYPES = {
    "vlen-utf8": np.dtype("O", metadata={"vlen": str}),
    "vlen-bytes": np.dtype("O", metadata={"vlen": bytes}),
    "json2": np.dtype("O"),
}


def _object_codec(dtype: Any, data: Any = None) -> tuple[str | None, bool]:
    """The object codec a requested dtype stands for (None for fixed-size dtypes), and
    whether reads should give numpy's StringDType.

    ``str`` and ``h5py.string_dtype()`` (also ``'utf-8'``) are variable-length strings
    (``vlen-utf8``); ``bytes`` and ``h5py.string_dtype('ascii')`` variable-length bytes
    (``vlen-bytes``); numpy's ``StringDType`` strings read back as StringDType; a plain
    object dtype stores strings, or bytes when ``data`` holds bytes.
    """
    if dtype is str:
        return "vlen-utf8", False
    if dtype is bytes:
        return "vlen-bytes", False
    if _STRING_DTYPE is not None and isinstance(dtype, _STRING_DTYPE):
        return "vlen-utf8", True
    if _STRING_DTYPE is not None and dtype is _STRING_DTYPE:
        return "vlen-utf8", True
    try:
        dt = np.dtype(dtype)
    except TypeError:
        return None, False
    if dt.kind == "T":
        return "vlen-utf8", True
    if dt.kind != "O":
        return None, False
    vlen = (dt.metadata or {}).get("vlen")
    if vlen is bytes:
        return "vlen-bytes", False
    if vlen is str or data is None:
        return "vlen-utf8", False
    for item in np.asarray(data, dtype=object).flat:
        if item is not None:
            return ("vlen-bytes" if isinstance(item, bytes) else "vlen-utf8"), False
    return "vlen-utf8", False


def _object_fill(codec: str, fillvalue: Any) -> bytes:
    """The engine's fill item: its bytes (vlen), or its JSON text (json2). ``0`` and
    ``None`` mean the empty string / bytes (zarr-python's default), ``None`` for json2."""
    if codec == "json2":
        return json.dumps(None if _is_zero(fillvalue) else fillvalue).encode()
    if fillvalue is None or _is_zero(fillvalue):
        return b""
    if codec == "vlen-utf8" and isinstance(fillvalue, str):
        return fillvalue.encode("utf-8")
    if codec == "vlen-bytes" and isinstance(fillvalue, bytes):
        return fillvalue
    raise InvalidArgumentError(
        f"fill value {fillvalue!r} does not fit a {codec} dataset "
        f"({'str' if codec == 'vlen-utf8' else 'bytes'} expected)"
    )


def _object_items(value: Any) -> np.ndarray:
    """``value`` as a C-contiguous object array (str/bytes items of numpy string arrays)."""
    array = np.asarray(value)
    if array.dtype.kind != "O":
        array = array.astype(object)
    return np.ascontiguousarray(array)


def _descr(fields: list[Any]) -> list[tuple[Any, ...]]:
    """numpy's dtype spelling of a structured dtype read from JSON (lists to tuples)."""
    out = []
    for field in fields:
        name, kind = field[0], field[1]
        kind = _descr(kind) if isinstance(kind, list) else kind
        out.append((name, kind, tuple(field[2])) if len(field) == 3 else (name, kind))
    return out


def _dtype_argument(dtype: np.dtype) -> str:
    """The engine's spelling of a dtype: its type string, or JSON for a structured dtype."""
    if dtype.fields is not None:
        return json.dumps(dtype.descr)
    return dtype.str


def _handle_dtype(handle: Any) -> np.dtype:
    """The numpy dtype of an open array (a structured dtype from its Zarr v2 metadata)."""
    if handle.object_codec is not None:
        return _OBJECT_DTYPES[handle.object_codec]
    typestr = handle.dtype
    if typestr.startswith("|V") and handle.format == "zarr2":
        stored = json.loads(handle.metadata_json).get("dtype")
        if isinstance(stored, list):
            return np.dtype(_descr(stored))
    return np.dtype(typestr)


def _filters_argument(filters: Any) -> str | None:
    """``filters=[...]`` as numcodecs JSON: dicts with an ``"id"``, or numcodecs codec
    objects (anything with ``get_config()``)."""
    if filters is None:
        return None
    if isinstance(filters, dict) or hasattr(filters, "get_config"):
        filters = [filters]
    configs = []
    for item in filters:
        config = item.get_config() if hasattr(item, "get_config") else item
        if not isinstance(config, dict) or not isinstance(config.get("id"), str):
            raise InvalidArgumentError(
                f"filters must be numcodecs codecs or their JSON ({{'id': ...}}), got {item!r}"
            )
        configs.append(config)
    try:
        return json.dumps(configs)
    except TypeError as error:
        raise InvalidArgumentError(f"filters {filters!r} are not JSON: {error}") from None


class Dataset(Node):
    """A chunked N-dimensional array on disk (N5, Zarr v2 or Zarr v3).

    Obtain datasets from a :class:`~z5py.File` or :class:`~z5py.Group` (``create_dataset``,
    ``require_dataset`` or ``group[name]``) rather than constructing them directly.

    Reading and writing use numpy's indexing: integers (negative ones count from the end
    and drop the axis), slices (any non-zero step; out-of-range bounds are clipped),
    ``Ellipsis``, ``None``, integer arrays or lists and boolean masks per axis.  Array
    indices are orthogonal, as in h5py and zarr-python (each applies to its own axis, like
    ``np.ix_``; with a single array index and no integers this is numpy's result); :attr:`vindex` gives
    numpy's vectorised (point) selection, and a boolean mask of the dataset's shape reads or
    writes the elements where it is true.  Reads return numpy arrays (a numpy scalar when
    every axis is indexed by an integer); writes accept anything numpy can broadcast to the
    selection and cast it to the dataset's dtype with numpy's assignment rules.  Strided and
    fancy selections read (and write) only the chunks holding selected elements, straight
    into the result.  Chunk I/O runs in Rust on :attr:`n_threads` threads.  When that leaves
    a core free (``n_threads=1`` on a multi-core machine) and a call moves at least 1 MiB,
    one more thread reads chunk files ahead of the decoder or writes them behind the
    encoder, as tensorstore's I/O pool does (when it is ahead, it also has the kernel map
    the next pages of a read's fresh output array, which the decoder would otherwise fault
    in one by one); set ``Z5PY_NO_IO_THREAD=1`` in the environment to keep every call on
    exactly :attr:`n_threads` threads.

    Parameters
    ----------
    path:
        Filesystem path of the dataset.
    dset_impl:
        The open :class:`z5py._z5py.ArrayHandle`.
    n_threads:
        Number of threads used for chunk I/O.
    mode:
        Mode of the container; ``'r'`` makes every write raise
        :class:`~z5py.errors.ReadOnlyError`.
    """

    _kind = "dataset"

    #: Compressors available for N5 datasets in this build.
    compressors_n5: tuple[str, ...] = tuple(_z5py.compressors("n5"))
    #: Compressors available for Zarr v2 datasets in this build.
    compressors_zarr: tuple[str, ...] = tuple(_z5py.compressors("zarr2"))
    #: Compressors available for Zarr v3 datasets in this build.
    compressors_zarr_v3: tuple[str, ...] = tuple(_z5py.compressors("zarr3"))
    #: Compressor used for new N5 datasets when none is given.
    n5_default_compressor = _DEFAULT_COMPRESSORS["n5"]
    #: Compressor used for new Zarr (v2) datasets when none is given.
    zarr_default_compressor = _DEFAULT_COMPRESSORS["zarr2"]
    #: Compressor used for new Zarr v3 datasets when none is given.
    zarr_v3_default_compressor = _DEFAULT_COMPRESSORS["zarr3"]

    def __init__(
        self,
        path: str | os.PathLike[str],
        dset_impl: _z5py.ArrayHandle,
        n_threads: int = 1,
        *,
        mode: str = "a",
    ) -> None:
        loc = as_loc(path)
        self._setup(dset_impl, n_threads)
        self._init_node(
            loc,
            dset_impl.format,
            mode,
            loc.parent(),
            "/" + (loc.key.rsplit("/", 1)[-1] if loc.remote else os.path.basename(loc.target)),
            None,
        )

    def _setup(self, handle: _z5py.ArrayHandle, n_threads: int) -> None:
        """Attach the engine handle and cache the metadata used on every access."""
        self._handle = handle
        self._shape = tuple(handle.shape)
        self._dtype = _handle_dtype(handle)
        self._n_threads = _check_n_threads(n_threads)
        self._objects = handle.object_codec is not None
        handed = _STRINGDTYPE_HANDOFF.pop(id(handle), None)
        #: numpy dtype that reads of variable-length strings return (object by default)
        self._read_dtype: Any = _STRING_DTYPE() if handed is handle else None

    # ----------------------------------------------------------------------------------
    # metadata

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the dataset."""
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        """Data type of the dataset in memory (native byte order)."""
        return self._dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self._shape)

    @property
    def size(self) -> int:
        """Total number of elements."""
        return int(np.prod(self._shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        """Size of the (uncompressed) data in bytes."""
        return self.size * self._dtype.itemsize

    @property
    def chunks(self) -> tuple[int, ...]:
        """Chunk shape (the inner chunk shape of a sharded Zarr v3 dataset)."""
        return tuple(self._handle.chunks)

    @property
    def shards(self) -> tuple[int, ...] | None:
        """Shard shape of a sharded Zarr v3 dataset, else ``None``."""
        shards = self._handle.shards
        return None if shards is None else tuple(shards)

    @property
    def maxshape(self) -> tuple[int | None, ...]:
        """Largest shape :meth:`resize` may give (``None``: unlimited along that axis).

        Unlimited on every axis unless ``maxshape=`` was given on creation (kept in a
        hidden attribute that other readers ignore)."""
        stored = json.loads(_z5py.read_attrs(self._loc.target, self._fmt, key=self._loc.key)).get(
            MAXSHAPE_KEY
        )
        if isinstance(stored, list) and len(stored) == self.ndim:
            return tuple(None if m is None else int(m) for m in stored)
        return (None,) * self.ndim

    @property
    def dimension_names(self) -> tuple[str | None, ...] | None:
        """Zarr v3 ``dimension_names`` (one name or ``None`` per axis), else ``None``."""
        if self._fmt != "zarr3":
            return None
        names = json.loads(self._handle.metadata_json).get("dimension_names")
        return None if names is None else tuple(names)

    @property
    def durable(self) -> bool:
        """Whether writes to this dataset are synced before they return
        (``File(durable=True)``, ``create_dataset(durable=True)`` or ``Z5PY_DURABLE=1``)."""
        return durable_writes(self._loc)

    @property
    def write_empty_chunks(self) -> bool:
        """Whether chunks holding only the fill value are stored (settable; default
        ``False``: such chunks are removed, and read back as the fill value)."""
        return bool(self._handle.write_empty_chunks)

    @write_empty_chunks.setter
    def write_empty_chunks(self, value: bool) -> None:
        self._handle = self._handle.with_write_empty_chunks(bool(value))

    @property
    def chunks_per_dimension(self) -> tuple[int, ...]:
        """Number of chunks along each dimension."""
        return tuple(self._handle.chunks_per_dimension)

    @property
    def number_of_chunks(self) -> int:
        """Total number of chunks (present or not)."""
        return int(self._handle.number_of_chunks)

    @property
    def compression(self) -> str:
        """Name of the compressor (z5py spelling, e.g. ``"gzip"``, ``"blosc"``, ``"raw"``)."""
        return self._handle.compressor

    @property
    def compression_opts(self) -> dict[str, Any]:
        """Options of the compressor (e.g. ``{"level": 5}``)."""
        return json.loads(self._handle.compression_options_json)

    @property
    def filters(self) -> list[dict[str, Any]]:
        """The codecs besides the compressor (Zarr v2 ``filters``, numcodecs checksums and
        ``numcodecs.*`` codecs of Zarr v3), in numcodecs' JSON form; empty if none."""
        return json.loads(self._handle.filters_json)

    @property
    def compression_options(self) -> dict[str, Any]:
        """Compressor name (key ``"compression"``) together with its options, and the
        ``"filters"`` (numcodecs JSON) when there are any."""
        filters = self.filters
        extra = {"filters": filters} if filters else {}
        return {"compression": self.compression, **self.compression_opts, **extra}

    @property
    def fillvalue(self) -> Any:
        """Value of elements in chunks that were never written (a numpy scalar; for
        variable-length data a ``str``, ``bytes`` or JSON value, or the fill value
        zarr-python 2 wrote when that is not a string, e.g. its default ``0``)."""
        if self._objects:
            return self._handle.object_fill
        raw = self._handle.fill_value
        if len(raw) != self._dtype.itemsize:
            return None
        return np.frombuffer(raw, dtype=self._dtype)[0]

    @property
    def n_threads(self) -> int:
        """Number of threads that encode and decode chunks (settable); see the class
        docstring for the extra I/O thread."""
        return self._n_threads

    @n_threads.setter
    def n_threads(self, value: int) -> None:
        self._n_threads = _check_n_threads(value)

    # ----------------------------------------------------------------------------------
    # reading and writing

    def _read_box(self, start: Sequence[int], shape: Sequence[int]) -> np.ndarray:
        """Read the box at ``start`` of ``shape`` (assumed in bounds) into a new array."""
        if self._objects:
            items = np.empty(tuple(shape), dtype=object)
            if items.size:
                self._handle.read_objects(list(start), items, self._n_threads)
            if self._read_dtype is not None:
                return items.astype(self._read_dtype)
            return items
        out = np.empty(tuple(shape), dtype=self._dtype)
        if out.size:
            self._handle.read_into(list(start), out, self._n_threads)
        return out

    def _write_box(
        self, start: Sequence[int], data: np.ndarray, handle: _z5py.ArrayHandle | None = None
    ) -> None:
        """Write ``data`` (already of the dataset's dtype) at ``start`` (assumed in bounds).

        Data that is not C-contiguous (typically a broadcast scalar, as in ``ds[:] = 0``)
        is materialized in slabs along the first axis, aligned to the chunk (or shard) grid,
        so that memory stays bounded by :data:`WRITE_SLAB_BYTES`.
        """
        if not data.size:
            return
        handle = self._handle if handle is None else handle
        if self._objects:
            handle.write_objects(list(start), _object_items(data), self._n_threads)
            return
        if data.flags.c_contiguous or data.nbytes <= WRITE_SLAB_BYTES:
            handle.write_from(list(start), _c_order(data), self._n_threads)
            return
        grid = (self.shards or self.chunks)[0]
        row_bytes = data.nbytes // data.shape[0]
        rows = max(grid, WRITE_SLAB_BYTES // row_bytes // grid * grid)
        begin, end = start[0], start[0] + data.shape[0]
        position = begin
        while position < end:
            stop = min(end, (position // rows + 1) * rows)
            slab = _c_order(data[position - begin : stop - begin])
            handle.write_from([position, *start[1:]], slab, self._n_threads)
            position = stop

    def _coerce(self, value: Any) -> np.ndarray:
        """``value`` as an array of the dataset's dtype, following numpy assignment rules.

        Arrays are cast like ``array[...] = value`` does; Python scalars and lists are
        converted directly, so out-of-range integers raise ``OverflowError``.
        """
        if isinstance(value, Dataset):
            value = value[...]
        if self._objects:
            if isinstance(value, str | bytes) or value is None:
                array = np.empty((), dtype=object)
                array[()] = value
                return array
            return _object_items(value)
        if isinstance(value, np.ndarray | np.generic) or hasattr(value, "__array__"):
            array = np.asarray(value)
        else:
            try:
                array = np.asarray(value, dtype=self._dtype)
            except (TypeError, ValueError) as error:
                raise TypeError(
                    f"cannot write {type(value).__name__} ({value!r}) into a dataset of "
                    f"dtype {self._dtype}: {error}"
                ) from None
        numeric = "biufc"
        if (array.dtype.kind in numeric) != (self._dtype.kind in numeric):
            raise TypeError(
                f"cannot write data of dtype {array.dtype} into a {self._dtype} dataset"
            )
        try:
            return array.astype(self._dtype, copy=False)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"cannot write data of dtype {array.dtype} into a {self._dtype} dataset: {error}"
            ) from None

    def __getitem__(self, index: Any) -> Any:
        """Read the selection ``index`` from disk: numpy basic indexing, plus integer
        arrays/lists and boolean masks per axis (orthogonal, see :attr:`oindex`) and a
        boolean mask of the dataset's shape (the selected elements, as numpy gives them)."""
        if is_full_mask(index, self._shape):
            return self._read_points(index)
        return self._read_orthogonal(index)

    def __setitem__(self, index: Any, value: Any) -> None:
        """Write ``value`` (broadcast to the selection, cast to the dtype) to ``index``
        (the selections of :meth:`__getitem__`)."""
        if is_full_mask(index, self._shape):
            self._write_points(index, value)
        else:
            self._write_orthogonal(index, value)

    @property
    def oindex(self) -> _Indexer:
        """Orthogonal indexing (zarr-python's ``oindex``): ``ds.oindex[[0, 2], :, [1, 3]]``
        combines the indices of each axis like ``np.ix_``; the same as ``ds[...]``."""
        return _Indexer(self._read_orthogonal, self._write_orthogonal)

    @property
    def vindex(self) -> _Indexer:
        """Vectorised (point) indexing (zarr-python's ``vindex``, numpy's advanced
        indexing): one integer array per axis, broadcast together, or a boolean mask of the
        dataset's shape; reads and writes touch only the chunks holding the points."""
        return _Indexer(self._read_points, self._write_points)

    def _broadcast_value(self, value: Any, out_shape: tuple[int, ...]) -> np.ndarray:
        """``value`` cast to the dtype and broadcast to ``out_shape``."""
        data = self._coerce(value)
        # like numpy, tolerate extra leading axes of length 1 in the value
        extra = data.ndim - len(out_shape)
        if extra > 0 and all(n == 1 for n in data.shape[:extra]):
            data = data.reshape(data.shape[extra:])
        try:
            return np.broadcast_to(data, out_shape)
        except ValueError:
            raise InvalidArgumentError(
                f"cannot broadcast a value of shape {data.shape} to the selection's shape "
                f"{out_shape}"
            ) from None

    def _read_orthogonal(self, index: Any) -> Any:
        sel = orthogonal(index, self._shape)
        if sel.empty:
            return np.empty(sel.out_shape, dtype=self._dtype)
        box = sel.box
        if box is not None:
            out = self._read_box(*box)
        else:
            out = self._new_out(sel.counts)
            self._handle.read_orthogonal(sel.indices(), out, self._n_threads)
            out = self._as_read(out)
        out = out.reshape(sel.out_shape)
        return out[()] if sel.scalar else out

    def _write_orthogonal(self, index: Any, value: Any) -> None:
        self._check_writable("write to a dataset")
        sel = orthogonal(index, self._shape)
        data = self._broadcast_value(value, sel.out_shape)
        if sel.empty:
            return
        data = data.reshape(sel.counts)
        box = sel.box
        if box is not None:
            self._write_box(box[0], data)
        else:
            # the engine reads the value in C order: at most the selection's size; it changes
            # each chunk holding selected elements in that chunk's locked read-modify-write
            self._handle.write_orthogonal(sel.indices(), self._engine_data(data), self._n_threads)

    def _new_out(self, shape: tuple[int, ...]) -> np.ndarray:
        """A new array for the engine to fill: of the dataset's dtype, or of objects."""
        return np.empty(shape, dtype=object if self._objects else self._dtype)

    def _as_read(self, out: np.ndarray) -> np.ndarray:
        """What the engine filled, as reads give it (StringDType when opened so)."""
        if self._objects and self._read_dtype is not None:
            return out.astype(self._read_dtype)
        return out

    def _engine_data(self, data: np.ndarray) -> np.ndarray:
        """``data`` (of the dataset's dtype) C-contiguous for the engine: objects as an
        object array."""
        return _object_items(data) if self._objects else _c_order(data)

    def astype(self, dtype: Any) -> _CastView:
        """Reads through ``[]`` cast to ``dtype`` (h5py's ``Dataset.astype``), e.g.
        ``ds.astype(np.dtypes.StringDType())[:]`` reads variable-length strings as numpy's
        StringDType instead of an object array. (That choice is not stored: a dataset
        created with ``dtype=StringDType()`` and opened again reads object arrays.)"""
        target = np.dtype(dtype)

        def convert(value: Any) -> Any:
            return np.asarray(value).astype(target)

        return _CastView(self, convert)

    def asstr(self, encoding: str = "utf-8", errors: str = "strict") -> _CastView:
        """Reads through ``[]`` as object arrays of ``str`` (h5py's ``Dataset.asstr``):
        variable-length or fixed-length bytes are decoded with ``encoding``."""

        def decode(item: Any) -> Any:
            return item.decode(encoding, errors) if isinstance(item, bytes) else item

        def convert(value: Any) -> Any:
            if isinstance(value, bytes | str):
                return decode(value)
            array = np.asarray(value)
            if array.dtype.kind not in "OS":
                raise TypeError(f"asstr() needs string data, the dataset holds {self._dtype}")
            out = np.empty(array.shape, dtype=object)
            out.flat[:] = [decode(item) for item in array.flat]
            return out if out.ndim else out[()]

        return _CastView(self, convert)

    def _read_points(self, index: Any) -> np.ndarray:
        coords, out_shape = points(index, self._shape)
        out = self._new_out((coords.shape[0],))
        if out.size:
            self._handle.read_points(coords.reshape(-1), out, self._n_threads)
        return self._as_read(out).reshape(out_shape)

    def _write_points(self, index: Any, value: Any) -> None:
        self._check_writable("write to a dataset")
        coords, out_shape = points(index, self._shape)
        data = self._broadcast_value(value, out_shape)
        if coords.shape[0]:
            flat = self._engine_data(np.reshape(data, -1))
            self._handle.write_points(coords.reshape(-1), flat, self._n_threads)

    # ----------------------------------------------------------------------------------
    # growing and shrinking

    def resize(self, size: Any, axis: int | None = None) -> None:
        """Change the shape (h5py's ``resize``): ``size`` is the new shape, or with
        ``axis`` the new extent of that axis.  Every axis may grow up to :attr:`maxshape`.

        Growing reads the fill value in the new part.  Shrinking first removes the chunks
        (shards) wholly outside the new shape and sets the part of the edge chunks beyond it
        to the fill value, so that a later grow reads fill values there; then the metadata
        is rewritten atomically (readers see the old or the new shape).
        """
        self._check_writable("resize a dataset")
        if axis is None:
            new = normalize_shape(size)
        else:
            dim = to_int(axis, "axis")
            if not -self.ndim <= dim < self.ndim:
                raise InvalidArgumentError(
                    f"axis {axis} is out of range for {self.ndim} dimensions"
                )
            new_list = list(self._shape)
            new_list[dim % self.ndim] = to_int(size, "size")
            new = normalize_shape(new_list)
        if len(new) != self.ndim:
            raise InvalidArgumentError(
                f"new shape {new} has {len(new)} dimensions, the dataset {self.ndim}"
            )
        for dim, (n, m) in enumerate(zip(new, self.maxshape)):
            if m is not None and n > m:
                raise InvalidArgumentError(
                    f"cannot resize axis {dim} to {n}: it exceeds the maxshape {self.maxshape}"
                )
        old = self._shape
        if new == old:
            return
        if any(n < o for n, o in zip(new, old)):
            self._clear_outside(new)
        array_metadata.rewrite(
            self._loc, self._fmt, lambda doc: array_metadata.set_shape(doc, self._fmt, new)
        )
        handle = _z5py.ArrayHandle.open(self._loc.target, self._loc.key)
        if self._handle.write_empty_chunks:
            handle = handle.with_write_empty_chunks(True)
        self._handle = handle
        self._shape = tuple(handle.shape)

    @property
    def object_codec(self) -> str | None:
        """Codec of a variable-length dataset (``"vlen-utf8"``, ``"vlen-bytes"`` or
        ``"json2"``), None for other datasets."""
        return self._handle.object_codec

    def keep_missing_value(self, value: Any) -> bool:
        """Make items of chunks never written read as ``value``, a fill value that is not a
        string (``0``, ``None`` or another number, as zarr-python 2 writes for ``dtype=str``),
        when this is a Zarr v2 ``vlen-utf8`` / ``vlen-bytes`` dataset, whose metadata can
        hold it; copies of such arrays use it (into new outputs and ones they resume).
        Returns False (and changes nothing) for other datasets: Zarr v3 ``string`` /
        ``variable_length_bytes`` and ``json2`` keep their own fill value. The metadata is
        not rewritten when it holds ``value`` already."""
        if (
            self._fmt != "zarr2"
            or self._handle.object_codec not in ("vlen-utf8", "vlen-bytes")
            or isinstance(value, (str, bytes))
        ):
            return False
        current = json.loads(self._handle.metadata_json).get("fill_value")
        if json.dumps(current) == json.dumps(value):
            return True
        array_metadata.rewrite(
            self._loc, self._fmt, lambda doc: doc.__setitem__("fill_value", value)
        )
        handle = _z5py.ArrayHandle.open(self._loc.target, self._loc.key)
        if self._handle.write_empty_chunks:
            handle = handle.with_write_empty_chunks(True)
        self._handle = handle
        return True

    def _clear_outside(self, new: tuple[int, ...]) -> None:
        """Before shrinking to ``new``: remove the chunks (shards) wholly outside it and
        set the rest of the edge ones to the fill value."""
        old = self._shape
        unit = self.shards or self.chunks
        chunks = self.chunks
        doomed = set()
        for idx in self._handle.existing_chunks():
            origin = [i * c // u * u for i, c, u in zip(idx, chunks, unit)]
            if any(o >= n for o, n in zip(origin, new)):
                doomed.add(self._handle.chunk_path(list(idx)))
        for path in sorted(doomed):
            if self._loc.remote:
                # chunk_path gives the URL: the key is what follows the store's own
                base = self._loc.target.location("").rstrip("/") + "/"
                self._loc.target.delete(path.removeprefix(base))
                continue
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        # the retained units' extent along each axis
        kept = [min(o, -(-n // u) * u) for o, n, u in zip(old, new, unit)]
        clearing = self._handle.with_write_empty_chunks(False)
        fill = self.fillvalue if self.fillvalue is not None else 0
        if self._objects and not isinstance(fill, str | bytes):
            # zarr-python 2's 0 / null of a vlen dataset: its items are stored as the
            # empty item (None), as numcodecs stores them; json2 stores the JSON value
            fill = self.fillvalue if self._handle.object_codec == "json2" else None
        for dim, (n, o) in enumerate(zip(new, old)):
            if n >= o or kept[dim] <= n:
                continue
            start = [0] * self.ndim
            shape = list(kept)
            start[dim] = n
            shape[dim] = kept[dim] - n
            if any(s == 0 for s in shape):
                continue
            value = np.broadcast_to(np.asarray(fill, dtype=self._dtype), tuple(shape))
            self._write_box(start, value, handle=clearing)

    def append(self, data: Any, axis: int = 0) -> None:
        """Grow along ``axis`` by ``data``'s extent there and write ``data`` at the end
        (for time series); ``data`` matches the shape on every other axis (an array of
        one dimension less is one slice)."""
        self._check_writable("append to a dataset")
        dim = to_int(axis, "axis")
        if not -self.ndim <= dim < self.ndim:
            raise InvalidArgumentError(f"axis {axis} is out of range for {self.ndim} dimensions")
        dim %= self.ndim
        array = self._coerce(data)
        if array.ndim == self.ndim - 1:
            array = np.expand_dims(array, dim)
        expected = self._shape[:dim] + self._shape[dim + 1 :]
        if array.ndim != self.ndim or array.shape[:dim] + array.shape[dim + 1 :] != expected:
            raise InvalidArgumentError(
                f"cannot append data of shape {np.shape(data)} along axis {dim} of a dataset "
                f"of shape {self._shape}"
            )
        start = [0] * self.ndim
        start[dim] = self._shape[dim]
        self.resize(self._shape[dim] + array.shape[dim], axis=dim)
        self._write_box(start, array)

    def read_subarray(self, start: Sequence[int], stop: Sequence[int]) -> np.ndarray:
        """Read the region from ``start`` (inclusive) to ``stop`` (exclusive).

        The region must lie inside the dataset (:class:`~z5py.errors.InvalidArgumentError`
        otherwise).
        """
        if len(start) != len(stop):
            raise InvalidArgumentError(f"start {start} and stop {stop} differ in length")
        shape = tuple(int(b) - int(a) for a, b in zip(start, stop))
        begin = check_region(start, shape, self._shape)
        return self._read_box(begin, shape)

    def write_subarray(self, start: Sequence[int], data: Any) -> None:
        """Write ``data`` with its first element at ``start``; its shape gives the region.

        The region must lie inside the dataset; data of another dtype is cast to the
        dataset's dtype.
        """
        self._check_writable("write to a dataset")
        array = self._coerce(data)
        begin = check_region(start, array.shape, self._shape)
        self._write_box(begin, array)

    def read_direct(self, dest: np.ndarray, source_sel: Any = None, dest_sel: Any = None) -> None:
        """Read ``self[source_sel]`` into ``dest[dest_sel]`` (h5py's ``read_direct``).

        When ``dest`` is C-contiguous, of the dataset's dtype and exactly the shape of an
        unstrided selection (and ``dest_sel`` is ``None``), the data is decoded straight
        into ``dest`` without an intermediate copy.
        """
        if not isinstance(dest, np.ndarray):
            raise TypeError(f"dest must be a numpy array, got {type(dest).__name__}")
        if not dest.flags.writeable:
            raise InvalidArgumentError("dest is not writeable")
        source = Ellipsis if source_sel is None else source_sel
        sel = None if is_full_mask(source, self._shape) else orthogonal(source, self._shape)
        box = None if sel is None else sel.box
        direct = (
            dest_sel is None
            and box is not None
            and not sel.empty
            and dest.flags.c_contiguous
            and dest.dtype == self._dtype
            and dest.shape == sel.out_shape
        )
        if direct:
            self._handle.read_into(list(box[0]), dest.reshape(box[1]), self._n_threads)
        else:
            dest[Ellipsis if dest_sel is None else dest_sel] = self[source]

    def write_direct(self, source: Any, source_sel: Any = None, dest_sel: Any = None) -> None:
        """Write ``source[source_sel]`` to ``self[dest_sel]`` (h5py's ``write_direct``)."""
        array = np.asarray(source)
        self[Ellipsis if dest_sel is None else dest_sel] = array[
            Ellipsis if source_sel is None else source_sel
        ]

    def index_to_roi(self, index: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Offset and shape of the region of interest addressed by ``index``.

        ``index`` is a basic index as for ``dataset[index]``; integer-indexed axes give an
        extent of 1 and strided slices their bounding box.
        """
        sel = normalize_index(index, self._shape)
        return sel.start, sel.shape

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """The whole dataset as a numpy array (numpy's ``__array__`` protocol)."""
        array = self[...]
        if dtype is not None and np.dtype(dtype) != array.dtype:
            if copy is False:
                raise ValueError(
                    f"converting {self._dtype} data to {np.dtype(dtype)} requires a copy"
                )
            array = array.astype(dtype)
        return array

    def __len__(self) -> int:
        """Extent of the first dimension."""
        if not self._shape:
            raise TypeError("len() of a 0-dimensional dataset")
        return self._shape[0]

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the first axis, reading one slice per step."""
        if not self._shape:
            raise TypeError("iteration over a 0-dimensional dataset")
        for i in range(self._shape[0]):
            yield self[i]

    # ----------------------------------------------------------------------------------
    # chunks

    def _chunk_index(self, chunk_indices: Sequence[int]) -> list[int]:
        """Validate a chunk index against the chunk grid."""
        index = [to_int(i, "chunk index") for i in chunk_indices]
        grid = self.chunks_per_dimension
        if len(index) != len(grid) or any(not 0 <= i < n for i, n in zip(index, grid)):
            raise InvalidArgumentError(
                f"chunk index {tuple(index)} is outside the chunk grid {grid}"
            )
        return index

    def chunk_exists(self, chunk_indices: Sequence[int]) -> bool:
        """Whether the chunk at ``chunk_indices`` is stored on disk."""
        return bool(self._handle.chunk_exists(self._chunk_index(chunk_indices)))

    def stored_chunks(self) -> list[tuple[int, ...]]:
        """The indices of the chunks stored on disk, sorted."""
        return sorted(tuple(int(i) for i in idx) for idx in self._handle.existing_chunks())

    def read_chunk(self, chunk_indices: Sequence[int]) -> np.ndarray | None:
        """The decoded chunk at ``chunk_indices``, or ``None`` if it is not stored.

        N5 chunks at the upper border have the clipped shape; Zarr chunks always have the
        full chunk shape.
        """
        index = self._chunk_index(chunk_indices)
        if self._objects:
            if not self._handle.chunk_exists(index):
                return None
            start = [i * c for i, c in zip(index, self.chunks)]
            shape = [min(c, n - s) for c, n, s in zip(self.chunks, self._shape, start)]
            return self._read_box(start, shape)
        return self._handle.read_chunk(index)

    def write_chunk(self, chunk_indices: Sequence[int], data: Any, varlen: bool = False) -> None:
        """Encode and store ``data`` as the chunk at ``chunk_indices``.

        ``data`` must have the chunk's stored shape (see :meth:`read_chunk`) and the
        dataset's dtype (byte order aside): it is never cast, a numpy array or scalar of
        another dtype raises :class:`~z5py.errors.DtypeMismatchError`; lists are converted
        to the dataset's dtype.  With ``varlen=True`` (N5 only) ``data`` is a 1-d array of
        any length, stored in N5's varlength mode.  Data of the wrong size and ``varlen``
        outside N5 raise :class:`~z5py.errors.ChunkArgumentError`.  Both errors are
        ``ValueError`` and ``RuntimeError``.
        """
        self._check_writable("write a chunk")
        index = self._chunk_index(chunk_indices)
        if varlen and self._fmt != "n5":
            raise ChunkArgumentError(
                f"varlen=True is only supported by N5, not {self._fmt} ({self._path!r})"
            )
        if self._objects:
            start = [i * c for i, c in zip(index, self.chunks)]
            items = self._coerce(data)
            stop = [s + n for s, n in zip(start, items.shape)]
            if items.ndim != self.ndim or any(e > n for e, n in zip(stop, self._shape)):
                raise ChunkArgumentError(
                    f"chunk data of shape {items.shape} does not fit chunk {index} of "
                    f"{self._name!r}"
                )
            self._write_box(start, items)
            return
        if isinstance(data, np.ndarray | np.generic):
            if not same_dtype(data.dtype, self._dtype):
                raise DtypeMismatchError(
                    f"chunk data has dtype {data.dtype} but the dataset {self._name!r} stores "
                    f"{self._dtype}; write_chunk does not convert data, cast it first"
                )
            array = _c_order(np.asarray(data).astype(self._dtype, copy=False))
        else:
            array = _c_order(self._coerce(data))
        try:
            self._handle.write_chunk(index, array, varlen)
        except InvalidArgumentError as error:
            raise ChunkArgumentError(str(error)) from None

    def get_chunk_shape(
        self, chunk_indices: Sequence[int], from_header: bool = False
    ) -> tuple[int, ...]:
        """Shape of the chunk at ``chunk_indices`` inside the dataset: :attr:`chunks`,
        clipped at the upper border.

        With ``from_header=True`` the shape of a stored N5 chunk is read from its header
        instead (the shape it was written with, which other writers may make the full chunk
        shape at the border); ``None`` if the chunk is not stored.  Zarr chunks have no
        header, so ``from_header`` changes nothing for them (as in z5py 3.x).
        """
        index = self._chunk_index(chunk_indices)
        if from_header and self._fmt == "n5":
            shape = self._handle.chunk_header_shape(index)
            return None if shape is None else tuple(int(n) for n in shape)
        return tuple(min(c, n - i * c) for i, c, n in zip(index, self.chunks, self._shape))

    def chunk_path(self, chunk_indices: Sequence[int]) -> str:
        """Filesystem path at which the chunk at ``chunk_indices`` is (or would be) stored."""
        return self._handle.chunk_path(self._chunk_index(chunk_indices))

    def array_to_format(self, array: Any) -> np.ndarray:
        """The bytes (as a 1-d ``uint8`` array) that would be stored for ``array`` as a chunk.

        This includes the N5 chunk header and the compression of this dataset.
        """
        data = _c_order(self._coerce(array))
        return np.frombuffer(self._handle.encode_chunk(data), dtype=np.uint8)

    def _extreme_chunk(self, dim: int, pick: Any) -> tuple[int, ...] | None:
        """Start coordinates of the stored chunk selected by ``pick`` along ``dim``."""
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
            raise TypeError(f"dim must be an integer, got {dim!r}")
        if not -self.ndim <= dim < self.ndim:
            raise InvalidArgumentError(f"dim {dim} is out of range for {self.ndim} dimensions")
        existing = self._handle.existing_chunks()
        if not existing:
            return None
        index = pick(existing, key=lambda chunk: chunk[dim])
        return tuple(int(i) * c for i, c in zip(index, self.chunks))

    def find_minimum_coordinates(self, dim: int) -> tuple[int, ...] | None:
        """Start coordinates of the stored chunk with the smallest coordinate along ``dim``.

        Only chunks present on disk count; ``None`` if there are none.
        """
        return self._extreme_chunk(dim, min)

    def find_maximum_coordinates(self, dim: int) -> tuple[int, ...] | None:
        """Start coordinates of the stored chunk with the largest coordinate along ``dim``.

        Only chunks present on disk count; ``None`` if there are none.
        """
        return self._extreme_chunk(dim, max)

    # ----------------------------------------------------------------------------------
    # Python protocols

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by location: unpickling reopens the dataset from disk."""
        return (
            _reopen_dataset,
            (self._loc, self._n_threads, self._mode, self._root_loc, self._name),
        )

    def __repr__(self) -> str:
        """Name, shape, dtype, format and mode."""
        return (
            f'<z5py Dataset "{self._name}": shape {self._shape}, type "{self._dtype.str}", '
            f"{self._fmt}, mode {self._mode!r}>"
        )


class _CastView:
    """``ds.astype(dtype)`` / ``ds.asstr()``: reads through ``[]`` converted on the way out
    (h5py's wrappers of the same names)."""

    __slots__ = ("_convert", "_dataset")

    def __init__(self, dataset: Dataset, convert: Any) -> None:
        self._dataset = dataset
        self._convert = convert

    def __getitem__(self, index: Any) -> Any:
        return self._convert(self._dataset[index])

    def __len__(self) -> int:
        return len(self._dataset)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = np.asarray(self[()])
        return array if dtype is None else array.astype(dtype)


class _Indexer:
    """``ds.oindex`` / ``ds.vindex``: a selection kind usable with ``[]``."""

    __slots__ = ("_read", "_write")

    def __init__(self, read: Any, write: Any) -> None:
        self._read = read
        self._write = write

    def __getitem__(self, index: Any) -> Any:
        return self._read(index)

    def __setitem__(self, index: Any, value: Any) -> None:
        self._write(index, value)


def create_array(
    path: Any,
    fmt: str,
    shape: Any = None,
    dtype: Any = None,
    data: Any = None,
    chunks: Any = None,
    compression: str | None = None,
    fillvalue: Any = 0,
    n_threads: int = 1,
    shards: Any = None,
    chunk_key_encoding: str | None = None,
    dimension_separator: str | None = None,
    compression_options: dict[str, Any] | None = None,
    maxshape: Any = None,
    dimension_names: Any = None,
    write_empty_chunks: bool = False,
) -> _z5py.ArrayHandle:
    """Validate the arguments of ``Group.create_dataset``, write the metadata (and data) of a
    new array at ``path`` (a directory or a ``Loc``) and return its engine handle (turn it into
    a :class:`Dataset` with :func:`open_dataset`)."""
    n_threads = _check_n_threads(n_threads)
    if data is not None:
        data = np.asarray(data)
        if dtype is not None and not same_dtype(dtype, data.dtype):
            raise DtypeMismatchError(
                f"data has dtype {data.dtype} but dtype={np.dtype(dtype)} was requested; "
                "z5py does not convert data on creation, cast it first"
            )
        if shape is not None and normalize_shape(shape) != data.shape:
            raise InvalidArgumentError(
                f"shape {normalize_shape(shape)} does not match the data's shape {data.shape}"
            )
        shape, dtype = data.shape, data.dtype
    if shape is None or dtype is None:
        raise TypeError("create_dataset needs either data, or both shape and dtype")
    shape = normalize_shape(shape)
    maxshape = normalize_maxshape(maxshape, shape)
    dimension_names = array_metadata.check_dimension_names(dimension_names, len(shape), fmt)
    codec, string_dtype = _object_codec(dtype, data)
    compression_options = dict(compression_options or {})
    filters_given = compression_options.get("filters")
    first = _filters_argument(filters_given)
    if (
        first is not None
        and json.loads(first)
        and json.loads(first)[0].get("id")
        in (
            "vlen-utf8",
            "vlen-bytes",
            "json2",
        )
    ):
        # numcodecs' object codec given as the first filter (zarr-python 2's object_codec)
        configs = json.loads(first)
        codec = configs[0]["id"]
        compression_options["filters"] = configs[1:] or None
    if codec is not None:
        if fmt == "n5":
            raise UnsupportedError(
                f"variable-length data ({codec}) in the N5 dataset {path!r}: N5 has no "
                "such type; use Zarr"
            )
        if codec == "json2" and fmt != "zarr2":
            raise UnsupportedError(
                f"json2 object arrays need Zarr v2 (only zarr-python 2 writes them): {path!r}"
            )
        dtype = np.dtype("O")
        if data is not None:
            data = _object_items(data)
    else:
        dtype = np.dtype(dtype)
    if dtype.subdtype is not None:
        raise UnsupportedError(
            f"subarray data type {dtype} is not supported: add its shape to the dataset's"
        )
    if dtype.kind not in _FIXED_KINDS and codec is None:
        raise UnsupportedError(
            f"data type {dtype} is not supported: z5py stores numbers, bool, fixed-length "
            "strings, records and datetimes"
        )
    if dtype.kind not in "biuf" and fmt == "n5":
        raise UnsupportedError(f"data type {dtype} is not available in N5")
    chunks = normalize_chunks(chunks, shape)
    filters = _filters_argument(compression_options.pop("filters", None))
    if filters is not None and fmt == "n5":
        raise InvalidArgumentError("filters need Zarr; N5 has none")
    compression, options = _compression_arguments(fmt, compression, compression_options)
    try:
        checked = "|u1" if codec is not None else dtype.str
        _z5py.check_compression(fmt, compression, json.dumps(options), checked)
    except InvalidArgumentError as error:
        raise CompressionOptionsError(str(error)) from None
    if codec is not None:
        fill = _object_fill(codec, fillvalue)
    else:
        fill = _fill_bytes(fmt, fillvalue, dtype)
    if fmt != "zarr3":
        for option, value in (("shards", shards), ("chunk_key_encoding", chunk_key_encoding)):
            if value is not None:
                raise InvalidArgumentError(f"{option} is only supported by Zarr v3, not {fmt}")
    if fmt == "n5" and dimension_separator is not None:
        raise InvalidArgumentError("dimension_separator is only supported by Zarr")
    if dimension_separator not in (None, ".", "/"):
        raise InvalidArgumentError(
            f"dimension_separator must be '.' or '/', got {dimension_separator!r}"
        )
    if fmt == "zarr2" and dimension_separator is None:
        dimension_separator = "."
    if shards is not None:
        shards = normalize_chunks(shards, shape)
        if any(s % c for s, c in zip(shards, chunks)):
            raise InvalidArgumentError(f"shards {shards} must be a multiple of the chunks {chunks}")
    if chunk_key_encoding not in (None, "default", "v2"):
        raise InvalidArgumentError(
            f"chunk_key_encoding must be 'default' or 'v2', got {chunk_key_encoding!r}"
        )
    loc = as_loc(path)
    handle = _z5py.ArrayHandle.create(
        loc.target,
        fmt,
        shape,
        chunks,
        codec if codec is not None else _dtype_argument(dtype),
        compression,
        json.dumps(options),
        fill,
        dimension_separator=dimension_separator,
        shards=shards,
        chunk_key_encoding=chunk_key_encoding,
        filters_json=filters,
        key=loc.key,
    )
    if dimension_names is not None:
        array_metadata.rewrite(
            loc, fmt, lambda doc: doc.__setitem__("dimension_names", dimension_names)
        )
        handle = _z5py.ArrayHandle.open(loc.target, loc.key)
    if any(m is not None for m in maxshape):
        attrs = json.loads(_z5py.read_attrs(loc.target, fmt, key=loc.key))
        attrs[MAXSHAPE_KEY] = list(maxshape)
        _z5py.write_attrs(loc.target, fmt, json.dumps(attrs), key=loc.key)
    if write_empty_chunks:
        handle = handle.with_write_empty_chunks(True)
    if data is not None and data.size > 0:
        if codec is not None:
            handle.write_objects((0,) * len(shape), data, n_threads)
        else:
            native = _c_order(data.astype(_handle_dtype(handle), copy=False))
            handle.write_from((0,) * len(shape), native, n_threads)
    if string_dtype:
        _STRINGDTYPE_HANDOFF[id(handle)] = handle
    return handle


def open_dataset(
    path: Any,
    mode: str,
    root: Any,
    name: str,
    file: Any,
    n_threads: int = 1,
    separator: str = ".",
    parent: Any = None,
    *,
    handle: _z5py.ArrayHandle | None = None,
) -> Dataset:
    """The :class:`Dataset` at ``path`` (a directory or a ``Loc``), the member ``name`` of the
    container at ``root`` opened as ``file`` in ``mode`` (see ``Node._init_node`` for
    ``separator`` and ``parent``).  ``handle`` is the engine handle of an array that
    :func:`create_array` just made; without it the existing array is opened, writing empty
    chunks when ``file`` does."""
    loc = as_loc(path)
    opened = handle is None
    if handle is None:
        handle = _z5py.ArrayHandle.open(loc.target, loc.key)
    dataset = Dataset.__new__(Dataset)
    dataset._setup(handle, n_threads)
    dataset._init_node(
        loc, handle.format, mode, root, name, file, separator=separator, parent=parent
    )
    if opened and file is not None and file.write_empty_chunks:
        dataset._handle = handle.with_write_empty_chunks(True)
    return dataset


def _reopen_dataset(path: str, n_threads: int, mode: str, root: str, name: str) -> Dataset:
    """Reopen a pickled dataset."""
    return open_dataset(path, mode, root, name, None, n_threads)
