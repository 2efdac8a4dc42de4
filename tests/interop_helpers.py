"""Shared parameter lists, data generators and thin wrappers for the interop suites.

The interop tests (``test_interop_zarr.py``, ``test_interop_tensorstore.py``,
``test_interop_reference.py``) prove that what z5py writes is read by the real peers
(zarr-python, tensorstore, the published C++ z5py) and the other way round.  Everything that
touches *our* API goes through the ``z5_*`` wrappers below, so a change in the API spelling
is fixed in one place.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

# --------------------------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------------------------

INT_DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64"]
FLOAT_DTYPES = ["float32", "float64"]
#: dtypes both N5 and Zarr support
COMMON_DTYPES = INT_DTYPES + FLOAT_DTYPES
#: dtypes only Zarr supports
ZARR_ONLY_DTYPES = ["bool", "float16", "complex64", "complex128"]
ZARR_DTYPES = COMMON_DTYPES + ZARR_ONLY_DTYPES
#: one dtype per element size (1, 2, 4, 8 bytes) for the codec sweeps; blosc's shuffle
#: depends on the typesize, so every size has to be exercised with every shuffle mode.
CODEC_SWEEP_DTYPES = ["uint8", "int16", "float32", "float64"]
#: big-endian Zarr v2 dtypes (multi-byte only: one-byte types have no byte order)
BIG_ENDIAN_DTYPES = [">u2", ">u4", ">u8", ">i2", ">i4", ">i8", ">f2", ">f4", ">f8", ">c8", ">c16"]

# --------------------------------------------------------------------------------------------
# shapes: small, with edge chunks along every axis
# --------------------------------------------------------------------------------------------

SHAPE = (13, 11, 7)
CHUNKS = (5, 4, 3)  # chunk grid 3 x 3 x 3, every last chunk clipped
#: a non-chunk-aligned region inside SHAPE that misses the last chunk along axis 0
REGION = (slice(2, 8), slice(1, 11), slice(0, 7))
#: chunk index (numpy order) that REGION does not touch (must stay missing)
MISSING_CHUNK = (2, 0, 0)
#: the bigger edge-chunk case from the brief
EDGE_SHAPE = (37, 53, 29)
EDGE_CHUNKS = (16, 16, 16)
#: a read window across the edge chunks of EDGE_SHAPE
EDGE_WINDOW = (slice(30, 37), slice(40, 53), slice(20, 29))
#: sharded Zarr v3: shards of 2x2x2 inner chunks -> 2 x 2 x 2 shards over SHAPE, the last
#: shard along every axis is an edge shard containing edge inner chunks
SHARDS = (10, 8, 6)
#: an unaligned read window
READ_WINDOW = (slice(3, 12), slice(2, 9), slice(1, 6))

BLOSC_CNAMES = ["lz4", "lz4hc", "blosclz", "zstd", "zlib", "snappy"]
#: numcodecs' Blosc is built without snappy
BLOSC_CNAMES_NUMCODECS = ["lz4", "lz4hc", "blosclz", "zstd", "zlib"]
BLOSC_SHUFFLES = [0, 1, 2]


def _seed(*parts) -> int:
    return zlib.crc32(repr(parts).encode())


def make_data(dtype, shape=SHAPE, seed=0) -> np.ndarray:
    """Deterministic pseudo-random data over the whole value range of ``dtype``.

    Floats contain NaN, +Inf and -Inf (``assert_array_equal`` treats NaNs as equal).
    The returned array has exactly ``np.dtype(dtype)`` (byte order included).
    """
    dt = np.dtype(dtype)
    native = dt.newbyteorder("=")
    rng = np.random.default_rng(_seed(dt.str, tuple(shape), seed))
    if dt.kind == "b":
        arr = rng.integers(0, 2, size=shape).astype(bool)
    elif dt.kind in "iu":
        info = np.iinfo(native)
        arr = rng.integers(info.min, info.max, size=shape, dtype=native, endpoint=True)
    elif dt.kind == "f":
        arr = (rng.standard_normal(shape) * 1000).astype(native)
        flat = arr.reshape(-1)
        if flat.size >= 4:
            flat[1], flat[2], flat[3] = np.nan, np.inf, -np.inf
    elif dt.kind == "c":
        arr = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(native)
    else:  # pragma: no cover - only the dtypes above are used
        raise ValueError(dt)
    return np.ascontiguousarray(arr.astype(dt))


def expected_with_fill(data: np.ndarray, region, fill) -> np.ndarray:
    """The array a reader must see after only ``data[region]`` was written."""
    out = np.full(data.shape, fill, dtype=data.dtype)
    out[region] = data[region]
    return out


#: (dtype, fill value) pairs for the fill-value tests; N5 has no fill value.
FILL_CASES = [
    ("uint8", 0),
    ("uint8", 200),
    ("int16", -7),
    ("int32", 123456),
    ("uint64", 2**64 - 1),
    ("int64", -(2**63)),
    ("int64", 2**63 - 1),
    ("float32", 1.5),
    ("float32", float("nan")),
    ("float64", float("nan")),
    ("float64", float("inf")),
    ("float64", float("-inf")),
    ("float64", -2.25),
]
FILL_CASES_ZARR_ONLY = [
    ("bool", True),
    ("float16", float("nan")),
    ("complex64", complex(1.5, -2.0)),
    ("complex128", complex(-0.5, 4.0)),
]


def fill_id(case) -> str:
    dtype, fill = case
    return f"{dtype}-{fill!r}".replace("'", "")


#: every fill value case of the Zarr formats, as pytest parameters
FILL_PARAMS = [pytest.param(c, id=fill_id(c)) for c in FILL_CASES + FILL_CASES_ZARR_ONLY]


def fill_json_ok(json_value, fill, dtype) -> bool:
    """Does a metadata ``fill_value`` JSON value denote exactly ``fill`` for ``dtype``?"""
    kind = np.dtype(dtype).kind
    if kind == "c":
        if not isinstance(json_value, list) or len(json_value) != 2:
            return False
        return fill_json_ok(json_value[0], fill.real, "f8") and fill_json_ok(
            json_value[1], fill.imag, "f8"
        )
    if kind == "f":
        if isinstance(fill, float) and math.isnan(fill):
            return json_value == "NaN"
        if fill == float("inf"):
            return json_value == "Infinity"
        if fill == float("-inf"):
            return json_value == "-Infinity"
        return isinstance(json_value, (int, float)) and float(json_value) == fill
    if kind == "b":
        return json_value is bool(fill)
    # integers must be exact JSON integers (a double loses 2**64-1 and -2**63+x)
    return isinstance(json_value, int) and not isinstance(json_value, bool) and json_value == fill


# --------------------------------------------------------------------------------------------
# assertions
# --------------------------------------------------------------------------------------------


def assert_same_array(actual, expected) -> None:
    """Values equal (NaN == NaN), same kind and item size (byte order may differ)."""
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype.newbyteorder("=") == expected.dtype.newbyteorder("="), (
        actual.dtype,
        expected.dtype,
    )
    np.testing.assert_array_equal(actual, expected)


def read_json(path) -> dict:
    with open(path) as f:
        return json.load(f)


# --------------------------------------------------------------------------------------------
# N5 chunk files
# --------------------------------------------------------------------------------------------


def n5_chunk_path(ds_dir, chunk_index) -> Path:
    """N5 stores numpy chunk index (i0, i1, i2) at ``i2/i1/i0``."""
    return Path(ds_dir).joinpath(*[str(i) for i in reversed(chunk_index)])


def parse_n5_header(raw: bytes):
    """(mode, dims in N5 order, num_elements or None, header length)."""
    mode, ndim = struct.unpack(">HH", raw[:4])
    dims = list(struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim]))
    off = 4 + 4 * ndim
    num = None
    if mode == 1:
        (num,) = struct.unpack(">I", raw[off : off + 4])
        off += 4
    return mode, dims, num, off


def n5_chunk_bytes(data: np.ndarray, mode: int = 0, num_elements=None) -> bytes:
    """Hand-built raw N5 block per the N5 spec (header + big-endian payload)."""
    header = struct.pack(">HH", mode, data.ndim) + struct.pack(
        f">{data.ndim}I", *reversed(data.shape)
    )
    if mode == 1:
        header += struct.pack(">I", data.size if num_elements is None else num_elements)
    be = data.astype(data.dtype.newbyteorder(">"))
    return header + be.tobytes()


def chunk_clipped_shape(shape, chunks, index):
    return tuple(min(c, s - i * c) for s, c, i in zip(shape, chunks, index))


def all_chunk_indices(shape, chunks):
    grid = [-(-s // c) for s, c in zip(shape, chunks)]
    return [tuple(int(v) for v in idx) for idx in np.ndindex(*grid)]


# --------------------------------------------------------------------------------------------
# our API (z5py); every call into z5py of the interop suites goes through these
# --------------------------------------------------------------------------------------------


def z5_open(path, fmt=None, mode="a"):
    """Open a container with our API. ``fmt``: 'n5', 'zarr2', 'zarr3' or None (detect)."""
    import z5py

    kwargs = {}
    if fmt == "n5":
        kwargs["use_zarr_format"] = False
    elif fmt in ("zarr2", "zarr3"):
        kwargs["use_zarr_format"] = True
        if fmt == "zarr3" and mode != "r":
            kwargs["zarr_format"] = 3
    return z5py.File(os.fspath(path), mode=mode, **kwargs)


def z5_create(
    root,
    fmt,
    name,
    dtype,
    shape=SHAPE,
    chunks=CHUNKS,
    compression="raw",
    opts=None,
    fillvalue=None,
    dimension_separator=None,
    shards=None,
    chunk_key_encoding=None,
):
    f = z5_open(root, fmt, "a")
    kwargs = dict(opts or {})
    if fillvalue is not None:
        kwargs["fillvalue"] = fillvalue
    if dimension_separator is not None:
        kwargs["dimension_separator"] = dimension_separator
    if shards is not None:
        kwargs["shards"] = tuple(shards)
    if chunk_key_encoding is not None:
        # the brief spells the v3 key encodings '/', '.' and 'v2'; our API takes
        # chunk_key_encoding='default'|'v2' plus dimension_separator for the separator
        encoding, sep = {"/": ("default", "/"), ".": ("default", "."), "v2": ("v2", None)}[
            chunk_key_encoding
        ]
        kwargs["chunk_key_encoding"] = encoding
        if sep is not None and dimension_separator is None:
            kwargs["dimension_separator"] = sep
    return f.create_dataset(
        name,
        shape=tuple(shape),
        dtype=dtype,
        chunks=tuple(chunks),
        compression=compression,
        **kwargs,
    )


def z5_write(root, fmt, name, data, region=None, **kwargs):
    """Create a dataset shaped like ``data`` and write ``data`` (or only ``data[region]``)."""
    ds = z5_create(root, fmt, name, data.dtype.newbyteorder("=").name, shape=data.shape, **kwargs)
    native = np.ascontiguousarray(data.astype(data.dtype.newbyteorder("=")))
    if region is None:
        ds[...] = native
    else:
        ds[region] = native[region]
    return ds


def z5_read(root, name, window=None):
    """(whole array, window) read back through our API in read-only mode."""
    f = z5_open(root, None, "r")
    ds = f[name]
    whole = ds[...]
    part = ds[window] if window is not None else None
    return whole, part, ds


def assert_z5_reads(root, name, expected, window=READ_WINDOW):
    """Our API (read-only) reads ``expected`` from the dataset ``name`` of the container
    ``root``: the whole array and the ``window``."""
    whole, part, _ = z5_read(root, name, window)
    assert_same_array(whole, expected)
    assert_same_array(part, expected[window])


def z5_attrs(obj) -> dict:
    return {k: obj.attrs[k] for k in obj.attrs}


#: attributes used for the round trips: nesting, unicode, ints past 2**53, floats, bool, null
ATTRS = {
    "description": "interop ✓ äöü",
    "int": 42,
    "big": 2**62 + 1,
    "neg": -17,
    "float": 0.1,
    "bool": True,
    "none": None,
    "list": [1, 2.5, "x", [3, 4]],
    "nested": {"a": {"b": [1, 2, 3]}, "empty": {}},
}
